import ArgumentParser
import Formats
import Foundation
import PipelineKit
import Runner
import Workflows

/// `clipig eval PROMPTS… --template EXP.yaml --judge MODEL -o DIR`: renders a prompt set and
/// scores it with held-out judges; `clipig eval --compare DIR DIR…` puts evals side by side
/// (docs/eval.md).
struct EvalCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "eval",
    abstract: "Render a prompt set and score the images with held-out CLIP judges.",
    discussion: """
      Every prompt of the set (text files with one prompt a line, JSON/YAML lists, or mappings \
      of categories to lists) is rendered with the template, whose {{prompt}} takes it, \
      through the batch machinery (--shard, --jobs, resume). Each judge — a CLIP that is not \
      in the loss — rates every image: its similarity to the image's prompt and R-precision \
      (is the prompt the judge's first, or among its first five, of the set's prompts). \
      DIR/eval.csv has a line per image, DIR/eval-summary.csv the means and standard errors \
      per category, DIR/eval.html the page. With --compare, two or more eval directories are \
      put side by side (compare.csv, and compare.html in -o when given).
      """)

  @Argument(help: "Prompt files (or, with --compare, eval directories).")
  var inputs: [String] = []

  @Option(parsing: .upToNextOption, help: "The experiment template (files with {{prompt}}).")
  var template: [String] = []

  @Option(
    help: ArgumentHelp(
      "A held-out CLIP that scores the images (repeat for several): a name, hf-hub: id or path.",
      valueName: "name|path"))
  var judge: [String] = []

  @Option(name: .shortAndLong, help: "Output directory.")
  var output: String?

  @Flag(help: "Compare the eval directories given as arguments.")
  var compare = false

  @OptionGroup var shard: ShardOptions

  @Option(
    name: .shortAndLong,
    help: "Renders at once in this process (BLAS threads are divided among them).")
  var jobs = 1

  @Option(name: .shortAndLong, help: "Epochs of every render.")
  var epochs: Int?

  @OptionGroup var resolution: ResolutionOption

  @OptionGroup var model: ModelOption

  @OptionGroup var precision: PrecisionOption

  @Option(help: "Base seed (each image's seed derives from it and the image's name).")
  var seed: UInt64 = 0

  @OptionGroup var verbosity: VerbosityOptions

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    try reportingConfigErrors {
      if compare {
        let csv = try Eval.compare(
          directories: inputs, output: output, log: { StandardStream.error.write($0) })
        print(csv, terminator: "")
        return
      }
      guard let output else { throw WorkflowError("eval needs an output directory (-o DIR)") }
      var options = EvalOptions()
      options.promptFiles = inputs
      options.templateFiles = template
      options.judges = judge
      options.outputDirectory = output
      options.shard = try shard.resolve(quiet: verbosity.quiet)
      options.jobs = jobs
      options.overrides.epochs = epochs
      options.overrides.resolution = resolution.sides
      options.overrides.model = model.model
      options.overrides.precision = precision.precision
      options.seed = seed
      options.registries = PluginContext.registries
      options.verbosity = verbosity.level(normal: 1)
      if jobs > 1 { BLAS.setThreadCount(max(1, ProcessorCount.active / jobs)) }
      let interrupt = InterruptFlag()
      let watch = SignalWatch(interrupt)
      defer { withExtendedLifetime(watch) {} }
      guard let summary = try Eval.run(options, interrupt: interrupt) else {
        throw ExitCode(interrupt.exitStatus)
      }
      let dir = FileIO.folder(output)
      for row in summary.rows where row.category == "all" {
        print(
          String(
            format: "%@: %ld/%ld images, similarity %.2f, R@1 %.2f, R@5 %.2f", row.judge,
            row.count, summary.prompts, row.similarity.mean, row.top1.mean, row.top5.mean))
      }
      if verbosity.level(normal: 1) >= 1 {
        StandardStream.error.write(
          "eval: \(dir)/eval.csv, \(dir)/eval-summary.csv, \(dir)/eval.html\n")
      }
    }
  }
}
