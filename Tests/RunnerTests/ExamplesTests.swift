import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// The repository's example experiments.
enum Repository {
  /// The names of the example YAML files (in Examples/).
  static var exampleFiles: [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: TestFiles.examples)) ?? []).filter {
      $0.hasSuffix(".yaml")
    }.sorted()
  }
}

@Suite("Examples on the tiny test CLIP")
struct ExamplesTests {
  @Test func thereAreExamples() {
    #expect(Repository.exampleFiles.count >= 8, "\(Repository.exampleFiles)")
  }

  @Test(arguments: Repository.exampleFiles)
  func exampleRendersTwoEpochs(file: String) throws {
    let dir = try TestFiles.temporaryDirectory()
    var options = RenderOptions()
    options.configFiles = [TestFiles.examples + "/" + file]
    options.output = dir + "/"
    options.overrides.epochs = 2
    options.seed = 7
    options.overrides.model = TestFiles.tinyModel
    options.verbosity = 0
    let outcome = try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in })
    #expect(outcome == .finished)
    let stem = String(file.dropLast(5))
    // An animation writes its frames into a folder named after it (docs/animation.md).
    let animated = try options.plan().experiment.animation != nil
    let image = try PNG.read(
      path: animated ? "\(dir)/\(stem)/frame-00001.png" : "\(dir)/\(stem).png")
    if animated {
      #expect(FileManager.default.fileExists(atPath: "\(dir)/\(stem).webp"))
    }
    #expect(image.chw.c == 3 && image.chw.h > 0)
    let yaml = try String(contentsOfFile: "\(dir)/\(stem).yaml", encoding: .utf8)
    #expect(yaml.contains("# seed: 7"))
    // The sidecar is a configuration that loads again.
    _ = try Experiment(try YAML.parse(yaml, file: "\(stem).yaml"))
  }
}

/// `Examples/ensemble.yaml` with its two models (ViT-B/32, RN50) replaced by the generated ViT
/// (32 px) and ResNet (96 px): both models train and both similarities reach the sidecar.
@Test func ensembleExampleRendersWithTwoTinyModels() throws {
  let dir = try TestFiles.temporaryDirectory("ensemble-example")
  let resnet = TestFiles.repository
    .appendingPathComponent("Tests/CLIPTests/Fixtures/resnet-small.safetensors").path
  let yaml = try TestFiles.read(TestFiles.examples + "/ensemble.yaml")
    .replacingOccurrences(of: "model: ViT-B/32", with: "model: " + TestFiles.tinyModel)
    .replacingOccurrences(of: "model: RN50", with: "model: " + resnet)
  #expect(yaml.contains(resnet) && yaml.contains(TestFiles.tinyModel))
  try TestFiles.write(yaml, to: dir + "/ensemble.yaml")
  var options = RenderOptions()
  options.configFiles = [dir + "/ensemble.yaml"]
  options.output = dir + "/out.png"
  options.overrides.epochs = 2
  options.seed = 7
  options.verbosity = 0
  #expect(
    try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in }) == .finished)
  let sidecar = try TestFiles.read(dir + "/out.yaml")
  let lines = sidecar.split(separator: "\n")
  let both = #/^# scene: .* similarity -?\d+\.\d\d \(tiny-hf\), -?\d+\.\d\d \(resnet-small\)$/#
  let resnetOnly = #/^# style: .* similarity -?\d+\.\d\d \(resnet-small\)$/#
  #expect(lines.contains { $0.contains(both) }, "\(sidecar)")
  #expect(lines.contains { $0.contains(resnetOnly) }, "\(sidecar)")
  #expect(try PNG.read(path: dir + "/out.png").shape == [3, 224, 224])
}

@Suite("Training with the tiny test CLIP")
struct TinyCLIPTrainingTests {
  static let config = """
    epochs: 30
    resolution: 32
    optimizer: adam
    learnrate: 2
    init: {mean: 0.5, std: 0.1}
    targets:
      - batch_size: 2
        features:
          - text: a cat made of salami
        transforms:
          - noise: 0.02
    """

  @Test func similarityRisesOverThirtyEpochs() throws {
    let model = try ModelLoader.load(TestFiles.tinyModel)
    let trainer = try Trainer(
      experiment: try Experiment(try YAML.parse(Self.config, file: "t.yaml")), model: model, seed: 2
    )
    var sims: [Double] = []
    for epoch in 0..<30 { sims.append(try trainer.step(epoch: epoch).similarities[0][0] ?? .nan) }
    #expect(sims.last! > sims.first! + 5, "\(sims)")
  }

  @Test func sameSeedIsBitIdentical() throws {
    let e = try Experiment(try YAML.parse(Self.config, file: "t.yaml"))
    var images: [[Float]] = []
    for _ in 0..<2 {
      let trainer = try Trainer(
        experiment: e, model: try ModelLoader.load(TestFiles.tinyModel), seed: 4)
      for epoch in 0..<3 { try trainer.step(epoch: epoch) }
      images.append(trainer.pixels.scalars)
    }
    #expect(images[0] == images[1])
  }
}
