import CLIP
import Foundation
import ModelStore
import PipelineKit
import PipelineKitTesting
import TestSupport
import Testing

/// The tiny random-init CLIP made by scripts/clip_fixtures.py (image 32, patch 8, width 64,
/// 2 layers, 2 heads, context 16, vocabulary 1000, embed 48) against PyTorch's activations.
@Suite struct TinyModelTests {
  static let reference = Result {
    try SafeTensorsFile(path: Fixture.path("tiny-reference.safetensors"))
  }
  static let model = Result { try CLIPModel.load(directory: Fixture.path("tiny-hf")) }

  static func ref(_ name: String) throws -> [Float] { try reference.get().floats(name) }
  static func tensor(_ name: String) throws -> Tensor {
    let r = try reference.get()
    return Tensor(shape: try r.entry(name).shape, scalars: try r.floats(name))
  }

  @Test func readsHuggingFaceConfig() throws {
    let cfg = try Self.model.get().config
    #expect(
      cfg.vision
        == .init(imageSize: 32, patchSize: 8, width: 64, layers: 2, heads: 2, mlpWidth: 256))
    #expect(
      cfg.text
        == .init(
          vocabularySize: 1000, contextLength: 16, width: 64, layers: 2, heads: 2, mlpWidth: 256))
    #expect(
      cfg.embedDimension == 48 && cfg.activation == .quickGELU && cfg.layerNormEpsilon == 1e-5)
  }

  /// Loss Σ w·f/|f| over the batch and its gradient with respect to the features.
  static func loss(_ features: Tensor, _ weights: Tensor) -> (Double, Tensor) {
    let (unit, pullback) = CLIPFeatures.normalize(features)
    return (unit.dot(weights), pullback(weights))
  }

  @Test func imageForwardAndIntermediatesMatchPyTorch() throws {
    let model = try Self.model.get()
    let encoder = try #require(model.makeImageEncoder(capacity: 2) as? ImageEncoder)
    let features = encoder.forward(try Self.tensor("pixels"))
    Comparison("embeddings", encoder.embeddings.scalars, try Self.ref("embeddings")).check(
      maxRelative: 1e-5)
    Comparison("after ln_pre", encoder.afterPreNorm.scalars, try Self.ref("after_pre_norm")).check(
      maxRelative: 1e-5)
    Comparison("after block 0", encoder.blockOutput(0).scalars, try Self.ref("block0")).check(
      maxRelative: 1e-5)
    Comparison("before projection", encoder.pooledOutput.scalars, try Self.ref("pooled")).check(
      maxRelative: 1e-5)
    Comparison("image features", features.scalars, try Self.ref("image_features")).check(
      maxRelative: 1e-4)
  }

  @Test func inputGradientMatchesPyTorch() throws {
    let model = try Self.model.get()
    let encoder = try #require(model.makeImageEncoder(capacity: 2))
    let features = encoder.forward(try Self.tensor("pixels"))
    let (loss, dFeatures) = Self.loss(features, try Self.tensor("loss_weights"))
    let refLoss = try Self.ref("loss")[0]
    print("loss ours \(loss) ref \(refLoss)")
    #expect(abs(loss - Double(refLoss)) < 1e-5 * max(1, abs(Double(refLoss))))
    let grad = encoder.backward(dFeatures)
    let c = Comparison("d loss / d pixels", grad.scalars, try Self.ref("pixel_grad")).check(
      maxRelative: 1e-3)
    #expect(c.cosine > 0.9999)
    #expect(c.relativeNorm < 1e-3)
  }

  @Test func textFeaturesMatchPyTorch() throws {
    let model = try Self.model.get()
    let tokens = try Self.ref("text_tokens").map { Int32($0) }
    var ours = [Float]()
    for b in 0..<2 { ours += try model.encodeText(Array(tokens[(b * 16)..<(b * 16 + 16)])) }
    Comparison("text features", ours, try Self.ref("text_features")).check(maxRelative: 1e-4)
  }

  /// The same weights under OpenAI/open_clip names, stored as fp16.
  @Test func openAINamesInHalfPrecisionMatchPyTorch() throws {
    let cfg = try Self.model.get().config
    let model = try CLIPModel.load(file: Fixture.path("tiny-openai-fp16.safetensors"), config: cfg)
    let encoder = try #require(model.makeImageEncoder(capacity: 2))
    let features = encoder.forward(try Self.tensor("pixels"))
    Comparison("fp16 image features", features.scalars, try Self.ref("image_features_fp16")).check(
      maxRelative: 1e-4)
    let (_, dFeatures) = Self.loss(features, try Self.tensor("loss_weights"))
    let grad = encoder.backward(dFeatures)
    let c = Comparison("fp16 d loss / d pixels", grad.scalars, try Self.ref("pixel_grad_fp16"))
      .check(maxRelative: 1e-3)
    #expect(c.cosine > 0.9999 && c.relativeNorm < 1e-3)
    let tokens = try Self.ref("text_tokens").map { Int32($0) }
    var text = [Float]()
    for b in 0..<2 { text += try model.encodeText(Array(tokens[(b * 16)..<(b * 16 + 16)])) }
    Comparison("fp16 text features", text, try Self.ref("text_features_fp16")).check(
      maxRelative: 1e-4)
  }

  @Test func infersConfigFromOpenAIShapes() throws {
    let model = try CLIPModel.load(file: Fixture.path("tiny-openai-fp16.safetensors"), parts: [])
    let cfg = model.config
    #expect(cfg.vision.imageSize == 32 && cfg.vision.patchSize == 8 && cfg.vision.width == 64)
    #expect(cfg.vision.layers == 2 && cfg.vision.mlpWidth == 256 && cfg.vision.heads == 1)
    #expect(cfg.text.vocabularySize == 1000 && cfg.text.contextLength == 16 && cfg.text.layers == 2)
    #expect(cfg.embedDimension == 48)
  }

  /// Smaller batches reuse a larger workspace; each image's result does not depend on the batch.
  @Test func batchOfOneEqualsRowOfBatch() throws {
    let model = try Self.model.get()
    let encoder = try #require(model.makeImageEncoder(capacity: 2))
    let pixels = try Self.tensor("pixels")
    let both = encoder.forward(pixels)
    let one = encoder.forward(pixels.view(1).reshaped([1, 3, 32, 32]))
    Comparison("image 1 alone vs in batch", one.scalars, Array(both.scalars[48...])).check(
      maxRelative: 1e-6)
  }

  @Test func rejectsTokensOutsideVocabulary() throws {
    let model = try Self.model.get()
    #expect(throws: CLIPError.self) { try model.encodeText([1, 5000]) }
    #expect(throws: CLIPError.self) { try model.encodeText(Array(repeating: 1, count: 17)) }
    #expect(throws: CLIPError.self) { try model.encodeText([]) }
  }

  /// End-to-end finite differences through the whole encoder, by the generic harness (the
  /// workspace keeps the last forward, which the harness always makes at the test point before
  /// using a pullback).
  @Test func encoderGradientMatchesFiniteDifferences() throws {
    let model = try Self.model.get()
    let encoder = try #require(model.makeImageEncoder(capacity: 2))
    let pixels = try Self.tensor("pixels")
    var options = GradientHarness.Options()
    options.maxCoordinates = 48
    options.tolerance = 2e-3  // Float32 through every layer norm
    let failures = GradientHarness.check("tiny image encoder", at: pixels, options: options) {
      x in (encoder.forward(x), { encoder.backward($0) })
    }
    #expect(failures.isEmpty, "\(failures)")
  }
}
