import PipelineKit

/// A CLIP image tower as a workspace (the ViT's `ImageEncoder`, the ResNet's `ResNetEncoder`):
/// images (N, 3, S, S) to features (N, E), and a feature gradient back to the pixels.
public protocol ImageEncoding: AnyObject {
  /// Largest batch the workspace holds.
  var capacity: Int { get }
  /// Bytes held by the activation arena.
  var arenaBytes: Int { get }
  /// Whether `forward` applies CLIP's mean/std normalisation to pixels in [0, 1].
  var normalizesInput: Bool { get }
  /// Features (N, E) of images (N, 3, S, S), N ≤ capacity.
  func forward(_ pixels: Tensor) -> Tensor
  /// The gradient (N, 3, S, S) with respect to the last forward's pixels, from the gradient
  /// (N, E) with respect to its features.
  func backward(_ dFeatures: Tensor) -> Tensor
  /// `backward` into an existing (N, 3, S, S) tensor.
  func backward(_ dFeatures: Tensor, into dPixels: inout Tensor)
}

extension ImageEncoder: ImageEncoding {}
