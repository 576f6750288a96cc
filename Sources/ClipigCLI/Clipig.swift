import ArgumentParser
import Foundation
import PipelineKit

/// The `clipig` command: renders images with CLIP from YAML experiments.
struct Clipig: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clipig",
    abstract: "Render images that CLIP rates close to text prompts, from YAML experiments.",
    discussion: """
      Shell completion: 'clipig --generate-completion-script bash' (or zsh, fish) prints a \
      script to source, e.g. 'source <(clipig --generate-completion-script bash)'.
      """,
    version: BuildInfo.version,
    subcommands: [
      RenderCommand.self,
      ScheduleCommand.self,
      PreviewCommand.self,
      ExprCommand.self,
      DocsCommand.self,
      SimilarityCommand.self,
      ModelCommand.self,
      RankCommand.self,
      BatchCommand.self,
      EvalCommand.self,
      GalleryCommand.self,
      StudioCommand.self,
      EncodeCommand.self,
      Bench.self,
      PluginCommand.self,
    ])

  /// Parses and runs the command; an error is printed in clipig's one style (`error: …` on
  /// standard error, a misspelled command with the closest names) and exits non-zero.
  static func main() async {
    let arguments = Array(CommandLine.arguments.dropFirst())
    if let unknown = unknownCommand(arguments) {
      let names = configuration.subcommands.map { $0._commandName } + ["help"]
      let lower = unknown.lowercased()
      let hint =
        lower.hasSuffix(".yaml") || lower.hasSuffix(".yml")
        ? " (to render it: clipig render \(unknown))"
        : Suggestions.didYouMean(unknown, among: names)
      StandardStream.error.write(
        "error: '\(unknown)' is not a clipig command\(hint); the commands are "
          + names.dropLast().joined(separator: ", ") + " (see 'clipig --help')\n")
      Foundation.exit(ExitCode.validationFailure.rawValue)
    }
    do {
      var command = try await asyncParseAsRoot(arguments)
      if var asyncCommand = command as? AsyncParsableCommand {
        try await asyncCommand.run()
      } else {
        try command.run()
      }
    } catch {
      let code = exitCode(for: error)
      let text = fullMessage(for: error)
      if code == .success || text.isEmpty { exit(withError: error) }
      StandardStream.error.write(Self.styled(text) + "\n")
      Foundation.exit(code.rawValue)
    }
  }

  /// The first argument when it names no command (and is no option): `clipig rendr x.yaml`.
  static func unknownCommand(_ arguments: [String]) -> String? {
    guard let first = arguments.first, !first.hasPrefix("-") else { return nil }
    let names = configuration.subcommands.map { $0._commandName } + ["help"]
    return names.contains(first) ? nil : first
  }

  /// ArgumentParser's "Error: …" in clipig's style, "error: …".
  static func styled(_ message: String) -> String {
    message.hasPrefix("Error: ") ? "error: " + message.dropFirst("Error: ".count) : message
  }
}

/// `clipig bench …`: speed and memory measurements, reported as ratios, never asserted.
struct Bench: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    abstract: "Measure the speed of clipig's parts on this machine.",
    subcommands: [
      BenchCLIP.self,
      BenchExpr.self,
      BenchStages.self,
      BenchRender.self,
    ])
}
