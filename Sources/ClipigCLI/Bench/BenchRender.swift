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

  @OptionGroup var model: ModelOption

  @OptionGroup var plugins: PluginOptions

  func run() throws {
    ProcessTuning.forLongComputations()
    try reportingConfigErrors {
      let plan = try RunPlan(files: files, seed: 1, registries: PluginContext.registries)
      let experiment = plan.experiment
      let featureModel: any FeatureModel
      if let model = model.model {
        featureModel = try ModelLoader.load(model)
      } else {
        // Timing does not depend on the weights' values: ViT-B/32 with generated weights.
        featureModel = CLIPFeatureModel(model: .deterministic(.vitB32), tokenizer: try .bundled())
      }
      let trainer = try Trainer(plan: plan, model: featureModel)
      let first = min(max(0, from), experiment.epochs - 1)
      try trainer.step(epoch: first)  // warm-up: buffers, caches
      var total = 0.0
      var clip = 0.0
      var parametrization = 0.0
      var views = 0
      for k in 0..<epochs {
        let r = try trainer.step(epoch: min(first + 1 + k, experiment.epochs - 1))
        total += r.seconds
        clip += r.clipSeconds
        parametrization += r.parametrizationSeconds
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
    }
  }
}
