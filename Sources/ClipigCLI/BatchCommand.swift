import ArgumentParser
import Formats
import Foundation
import PipelineKit
import Runner
import Workflows

/// `clipig batch GRID.yaml -o DIR [--shard I/N] [--jobs J]`: renders every combination of a
/// grid's variables (docs/batch.md).
struct BatchCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "batch",
    abstract: "Render every combination of a grid file's variables (skipping existing outputs).",
    discussion: """
      The grid file names an experiment template with {{variable}} placeholders and the \
      variables' values (inline lists, or JSON/YAML/text files); see docs/batch.md. Outputs \
      are DIR/<name>.png with a YAML sidecar; DIR/manifest.csv and DIR/manifest.json list \
      every finished output of the grid (prompt, seed, similarity, seconds). Existing outputs \
      are skipped, so an interrupted batch resumes when run again.
      """)

  @Argument(help: "The grid file.")
  var grid: String

  @Option(name: .shortAndLong, help: "Output directory.")
  var output: String

  @OptionGroup var shard: ShardOptions

  @Option(
    name: .shortAndLong,
    help: "Renders at once in this process (BLAS threads are divided among them).")
  var jobs = 1

  @Option(parsing: .upToNextOption, help: "Template files replacing the grid's template.")
  var template: [String] = []

  @Option(name: .shortAndLong, help: "Epochs of every render.")
  var epochs: Int?

  @OptionGroup var resolution: ResolutionOption

  @OptionGroup var model: ModelOption

  @OptionGroup var precision: PrecisionOption

  @Option(help: "Base seed replacing the grid's (each output's seed derives from its name).")
  var seed: UInt64?

  @Flag(help: "Only print the names of the shard's outputs and whether they exist.")
  var list = false

  @OptionGroup var verbosity: VerbosityOptions

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    try reportingConfigErrors {
      var options = BatchOptions()
      options.gridFile = grid
      options.outputDirectory = output
      options.shard = try shard.resolve(quiet: verbosity.quiet || list)
      options.jobs = jobs
      options.templateFiles = template
      options.overrides.epochs = epochs
      options.overrides.resolution = resolution.sides
      options.overrides.model = model.model
      options.overrides.precision = precision.precision
      options.seed = seed
      options.registries = PluginContext.registries
      options.verbosity = verbosity.level(normal: 1)
      if list {
        let g = try Batch.grid(options)
        for item in g.items(in: options.shard) {
          let done = Batch.isDone(directory: FileIO.folder(output), name: item.name)
          print("\(item.name)\t\(done ? "done" : "todo")")
        }
        return
      }
      // The process's BLAS threads are divided among the jobs here, by the process's owner:
      // the library never changes this process-wide setting under other callers' feet.
      if jobs > 1 { BLAS.setThreadCount(max(1, ProcessorCount.active / jobs)) }
      let interrupt = InterruptFlag()
      let watch = SignalWatch(interrupt)
      defer { withExtendedLifetime(watch) {} }
      let summary = try Batch.run(options, interrupt: interrupt)
      if summary.outcome == .interrupted { throw ExitCode(interrupt.exitStatus) }
    }
  }
}
