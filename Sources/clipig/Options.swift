import ArgumentParser
import CLIP
import Runner

/// `--model`, shared by every command that loads CLIP.
struct ModelOption: ParsableArguments {
  @Option(
    name: [.customShort("m"), .long],
    help: ArgumentHelp(
      "CLIP model: a known name (ViT-B/32, RN50, ViT-B-32/laion2b_s34b_b79k …; see 'clipig model list'), an hf-hub: id, a model directory, or a .safetensors, .pt or .bin file.",
      valueName: "name|path"))
  var model: String?
}

/// The experiment files of a command, merged in order.
struct ExperimentFiles: ParsableArguments {
  @Argument(help: "YAML experiment files, merged in order ('-' reads standard input).")
  var files: [String]
}

extension OptimizerKind: ExpressibleByArgument {
  /// CLIPig's optimizer names, `rmsprob` included.
  public init?(argument: String) { self.init(name: argument) }
  /// The accepted names, for help and errors.
  public static var allValueStrings: [String] { names.map(\.name) }
}

extension CLIPPrecision: ExpressibleByArgument {}
