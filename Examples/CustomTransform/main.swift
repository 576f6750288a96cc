// A custom transform in four steps: write a `Stage` (Vignette.swift), register it, prove its
// gradient, use it from YAML. Run: swift run CustomTransform
import Formats
import Foundation
import PipelineKit
import PipelineKitTesting
import Runner
import Transforms

// 1. Register: a registry is a value; this one knows every built-in transform plus ours.
let registry = StageRegistry.transforms.adding(Vignette.self)

// 2. Use it by name, exactly as a YAML experiment would (`- vignette: 0.7`).
let stage = try registry.make(
  name: "vignette", parameters: 0.7, path: "targets[0].transforms[0]",
  keyLocation: .synthetic("example"))
var context = StageContext()
let image = Tensor(shape: [3, 4, 4], repeating: 1)
let (out, _) = try stage.forward(image, in: &context)
print("corner \(out.scalars[0]), centre \(out.scalars[5])")

// 3. Prove the pullback with the same harness every built-in stage passes.
let failures = GradientHarness.check(Vignette.self)
print(
  failures.isEmpty
    ? "vignette: gradient harness passed" : failures.map(\.description).joined(separator: "\n"))
struct HarnessFailed: Error {}
if !failures.isEmpty { throw HarnessFailed() }

// 4. Compose it in YAML with the built-in stages and render a few epochs (5, or the first
//    argument) with the tiny test model of this repository (its images are 32 pixels). Ctrl-C
//    stops after the epoch and keeps the image, its YAML and a checkpoint (SignalWatch sets the
//    flag the run loop checks).
let epochs = CommandLine.arguments.dropFirst().first.flatMap { Int($0) } ?? 5
let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
  .deletingLastPathComponent().deletingLastPathComponent()
let folder = FileManager.default.temporaryDirectory
  .appendingPathComponent("clipig-custom-transform-\(UUID().uuidString)").path
try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
let yaml = """
  epochs: \(epochs)
  resolution: 32
  seed: 1
  snapshot_interval: 0
  model: \(repository.appendingPathComponent("Tests/CLIPTests/Fixtures/tiny-hf").path)
  targets:
    - batch_size: 2
      features: [{text: a lighthouse at night}]
      transforms:
        - random_rotate: {degree: -10 10}
        - vignette: 0.8 * ti
  """
try Data(yaml.utf8).write(to: URL(fileURLWithPath: folder + "/experiment.yaml"))

// The views CLIP sees at the first epoch, with the vignette applied.
let plan = try RunPlan(
  tree: try YAML.parse(yaml, file: "vignette.yaml"), baseDirectory: folder,
  sourceName: "vignette.yaml", seed: 1, registries: StageRegistries(transforms: registry))
let views = try Preview.views(plan.experiment, epoch: 0, seed: plan.seed, imageSize: 32)
print("\(views.count) views of \(views[0].image.shape), corner \(views[0].image.scalars[0])")

var options = RenderOptions()
options.configFiles = [folder + "/experiment.yaml"]
options.output = folder + "/vignette.png"
options.registries = try StageRegistries(
  plugins: [ClipigPlugin(name: "custom-transform", transforms: [Vignette.self])])
options.verbosity = 1
let interrupt = InterruptFlag()
let watch = SignalWatch(interrupt)
let outcome = try withExtendedLifetime(watch) {
  try CLIRunner.render(options: options, interrupt: interrupt)
}
print("\(outcome): \(folder)/vignette.png and its YAML")
if outcome == .interrupted { exit(interrupt.exitStatus) }
