import PipelineKit

/// What the trainer needs from CLIP: text features, and image features with a backward pass to
/// the input pixels. The CLIP module provides the real one; tests may use small stand-ins.
public protocol FeatureModel: AnyObject {
  /// Side of the square input images (224 for ViT-B/32).
  var imageSize: Int { get }
  /// Length of a feature vector (512 for ViT-B/32).
  var featureCount: Int { get }
  /// Raw (not normalised) features of one prompt: `[D]`.
  func encodeText(_ text: String) throws -> [Float]
  /// Raw features `[N, D]` of a batch `[N, 3, S, S]` of images in [0, 1] (the model applies
  /// CLIP's input normalisation itself). Keeps what `backward` needs until the next call.
  func encodeImages(_ images: Tensor) throws -> Tensor
  /// Cotangent of the last `encodeImages` input `[N, 3, S, S]` from the cotangent of its
  /// output `[N, D]` (no weight gradients).
  func backward(_ dFeatures: Tensor) throws -> Tensor
}
