import ArgumentParser
import Formats
import Foundation
import ModelStore
import PipelineKit
import Runner

/// `clipig preview EXPERIMENT.yaml -o DIR`: writes the views CLIP sees at one epoch, as PNGs.
struct PreviewCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "preview",
    abstract: "Write the views each target shows CLIP at one epoch (and its mask) as PNG files.",
    discussion: """
      The views are CLIP's inputs (after the transforms, resized to the model's input side and \
      clamped), drawn with the render's own random streams: with the same --seed they are the \
      views 'clipig render' trains on at that epoch from the same pixels. Without --train the \
      pixels are the experiment's start (or --image) after the epoch's resize and \
      post-processing; with --train the epochs before are trained first, so the views are \
      exactly those of the render's epoch.
      """)

  @OptionGroup var experiment: ExperimentFiles

  @Option(help: "Epoch to preview, from 1 (default: the first the experiment runs).")
  var epoch: Int?

  @Option(help: "Training time t in [0, 1] to preview instead of an epoch.")
  var t: Double?

  @Option(help: "Start from this image (PNG, JPEG, WebP or URL) instead of the initial pixels.")
  var image: String?

  @Flag(help: "Train the epochs before the previewed one first (as render would).")
  var train = false

  @Option(help: "Seed of all random draws (default: the YAML's seed, else drawn and printed).")
  var seed: UInt64?

  @OptionGroup var model: ModelOption

  @OptionGroup var plugins: PluginOptions

  @Option(name: .shortAndLong, help: "Output directory.")
  var output: String

  func validate() throws {
    if let epoch, epoch < 1 {
      throw ValidationError("--epoch \(epoch): epochs count from 1")
    }
    if let t, !(0...1).contains(t) { throw ValidationError("--t must be between 0 and 1") }
    if train && image != nil {
      throw ValidationError("--train starts from the experiment's pixels; drop --image")
    }
  }

  func run() throws {
    let watch = exitingOnSignals()
    defer { withExtendedLifetime(watch) {} }
    try reportingConfigErrors {
      var overrides = RunOverrides()
      overrides.model = model.model
      let plan = try RunPlan(
        files: experiment.files, overrides: overrides, seed: seed,
        registries: PluginContext.registries)
      let experiment = plan.experiment
      // `e` is the epoch's index (from 0); every message shows its number, e + 1.
      var e = epoch.map { $0 - 1 } ?? experiment.startEpoch
      if let t { e = Int((t * Double(max(1, experiment.epochs - 1))).rounded()) }
      if e >= experiment.epochs {
        throw ValidationError(
          "--epoch \(e + 1) is past the last epoch (\(experiment.epochs)) of this experiment")
      }
      if e < experiment.startEpoch {
        throw ValidationError(
          "--epoch \(e + 1) is before the first epoch this experiment runs "
            + "(\(experiment.startEpoch + 1), start_epoch: \(experiment.startEpoch))")
      }
      print(
        "seed \(plan.seed)\(plan.seedWasDrawn ? " (drawn; --seed \(plan.seed) repeats it)" : "")")
      let clips = try experiment.loadModels { name, precision in
        try ModelLoader.load(name, precision: precision)
      }
      let sheet: Preview.Sheet
      if train {
        let trainer = try Trainer(plan: plan, models: clips)
        var silent = SilentObserver()
        try RunLoop(trainer: trainer, endEpoch: e).run(&silent)
        sheet = try Preview.sheet(of: trainer, epoch: e)
      } else {
        let start = try image.map { try ImageInput.load($0, key: "--image") }
        sheet = try Preview.sheet(
          experiment, epoch: e, image: start, seed: plan.seed, imageSize: clips[0].imageSize,
          imageSizes: clips.map(\.imageSize), baseDirectory: plan.baseDirectory)
      }
      if sheet.views.isEmpty { print("no target is active at epoch \(e + 1)") }
      for view in sheet.views {
        // A free name (never over an existing file): name.png, name-1.png, …
        let name = try OutputNaming.claim(
          "\(output)/\(view.targetName)-\(view.target)-view\(view.index)"
            + (view.model > 0 ? "-model\(view.model + 1)" : "") + ".png", sidecar: false)
        try ImageFile.write(view.image, to: name)
        print("\(name)  \(view.image.chw.w)x\(view.image.chw.h)")
      }
      for mask in sheet.masks {
        // The mask at the image's resolution, white where the target may change pixels.
        let name = try OutputNaming.claim(
          "\(output)/\(mask.targetName)-\(mask.target)-mask.png", sidecar: false)
        try ImageFile.write(mask.image, to: name)
        print("\(name)  \(mask.image.chw.w)x\(mask.image.chw.h) (mask)")
      }
    }
  }
}
