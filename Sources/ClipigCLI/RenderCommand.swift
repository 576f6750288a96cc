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

  @OptionGroup var experiment: ExperimentFiles

  @Option(name: .shortAndLong, help: "Output file, or directory ending in '/'.")
  var output: String?

  @Option(name: .shortAndLong, help: "Number of epochs (optimizer steps).")
  var epochs: Int?

  @OptionGroup var resolution: ResolutionOption

  @Option(name: [.customLong("learnrate"), .customLong("lr")], help: "Learning-rate factor.")
  var learnrate: Double?

  @Option(name: [.customLong("optimizer"), .customLong("opt")], help: "The optimizer.")
  var optimizer: OptimizerKind?

  @Option(
    name: [.customShort("s"), .customLong("snapshot-interval")],
    help: "Seconds between snapshots (0: none).")
  var snapshotInterval: Double?

  @Option(help: "Seed of all random draws (random when absent; printed and saved in the YAML).")
  var seed: UInt64?

  @Option(help: "JPEG/WebP quality of the output image, 1-100 (default 95; WebP 100: lossless).")
  var quality: Int?

  @Option(help: "Run the experiment N times, each into the next free file name.")
  var `repeat`: Int = 1

  @OptionGroup var model: ModelOption

  @OptionGroup var precision: PrecisionOption

  @OptionGroup var verbosity: VerbosityOptions

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    try reportingConfigErrors { try render() }
  }

  func render() throws {
    var options = RenderOptions()
    options.configFiles = experiment.files
    options.output = output
    options.overrides.epochs = epochs
    options.overrides.resolution = resolution.sides
    options.overrides.learnrate = learnrate
    options.overrides.optimizer = optimizer
    options.overrides.snapshotSeconds = snapshotInterval
    options.overrides.model = model.model
    options.overrides.precision = precision.precision
    options.overrides.quality = quality
    options.verbosity = verbosity.override
    options.seed = seed
    options.registries = PluginContext.registries
    let interrupt = InterruptFlag()
    let watch = SignalWatch(interrupt)
    defer { withExtendedLifetime(watch) {} }
    for i in 0..<max(1, self.repeat) {
      options.repetition = i
      let outcome = try CLIRunner.render(
        options: options, interrupt: interrupt,
        log: CLIRunner.standardError(stopping: interrupt))
      if outcome == .interrupted { throw ExitCode(interrupt.exitStatus) }
    }
  }
}
