import CLIP
import PipelineKit

/// The real CLIP behind the trainer: text features through the BPE tokenizer and the text
/// tower, image features and their backward pass through an `ImageEncoder` workspace that is
/// reused as long as batches fit it.
public final class CLIPFeatureModel: FeatureModel {
  /// The weights.
  public let model: CLIPModel
  /// The prompt tokenizer.
  public let tokenizer: CLIPTokenizer
  private var encoder: ImageEncoder?
  /// Where warnings (a truncated prompt) go; stderr by default.
  public var warn: @Sendable (String) -> Void = CLIRunner.standardError

  /// Wraps a loaded model and its tokenizer.
  public init(model: CLIPModel, tokenizer: CLIPTokenizer) {
    self.model = model
    self.tokenizer = tokenizer
  }

  /// The image tower's input side.
  public var imageSize: Int { model.config.vision.imageSize }
  /// The joint embedding's length.
  public var featureCount: Int { model.config.embedDimension }

  /// Text features of `text`, truncated to the model's context (with a warning on stderr).
  ///
  /// Models with a vocabulary smaller than CLIP's BPE (the tiny test models) get the token ids
  /// folded into their range, start and end tokens mapped to their two last ids.
  public func encodeText(_ text: String) throws -> [Float] {
    let context = model.config.text.contextLength
    let tokens = tokenizer.tokenize(text, contextLength: context)
    if tokens.truncated {
      warn(
        "warning: the prompt is longer than \(context) tokens and was truncated: \(text)\n")
    }
    var ids = tokens.ids
    let vocabulary = Int32(model.config.text.vocabularySize)
    if vocabulary < Int32(tokenizer.vocabularySize) {
      ids = ids.enumerated().map { i, id in
        if i >= tokens.count { return 0 }
        if id == tokenizer.startToken { return vocabulary - 2 }
        if id == tokenizer.endToken { return vocabulary - 1 }
        return id % (vocabulary - 2)
      }
    }
    return try model.encodeText(ids)
  }

  /// Features `[N, D]` of images `[N, 3, S, S]` in [0, 1]; the encoder normalises them.
  public func encodeImages(_ images: Tensor) throws -> Tensor {
    let n = images.shape[0]
    if encoder == nil || encoder!.capacity < n {
      guard let e = model.makeImageEncoder(capacity: n, normalizesInput: true) else {
        throw ModelLoader.LoadError(description: "the model has no image tower")
      }
      encoder = e
    }
    return encoder!.forward(images)
  }

  /// Cotangent of the last `encodeImages` input.
  public func backward(_ dFeatures: Tensor) throws -> Tensor {
    guard let encoder else { throw ModelLoader.LoadError(description: "backward before forward") }
    return encoder.backward(dFeatures)
  }
}
