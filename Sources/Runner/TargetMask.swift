import ModelStore
import PipelineKit

/// A target's mask (`mask:`, `mask_invert:`): one weight in [0, 1] per pixel that scales the
/// target's gradient there, so the target changes only the white part of the image.
///
/// As a function it is a gate in front of the target's transform chain:
/// `gate(x) = a + m ⊙ (x − a)` with the anchor `a` the image the epoch started from. During
/// training `x` is that image, so the gate passes it unchanged (bit for bit: `x − x` is 0) and
/// its pullback `d ↦ m ⊙ d` masks the gradient; with pixels other than the anchor (the
/// gradient harness) it is the function whose derivative that pullback is.
public struct TargetMask: Sendable {
  /// The grayscale mask `[1, H, W]` as loaded (inverted when asked), in [0, 1].
  public let source: Tensor

  /// The mask of `image` (the channels' mean), inverted when `invert`.
  public init(image: Tensor, invert: Bool) {
    let (h, w) = (image.chw.h, image.chw.w)
    let plane = h * w
    var gray = Tensor(shape: [1, h, w])
    for k in 0..<plane {
      let mean =
        (image.scalars[k] + image.scalars[plane + k] + image.scalars[2 * plane + k]) / 3
      let v = min(1, max(0, mean))
      gray.scalars[k] = invert ? 1 - v : v
    }
    source = gray
  }

  /// Loads the mask a configuration names (relative paths from `baseDirectory`).
  public static func load(_ mask: Experiment.Mask, baseDirectory: String, key: String) throws
    -> TargetMask
  {
    TargetMask(
      image: try ImageInput.load(mask.image, baseDirectory: baseDirectory, key: key),
      invert: mask.invert)
  }

  /// The mask at `height` × `width` (bilinear, so it stays in [0, 1]): `[1, H, W]`.
  public func resized(height: Int, width: Int) -> Tensor {
    if source.chw.h == height && source.chw.w == width { return source }
    return Resampler(from: source.chw.h, source.chw.w, to: height, width, filter: .linear)
      .apply(source)
  }

  /// `gate(x) = anchor + m ⊙ (x − anchor)` for `x`, `anchor` `[3, H, W]` and `m` `[1, H, W]`
  /// (`resized`), with its pullback `d ↦ m ⊙ d`.
  public static func gate(_ x: Tensor, anchor: Tensor, mask m: Tensor) -> (
    value: Tensor, pullback: Pullback
  ) {
    let plane = m.count
    precondition(x.count == 3 * plane && anchor.count == x.count, "TargetMask.gate: shapes")
    var y = anchor
    for c in 0..<3 {
      for k in 0..<plane {
        let i = c * plane + k
        y.scalars[i] = anchor.scalars[i] + m.scalars[k] * (x.scalars[i] - anchor.scalars[i])
      }
    }
    return (y, { d in Self.scale(d, by: m) })
  }

  /// `m ⊙ d` for `d` `[3, H, W]` and `m` `[1, H, W]`.
  static func scale(_ d: Tensor, by m: Tensor) -> Tensor {
    let plane = m.count
    var out = d
    for c in 0..<3 {
      for k in 0..<plane { out.scalars[c * plane + k] *= m.scalars[k] }
    }
    return out
  }
}
