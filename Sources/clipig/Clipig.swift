import ArgumentParser

/// The `clipig` command: renders images with CLIP from YAML experiments.
@main
struct Clipig: AsyncParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clipig",
    abstract: "Render images that CLIP rates close to text prompts, from YAML experiments.",
    subcommands: [])
}
