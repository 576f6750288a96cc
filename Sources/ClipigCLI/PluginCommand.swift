import ArgumentParser
import Foundation
import Runner

/// `clipig plugin …`: custom stages written in Swift.
struct PluginCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "plugin",
    abstract: "Write custom stages in Swift and use them in every command (--plugin PATH).",
    subcommands: [PluginNewCommand.self])
}

/// `clipig plugin new NAME [DIR]`: writes a plugin package.
struct PluginNewCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "new",
    abstract: "Write a plugin package: an example transform and constraint, tests, example.yaml.",
    discussion: """
      The package depends on clipig's products (by default the clipig source this executable \
      was built from). Then: `swift test -c release --disable-testable-imports` in it proves the stages' pullbacks, and \
      `clipig render example.yaml` (or any command with --plugin DIR) uses them. Loading a \
      plugin runs its code.
      """)

  @Argument(help: "The plugin's name: lowercase letters, digits and '_', starting with a letter.")
  var name: String

  @Argument(help: "The package folder to create (default: ./NAME).")
  var directory: String?

  @Option(help: "The clipig the package depends on: a source folder or a git URL.")
  var clipig: String?

  func run() throws {
    guard PluginScaffold.isValidName(name) else {
      throw ValidationError(
        "plugin name '\(name)': use lowercase letters, digits and '_', starting with a letter")
    }
    let folder = directory ?? name
    var source = clipig ?? PluginScaffold.clipigSource
    if !(source.contains("://") || source.hasPrefix("git@")) {
      source = URL(fileURLWithPath: source).standardizedFileURL.path
      guard
        FileManager.default.fileExists(
          atPath: (source as NSString).appendingPathComponent("Package.swift"))
      else {
        throw ValidationError(
          "--clipig \(source): no Package.swift there; name clipig's source folder or git URL")
      }
    }
    try reportingConfigErrors {
      try PluginScaffold(name: name, clipig: source).write(to: folder)
      print(
        """
        wrote the plugin \(name) in \(folder)
          cd \(folder) && swift test -c release --disable-testable-imports   # the gradient harness
          clipig render \(folder)/example.yaml     # builds it once, then renders
        """)
    }
  }
}
