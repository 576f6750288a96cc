import Constraints
import Foundation
import PipelineKit
import PipelineKitTesting
import Testing

/// One case of `Fixtures/content.json` (see scripts/content_fixtures.py).
struct ContentCase: Decodable {
  var loss: String
  var shape: [Int]
  var input: [Float]
  var referenceShape: [Int]
  var reference: [Float]
  var value: Double
  var grad: [Float]
}

/// The cases of `Fixtures/content.json`.
struct ContentFixtures: Decodable {
  var cases: [ContentCase]
}

@Suite("The content constraint")
struct ContentConstraintTests {
  static func make(_ parameters: ConfigNode) throws(ConfigError) -> any Stage {
    try StageRegistry.constraints.make(
      name: "content", parameters: parameters, path: "targets[0].constraints[0].content",
      keyLocation: .synthetic("test"))
  }

  /// 100 · F.mse_loss / F.l1_loss of PyTorch against the reference resized by the documented
  /// resize-crop rule (written out in the script with F.interpolate): the value within 1e-5
  /// relative, the gradient within 1e-6 plus 1e-4 of its largest component.
  @Test func matchesTorchMSEAndL1OnAReferenceResizedToTheImage() throws {
    let fixtures = try FixtureJSON.load(ContentFixtures.self, named: "content", from: .module)
    #expect(fixtures.cases.count == 7)
    for (i, fixture) in fixtures.cases.enumerated() {
      let stage = try Self.make(["image": "photo.png", "loss": ConfigNode(.string(fixture.loss))])
      let x = Tensor(shape: fixture.shape, scalars: fixture.input)
      let reference = ImageOps.resizeCrop(
        Tensor(shape: fixture.referenceShape, scalars: fixture.reference),
        width: fixture.shape[2], height: fixture.shape[1])
      var context = StageContext(reference: reference)
      let (y, pullback) = try stage.forward(x, in: &context)
      let value = Double(y.scalars[0])
      #expect(
        abs(value - fixture.value) <= 1e-5 * max(1, abs(fixture.value)),
        "case \(i) (\(fixture.loss)): \(value) vs \(fixture.value)")
      let g = pullback(Tensor(scalar: 1))
      let scale = fixture.grad.map(abs).max() ?? 0
      let diff = maxAbsDiff(g.scalars, fixture.grad)
      #expect(diff <= 1e-6 + 1e-4 * scale, "case \(i) gradient: max |Δ| \(diff) (largest \(scale))")
    }
  }

  /// Every example through the generic harness (a random reference of the input's shape),
  /// which also checks that the output depends on the reference.
  @Test func passesTheGradientHarness() {
    let failures = GradientHarness.check(
      ContentConstraint.self, groups: StageRegistry.Kind.constraints.groups)
    #expect(failures.isEmpty, "\(failures.map(\.description).joined(separator: "\n"))")
  }

  /// By hand: an image 0.2 below its reference everywhere gives 100·0.04 (l2) and 100·0.2 (l1);
  /// the same image gives 0 and a zero gradient.
  @Test func handValues() throws {
    let x = Tensor(shape: [3, 2, 3]) { Float($0) / 20 }
    let reference = Tensor(shape: x.shape) { x.scalars[$0] + 0.2 }
    for (loss, expected) in [("l2", 4.0), ("l1", 20.0)] {
      var context = StageContext(reference: reference)
      let (y, pb) = try Self.make(["image": "a.png", "loss": ConfigNode(.string(loss))]).forward(
        x, in: &context)
      #expect(abs(Double(y.scalars[0]) - expected) < 1e-4, "\(loss)")
      // d/dx: 100·2(x − r)/18 = −4.444… (l2), 100·sign(x − r)/18 = −5.555… (l1).
      let slope = loss == "l2" ? -200 * 0.2 / 18 : -100.0 / 18
      #expect(pb(Tensor(scalar: 1)).scalars.allSatisfy { abs(Double($0) - slope) < 1e-4 })
      var same = StageContext(reference: x)
      let (zero, pz) = try Self.make(["image": "a.png", "loss": ConfigNode(.string(loss))]).forward(
        x, in: &same)
      #expect(zero.scalars == [0])
      #expect(pz(Tensor(scalar: 1)).scalars.allSatisfy { $0 == 0 })
    }
  }

  @Test func isAReferenceImageStageNamingItsImage() throws {
    let stage = try Self.make(["image": "photos/cat.jpg"])
    let reference = try #require(stage as? any ReferenceImageStage)
    #expect(reference.referenceImage?.constantValue == "photos/cat.jpg")
    #expect(reference.referenceImage?.path == "targets[0].constraints[0].content.image")
    let frame = try #require(try Self.make(["loss": "l1"]) as? any ReferenceImageStage)
    #expect(frame.referenceImage == nil, "without image: the animation's input frame")
  }
}
