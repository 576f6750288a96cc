import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

private func experiment(_ yaml: String, file: String = "test.yaml") throws -> Experiment {
  try Experiment(try YAML.parse(yaml, file: file))
}

private func errorText(_ body: () throws -> Void) -> String {
  do {
    try body()
    return "no error"
  } catch {
    return "\(error)"
  }
}

@Suite("Optimizers against torch.optim")
struct OptimizerTests {
  struct Fixture: Decodable {
    var initial: [Float]
    var gradients: [[Float]]
    var lr: Double
    var steps: [String: [[Double]]]
  }

  @Test(arguments: ["adam", "sgd", "adadelta", "rmsprob", "sparse_adam"])
  func threeStepsMatchPyTorch(name: String) throws {
    let url = try #require(
      Bundle.module.url(forResource: "Fixtures/optimizers", withExtension: "json"))
    let fixture = try JSONDecoder().decode(Fixture.self, from: Data(contentsOf: url))
    let kind = try #require(OptimizerKind(name: name))
    var optimizer = Optimizer(kind: kind)
    var p = fixture.initial
    for (step, g) in fixture.gradients.enumerated() {
      optimizer.update(&p, gradient: g, lr: fixture.lr)
      let expected = try #require(fixture.steps[name])[step]
      for i in p.indices {
        #expect(
          abs(Double(p[i]) - expected[i]) <= 1e-6 * max(1, abs(expected[i])),
          "\(name) step \(step) [\(i)]: \(p[i]) vs \(expected[i])")
      }
    }
  }
}

@Suite("Experiment loading")
struct ExperimentLoadingTests {
  @Test func seedExperimentsLoadWithDefaults() throws {
    let e = try experiment(
      "epochs: 20\noptimizer: rmsprob\ntargets:\n  - features:\n      - text: a cat\n")
    #expect(e.epochs == 20)
    #expect(e.optimizer == .rmsprop)
    #expect(e.resolution.map(\.constantValue) == [224, 224])
    #expect(e.initialization.mean == [0.5, 0.5, 0.5])
    #expect(e.targets.count == 1)
    #expect(e.targets[0].batchSize == 1)
    #expect(e.snapshotInterval == .seconds(20))
  }

  @Test func unknownKeysAndNamesAreReportedWithLocation() {
    let m = errorText { _ = try experiment("epochs: 3\nlearnrat: 2\n") }
    #expect(
      m
        == "test.yaml:2:1: error: 'learnrat': unknown parameter 'learnrat' (did you mean 'learnrate'?)",
      "\(m)")
    let o = errorText { _ = try experiment("optimizer: adamm\n") }
    #expect(
      o.hasPrefix(
        "test.yaml:1:12: error: 'optimizer': unknown optimizer 'adamm' (did you mean 'adam'"),
      "\(o)")
    let s = errorText {
      _ = try experiment("targets:\n  - select: bset\n    features: [{text: a}]\n")
    }
    #expect(s.contains("unknown feature selection 'bset' (did you mean 'best'?)"), "\(s)")
  }

  @Test func inactiveTargetsAreDropped() throws {
    let e = try experiment(
      "targets:\n  - active: false\n    features: [{text: a}]\n  - active: \"false\"\n    features: [{text: b}]\n"
    )
    #expect(e.targets.isEmpty)
  }

  @Test func postprocRejectsResolutionChangingStages() {
    let m = errorText {
      _ = try experiment("postproc:\n  - blur: {kernel_size: 3}\n    resize: 100\n")
    }
    #expect(
      m
        == "test.yaml:3:5: error: 'postproc[0].resize': 'resize' changes the resolution and cannot be used in postproc",
      "\(m)")
    let n = errorText {
      _ = try experiment("targets:\n  - transforms:\n      - random_rotat: {degree: 5}\n")
    }
    #expect(
      n.contains(
        "test.yaml:3:9: error: 'targets[0].transforms[0].random_rotat': unknown transform 'random_rotat' (did you mean 'random_rotate'?)"
      ), "\(n)")
  }

  @Test func everyRandomTransformMakesABatch() throws {
    // CLIPig gave random_crop alone one view per epoch whatever batch_size said (spec §16.8).
    let e = try experiment(
      "targets:\n  - batch_size: 5\n    transforms: [{random_crop: 8}]\n  - batch_size: 5\n    transforms: [{mul: 2}]\n"
    )
    #expect(e.targets.map(\.viewsPerEpoch) == [5, 1])
  }

  @Test func stagesWithoutAValue() throws {
    // `- blur:` runs with its defaults, `- noise:` (which needs a value) is skipped as in CLIPig,
    // and a misspelled name is an error even without a value.
    let e = try experiment("targets:\n  - transforms:\n      - blur:\n      - noise:\n")
    #expect(e.targets[0].transforms.map(\.path) == ["targets[0].transforms[0].blur"])
    let m = errorText { _ = try experiment("targets:\n  - transforms:\n      - nosie:\n") }
    #expect(m.contains("unknown transform 'nosie' (did you mean 'noise'?)"), "\(m)")
    let c = errorText { _ = try experiment("targets:\n  - constraints:\n      - saturaton:\n") }
    #expect(c.contains("unknown constraint 'saturaton' (did you mean 'saturation'?)"), "\(c)")
  }

  @Test func featureNeedsTextOrImage() {
    let m = errorText { _ = try experiment("targets:\n  - features:\n      - weight: 2\n") }
    #expect(m.contains("a feature needs 'text' or 'image'"), "\(m)")
  }
}

@Suite("Trainer")
struct TrainerTests {
  static let config = """
    epochs: 30
    resolution: 12
    optimizer: adam
    learnrate: 3
    init: {mean: 0.5, std: 0.1}
    targets:
      - batch_size: 2
        features:
          - text: a red square
        transforms:
          - mul: 0.9
    """

  @Test func sameSeedSamePixelsOtherSeedOtherPixels() throws {
    let e = try experiment(Self.config)
    let a = try Trainer(experiment: e, model: ProjectionModel(), seed: 5)
    let b = try Trainer(experiment: e, model: ProjectionModel(), seed: 5)
    let c = try Trainer(experiment: e, model: ProjectionModel(), seed: 6)
    for epoch in 0..<3 {
      try a.step(epoch: epoch)
      try b.step(epoch: epoch)
      try c.step(epoch: epoch)
    }
    #expect(a.pixels.scalars == b.pixels.scalars)
    #expect(a.pixels.scalars != c.pixels.scalars)
  }

  @Test func similarityRisesOverThirtyEpochs() throws {
    let e = try experiment(Self.config)
    let trainer = try Trainer(experiment: e, model: ProjectionModel(), seed: 1)
    var first: Double?
    var last: Double?
    for epoch in 0..<30 {
      let r = try trainer.step(epoch: epoch)
      if first == nil { first = r.similarities[0][0] }
      last = r.similarities[0][0]
    }
    let s0 = try #require(first)
    let s1 = try #require(last)
    #expect(s1 > s0 + 10, "similarity \(s0) → \(s1)")
  }

  @Test func methodTwoScheduleSwitchesAtTheArticlesEpochs() throws {
    let yaml = """
      epochs: 300
      resolution:
        - "{0: 8, 1: 8, 2: 16, 3: 32, 4: 64, 5: 128}.get(int(t*16), 224)"
      optimizer: rmsprob
      """
    let trainer = try Trainer(experiment: try experiment(yaml), model: ProjectionModel(), seed: 1)
    #expect(trainer.pixels.shape == [3, 8, 8])
    let expected = [
      0: 8, 37: 8, 38: 16, 56: 16, 57: 32, 74: 32, 75: 64, 93: 64, 94: 128, 112: 128, 113: 224,
      299: 224,
    ]
    for (epoch, size) in expected.sorted(by: { $0.key < $1.key }) {
      let r = try trainer.step(epoch: epoch)
      #expect(r.resolution == (size, size), "epoch \(epoch): \(r.resolution)")
      #expect(trainer.pixels.shape == [3, size, size])
    }
  }
}

@Suite("Output files")
struct OutputTests {
  @Test func requestedNames() {
    #expect(
      OutputNaming.requestedPath(
        configOutput: "./", lastConfigFile: "exp/method1.yaml", commandLine: nil) == "./method1.png"
    )
    #expect(
      OutputNaming.requestedPath(configOutput: "./", lastConfigFile: "a.yaml", commandLine: "out/")
        == "out/a.png")
    #expect(
      OutputNaming.requestedPath(configOutput: "./", lastConfigFile: "a.yaml", commandLine: "out/b")
        == "out/b.png")
    #expect(
      OutputNaming.requestedPath(configOutput: "pics/", lastConfigFile: "-", commandLine: nil)
        == "pics/clipig.png")
    #expect(
      OutputNaming.requestedPath(configOutput: "x", lastConfigFile: "a.yaml", commandLine: nil)
        == "x.png")
  }

  @Test func neverOverwrites() throws {
    let dir = try TestFiles.temporaryDirectory("output")
    for name in ["small.png", "small-1.png", "small-2.png"] {
      FileManager.default.createFile(atPath: dir + "/" + name, contents: Data([1]))
    }
    #expect(try OutputNaming.claim(dir + "/small.png") == dir + "/small-3.png")
    #expect(try OutputNaming.claim(dir + "/small.png") == dir + "/small-4.png")
    #expect(try OutputNaming.claim(dir + "/small-1.png") == dir + "/small-5.png")
    // A YAML sidecar of the same name is a user's file too.
    FileManager.default.createFile(atPath: dir + "/cfg.yaml", contents: Data([1]))
    #expect(try OutputNaming.claim(dir + "/cfg.png") == dir + "/cfg-1.png")
    #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/small.png")) == Data([1]))
  }

  /// Runs `plan` on the projection model into `path` with a `RenderRecorder`.
  static func record(_ plan: RunPlan, to path: String, interrupt: InterruptFlag = InterruptFlag())
    throws -> (outcome: RenderOutcome, trainer: Trainer)
  {
    let trainer = try Trainer(plan: plan, model: ProjectionModel())
    var recorder = RenderRecorder(
      plan: plan, imagePath: path, firstEpoch: plan.experiment.startEpoch, verbosity: 0,
      log: { _ in })
    return try RunLoop(trainer: trainer, interrupt: interrupt).run(&recorder)
  }

  @Test func interruptedRunKeepsImageAndYAML() throws {
    let dir = try TestFiles.temporaryDirectory("output")
    let plan = try RunPlan(
      tree: try YAML.parse(TrainerTests.config, file: "t.yaml"), baseDirectory: ".",
      sourceName: "t.yaml", seed: 3)
    let flag = InterruptFlag()
    flag.set()
    let path = try OutputNaming.claim(dir + "/run.png")
    #expect(try Self.record(plan, to: path, interrupt: flag).outcome == .interrupted)
    let image = try PNG.read(path: path)
    #expect(image.shape == [3, 12, 12])
    let yaml = try String(contentsOfFile: dir + "/run.yaml", encoding: .utf8)
    #expect(yaml.contains("seed: 3"))
    // The sidecar is a valid configuration again.
    _ = try Experiment(try YAML.parse(yaml, file: "run.yaml"))
  }

  @Test func finishedRunWritesImageAndSidecar() throws {
    let dir = try TestFiles.temporaryDirectory("output")
    var overrides = RunOverrides()
    overrides.epochs = 3
    let plan = try RunPlan(
      tree: try YAML.parse(TrainerTests.config, file: "t.yaml"), baseDirectory: ".",
      sourceName: "t.yaml", overrides: overrides, seed: 9)
    let path = try OutputNaming.claim(dir + "/done.png")
    let (outcome, trainer) = try Self.record(plan, to: path)
    #expect(outcome == .finished)
    let back = try Experiment(
      try YAML.parse(
        try String(contentsOfFile: dir + "/done.yaml", encoding: .utf8), file: "done.yaml"))
    #expect(back.epochs == 3)
    #expect(back.seed == 9)
    let image = try PNG.read(path: path)
    let expected = trainer.image
    for i in 0..<image.count {
      #expect(abs(image.scalars[i] - (expected.scalars[i] * 255).rounded() / 255) < 1e-6)
    }
  }
}

@Suite("Run-time errors")
struct RunTimeErrorTests {
  @Test func expressionErrorKeepsTheLastImageAndNamesTheParameter() throws {
    let dir = try TestFiles.temporaryDirectory()
    let yaml = """
      epochs: 5
      resolution: 12
      targets:
        - features: [{text: a}]
          transforms:
            - mul: 1/(epoch - 2)
      """
    let plan = try RunPlan(
      tree: try YAML.parse(yaml, file: "err.yaml"), baseDirectory: ".", sourceName: "err.yaml",
      seed: 1)
    let path = try OutputNaming.claim(dir + "/err.png")
    let message = errorText { _ = try OutputTests.record(plan, to: path) }
    #expect(
      message.contains("err.yaml:6:14: error: 'targets[0].transforms[0].mul[0]'"), "\(message)")
    #expect(message.contains("division by zero"), "\(message)")
    #expect(message.contains("epoch=2"), "\(message)")
    #expect(try PNG.read(path: path).shape == [3, 12, 12])
    let sidecar = try String(contentsOfFile: dir + "/err.yaml", encoding: .utf8)
    // `epoch - 2` is zero in the third epoch (epoch=2 counts from 0; messages count from 1).
    #expect(sidecar.contains("# stopped by an error at epoch 3"), "\(sidecar.prefix(300))")
  }
}
