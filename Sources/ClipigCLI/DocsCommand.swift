import ArgumentParser
import Constraints
import PipelineKit
import Runner
import Transforms

/// `clipig docs`: prints the stage reference (every transform and constraint, its parameters,
/// defaults and gradient behaviour) as Markdown, generated from the stage definitions.
struct DocsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "docs",
    abstract: "Print the reference of every transform and constraint as Markdown.",
    discussion: "The committed page is regenerated with: \(StageDocs.regenerate)")

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    let registries = PluginContext.registries
    print(
      StageDocs.markdown(transforms: registries.transforms, constraints: registries.constraints),
      terminator: "")
  }
}
