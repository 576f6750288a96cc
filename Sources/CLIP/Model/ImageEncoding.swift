import PipelineKit

/// A CLIP image tower as a workspace (the ViT's `ImageEncoder`, the ResNet's `ResNetEncoder`):
/// images (N, 3, S, S) to features (N, E), and a feature gradient back to the pixels.
///
/// A conforming encoder implements the passes on raw memory; the `Tensor` entry points, their
/// shape checks and the arena read-outs are shared here.
public protocol ImageEncoding: AnyObject {
  /// Largest batch the workspace holds.
  var capacity: Int { get }
  /// Bytes held by the activation arena.
  var arenaBytes: Int { get }
  /// Whether `forward` applies CLIP's mean/std normalisation to pixels in [0, 1].
  var normalizesInput: Bool { get }
  /// The input side S.
  var imageSize: Int { get }
  /// The feature width E.
  var embedDimension: Int { get }
  /// Number of images in the last forward pass (0 before the first).
  var batch: Int { get }
  /// Features (N, E) of the last forward pass.
  var features: Tensor { get }
  /// The forward pass on raw memory: `count` images (count, 3, S, S) at `pixels`.
  func forward(pixels: UnsafePointer<Float>, count: Int)
  /// The backward pass on raw memory: dFeatures (N, E) → dPixels (N, 3, S, S), overwritten.
  func backward(dFeatures: UnsafePointer<Float>, dPixels: UnsafeMutablePointer<Float>)
}

extension ImageEncoding {
  /// Features (N, E) of images (N, 3, S, S), N ≤ capacity; pixels in [0, 1] when
  /// `normalizesInput`, else already normalised.
  public func forward(_ pixels: Tensor) -> Tensor {
    let s = imageSize
    precondition(
      pixels.rank == 4 && pixels.shape[1] == 3 && pixels.shape[2] == s && pixels.shape[3] == s,
      "\(Self.self): expected [N, 3, \(s), \(s)], got \(pixels.shape)")
    let n = pixels.shape[0]
    pixels.scalars.withUnsafeBufferPointer { p in
      if let base = p.baseAddress { forward(pixels: base, count: n) }
    }
    return features
  }

  /// The gradient (N, 3, S, S) with respect to the input pixels of the last `forward`, given the
  /// gradient (N, E) of a loss with respect to its features.
  public func backward(_ dFeatures: Tensor) -> Tensor {
    var out = Tensor(shape: [batch, 3, imageSize, imageSize])
    backward(dFeatures, into: &out)
    return out
  }

  /// `backward` writing into an existing tensor of shape (N, 3, S, S) (no allocation when it
  /// is uniquely referenced).
  public func backward(_ dFeatures: Tensor, into dPixels: inout Tensor) {
    let (n, s, e) = (batch, imageSize, embedDimension)
    precondition(n > 0, "\(Self.self).backward before forward")
    precondition(
      dFeatures.shape == [n, e],
      "\(Self.self).backward: expected [\(n), \(e)], got \(dFeatures.shape)")
    precondition(
      dPixels.shape == [n, 3, s, s], "\(Self.self).backward: output shape \(dPixels.shape)")
    dFeatures.scalars.withUnsafeBufferPointer { df in
      dPixels.scalars.withUnsafeMutableBufferPointer { dp in
        if let f = df.baseAddress, let p = dp.baseAddress { backward(dFeatures: f, dPixels: p) }
      }
    }
  }
}

extension Arena {
  /// A copy of the `shape.reduce(1, *)` floats at `offset` as a tensor.
  func tensor(_ offset: Int, _ shape: [Int]) -> Tensor {
    Tensor(
      shape: shape,
      scalars: Array(UnsafeBufferPointer(start: base + offset, count: shape.reduce(1, *))))
  }
}

extension ImageEncoder: ImageEncoding {}
extension ResNetEncoder: ImageEncoding {}
