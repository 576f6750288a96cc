extension Tensor {
  /// Applies `f(channel, value)` to every element of an image `[C,H,W]` or batch `[N,C,H,W]`.
  @inlinable
  public func perChannel(_ f: (Int, Float) -> Float) -> Tensor {
    let (c, h, w) = chw
    let plane = h * w
    var out = self
    out.scalars.withUnsafeMutableBufferPointer { o in
      for n in 0..<batchCount {
        for ch in 0..<c {
          let base = (n * c + ch) * plane
          for i in base..<base + plane { o[i] = f(ch, o[i]) }
        }
      }
    }
    return out
  }
}
