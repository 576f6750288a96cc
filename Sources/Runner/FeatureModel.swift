import CLIP
import PipelineKit

/// What the trainer needs from CLIP: text features, and image features as a value with a
/// pullback to the input pixels. The CLIP module provides the real one; tests may use small
/// stand-ins.
public protocol FeatureModel: AnyObject {
  /// Side of the square input images (224 for ViT-B/32).
  var imageSize: Int { get }
  /// Length of a feature vector (512 for ViT-B/32).
  var featureCount: Int { get }
  /// Raw (not normalised) features of one prompt: `[D]`.
  func encodeText(_ text: String) throws -> [Float]
  /// Raw features `[N, D]` of a batch `[N, 3, S, S]` of images in [0, 1] (the model applies
  /// CLIP's input normalisation itself), and the pullback from a cotangent of the features to
  /// one of the images (no weight gradients). The pullback owns what it needs: further encodes
  /// may run before it is called.
  func encodeImages(_ images: Tensor) throws -> (value: Tensor, pullback: Pullback)
  /// Bytes of activations one image needs in `encodeImages` and its pullback (for the memory
  /// check before training).
  var activationBytesPerImage: Double { get }
  /// The precision the model's matrix products run in (what was asked, what runs, and why
  /// they differ); the sidecar records it.
  var precision: PrecisionChoice { get }
}

extension FeatureModel {
  /// A guess for stand-in models: ten copies of the input image.
  public var activationBytesPerImage: Double { Double(imageSize * imageSize * 3 * 4 * 10) }
  /// Stand-in models compute in fp32.
  public var precision: PrecisionChoice { .fp32 }
}
