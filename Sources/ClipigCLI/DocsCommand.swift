import ArgumentParser
import Constraints
import PipelineKit
import Runner
import Transforms

/// `clipig docs`: prints the stage reference (every transform and constraint, its parameters,
/// defaults and gradient behaviour) as Markdown, generated from the stage definitions; with
/// `--keys`, the reference of an experiment's top-level keys, generated from `RunKeys`.
struct DocsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "docs",
    abstract: "Print the reference of every transform and constraint (or of one) as Markdown.",
    discussion:
      "The committed pages are regenerated with: \(StageDocs.regenerate) and \(RunKeys.regenerate)"
  )

  @Argument(help: "Only this stage's reference (a transform or constraint name, e.g. noise).")
  var stage: String?

  @Flag(help: "Print the top-level keys of an experiment file instead (docs/keys.md).")
  var keys = false

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    try reportingConfigErrors { try printReference() }
  }

  func printReference() throws {
    if let stage {
      guard
        let text = StageDocs.markdown(
          stage: stage, transforms: .transforms, constraints: .constraints)
      else {
        var names = StageRegistry.transforms.names
        names += StageRegistry.constraints.names.filter { !names.contains($0) }
        throw ValidationError(
          "'\(stage)' is no transform or constraint"
            + Suggestions.didYouMean(stage, among: names)
            + "; 'clipig docs' lists them all")
      }
      print(text, terminator: "")
    } else if keys {
      print(RunKeys.markdown, terminator: "")
    } else {
      let registries = PluginContext.registries
      print(
        StageDocs.markdown(transforms: registries.transforms, constraints: registries.constraints),
        terminator: "")
    }
  }
}
