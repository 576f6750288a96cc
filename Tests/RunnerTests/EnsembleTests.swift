import Formats
import Foundation
import PipelineKit
import PipelineKitTesting
import TestSupport
import Testing

@testable import Runner

/// `models:` — several CLIP models judging one image: a generated ViT (32 px) and a generated
/// ResNet (96 px), each seeing its views at its own input size.
@Suite("Several models")
struct EnsembleTests {
  /// The tiny ViT CLIP (32 px, Hugging Face layout).
  static let vit = TestFiles.tinyModel
  /// The small ResNet CLIP (96 px, open_clip names).
  static let resnet = TestFiles.repository
    .appendingPathComponent("Tests/CLIPTests/Fixtures/resnet-small.safetensors").path

  /// An experiment of two targets whose `models:` list is `models` (YAML lines after
  /// `models:`, or empty for the single `model:` line `single`); the second target is judged
  /// by `secondTarget` (a `model:` value, or nil for every model).
  static func yaml(models: String, single: String? = nil, secondTarget: String? = nil) -> String {
    """
    epochs: 5
    resolution: 12
    learnrate: 2
    init: {mean: 0.5, std: 0.15}
    \(single.map { "model: \($0)" } ?? "models:\n" + models)
    targets:
      - batch_size: 4
        feature_scale: fair
        features:
          - text: a cat made of salami
          - {text: a lighthouse at night, weight: -0.4}
        transforms:
          - noise: 0.05
          - random_shift: 0 1
        constraints:
          - saturation: {below: 0.1}
      - name: second
        batch_size: 2
    \(secondTarget.map { "    model: \($0)" } ?? "")
        features:
          - {text: a bowl of strawberries, loss: l2}
        transforms:
          - random_rotate: {degree: -10 10}
    """
  }

  static func experiment(_ yaml: String) throws -> Experiment {
    try Experiment(try YAML.parse(yaml, file: "ensemble.yaml"))
  }

  static func load(_ path: String) throws -> any FeatureModel {
    try ModelLoader.load(path, quiet: true)
  }

  /// The two-model list with weights `a`, `b` and the ResNet's share of views `views`.
  static func pair(_ a: String, _ b: String, views: String = "1") -> String {
    "  - {model: \(vit), weight: \(a)}\n  - {model: \(resnet), weight: \(b), views: \(views)}"
  }

  /// Trains `epochs` epochs of `e` with `models` from seed 3 and returns the pixels.
  static func pixels(_ e: Experiment, _ models: [any FeatureModel], epochs: Int = 3) throws
    -> [Float]
  {
    let trainer = try Trainer(experiment: e, models: models, seed: 3)
    for epoch in 0..<epochs { try trainer.step(epoch: epoch) }
    return trainer.pixels.scalars
  }

  // MARK: - Bit for bit

  /// Weights 1 and 0 train the image the first model trains alone, bit for bit (the second
  /// model is only evaluated); 0 and 1 the image the second trains alone on its views.
  @Test func weightsOneAndZeroAreTheModelAlone() throws {
    let both = try Self.experiment(Self.yaml(models: Self.pair("1", "0")))
    let vitAlone = try Self.experiment(Self.yaml(models: "", single: Self.vit))
    let a = try Self.pixels(both, [try Self.load(Self.vit), try Self.load(Self.resnet)])
    let b = try Self.pixels(vitAlone, [try Self.load(Self.vit)])
    #expect(a == b)
    let second = try Self.experiment(Self.yaml(models: Self.pair("0", "1", views: "0.5")))
    let c = try Self.pixels(second, [try Self.load(Self.vit), try Self.load(Self.resnet)])
    let d = try Self.pixels(second.only(model: 1), [try Self.load(Self.resnet)])
    #expect(c == d)
    #expect(a != c)
  }

  /// Through `render` (the library run the binary makes): the same PNG, and the sidecar of
  /// the two-model run names each model's similarity.
  @Test func renderWithWeightZeroWritesTheFirstModelsImage() throws {
    let dir = try TestFiles.temporaryDirectory("ensemble-render")
    try TestFiles.write(Self.yaml(models: Self.pair("1", "0")), to: dir + "/in-both.yaml")
    try TestFiles.write(Self.yaml(models: "", single: Self.vit), to: dir + "/in-alone.yaml")
    var lines: [String] = []
    for name in ["both", "alone"] {
      var options = RenderOptions()
      options.configFiles = [dir + "/in-\(name).yaml"]
      options.output = dir + "/\(name).png"
      options.seed = 8
      options.verbosity = 0
      #expect(
        try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in })
          == .finished)
      lines.append(try TestFiles.read(dir + "/\(name).yaml"))
    }
    #expect(try PNG.read(path: dir + "/both.png") == (try PNG.read(path: dir + "/alone.png")))
    // One value per model that judged the feature, named by the model's file.
    let similarity =
      #/a cat made of salami similarity (-?\d+\.\d\d) \(tiny-hf\), (-?\d+\.\d\d) \(resnet-small\)/#
    #expect(lines[0].contains(similarity), "\(lines[0])")
    #expect(!lines[1].contains("(tiny-hf)"), "\(lines[1])")
  }

  /// The sidecar's per-model similarities are the last epoch's, as the trainer reports them.
  @Test func theSidecarShowsEachModelsSimilarity() throws {
    let dir = try TestFiles.temporaryDirectory("ensemble-sidecar")
    let yaml = Self.yaml(models: Self.pair("1", "0.5", views: "0.5"), secondTarget: Self.resnet)
    try TestFiles.write(yaml, to: dir + "/in.yaml")
    var options = RenderOptions()
    options.configFiles = [dir + "/in.yaml"]
    options.output = dir + "/e.png"
    options.seed = 8
    options.overrides.epochs = 2
    options.verbosity = 0
    _ = try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in })
    let sidecar = try TestFiles.read(dir + "/e.yaml")
    // The same run in the library: its last epoch's report.
    var e = try Self.experiment(yaml)
    e.epochs = 2
    let trainer = try Trainer(
      experiment: e, models: [try Self.load(Self.vit), try Self.load(Self.resnet)], seed: 8)
    try trainer.step(epoch: 0)
    let last = try trainer.step(epoch: 1)
    let sims = last.modelSimilarities
    #expect(sims.count == 2)
    func text(_ v: Double??) -> String { String(format: "%.2f", (v ?? nil) ?? .nan) }
    #expect(
      sidecar.contains(
        "target: a cat made of salami similarity \(text(sims[0][0][0])) (tiny-hf), "
          + "\(text(sims[1][0][0])) (resnet-small)"), "\(sidecar)")
    // The second target is judged by the ResNet alone.
    #expect(sims[0][1][0] == nil)
    #expect(
      sidecar.contains(
        "second: a bowl of strawberries similarity \(text(sims[1][1][0])) (resnet-small)\n"),
      "\(sidecar)")
    // The sidecar renders the same run again: it keeps the list.
    let again = try Experiment(try YAML.parse(sidecar, file: "e.yaml"))
    #expect(again.models.map(\.name) == [Self.vit, Self.resnet])
    #expect(again.targets[1].models == [1])
  }

  // MARK: - The loss is the weighted sum

  /// The ensemble's epoch loss and its gradient are Σ weight × each model's alone (weights an
  /// expression of t; the ResNet sees half the views and judges only the first target), and
  /// the ensemble's epoch passes the gradient harness.
  @Test func lossAndGradientAreTheWeightedSum() throws {
    let e = try Self.experiment(
      Self.yaml(models: Self.pair("0.7", "1 + t", views: "0.5"), secondTarget: Self.vit))
    let models = [try Self.load(Self.vit), try Self.load(Self.resnet)]
    let ensemble = try Trainer(experiment: e, models: models, seed: 5)
    try ensemble.step(epoch: 0)
    let x = ensemble.pixels
    let epoch = 1
    let t = 0.25  // epoch 1 of 5
    let weights = [0.7, 1 + t]
    let (value, pullback) = try ensemble.lossFunction(epoch: epoch)(x)
    let gradient = pullback(Tensor(scalar: 1))
    var expectedLoss = 0.0
    var expectedGradient = [Double](repeating: 0, count: x.count)
    for m in 0..<2 {
      // The model alone, at weight 1 (`only` keeps the model's weight).
      var single = e.only(model: m)
      single.models[0].weight = Param(1)
      let alone = try Trainer(experiment: single, models: [models[m]], seed: 5)
      try alone.step(epoch: 0)
      #expect(alone.pixels.scalars != x.scalars || m == 0)
      let (v, p) = try alone.lossFunction(epoch: epoch)(x)
      expectedLoss += weights[m] * Double(v.scalars[0])
      let g = p(Tensor(scalar: 1))
      for k in g.scalars.indices { expectedGradient[k] += weights[m] * Double(g.scalars[k]) }
    }
    #expect(
      abs(Double(value.scalars[0]) - expectedLoss) <= 1e-5 * max(1, abs(expectedLoss)),
      "\(value.scalars[0]) vs \(expectedLoss)")
    var difference = 0.0
    var norm = 0.0
    for k in expectedGradient.indices {
      difference += pow(Double(gradient.scalars[k]) - expectedGradient[k], 2)
      norm += expectedGradient[k] * expectedGradient[k]
    }
    #expect(norm > 0)
    #expect(difference.squareRoot() <= 1e-5 * norm.squareRoot(), "\(difference) of \(norm)")
    var options = GradientHarness.Options()
    options.maxCoordinates = 64
    let failures = GradientHarness.check(
      "ensemble epoch loss", at: x, policy: .piecewise, options: options,
      try ensemble.lossFunction(epoch: epoch))
    #expect(failures.isEmpty, "\(failures)")
  }

  // MARK: - Views, memory, overrides

  /// Each model sees its views at its input size: its share of each judged target's views.
  @Test func eachModelSeesItsShareAtItsSize() throws {
    let e = try Self.experiment(
      Self.yaml(models: Self.pair("1", "1", views: "0.5"), secondTarget: Self.vit))
    let trainer = try Trainer(
      experiment: e, models: [try Self.load(Self.vit), try Self.load(Self.resnet)], seed: 2)
    let views = try trainer.views(atEpoch: 0)
    #expect(views.batches.map { $0.images.shape } == [[6, 3, 32, 32], [2, 3, 96, 96]])
    #expect(views.batches[1].origins == [.init(target: 0, index: 0), .init(target: 0, index: 1)])
    // A share of 4 views: at least one, rounded.
    let ratio = [0.1, 0.25, 0.5, 0.75, 1].map { share in
      Experiment.ModelEntry(
        name: "m", weight: Param(1), views: share, location: .synthetic("t")
      ).viewCount(of: 4)
    }
    #expect(ratio == [1, 1, 2, 3, 4])
    // The memory estimate counts each model's views at its size.
    let estimate = MemoryBudget.estimate(
      e, models: [try Self.load(Self.vit), try Self.load(Self.resnet)],
      resolution: (12, 12))
    #expect(estimate.perModel.map(\.views) == [6, 2])
    #expect(estimate.views == 8)
    #expect(estimate.perModel[1].bytes > 2 * 96 * 96 * 3 * 4 * 3)
  }

  /// `--model` means one model for everything: it replaces the list and the targets' choices.
  @Test func theModelOverrideReplacesTheList() throws {
    var overrides = RunOverrides()
    overrides.model = Self.vit
    let tree = try YAML.parse(
      Self.yaml(models: Self.pair("1", "0.5"), secondTarget: Self.resnet), file: "e.yaml")
    let plan = try RunPlan(
      tree: tree, baseDirectory: ".", sourceName: "e.yaml", overrides: overrides, seed: 1)
    #expect(plan.experiment.models.map(\.name) == [Self.vit])
    #expect(plan.experiment.targets.map(\.models) == [[0], [0]])
    let sidecar = plan.sidecarConfiguration(output: "x.png").yamlText()
    #expect(!sidecar.contains("models:"), "\(sidecar)")
  }

  // MARK: - Bad input

  /// Each mistake is a `ConfigError` at its line and column, naming its key.
  @Test(arguments: [
    (
      "models:\n  - {model: ViT-B/32}\n  - {model: RN50}\ntargets:\n  - model: RN05\n"
        + "    features: [{text: a}]\n",
      "ensemble.yaml:5:12: error: 'targets[0].model': unknown model 'RN05'",
      "(did you mean 'RN50'?)"
    ),
    (
      "models:\n  - {model: ViT-B/32}\ntargets:\n  - model: [ViT-B/32, RN50]\n"
        + "    features: [{text: a}]\n",
      "ensemble.yaml:4:23: error: 'targets[0].model': unknown model 'RN50'", "'ViT-B/32'"
    ),
    (
      "models:\n  - {model: ViT-B/32, views: 0}\n",
      "ensemble.yaml:2:30: error: 'models[0].views'", "must be in (0, 1], got 0"
    ),
    (
      "models:\n  - {model: ViT-B/32}\n  - {model: RN50, views: 1.5}\n",
      "ensemble.yaml:3:26: error: 'models[1].views'", "got 1.5"
    ),
    ("models: []\n", "ensemble.yaml:1:9: error: 'models'", "the list of models is empty"),
    (
      "models:\n  - ViT-B/32\n  - {model: ViT-B/32}\n",
      "ensemble.yaml:3:13: error: 'models[1].model'", "listed twice"
    ),
    (
      "models:\n  - {model: RN50, wieght: 2}\n", "ensemble.yaml:2:19: error:",
      "unknown parameter 'wieght'"
    ),
  ])
  func badInputIsAConfigErrorAtItsPlace(yaml: String, place: String, message: String) {
    let error = #expect(throws: ConfigError.self) { try Self.experiment(yaml) }
    let text = error.map { "\($0)" } ?? ""
    #expect(text.hasPrefix(place), "\(text)")
    #expect(text.contains(message), "\(text)")
  }

  /// The release binary refuses an unknown model name before loading any model, naming it.
  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func theBinaryNamesAnUnknownModelOfATarget() throws {
    let dir = try TestFiles.temporaryDirectory("ensemble-cli")
    let yaml = Self.yaml(models: Self.pair("1", "1"), secondTarget: "tiny-hf")
    try TestFiles.write(yaml, to: dir + "/e.yaml")
    let line =
      try #require(
        yaml.split(separator: "\n", omittingEmptySubsequences: false).firstIndex {
          $0.contains("model: tiny-hf")
        }) + 1
    let r = try ClipigExecutable.run(["render", dir + "/e.yaml", "-o", dir + "/"], in: nil)
    #expect(r.status != 0)
    #expect(
      r.err.contains("e.yaml:\(line):12: error: 'targets[1].model': unknown model 'tiny-hf'"),
      "\(r.err)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/e.png"))
  }
}
