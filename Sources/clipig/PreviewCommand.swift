import ArgumentParser
import Formats
import Foundation
import PipelineKit
import Runner

/// `clipig preview EXPERIMENT.yaml -o DIR`: writes the views CLIP would see, as PNGs.
struct PreviewCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "preview",
    abstract:
      "Write the views each target shows CLIP at one moment (after transforms) as PNG files.")

  @Argument(help: "YAML experiment files, merged in order.")
  var files: [String]

  @Option(help: "Epoch to preview (default 0).")
  var epoch: Int?

  @Option(help: "Training time t in [0, 1] to preview instead of an epoch.")
  var t: Double?

  @Option(help: "Start from this PNG instead of the experiment's initial pixels.")
  var image: String?

  @Option(help: "Seed of the random transforms.")
  var seed: UInt64 = 0

  @Option(name: .shortAndLong, help: "Output directory.")
  var output: String

  func run() throws {
    try reportingConfigErrors {
      let root = try CLIRunner.loadConfig(files: files)
      let experiment = try Experiment(root, random: SeededRandom(seed: seed))
      var e = epoch ?? 0
      if let t {
        guard (0...1).contains(t) else { throw ValidationError("--t must be between 0 and 1") }
        e = Int((t * Double(max(1, experiment.epochs - 1))).rounded())
      }
      let start = try image.map { try PNG.read(path: $0) }
      let base = files.last.map { ($0 as NSString).deletingLastPathComponent } ?? "."
      let views = try Preview.views(
        experiment, epoch: e, image: start, seed: seed, baseDirectory: base.isEmpty ? "." : base)
      if views.isEmpty { print("no target is active at epoch \(e)") }
      for view in views {
        // A free name (never over an existing file): name.png, name-1.png, …
        let name = try OutputNaming.claim(
          "\(output)/\(view.targetName)-\(view.target)-view\(view.index).png")
        try PNG.write(view.image, to: name)
        print("\(name)  \(view.image.chw.w)x\(view.image.chw.h)")
      }
    }
  }
}
