import PipelineKit

/// CLIP's input normalisation (CLIP's preprocessing): (x − mean_c) / std_c per RGB channel.
public enum CLIPImageNormalization {
  /// Channel means.
  public static let mean: [Float] = [0.481_454_66, 0.457_827_5, 0.408_210_73]
  /// Channel standard deviations.
  public static let std: [Float] = [0.268_629_54, 0.261_302_58, 0.275_777_11]

  /// Normalises a batch `x` (N, 3, S, S), returning the value and its pullback (÷ std_c).
  public static func normalize(_ x: Tensor) -> (value: Tensor, pullback: (Tensor) -> Tensor) {
    precondition(x.rank == 4 && x.shape[1] == 3, "normalize: expected [N, 3, H, W], got \(x.shape)")
    let plane = x.shape[2] * x.shape[3]
    var out = x
    for i in 0..<x.count {
      let ch = (i / plane) % 3
      out.scalars[i] = (x.scalars[i] - mean[ch]) / std[ch]
    }
    return (
      out,
      { g in
        var d = g
        for i in 0..<g.count { d.scalars[i] /= std[(i / plane) % 3] }
        return d
      }
    )
  }

  static func normalize(
    _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int, size s: Int
  ) {
    let plane = s * s
    parallelFor(n * 3) { job in
      let ch = job % 3
      let (mu, sd) = (mean[ch], std[ch])
      let src = x + job * plane
      let dst = out + job * plane
      for i in 0..<plane { dst[i] = (src[i] - mu) / sd }
    }
  }

  static func normalizeBackward(_ d: UnsafeMutablePointer<Float>, count n: Int, size s: Int) {
    let plane = s * s
    parallelFor(n * 3) { job in
      let sd = std[job % 3]
      let p = d + job * plane
      for i in 0..<plane { p[i] /= sd }
    }
  }

  /// (N, 3, S, S) → channel-major (3, N, S, S), normalised when `normalizes` (the ResNet's
  /// input layout).
  static func channelMajor(
    _ x: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int, size s: Int,
    normalizes: Bool
  ) {
    let plane = s * s
    parallelFor(n * 3) { job in
      let (b, ch) = (job / 3, job % 3)
      let src = x + job * plane  // (S, S)
      let dst = out + (ch * n + b) * plane  // (S, S)
      if normalizes {
        let (mu, sd) = (mean[ch], std[ch])
        for i in 0..<plane { dst[i] = (src[i] - mu) / sd }
      } else {
        dst.update(from: src, count: plane)
      }
    }
  }

  /// The pullback of `channelMajor`: d (3, N, S, S) → out (N, 3, S, S), ÷ std when
  /// `normalizes`.
  static func channelMajorBackward(
    _ d: UnsafePointer<Float>, into out: UnsafeMutablePointer<Float>, count n: Int, size s: Int,
    normalizes: Bool
  ) {
    let plane = s * s
    parallelFor(n * 3) { job in
      let (b, ch) = (job / 3, job % 3)
      let src = d + (ch * n + b) * plane  // (S, S)
      let dst = out + job * plane  // (S, S)
      if normalizes {
        let inv = 1 / std[ch]
        for i in 0..<plane { dst[i] = src[i] * inv }
      } else {
        dst.update(from: src, count: plane)
      }
    }
  }
}
