import ArgumentParser
import CLIP
import Formats
import Foundation
import Parametrizations
import PipelineKit
import Runner

/// `clipig bench render EXPERIMENT.yaml --epochs N`: seconds per epoch and the share spent
/// outside CLIP's forward and backward passes (transforms, losses, optimizer, bookkeeping).
/// An experiment with an `animation:` section is rendered whole into a temporary folder
/// instead: the share of its wall time outside the training epochs (warps, frame files,
/// checkpoints, trainers, WebP and MP4).
struct BenchRender: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "render",
    abstract: "Time render epochs of an experiment and the share spent outside CLIP.",
    discussion: """
      Without --model the experiment runs on ViT-B/32's shapes with generated weights (the time \
      does not depend on their values, and nothing is downloaded); --model loads a model as \
      render does. An experiment with an animation: section renders all its frames (into a \
      temporary folder, removed after) and reports the time outside training; --epochs and \
      --from do not apply to it.
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
      if experiment.animation != nil {
        try Self.animation(plan: plan, models: models)
        return
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

  /// Renders the animation of `plan` with `models` into a temporary folder and prints where its
  /// wall time went.
  static func animation(plan: RunPlan, models: [any FeatureModel]) throws {
    guard let animation = plan.experiment.animation else { return }
    print(machine)
    print("threads: \(BLAS.threadCount) (OpenBLAS), \(ProcessorCount.active) cores")
    print(BenchCLIP.kernelsLine(environment: ProcessInfo.processInfo.environment))
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-bench-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(atPath: directory) }
    let input = try AnimationRender.prepare(plan)
    let output = try AnimationOutput.claim(directory + "/bench.mp4")
    let timing = AnimationTiming()
    let started = Date()
    _ = try AnimationRender.run(
      plan: plan, output: output, resume: nil, input: input, models: models, verbosity: 0,
      interrupt: InterruptFlag(), timing: timing, log: { _ in })
    let wall = Date().timeIntervalSince(started)
    let e = plan.experiment
    let (_, h, w) = try ImageFile.read(path: output.frame(animation.frames - 1)).chw
    print(
      String(
        format: "animation: %ld frames of %ld×%ld, %ld epochs first, %ld per later frame: %.2f s",
        animation.frames, w, h, e.epochs - e.startEpoch, animation.epochs, wall))
    func share(_ seconds: Double) -> String {
      String(format: "%.3f s (%.2f %%)", seconds, 100 * seconds / max(wall, 1e-12))
    }
    print("training epochs \(share(timing.training))")
    print("outside training \(share(wall - timing.training))")
    print("  frame starts (read, warp, input frame) \(share(timing.start))")
    print("  trainers (parameters, target features) \(share(timing.setup))")
    print("  frame PNGs, checkpoints \(share(timing.frames))")
    print("  WebP, MP4, sidecar \(share(timing.finish))")
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
