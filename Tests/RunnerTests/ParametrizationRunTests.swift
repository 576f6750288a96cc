import Formats
import Foundation
import Parametrizations
import PipelineKit
import Runner
import TestSupport
import Testing

/// Renders with `parametrization:` the way users run them: YAML in, Trainer or CLIRunner out.
@Suite("Runs with a parametrization (tiny CLIP)")
struct ParametrizationRunTests {
  static func experiment(_ yaml: String) throws -> Experiment {
    try Experiment(try YAML.parse(yaml, file: "t.yaml"))
  }

  /// The tiny-CLIP training run of ExamplesTests, here with a parametrization added.
  static let training = TinyCLIPTrainingTests.config

  @Test(arguments: [
    "{type: fft, decay: 1.0, colors: decorrelated, mapping: sigmoid}",
    "{type: fft, decay: 0.5, colors: rgb, mapping: clamp}",
  ])
  func similarityRises(section: String) throws {
    let e = try Self.experiment(Self.training + "\nparametrization: \(section)\n")
    let trainer = try Trainer(
      experiment: e, model: try ModelLoader.load(TestFiles.tinyModel), seed: 2)
    #expect(trainer.parametrization is FourierParametrization)
    var sims: [Double] = []
    for epoch in 0..<30 { sims.append(try trainer.step(epoch: epoch).similarities[0][0] ?? .nan) }
    #expect(sims.last! > sims.first! + 5, "\(sims)")
  }

  @Test func theFirstImageIsTheSameWithEveryParametrization() throws {
    // Noise and init images are made as before, then encoded exactly.
    for initSection in ["{mean: 0.4, std: 0.1, resolution: 7}", "{image: images/palette.png}"] {
      var images: [Tensor] = []
      for section in [
        "pixels", "fft", "{type: fft, decay: 1.5, colors: decorrelated}",
        "{type: stack, mapping: clamp}",
      ] {
        let e = try Self.experiment(
          "resolution: 24 20\ninit: \(initSection)\nparametrization: \(section)\n")
        let trainer = try Trainer(
          experiment: e, model: ProjectionModel(), seed: 5, baseDirectory: TestFiles.examples)
        images.append(trainer.image)
      }
      for image in images.dropFirst() {
        #expect(image.shape == [3, 20, 24])
        #expect(maxAbsDiff(image.scalars, images[0].scalars) < 1e-5)
      }
    }
  }

  @Test func postprocEditsTheImageAndEncodesItBack() throws {
    // No targets: an epoch is only the post-processing, so both parametrizations must give the
    // same blurred image.
    var images: [Tensor] = []
    for section in [
      "pixels", "{type: fft, colors: decorrelated}",
      "{type: stack, colors: decorrelated, mapping: clamp}",
    ] {
      let e = try Self.experiment(
        "resolution: 16\nparametrization: \(section)\npostproc:\n  - blur: {kernel_size: 5}\n")
      let trainer = try Trainer(experiment: e, model: ProjectionModel(), seed: 9)
      let before = trainer.image
      for epoch in 0..<3 { try trainer.step(epoch: epoch) }
      #expect(maxAbsDiff(trainer.image.scalars, before.scalars) > 1e-3)
      images.append(trainer.image)
    }
    for image in images.dropFirst() { #expect(maxAbsDiff(images[0].scalars, image.scalars) < 1e-5) }
  }

  /// The stack (Direct Ascent Synthesis) trains the tiny CLIP through a resolution schedule:
  /// similarity rises, every size change keeps a valid image and parameter vector.
  @Test func theStackTrainsThroughAResolutionSchedule() throws {
    let e = try Self.experiment(
      Self.training.replacingOccurrences(of: "resolution: 32", with: "resolution: 8+8*int(t*3)")
        + "\nparametrization: stack\n")
    let trainer = try Trainer(
      experiment: e, model: try ModelLoader.load(TestFiles.tinyModel), seed: 3)
    #expect(trainer.parametrization is StackParametrization)
    var sims: [Double] = []
    var sizes: Set<Int> = []
    for epoch in 0..<30 {
      let r = try trainer.step(epoch: epoch)
      sims.append(r.similarities[0][0] ?? .nan)
      sizes.insert(r.resolution.width)
      #expect(trainer.parameters.count == trainer.parametrization.parameterCount)
      #expect(trainer.image.scalars.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
    }
    #expect(sizes == [8, 16, 24, 32])
    #expect(sims.last! > sims.first! + 5, "\(sims)")
  }

  @Test func aResolutionScheduleResizesTheSpectrum() throws {
    let e = try Self.experiment(
      Self.training.replacingOccurrences(of: "resolution: 32", with: "resolution: 8+8*int(t*3)")
        + "\nparametrization: {type: fft, mapping: sigmoid}\n")
    let trainer = try Trainer(
      experiment: e, model: try ModelLoader.load(TestFiles.tinyModel), seed: 3)
    var sizes: Set<Int> = []
    for epoch in 0..<30 {
      let r = try trainer.step(epoch: epoch)
      sizes.insert(r.resolution.width)
      #expect(trainer.image.shape == [3, r.resolution.height, r.resolution.width])
      #expect(trainer.parameters.count == trainer.parametrization.parameterCount)
      #expect(trainer.image.scalars.allSatisfy { $0.isFinite && $0 >= 0 && $0 <= 1 })
    }
    #expect(sizes == [8, 16, 24, 32])  // t reaches 1 at the last epoch
  }

  @Test func sameSeedIsBitIdentical() throws {
    let e = try Self.experiment(Self.training + "\nparametrization: fft\n")
    var runs: [[Float]] = []
    for _ in 0..<2 {
      let trainer = try Trainer(
        experiment: e, model: try ModelLoader.load(TestFiles.tinyModel), seed: 4)
      for epoch in 0..<3 { try trainer.step(epoch: epoch) }
      runs.append(trainer.parameters)
    }
    #expect(runs[0] == runs[1])
  }

  @Test func theSidecarSpellsOutTheSection() throws {
    let dir = try TestFiles.temporaryDirectory()
    let config = dir + "/fft.yaml"
    try (Self.training + "\nparametrization: fft\n").write(
      toFile: config, atomically: true, encoding: .utf8)
    var options = RenderOptions()
    options.configFiles = [config]
    options.output = dir + "/out/"
    options.overrides.epochs = 2
    options.seed = 7
    options.overrides.model = TestFiles.tinyModel
    options.verbosity = 0
    #expect(
      try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in }) == .finished
    )
    let yaml = try String(contentsOfFile: dir + "/out/fft.yaml", encoding: .utf8)
    let sidecar = try YAML.parse(yaml, file: "fft.yaml")
    #expect(try ParametrizationSpec(sidecar["parametrization"]) == ParametrizationSpec(kind: .fft))
    #expect(sidecar["parametrization"]?["mapping"] != nil, "\(yaml)")
  }

  @Test func aMisspelledSectionIsALoadError() throws {
    #expect(throws: ConfigError.self) {
      _ = try Self.experiment("parametrization: {type: fourier}\n")
    }
  }
}

/// The largest absolute element-wise difference.
private func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  precondition(a.count == b.count, "maxAbsDiff: \(a.count) ≠ \(b.count)")
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

@Suite("Optimizer state across a resize")
struct OptimizerCarryTests {
  private func gradients(_ step: Int, _ n: Int) -> [Float] {
    (0..<n).map { Float(sin(Double(step * 7 + $0))) }
  }

  @Test(arguments: OptimizerKind.allCases)
  func carriedStateContinuesAsIfNothingHappened(kind: OptimizerKind) {
    // Keeping every parameter in a permuted layout must continue exactly like the original.
    let n = 6
    let permutation = [3, 0, 5, 1, 4, 2]  // old k → new permutation[k]
    var a = Optimizer(kind: kind)
    var b = Optimizer(kind: kind)
    var pa: [Float] = [0.1, 0.2, 0.3, 0.4, 0.5, 0.6]
    var pb = pa
    for s in 0..<3 {
      a.update(&pa, gradient: gradients(s, n), lr: 0.01)
      b.update(&pb, gradient: gradients(s, n), lr: 0.01)
    }
    b.carry(old: Array(0..<n), new: permutation, count: n)
    var moved = [Float](repeating: 0, count: n)
    for k in 0..<n { moved[permutation[k]] = pb[k] }
    pb = moved
    for s in 3..<6 {
      a.update(&pa, gradient: gradients(s, n), lr: 0.01)
      let g = gradients(s, n)
      var gb = [Float](repeating: 0, count: n)
      for k in 0..<n { gb[permutation[k]] = g[k] }
      b.update(&pb, gradient: gb, lr: 0.01)
    }
    for k in 0..<n { #expect(pb[permutation[k]] == pa[k]) }
    #expect(b.step == a.step)
  }

  @Test func nothingKeptIsAReset() {
    var o = Optimizer(kind: .adam)
    var p: [Float] = [1, 2, 3]
    o.update(&p, gradient: [0.1, 0.2, 0.3], lr: 0.1)
    o.carry(old: [], new: [], count: 5)
    #expect(o.step == 0)
  }
}
