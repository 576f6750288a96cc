import ArgumentParser
import Dispatch
import Formats
import Foundation
import PipelineKit
import Runner

/// `clipig render A.yaml [B.yaml …]`: runs an experiment and writes the image and its YAML.
struct RenderCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "render",
    abstract: "Render an image from YAML experiment files (merged in order; '-' reads stdin).")

  @Argument(help: "YAML experiment files, merged in order ('-' reads standard input).")
  var files: [String]

  @Option(name: .shortAndLong, help: "Output file, or directory ending in '/'.")
  var output: String?

  @Option(name: .shortAndLong, help: "Number of epochs (optimizer steps).")
  var epochs: Int?

  @Option(name: .shortAndLong, parsing: .upToNextOption, help: "Resolution: W [H].")
  var resolution: [Int] = []

  @Option(name: [.customLong("learnrate"), .customLong("lr")], help: "Learning-rate factor.")
  var learnrate: Double?

  @Option(
    name: [.customLong("optimizer"), .customLong("opt")],
    help: "adam, sgd, adadelta, rmsprob/rmsprop, sparse_adam.")
  var optimizer: String?

  @Option(
    name: [.customShort("s"), .customLong("snapshot-interval")],
    help: "Seconds between snapshots (0: none).")
  var snapshotInterval: Double?

  @Option(help: "Seed of all random draws (random when absent; printed and saved in the YAML).")
  var seed: UInt64?

  @Option(help: "Run the experiment N times, each into the next free file name.")
  var `repeat`: Int = 1

  @Option(
    help:
      "CLIP model: a name (ViT-B/32, downloaded on first use), a directory with config.json and model.safetensors, or a .safetensors or .pt file."
  )
  var model: String?

  @Flag(name: .shortAndLong, help: "Print statistics.")
  var verbose = false

  @Flag(name: .shortAndLong, help: "Print nothing but errors.")
  var quiet = false

  func run() throws {
    ProcessTuning.forLongComputations()
    try reportingConfigErrors { try render() }
  }

  func render() throws {
    var options = RenderOptions()
    options.configFiles = files
    options.output = output
    options.epochs = epochs
    options.resolution = resolution.isEmpty ? nil : resolution
    options.learnrate = learnrate
    options.optimizer = optimizer
    options.snapshotSeconds = snapshotInterval
    options.model = model
    options.verbosity = quiet ? 0 : verbose ? 2 : nil
    let interrupt = InterruptFlag()
    let sources = installSignalHandlers(interrupt)
    defer { _ = sources }
    for _ in 0..<max(1, self.repeat) {
      options.seed = seed ?? UInt64.random(in: 0...UInt64(Int64.max))
      let outcome = try CLIRunner.render(options: options, interrupt: interrupt)
      if outcome == .interrupted { throw ExitCode(130) }
    }
  }

  func installSignalHandlers(_ flag: InterruptFlag) -> [any DispatchSourceSignal] {
    [SIGINT, SIGTERM].map { sig in
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler { flag.set() }
      source.resume()
      return source
    }
  }
}
