import ArgumentParser
import Constraints
import PipelineKit
import Transforms

/// `clipig docs`: prints the stage reference (every transform and constraint, its parameters,
/// defaults and gradient behaviour) as Markdown, generated from the stage definitions.
struct DocsCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "docs",
    abstract: "Print the reference of every transform and constraint as Markdown.",
    discussion: "The committed page is regenerated with: \(StageDocs.regenerate)")

  func run() throws {
    print(StageDocs.markdown(transforms: .transforms, constraints: .constraints), terminator: "")
  }
}
