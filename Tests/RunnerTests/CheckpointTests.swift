import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// A feature model that sets an interrupt flag once it has encoded `after` image batches since
/// `arm()` — so a render stops before a chosen epoch, as a signal arriving then would.
private final class InterruptingModel: FeatureModel {
  let inner: any FeatureModel
  let interrupt: InterruptFlag
  var after = Int.max
  private var count = 0
  init(_ inner: any FeatureModel, interrupt: InterruptFlag) {
    self.inner = inner
    self.interrupt = interrupt
  }
  func arm(after n: Int) {
    after = n
    count = 0
  }
  var imageSize: Int { inner.imageSize }
  var featureCount: Int { inner.featureCount }
  func encodeText(_ text: String) throws -> [Float] { try inner.encodeText(text) }
  func encodeImages(_ images: Tensor) throws -> (value: Tensor, pullback: Pullback) {
    count += 1
    if count >= after { interrupt.set(signal: SIGTERM) }
    return try inner.encodeImages(images)
  }
}

/// A run with random transforms, fair scaling, Adam and a resolution change (which resets the
/// optimizer), so a resumed run only matches if pixels, optimizer state, epoch and every random
/// stream are restored.
private let resumeYAML = """
  epochs: 9
  resolution: ["16 if epoch < 4 else 20", "16 if epoch < 4 else 20"]
  optimizer: adam
  learnrate: 2
  init: {mean: 0.5, std: 0.2}
  targets:
    - batch_size: 3
      feature_scale: fair
      features:
        - text: a red apple
        - text: a green tree
      transforms:
        - random_shift: -3 3
        - noise: 0.1
  """

@Suite("Checkpoints: resume bit-identical")
struct CheckpointTests {
  static func experiment(_ yaml: String = resumeYAML) throws -> Experiment {
    try Experiment(try YAML.parse(yaml, file: "resume.yaml"))
  }

  static func bits(_ t: Tensor) -> [UInt32] { t.scalars.map(\.bitPattern) }

  @Test func encodingRoundTripsAndDamageIsRefused() throws {
    let first: [Float] = [1, -2, 3.14159, 4, 5, 6, 7, 8, 9, 10, 11, 1e-30, 0, 0, 0, 0, 0, 0.5]
    let second = [Float](repeating: -0.25, count: 18)
    let third = [Float](repeating: 3e7, count: 18)
    let c = Checkpoint(
      seed: 0xFFFF_FFFF_FFFF_FFF1, nextEpoch: 7, configDigest: String(repeating: "ab", count: 32),
      pixels: Tensor(shape: [3, 2, 3], generator: { Float($0) * 0.37 - 1 }),
      optimizer: Optimizer.State(kind: .rmsprop, step: 12, buffers: [first, second, third]),
      scales: [[1, 0.123456789012345], [], [0.5]])
    let bytes = c.encoded()
    #expect(try Checkpoint(decoding: bytes, path: "x") == c)
    // Every single flipped byte and every truncation is detected, never trapped on.
    for k in stride(from: 0, to: bytes.count, by: 7) {
      var damaged = bytes
      damaged[k] ^= 0x20
      #expect(throws: CheckpointError.self) { try Checkpoint(decoding: damaged, path: "x") }
    }
    for n in [0, 5, 12, 40, bytes.count - 1] {
      #expect(throws: CheckpointError.self) {
        try Checkpoint(decoding: Array(bytes.prefix(n)), path: "x")
      }
    }
  }

  @Test(arguments: OptimizerKind.allCases)
  func optimizerStateContinuesBitIdentically(kind: OptimizerKind) throws {
    var x: [Float] = (0..<50).map { Float($0) * 0.1 - 2 }
    func gradient(_ p: [Float], _ step: Int) -> [Float] {
      p.enumerated().map { i, v in v * v - Float(i % 7) * 0.3 + Float(step) * 0.01 }
    }
    var straight = Optimizer(kind: kind)
    var y = x
    for s in 0..<10 { straight.update(&y, gradient: gradient(y, s), lr: 0.05) }
    var first = Optimizer(kind: kind)
    for s in 0..<4 { first.update(&x, gradient: gradient(x, s), lr: 0.05) }
    var resumed = try #require(Optimizer(state: first.state))
    #expect(resumed.state == first.state)
    for s in 4..<10 { resumed.update(&x, gradient: gradient(x, s), lr: 0.05) }
    #expect(x.map(\.bitPattern) == y.map(\.bitPattern))
    #expect(Optimizer(state: .init(kind: kind, step: 1, buffers: [[1], [1, 2], [1]])) == nil)
  }

  /// Render 9 epochs straight; render again interrupted before epoch k, write the checkpoint
  /// and continue it in a fresh trainer: the raw pixels are bit-identical.
  /// Interrupted after epoch k (the resolution changes at epoch 4), for pixels at every k and
  /// for the fft and stack parametrizations before and after the change.
  @Test(
    arguments: zip(
      [1, 3, 4, 6, 8, 2, 6, 2, 6],
      ["pixels", "pixels", "pixels", "pixels", "pixels", "fft", "fft", "stack", "stack"]))
  func interruptedAndResumedRunEqualsStraightRun(k: Int, parametrization: String) throws {
    let dir = try TestFiles.temporaryDirectory()
    let model = try ModelLoader.load(TestFiles.tinyModel, quiet: true)
    let plan = try RunPlan(
      tree: try YAML.parse(
        resumeYAML + "\nparametrization: \(parametrization)\n", file: "resume.yaml"),
      baseDirectory: ".",
      sourceName: "resume.yaml", seed: 77)
    let digest = plan.checkpointDigest

    /// Runs `trainer` in the run loop with a recorder writing `image`.
    func record(
      _ trainer: Trainer, to image: String, from first: Int = 0, checkpoint: String? = nil,
      interrupt: InterruptFlag = InterruptFlag()
    ) throws -> RenderOutcome {
      var recorder = RenderRecorder(
        plan: plan, imagePath: image, firstEpoch: first, verbosity: 0, log: { _ in })
      recorder.checkpointPath = checkpoint
      return try RunLoop(trainer: trainer, firstEpoch: first, interrupt: interrupt)
        .run(&recorder).outcome
    }

    let straight = try Trainer(plan: plan, model: model)
    #expect(try record(straight, to: dir + "/straight.png") == .finished)

    let flag = InterruptFlag()
    let interrupting = InterruptingModel(model, interrupt: flag)
    let first = try Trainer(plan: plan, model: interrupting)
    interrupting.arm(after: k)
    let checkpointPath = Checkpoint.path(forImage: dir + "/resumed.png")
    #expect(
      try record(first, to: dir + "/resumed.png", checkpoint: checkpointPath, interrupt: flag)
        == .interrupted)
    let checkpoint = try #require(try Checkpoint.load(path: checkpointPath, expecting: digest))
    #expect(checkpoint.nextEpoch == k)
    #expect(checkpoint.seed == 77)
    #expect(try PNG.read(path: dir + "/resumed.png").shape == first.image.shape)

    let second = try Trainer(plan: plan, model: model)
    try second.restore(checkpoint, path: checkpointPath)
    #expect(
      try record(
        second, to: dir + "/resumed.png", from: checkpoint.nextEpoch, checkpoint: checkpointPath)
        == .finished)
    #expect(Self.bits(second.pixels) == Self.bits(straight.pixels))
    #expect(second.pixels.shape == [3, 20, 20])
    #expect(
      try FileIO.readBytes(path: dir + "/resumed.png")
        == FileIO.readBytes(path: dir + "/straight.png"))
    #expect(!FileManager.default.fileExists(atPath: checkpointPath), "a finished run removes it")

    // Another configuration, or another seed, is refused with a clear message.
    try checkpoint.write(to: checkpointPath)
    let error = #expect(throws: CheckpointError.self) {
      try Checkpoint.load(path: checkpointPath, expecting: String(repeating: "0", count: 64))
    }
    #expect(error?.description.contains("another configuration") == true)
    let otherSeed = try Trainer(plan: try plan.reseeded(78), model: model)
    #expect(throws: CheckpointError.self) { try otherSeed.restore(checkpoint, path: "c") }
  }

  /// `clipig render`'s work (CLIRunner): an interrupted render leaves its image and checkpoint;
  /// the same command continues it under the same name (not `NAME-1.png`), also with a drawn
  /// seed, and ends bit-identical to an uninterrupted run; a changed configuration is refused.
  @Test func renderCommandResumesUnderTheSameName() throws {
    let dir = try TestFiles.temporaryDirectory()
    try TestFiles.write(resumeYAML, to: dir + "/exp.yaml")
    var options = RenderOptions()
    options.configFiles = [dir + "/exp.yaml"]
    options.overrides.model = TestFiles.tinyModel
    options.output = dir + "/out/"
    options.verbosity = 0
    let stopped = InterruptFlag()
    stopped.set(signal: SIGTERM)
    #expect(try CLIRunner.render(options: options, interrupt: stopped) == .interrupted)
    let checkpointPath = dir + "/out/.exp.png.checkpoint"
    let drawnSeed = try #require(try Checkpoint.load(path: checkpointPath)).seed
    #expect(try CLIRunner.render(options: options, interrupt: InterruptFlag()) == .finished)
    let files = try FileManager.default.contentsOfDirectory(atPath: dir + "/out").sorted()
    #expect(files == ["exp.png", "exp.yaml"], "no new name, no checkpoint left: \(files)")
    let yaml = try TestFiles.read(dir + "/out/exp.yaml")
    #expect(yaml.contains("seed: \(drawnSeed)"), "\(yaml.prefix(400))")

    var straight = options
    straight.seed = drawnSeed
    straight.output = dir + "/straight.png"
    #expect(try CLIRunner.render(options: straight, interrupt: InterruptFlag()) == .finished)
    #expect(
      try PNG.read(path: dir + "/out/exp.png").scalars
        == PNG.read(path: dir + "/straight.png").scalars)

    // Interrupted with one configuration, continued with another: refused, nothing changes.
    var seeded = options
    seeded.seed = 3
    seeded.output = dir + "/b.png"
    #expect(try CLIRunner.render(options: seeded, interrupt: stopped) == .interrupted)
    var changed = seeded
    changed.overrides.epochs = 5
    let error = #expect(throws: CheckpointError.self) {
      try CLIRunner.render(options: changed, interrupt: InterruptFlag())
    }
    #expect(
      error?.description.contains(".b.png.checkpoint") == true, "\(String(describing: error))")
    #expect(error?.description.contains("another configuration") == true)
    #expect(try CLIRunner.render(options: seeded, interrupt: InterruptFlag()) == .finished)
  }
}
