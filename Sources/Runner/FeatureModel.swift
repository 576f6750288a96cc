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
  /// Raw features `[N, D]` of a batch `[N, 3, S, S]` of CLIP-normalised images. Keeps what
  /// `backward` needs until the next call.
  func encodeImages(_ images: Tensor) throws -> Tensor
  /// Cotangent of the last `encodeImages` input `[N, 3, S, S]` from the cotangent of its
  /// output `[N, D]` (no weight gradients).
  func backward(_ dFeatures: Tensor) throws -> Tensor
}

/// CLIP's input normalisation (spec §8.1): (x − mean_c) / std_c.
public enum CLIPNormalization {
  /// Per-channel means.
  public static let mean: [Float] = [0.48145466, 0.4578275, 0.40821073]
  /// Per-channel standard deviations.
  public static let std: [Float] = [0.26862954, 0.26130258, 0.27577711]

  /// Normalises an image or batch.
  public static func apply(_ x: Tensor) -> Tensor {
    x.perChannel { c, v in (v - mean[c]) / std[c] }
  }

  /// The pullback of `apply`: dx = dy / std_c.
  public static func pullback(_ dy: Tensor) -> Tensor {
    dy.perChannel { c, v in v / std[c] }
  }
}
