import CLIP
import Foundation
import ModelStore
import PipelineKit
import Testing

/// A traced fp16 TorchScript CLIP (OpenAI's distribution format) loads into clipig's CLIP and
/// computes the features PyTorch computes from the same file (`scripts/checkpoint_features_fixture.py`).
@Suite("OpenAI .pt checkpoint → CLIP features")
struct CheckpointFeaturesTests {
  struct Reference: Decodable {
    var image: [Float]
    var image_shape: [Int]
    var tokens: [[Int32]]
    var image_features: [[Float]]
    var text_features: [[Float]]
  }

  @Test func featuresMatchPyTorch() throws {
    let reference = try ModelStoreFixture.json("modelstore/jit-features.json", as: Reference.self)
    let model = try CLIPModel.load(checkpoint: ModelStoreFixture.path("tiny-openai-jit-h64.pt"))
    #expect(model.config.vision.imageSize == 16)
    #expect(model.config.vision.heads == 1)
    let encoder = try #require(model.makeImageEncoder(capacity: 2, normalizesInput: false))
    let features = encoder.forward(Tensor(shape: reference.image_shape, scalars: reference.image))
    let expectedImage = reference.image_features.flatMap { $0 }
    #expect(features.count == expectedImage.count)
    for i in 0..<min(features.count, expectedImage.count) {
      #expect(
        abs(features.scalars[i] - expectedImage[i]) <= 1e-4 * max(1, abs(expectedImage[i])),
        "image feature \(i)")
    }
    for (row, tokens) in reference.tokens.enumerated() {
      let text: [Float] = try model.encodeText(tokens)
      let expected: [Float] = reference.text_features[row]
      #expect(text.count == expected.count)
      for i in 0..<min(text.count, expected.count) {
        let tolerance: Float = 1e-4 * max(1, abs(expected[i]))
        #expect(
          abs(text[i] - expected[i]) <= tolerance,
          "text \(row) feature \(i): \(text[i]) vs \(expected[i])")
      }
    }
  }
}
