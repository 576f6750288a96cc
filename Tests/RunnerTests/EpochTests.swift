import CLIP
import Formats
import Foundation
import PipelineKit
import PipelineKitTesting
import Runner
import TestSupport
import Testing

/// The epoch as a composition of value-and-pullback pieces, each proven by the generic harness,
/// and the seed rules (flag > YAML > drawn) that make a saved sidecar render the same image.
@Suite("One epoch, composed of proven pieces")
struct EpochTests {
  /// The tiny test CLIP (a new instance per test: a feature model serves one task).
  static func tinyModel() throws -> any FeatureModel {
    try ModelLoader.load(TestFiles.tinyModel, quiet: true)
  }

  static func experiment(_ yaml: String) throws -> Experiment {
    try Experiment(try YAML.parse(yaml, file: "epoch.yaml"))
  }

  /// An experiment with every kind of piece. Weights are constants here: a weight that depends
  /// on `sim` enters the loss as a value, with no gradient through `sim` (CLIPig's semantics),
  /// so finite differences of such a loss differ from its pullback by design; that case is
  /// checked by value in `simDependentWeightsUseEachViewsSimilarity`.
  static func yaml(select: String, loss: String) -> String {
    """
    epochs: 10
    resolution: 12
    init: {mean: 0.5, std: 0.15}
    targets:
      - batch_size: 2
        select: \(select)
        feature_scale: fair
        features:
          - {text: a cat made of salami, loss: \(loss)}
          - {text: a lighthouse at night, weight: 0.5, loss: \(loss)}
          - {text: a bowl of strawberries, weight: -0.3, loss: \(loss)}
        transforms:
          - pad: {size: 2, mode: edge}
          - random_shift: -2 2
          - noise: 0.05
        constraints:
          - mean: {below: 0.3, weight: 0.5}
      - features:
          - text: fish
        transforms:
          - resize: 10
    """
  }

  // MARK: - The pieces in the harness

  @Test func viewSamplerPassesTheHarness() throws {
    let e = try Self.experiment(Self.yaml(select: "all", loss: "cosine"))
    let sampler = ViewSampler(experiment: e, imageSize: 9, streams: RandomStreams(seed: 3))
    var r = SeededRandom(seed: 1)
    let variables = try e.variables(atEpoch: 4, random: &r)
    var noise = SeededRandom(seed: 5)
    let x = Tensor(shape: [3, 12, 12]) { _ in Float(0.2 + 0.6 * noise.uniform()) }
    let failures = GradientHarness.check("view sampler", at: x, policy: .piecewise) { image in
      let views = try sampler.sample(image, epoch: 4, variables: variables)
      return (views.images, views.pullback)
    }
    #expect(failures.isEmpty, "\(failures)")
  }

  @Test func imageEncoderPassesTheHarness() throws {
    let model = try Self.tinyModel()
    let s = model.imageSize
    var noise = SeededRandom(seed: 6)
    let x = Tensor(shape: [2, 3, s, s]) { _ in Float(noise.uniform()) }
    var options = GradientHarness.Options()
    options.maxCoordinates = 48
    // Float32 all through the towers' layer norms: the tolerance of the CLIP kernel tests.
    options.tolerance = 2e-3
    let failures = GradientHarness.check("CLIP image encoder", at: x, options: options) {
      try model.encodeImages($0)
    }
    #expect(failures.isEmpty, "\(failures)")
  }

  @Test func encoderPullbacksStayValidAcrossEncodes() throws {
    let model = try Self.tinyModel()
    let s = model.imageSize
    var noise = SeededRandom(seed: 7)
    let a = Tensor(shape: [2, 3, s, s]) { _ in Float(noise.uniform()) }
    let b = Tensor(shape: [2, 3, s, s]) { _ in Float(noise.uniform()) }
    let (fa, pa) = try model.encodeImages(a)
    var v = Tensor(shape: fa.shape)
    noise.fillNormal(&v.scalars)
    let before = pa(v)
    _ = try model.encodeImages(b)  // another encode between a forward and its pullback
    #expect(pa(v).scalars == before.scalars)
  }

  @Test(
    arguments: ["all", "best", "worst", "mix"], ["cosine", "l1", "l2"])
  func objectivePassesTheHarness(select: String, loss: String) throws {
    let model = try Self.tinyModel()
    let e = try Self.experiment(Self.yaml(select: select, loss: loss))
    let streams = RandomStreams(seed: 11)
    var noise = SeededRandom(seed: 8)
    let s = model.imageSize
    let initial = Tensor(shape: [3, 12, 12]) { _ in Float(noise.uniform()) }
    let features = try TargetFeatures(
      experiment: e, model: model, initialImage: initial, baseDirectory: ".")
    let objective = Objective(experiment: e, features: features, streams: streams)
    let origins = [
      ViewSampler.Origin(target: 0, index: 0), ViewSampler.Origin(target: 0, index: 1),
      ViewSampler.Origin(target: 1, index: 0),
    ]
    let encoded = try model.encodeImages(
      Tensor(shape: [3, 3, s, s]) { _ in Float(noise.uniform()) }
    )
    .value
    // Rows of norm 10 (the objective normalises them): then the finite-difference step is small
    // against the rows' norms and the differences measure the derivative, not the curvature.
    let d = encoded.shape[1]
    let raw = Tensor(
      shape: encoded.shape,
      scalars: (0..<3).flatMap { v in
        CLIPFeatures.unit(Array(encoded.scalars[v * d..<(v + 1) * d])).map { $0 * 10 }
      })
    // Small views for the constraints (any size works): the constraint's Float loss then moves
    // by far more than its rounding when one pixel moves.
    let views = Tensor(shape: [3, 3, 4, 4]) { _ in Float(0.2 + 0.6 * noise.uniform()) }
    var r = SeededRandom(seed: 1)
    let variables = try e.variables(atEpoch: 3, random: &r)
    let policy: GradientPolicy = loss == "l1" || select != "all" ? .piecewise : .smooth
    func evaluate(_ f: Tensor, _ v: Tensor) throws -> (Double, (Double) -> Objective.Cotangents) {
      var random = streams.expressions(epoch: 3)
      let (value, pullback) = try objective.evaluate(
        rawFeatures: f, views: v, origins: origins, epoch: 3, variables: variables,
        random: &random)
      return (value.loss, pullback)
    }
    // The loss relative to its value at the test point, so that its Float output keeps the
    // digits finite differences need (the derivative is the same).
    let base = try evaluate(raw, views).0
    let byFeatures = GradientHarness.check("objective(features)", at: raw, policy: policy) { f in
      let (loss, pullback) = try evaluate(f, views)
      return (Tensor(scalar: Float(loss - base)), { d in pullback(Double(d.scalars[0])).features })
    }
    #expect(byFeatures.isEmpty, "\(select)/\(loss): \(byFeatures)")
    let byViews = GradientHarness.check("objective(views)", at: views, policy: policy) { v in
      let (loss, pullback) = try evaluate(raw, v)
      return (Tensor(scalar: Float(loss - base)), { d in pullback(Double(d.scalars[0])).views })
    }
    #expect(byViews.isEmpty, "\(select)/\(loss): \(byViews)")
  }

  /// The whole epoch's loss with respect to the pixels, through every piece, on the tiny CLIP.
  @Test(arguments: ["all", "best", "worst", "mix"], ["cosine", "l1", "l2"])
  func wholeEpochLossMatchesFiniteDifferences(select: String, loss: String) throws {
    let e = try Self.experiment(Self.yaml(select: select, loss: loss))
    let trainer = try Trainer(experiment: e, model: try Self.tinyModel(), seed: 5)
    try trainer.step(epoch: 0)
    let f = try trainer.lossFunction(epoch: 1)
    var options = GradientHarness.Options()
    options.maxCoordinates = 64
    let failures = GradientHarness.check(
      "epoch loss", at: trainer.pixels, policy: .piecewise, options: options, f)
    #expect(failures.isEmpty, "\(select)/\(loss): \(failures)")
  }

  @Test func simDependentWeightsUseEachViewsSimilarity() throws {
    let model = try Self.tinyModel()
    let e = try Self.experiment(
      """
      targets:
        - batch_size: 2
          features:
            - {text: a cat made of salami, weight: sim / 100}
      """)
    let s = model.imageSize
    var noise = SeededRandom(seed: 9)
    let views = Tensor(shape: [2, 3, s, s]) { _ in Float(noise.uniform()) }
    let raw = try model.encodeImages(views).value
    let features = try TargetFeatures(
      experiment: e, model: model, initialImage: views.view(0), baseDirectory: ".")
    let objective = Objective(experiment: e, features: features, streams: RandomStreams(seed: 1))
    var random = SeededRandom(seed: 2)
    var r = SeededRandom(seed: 1)
    let (value, _) = try objective.evaluate(
      rawFeatures: raw, views: views,
      origins: [ViewSampler.Origin(target: 0, index: 0), ViewSampler.Origin(target: 0, index: 1)],
      epoch: 0, variables: try e.variables(atEpoch: 0, random: &r), random: &random)
    // By hand: cos_v between the view's and the prompt's features; loss = Σ_v cos_v (1 − cos_v).
    let text = try model.encodeText("a cat made of salami")
    let d = raw.shape[1]
    var expected = 0.0
    var sims: [Double] = []
    for v in 0..<2 {
      let f = Array(raw.scalars[v * d..<(v + 1) * d])
      var ab = 0.0
      var aa = 0.0
      var bb = 0.0
      for k in 0..<d {
        ab += Double(f[k]) * Double(text[k])
        aa += Double(f[k]) * Double(f[k])
        bb += Double(text[k]) * Double(text[k])
      }
      let cos = ab / (aa * bb).squareRoot()
      sims.append(100 * cos)
      expected += cos * (1 - cos)
    }
    #expect(abs(value.loss - expected) < 1e-5, "\(value.loss) vs \(expected)")
    #expect(abs(value.similarities[0][0]! - (sims[0] + sims[1]) / 2) < 1e-4)
  }

  // MARK: - Preview shows exactly the views training uses

  @Test func previewViewsAreTheTrainedViews() throws {
    let e = try Self.experiment(Self.yaml(select: "all", loss: "cosine"))
    let model = try Self.tinyModel()
    var trained: [Tensor] = []
    let trainer = try Trainer(experiment: e, model: model, seed: 21)
    for epoch in 0..<3 {
      try trainer.step(epoch: epoch) { views in
        if epoch == 2 { trained = (0..<views.count).map { views.images.view($0) } }
      }
    }
    #expect(trained.count == 3)
    // From the start: preview of epoch 0 equals training's epoch 0 …
    var first: [Tensor] = []
    let fresh = try Trainer(experiment: e, model: model, seed: 21)
    try fresh.step(epoch: 0) { views in first = (0..<views.count).map { views.images.view($0) } }
    let preview0 = try Preview.views(e, epoch: 0, seed: 21, imageSize: model.imageSize)
    #expect(preview0.map(\.image.scalars) == first.map(\.scalars))
    // … and after training, the views of the trainer's epoch 2.
    let again = try Trainer(experiment: e, model: model, seed: 21)
    for epoch in 0..<2 { try again.step(epoch: epoch) }
    let preview2 = try Preview.views(of: again, epoch: 2)
    #expect(preview2.map(\.image.scalars) == trained.map(\.scalars))
    #expect(preview2.map(\.target) == [0, 0, 1])
  }

  // MARK: - Seeds

  func render(_ files: [String], seed: UInt64? = nil, epochs: Int? = 3, into dir: String) throws
    -> String
  {
    var options = RenderOptions()
    options.configFiles = files
    options.output = dir + "/"
    options.overrides.epochs = epochs
    options.seed = seed
    options.overrides.model = TestFiles.tinyModel
    options.verbosity = 0
    let before = Set((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? [])
    #expect(
      try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in }) == .finished
    )
    let after = Set(try FileManager.default.contentsOfDirectory(atPath: dir))
    let image = try #require(after.subtracting(before).first { $0.hasSuffix(".png") })
    return dir + "/" + image
  }

  @Test(arguments: ["method1.yaml", "method2.yaml"])
  func yamlSeedRendersBitIdenticalImages(example: String) throws {
    let dir = try TestFiles.temporaryDirectory()
    let seedFile = dir + "/seed.yaml"
    try "seed: 42\n".write(toFile: seedFile, atomically: true, encoding: .utf8)
    let files = [TestFiles.examples + "/" + example, seedFile]
    let a = try render(files, into: dir + "/a")
    let b = try render(files, into: dir + "/b")
    #expect(try PNG.read(path: a).scalars == PNG.read(path: b).scalars)
    let sidecar = try String(contentsOfFile: OutputNaming.sidecarPath(a), encoding: .utf8)
    #expect(sidecar.contains("\nseed: 42\n"), "\(sidecar)")
    // The flag wins over the YAML.
    let c = try render(files, seed: 43, into: dir + "/c")
    #expect(try PNG.read(path: c).scalars != PNG.read(path: a).scalars)
    #expect(
      try String(contentsOfFile: OutputNaming.sidecarPath(c), encoding: .utf8)
        .contains("\nseed: 43\n"))
  }

  @Test(arguments: ["method1.yaml", "method2.yaml"])
  func sidecarRendersTheSameImageAgain(example: String) throws {
    let dir = try TestFiles.temporaryDirectory()
    // No seed anywhere: one is drawn, printed and saved.
    let first = try render([TestFiles.examples + "/" + example], into: dir)
    let sidecar = OutputNaming.sidecarPath(first)
    let again = try render([sidecar], epochs: nil, into: dir)
    #expect(again != first)
    #expect(try PNG.read(path: again).scalars == PNG.read(path: first).scalars)
  }

  // MARK: - Choices

  @Test(arguments: [
    ("optimizer: adma\n", "unknown optimizer 'adma' (did you mean 'adam'?)"),
    ("interpolation: cubc\n", "unknown interpolation 'cubc' (did you mean 'cubic'?)"),
    ("targets:\n  - select: bset\n", "unknown feature selection 'bset' (did you mean 'best'?)"),
    (
      "targets:\n  - features: [{text: a, loss: cosin}]\n",
      "unknown feature loss 'cosin' (did you mean 'cosine'?)"
    ),
    (
      "targets:\n  - transforms: [{pad: {size: 1, mode: edg}}]\n",
      "unknown pad mode 'edg' (did you mean 'edge'?)"
    ),
  ])
  func misspelledChoicesSuggestTheClosest(yaml: String, message: String) throws {
    do {
      _ = try Self.experiment(yaml)
      Issue.record("accepted \(yaml)")
    } catch {
      #expect("\(error)".contains(message), "\(error)")
      #expect("\(error)".contains("epoch.yaml:"), "\(error)")
    }
  }

  @Test func featureScaleKeepsCLIPigsMeaningAndWarns() throws {
    func target(_ scale: String) throws -> Experiment {
      try Self.experiment("targets:\n  - feature_scale: \(scale)\n    features: [{text: a}]\n")
    }
    #expect(try target("equal").targets[0].fairScaling == false)
    #expect(try target("fair").targets[0].fairScaling == true)
    #expect(try target("fair").warnings.isEmpty)
    let other = try target("fiar")
    #expect(other.targets[0].fairScaling == true)
    #expect(other.warnings.count == 1)
    #expect(other.warnings[0].contains("'fiar' is taken as 'fair'"), "\(other.warnings)")
    #expect(other.warnings[0].contains("epoch.yaml:2:"), "\(other.warnings)")
  }
}
