import CLIP
import Foundation
import ModelStore
import PipelineKit
import TestSupport
import Testing

/// The small random ResNet CLIP made by scripts/resnet_fixtures.py small (layers 2, 2, 1, 1,
/// width 4, 96 px, 2 heads, embed 24) against open_clip in PyTorch on the same weights.
@Suite struct ResNetModelTests {
  static let reference = Result {
    try SafeTensorsFile(path: Fixture.path("resnet-small-reference.safetensors"))
  }
  static let model = Result { try CLIPModel.load(file: Fixture.path("resnet-small.safetensors")) }

  static func ref(_ name: String) throws -> [Float] { try reference.get().floats(name) }
  static func tensor(_ name: String) throws -> Tensor {
    let r = try reference.get()
    return Tensor(shape: try r.entry(name).shape, scalars: try r.floats(name))
  }

  static func loss(_ features: Tensor, _ weights: Tensor) -> (Double, Tensor) {
    let (unit, pullback) = CLIPFeatures.normalize(features)
    return (unit.dot(weights), pullback(weights))
  }

  @Test func infersConfigFromOpenCLIPShapes() throws {
    let cfg = try Self.model.get().config
    #expect(
      cfg.resNet == .init(imageSize: 96, width: 4, layers: [2, 2, 1, 1], heads: 2))
    #expect(cfg.imageSize == 96 && cfg.vision.imageSize == 96 && cfg.embedDimension == 24)
    #expect(
      cfg.text
        == .init(vocabularySize: 100, contextLength: 8, width: 32, layers: 1, heads: 1))
    let model = try Self.model.get()
    #expect(model.resNet != nil && model.vision == nil)
  }

  /// Features, the last stage's map, the loss and its pixel gradient of one encoder pass.
  static func check(_ model: CLIPModel, suffix: String, label: String) throws {
    let encoder = try #require(model.makeImageEncoder(capacity: 2) as? ResNetEncoder)
    let features = encoder.forward(try tensor("pixels"))
    Comparison("\(label) last stage", encoder.featureMap.scalars, try ref("feature_map" + suffix))
      .check(maxRelative: 1e-4)
    Comparison("\(label) image features", features.scalars, try ref("image_features" + suffix))
      .check(maxRelative: 1e-4)
    let (loss, dFeatures) = Self.loss(features, try tensor("loss_weights"))
    let refLoss = Double(try ref("loss" + suffix)[0])
    print("\(label) loss ours \(loss) ref \(refLoss)")
    // The loss is a weighted sum of the unit features, which are held to 1e-4 above: the
    // same bound here (the tower's Float rounding, fp16 weights and Winograd's transforms
    // leave about 1.5e-5).
    #expect(abs(loss - refLoss) < 1e-4 * max(1, abs(refLoss)))
    let grad = encoder.backward(dFeatures)
    let c = Comparison("\(label) d loss / d pixels", grad.scalars, try ref("pixel_grad" + suffix))
      .check(maxRelative: 1e-3)
    #expect(c.cosine > 0.9999 && c.relativeNorm < 1e-3)
  }

  @Test func imageTowerMatchesOpenCLIP() throws {
    try Self.check(try Self.model.get(), suffix: "", label: "ResNet small")
  }

  @Test func textTowerMatchesOpenCLIP() throws {
    let model = try Self.model.get()
    let tokens = try Self.ref("text_tokens").map { Int32($0) }
    var ours = [Float]()
    for b in 0..<2 { ours += try model.encodeText(Array(tokens[(b * 8)..<(b * 8 + 8)])) }
    Comparison("ResNet small text features", ours, try Self.ref("text_features"))
      .check(maxRelative: 1e-4)
  }

  /// The same weights as an fp16 `torch.save` state dict (with num_batches_tracked buffers).
  @Test func stateDictCheckpointMatchesOpenCLIP() throws {
    let model = try CLIPModel.load(checkpoint: Fixture.path("resnet-small-fp16.pt"))
    #expect(model.config == (try Self.model.get().config))
    try Self.check(model, suffix: "_fp16", label: "ResNet small fp16 .pt")
  }

  /// A workspace larger than the batch gives the same results per image.
  @Test func batchSmallerThanCapacity() throws {
    let model = try Self.model.get()
    let big = try #require(model.makeImageEncoder(capacity: 3))
    let pair = try #require(model.makeImageEncoder(capacity: 2))
    let pixels = try Self.tensor("pixels")
    let a = big.forward(pixels)
    let b = pair.forward(pixels)
    Comparison("capacity 3 vs 2", a.scalars, b.scalars).check(maxRelative: 1e-6)
    let one = big.forward(pixels.view(1).reshaped([1, 3, 96, 96]))
    Comparison("image 1 alone vs in batch", one.scalars, Array(b.scalars[24...]))
      .check(maxRelative: 1e-5)
    let (_, d) = Self.loss(
      one, Tensor(shape: [1, 24], scalars: try Self.ref("loss_weights").suffix(24)))
    let g = big.backward(d)
    #expect(g.shape == [1, 3, 96, 96])
    #expect(g.scalars.allSatisfy { $0.isFinite })
  }

  /// End-to-end finite differences through the whole encoder on sampled pixels (a sanity
  /// check limited by the ReLU kinks a step crosses; the comparison with PyTorch is the tight one).
  @Test func encoderGradientMatchesFiniteDifferences() throws {
    let model = try Self.model.get()
    let encoder = try #require(model.makeImageEncoder(capacity: 2))
    let pixels = try Self.tensor("pixels")
    let weights = try Self.tensor("loss_weights")
    func loss(_ x: Tensor) -> Double { Self.loss(encoder.forward(x), weights).0 }
    let (_, dF) = Self.loss(encoder.forward(pixels), weights)
    let grad = encoder.backward(dF)
    var rng = TestRandom(seed: 9)
    var analytic = [Float]()
    var numeric = [Float]()
    for _ in 0..<48 {
      let i = Int(rng.next() % UInt64(pixels.count))
      let eps: Float = 1e-3
      var plus = pixels
      plus.scalars[i] += eps
      var minus = pixels
      minus.scalars[i] -= eps
      numeric.append(Float((loss(plus) - loss(minus)) / Double(2 * eps)))
      analytic.append(grad.scalars[i])
    }
    let c = Comparison("ResNet encoder vs finite differences", analytic, numeric)
    print(c)
    #expect(c.relativeNorm < 5e-2 && c.cosine > 0.999)
  }

  @Test func rejectsMismatchedResNetShapes() throws {
    var cfg = try Self.model.get().config
    cfg.resNet?.layers = [2, 2, 2, 1]
    #expect(throws: CLIPError.self) {
      _ = try CLIPModel.load(file: Fixture.path("resnet-small.safetensors"), config: cfg)
    }
    cfg.resNet?.imageSize = 100
    #expect(throws: CLIPError.self) { try cfg.validate(source: "test") }
  }
}
