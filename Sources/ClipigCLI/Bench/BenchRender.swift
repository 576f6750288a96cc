import ArgumentParser
import CLIP
import Foundation
import Parametrizations
import PipelineKit
import Runner

/// `clipig bench render EXPERIMENT.yaml --epochs N`: seconds per epoch and the share spent
/// outside CLIP's forward and backward passes (transforms, losses, optimizer, bookkeeping).
struct BenchRender: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "render",
    abstract: "Time render epochs of an experiment and the share spent outside CLIP.",
    discussion: """
      Without --model the experiment runs on ViT-B/32's shapes with generated weights (the time \
      does not depend on their values, and nothing is downloaded); --model loads a model as \
      render does.
      """)

  @Argument(help: "YAML experiment files, merged in order.")
  var files: [String]

  @Option(name: .shortAndLong, help: "Epochs to time (after one warm-up epoch).")
  var epochs: Int = 5

  @Option(help: "Start timing at this epoch (e.g. 150 to time method 2 at full resolution).")
  var from: Int = 0

  @Flag(
    help: """
      With several models (models:), also time each model alone on its share of the views, \
      and the ensemble's overhead over the sum.
      """)
  var each = false

  @OptionGroup var model: ModelOption

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    ProcessTuning.forLongComputations()
    try reportingConfigErrors {
      var overrides = RunOverrides()
      overrides.model = model.model
      let plan = try RunPlan(
        files: files, overrides: overrides, seed: 1, registries: PluginContext.registries)
      let experiment = plan.experiment
      let models = try experiment.loadModels { name, precision in
        if model.model == nil, let config = BenchCLIP.architectures[name] {
          // Timing does not depend on the weights' values: the shapes with generated weights.
          return CLIPFeatureModel(model: .deterministic(config), tokenizer: try .bundled())
        }
        return try ModelLoader.load(name, precision: precision)
      }
      print(Self.machine)
      print(BenchCLIP.kernelsLine(environment: ProcessInfo.processInfo.environment))
      let together = try time(Trainer(plan: plan, models: models), experiment)
      if models.count > 1 {
        for (m, seconds) in together.perModel.enumerated() {
          print(
            String(
              format: "  %@ (%ld px): CLIP %.3f s/epoch (%.1f %%)", experiment.models[m].name,
              models[m].imageSize, seconds, 100 * seconds / max(together.seconds, 1e-12)))
        }
      }
      guard each, models.count > 1 else { return }
      var sum = 0.0
      for m in models.indices {
        print("\(experiment.models[m].name) alone:")
        let alone = try time(
          Trainer(
            experiment: experiment.only(model: m), models: [models[m]], seed: plan.seed,
            baseDirectory: plan.baseDirectory), experiment)
        sum += alone.seconds
      }
      print(
        String(
          format: "ensemble %.3f s/epoch, sum of the models alone %.3f s/epoch: overhead %+.1f %%",
          together.seconds, sum, 100 * (together.seconds / max(sum, 1e-12) - 1)))
    }
  }

  /// The CPU's model name and core count, as the operating system reports them.
  static var machine: String {
    let info = (try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8)) ?? ""
    let name =
      info.split(separator: "\n").first { $0.hasPrefix("model name") }
      .flatMap { $0.split(separator: ":", maxSplits: 1).last }
      .map { $0.trimmingCharacters(in: .whitespaces) } ?? "unknown CPU"
    return "machine: \(name), \(ProcessorCount.active) cores"
      + (CPUFeatures.hasAVX512 ? ", AVX-512" : "")
  }

  /// Times `epochs` epochs of `trainer` after a warm-up and prints them; the seconds per epoch
  /// and each model's CLIP seconds per epoch.
  func time(_ trainer: Trainer, _ experiment: Experiment) throws -> (
    seconds: Double, perModel: [Double]
  ) {
    let first = min(max(0, from), experiment.epochs - 1)
    try trainer.step(epoch: first)  // warm-up: buffers, caches
    var total = 0.0
    var clip = 0.0
    var parametrization = 0.0
    var perModel: [Double] = []
    var views = 0
    for k in 0..<epochs {
      let r = try trainer.step(epoch: min(first + 1 + k, experiment.epochs - 1))
      total += r.seconds
      clip += r.clipSeconds
      parametrization += r.parametrizationSeconds
      for (m, s) in r.modelClipSeconds.enumerated() {
        if perModel.count <= m { perModel.append(0) }
        perModel[m] += s / Double(max(1, epochs))
      }
      views = r.views
    }
    let perEpoch = total / Double(max(1, epochs))
    print(
      String(
        format: "%ld epochs from %ld, %ld views each: %.3f s/epoch", epochs, first + 1, views,
        perEpoch))
    print(
      String(
        format: "CLIP forward+backward %.3f s/epoch, outside CLIP %.3f s/epoch (%.1f %%)",
        clip / Double(max(1, epochs)), (total - clip) / Double(max(1, epochs)),
        100 * (total - clip) / max(total, 1e-12)))
    print(
      "parametrization (\(experiment.parametrization.kind.rawValue)) image and pullback "
        + String(
          format: "%.4f s/epoch (%.2f %%)", parametrization / Double(max(1, epochs)),
          100 * parametrization / max(total, 1e-12)))
    return (perEpoch, perModel)
  }
}
