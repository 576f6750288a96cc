import ArgumentParser
import Dispatch
import Foundation
import PipelineKit
import Runner
import Workflows

/// `clipig rank EXPERIMENT.yaml --runs 512 --epochs 20 --keep 6 --continue 300 -o DIR`: many
/// short runs rated by CLIP similarity; the best (and worst) continued from their images.
struct RankCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "rank",
    abstract: "Render many short runs, rank them by CLIP similarity and continue the best.",
    discussion: """
      Run n uses seed BASE+n. Each kept run is continued from its image with CLIPig's detail \
      pass (init: {image: <short run>, mean: 0, std: 1}) for --continue epochs. DIR gets \
      short/run-NNNN.png, continued/run-NNNN.png (each with its YAML), rank.csv and rank.json; \
      run the same command again to resume after an interruption. With --judge, every image is \
      also rated by a CLIP that was not optimised (the same features, mean of 100 × cosine) and \
      the runs are ranked and kept by that score (rank.csv: judge_short, judge_continued).
      """)

  @Argument(help: "YAML experiment files, merged in order.")
  var files: [String]

  @Option(name: .shortAndLong, help: "Output directory (new, empty, or an earlier rank's).")
  var output: String

  @Option(help: "Number of short runs.")
  var runs = 512

  @Option(name: .shortAndLong, help: "Epochs of each short run.")
  var epochs = 20

  @Option(help: "How many of the best runs to continue.")
  var keep = 6

  @Option(help: "How many of the worst runs to continue too (for comparison).")
  var worst = 0

  @Option(name: .customLong("continue"), help: "Epochs of each continuation (0: none).")
  var continueEpochs = 300

  @Option(
    parsing: .upToNextOption,
    help: "YAML files of the continuation pass (default: the experiment itself).")
  var detail: [String] = []

  @Option(help: "Base seed (default: random; a resumed directory keeps its own).")
  var seed: UInt64?

  @OptionGroup var model: ModelOption

  @Option(
    help: ArgumentHelp(
      "A held-out CLIP that ranks the runs (not optimised): a name, hf-hub: id or path as --model takes it.",
      valueName: "name|path"))
  var judge: String?

  @OptionGroup var precision: PrecisionOption

  @OptionGroup var resolution: ResolutionOption

  @OptionGroup var shard: ShardOptions

  @Flag(
    help:
      "The step after the shards: rank their short runs (none is rendered) and continue the best.")
  var merge = false

  @OptionGroup var verbosity: VerbosityOptions

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    try reportingConfigErrors {
      var options = RankOptions()
      options.configFiles = files
      options.detailFiles = detail
      options.outputDirectory = output
      options.runs = runs
      options.epochs = epochs
      options.keep = keep
      options.worst = worst
      options.continueEpochs = continueEpochs
      options.seed = seed
      options.registries = PluginContext.registries
      options.model = model.model
      options.judge = judge
      options.precision = precision.precision
      options.resolution = resolution.sides
      options.verbosity = verbosity.level(normal: 1)
      options.merge = merge
      if !merge {
        options.shard = try shard.resolve(quiet: verbosity.quiet)
      } else if shard.given {
        throw ValidationError("--merge is the final step after the shards: give no --shard")
      }
      let interrupt = InterruptFlag()
      let watch = SignalWatch(interrupt)
      defer { withExtendedLifetime(watch) {} }
      let summary = try Ranking.run(options, interrupt: interrupt)
      if !verbosity.quiet {
        for row in summary.rows where row.group != nil && options.shard == nil {
          func fixed2(_ x: Double) -> String { String(format: "%.2f", x) }
          let judged =
            row.shortJudge.map {
              ", judge \(fixed2($0))" + (row.continuedJudge.map { " ⭢ " + fixed2($0) } ?? "")
            } ?? ""
          print("\(row.articleLine)  (\(row.group ?? ""), seed \(row.seed)\(judged))")
        }
        print("wrote \(summary.csvPath)")
      }
      if summary.outcome == .interrupted { throw ExitCode(interrupt.exitStatus) }
    }
  }
}
