import Formats
import Foundation
import PipelineKit
import PipelineKitTesting
import Runner
import TestSupport
import Testing

/// The `content` constraint in a run: its loss enters the epoch once per view of its target,
/// times its weight and the target's (checked by hand), its gradient reaches the pixels through
/// the whole epoch (the harness), the reference is resized to every resolution, and a bad image
/// is an error at its place.
@Suite("The content constraint in a run")
struct ContentRunTests {
  /// A reference image `[3, h, w]` of 8-bit values saved as PNG in a new folder; returns the
  /// folder and the image as saved.
  static func reference(width: Int, height: Int, seed: UInt64) throws -> (String, Tensor) {
    let dir = try TestFiles.temporaryDirectory("content")
    var r = SeededRandom(seed: seed)
    let image = Tensor(shape: [3, height, width]) { _ in Float(Int(r.uniform() * 255)) / 255 }
    try ImageFile.write(image, to: dir + "/ref.png")
    return (dir, image)
  }

  static func experiment(_ yaml: String, in dir: String) throws -> Experiment {
    try Experiment(try YAML.parse(yaml, file: dir + "/content.yaml"))
  }

  /// A target without features: its loss is the content term alone, 2 views × weight 3 ×
  /// target weight 0.5 × 100·mean((clamp(pixels) − ref)²), computed here in Double.
  @Test func lossIsCountedOncePerViewTimesBothWeights() throws {
    let (dir, ref) = try Self.reference(width: 8, height: 6, seed: 3)
    let e = try Self.experiment(
      """
      resolution: 8 6
      init: {mean: 0.5, std: 0.4}
      targets:
        - batch_size: 2
          weight: 0.5
          transforms: [{noise: 0.1}]
          constraints: [{content: {image: ref.png, weight: 3}}]
      """, in: dir)
    let trainer = try Trainer(
      experiment: e, model: ProjectionModel(), seed: 4, baseDirectory: dir)
    let pixels = trainer.pixels
    let (value, _) = try trainer.lossFunction(epoch: 0)(pixels)
    var sum = 0.0
    for i in pixels.scalars.indices {
      let d = Double(min(1, max(0, pixels.scalars[i]))) - Double(ref.scalars[i])
      sum += d * d
    }
    let expected = 2 * 3 * 0.5 * 100 * sum / Double(pixels.count)
    #expect(abs(Double(value.scalars[0]) - expected) <= 1e-5 * expected, "\(value) vs \(expected)")
  }

  /// The whole epoch's loss with respect to the pixels, with features and a content constraint
  /// whose reference (11×9) is resized to the image (10×12), against finite differences.
  @Test(arguments: ["l2", "l1"])
  func wholeEpochLossWithContentMatchesFiniteDifferences(loss: String) throws {
    let (dir, _) = try Self.reference(width: 11, height: 9, seed: 5)
    let e = try Self.experiment(
      """
      resolution: 10 12
      init: {mean: 0.5, std: 0.15}
      targets:
        - batch_size: 2
          features: [{text: a cat made of salami}]
          transforms: [{random_shift: -2 2}, {noise: 0.05}]
          constraints: [{content: {image: ref.png, weight: 0.7, loss: \(loss)}}]
      """, in: dir)
    let trainer = try Trainer(experiment: e, model: ProjectionModel(), seed: 5, baseDirectory: dir)
    try trainer.step(epoch: 0)
    var options = GradientHarness.Options()
    options.maxCoordinates = 96
    let failures = GradientHarness.check(
      "epoch loss with content", at: trainer.pixels, policy: .piecewise, options: options,
      try trainer.lossFunction(epoch: 1))
    #expect(failures.isEmpty, "\(loss): \(failures)")
  }

  /// The reference follows the resolution schedule: at every size it is the saved image
  /// resized to that size by the documented resize-crop rule.
  @Test func referenceIsResizedToEachResolution() throws {
    let (dir, ref) = try Self.reference(width: 9, height: 7, seed: 6)
    let e = try Self.experiment(
      "targets: [{constraints: [{content: {image: ref.png}}]}]\n", in: dir)
    let references = try ReferenceImages.load(e, baseDirectory: dir)
    for (w, h) in [(9, 7), (4, 4), (18, 10), (3, 12)] {
      let got = references.image(target: 0, constraint: 0, width: w, height: h)
      #expect(got == ImageOps.resizeCrop(ref, width: w, height: h), "\(w)×\(h)")
      #expect(got.shape == [3, h, w])
    }
  }

  /// Missing, corrupt and absent images: one error at the YAML's place, naming the key.
  @Test func badImagesAreErrorsAtTheirPlace() throws {
    let dir = try TestFiles.temporaryDirectory("content-bad")
    try TestFiles.write("not a picture", to: dir + "/bad.png")
    let message = "content.yaml:3:26: error: 'targets[0].constraints[0].content.image': "
    for file in ["missing.png", "bad.png"] {
      let yaml = "targets:\n  - constraints:\n      - content: {image: \(file)}\n"
      let e = try Self.experiment(yaml, in: dir)
      do {
        _ = try Trainer(experiment: e, model: ProjectionModel(), seed: 1, baseDirectory: dir)
        Issue.record("\(yaml): accepted")
      } catch {
        #expect("\(error)".hasPrefix(dir + "/" + message), "\(error)")
        #expect("\(error)".contains(dir + "/" + file), "\(error)")
      }
    }
    // Without image, only in an animation with init.video.
    do {
      _ = try Self.experiment("targets:\n  - constraints:\n      - content: {loss: l1}\n", in: dir)
      Issue.record("content without image accepted in a still experiment")
    } catch {
      #expect(
        "\(error)".hasPrefix(
          dir + "/content.yaml:3:9: error: 'targets[0].constraints[0].content': content needs an "
            + "'image'"), "\(error)")
    }
  }
}
