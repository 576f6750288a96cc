import PipelineKit

/// torchvision's `_blend(img, gray, f).clamp(0, 1)` as `saturation` and `contrast` use it:
/// out = clamp(f·in + (1−f)·g, 0, 1) with g = 0.2989·R + 0.587·G + 0.114·B per pixel
/// (`saturation`) or its mean over all pixels (`contrast`), and the pullback PyTorch's autograd
/// gives for it: zero where clamped, and through g.
enum GrayBlend {
  /// What each pixel is blended with.
  enum Target {
    /// The pixel's own gray value.
    case pixelGray
    /// The mean gray value of the image.
    case meanGray
  }

  /// The blended, clamped image `[3,H,W]` and its pullback.
  static func apply(_ x: Tensor, factor f: Float, target: Target) -> (
    value: Tensor, pullback: Pullback
  ) {
    let g = ImageStatistics.gray(x)  // (H·W)
    let plane = g.count
    var blend = x  // (3, H, W) before the clamp
    switch target {
    case .pixelGray:
      blend.scalars.withUnsafeMutableBufferPointer { b in
        for c in 0..<3 {
          for i in 0..<plane { b[c * plane + i] = f * b[c * plane + i] + (1 - f) * g[i] }
        }
      }
    case .meanGray:
      var sum = 0.0
      for v in g { sum += Double(v) }
      let m = plane > 0 ? Float(sum / Double(plane)) : 0
      let offset = (1 - f) * m
      blend.scalars.withUnsafeMutableBufferPointer { b in
        for i in b.indices { b[i] = f * b[i] + offset }
      }
    }
    return (
      ImageOps.clamp(blend, 0, 1),
      { dy in
        var d = ImageOps.clampPullback(dy, input: blend, 0, 1)  // (3, H, W)
        let w = ImageStatistics.grayWeights
        switch target {
        case .pixelGray:
          d.scalars.withUnsafeMutableBufferPointer { d in
            for i in 0..<plane {
              let dg = (1 - f) * (d[i] + d[plane + i] + d[2 * plane + i])
              for c in 0..<3 { d[c * plane + i] = f * d[c * plane + i] + w[c] * dg }
            }
          }
        case .meanGray:
          var total = 0.0
          for v in d.scalars { total += Double(v) }
          let dm = plane > 0 ? (1 - f) * Float(total / Double(plane)) : 0
          d.scalars.withUnsafeMutableBufferPointer { d in
            for c in 0..<3 {
              let add = w[c] * dm
              for i in c * plane..<(c + 1) * plane { d[i] = f * d[i] + add }
            }
          }
        }
        return d
      }
    )
  }
}
