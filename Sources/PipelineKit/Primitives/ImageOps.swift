/// Small image operations shared by stages and the runner.
public enum ImageOps {
  /// Every element clamped to [lo, hi].
  public static func clamp(_ x: Tensor, _ lo: Float, _ hi: Float) -> Tensor {
    var out = x
    out.scalars.withUnsafeMutableBufferPointer { o in
      for i in o.indices { o[i] = min(max(o[i], lo), hi) }
    }
    return out
  }

  /// The pullback of `clamp` at `input`: the cotangent where lo ≤ input ≤ hi, else 0
  /// (PyTorch's convention at the bounds).
  public static func clampPullback(_ dy: Tensor, input: Tensor, _ lo: Float, _ hi: Float) -> Tensor
  {
    precondition(
      dy.shape == input.shape, "clampPullback: shapes \(dy.shape) and \(input.shape) differ")
    var out = dy
    out.scalars.withUnsafeMutableBufferPointer { o in
      input.scalars.withUnsafeBufferPointer { x in
        for i in o.indices where x[i] < lo || x[i] > hi { o[i] = 0 }
      }
    }
    return out
  }

  /// Scales `image` (bicubic) so it covers width × height, then cuts the centre out.
  ///
  /// CLIPig's rule with its (height, width) swap fixed: the result is `height` rows and `width`
  /// columns for any aspect ratio.
  public static func resizeCrop(_ image: Tensor, width: Int, height: Int) -> Tensor {
    let (_, h, w) = image.chw
    if h == height && w == width { return image }
    let f = max(Double(width) / Double(w), Double(height) / Double(h))
    let nh = max(height, Int((Double(h) * f).rounded(.down)))
    let nw = max(width, Int((Double(w) * f).rounded(.down)))
    var scaled = image
    if nh != h || nw != w {
      scaled = Resampler(from: h, w, to: nh, nw, filter: .cubic).apply(image)
    }
    let top = Int((Double(nh - height) / 2).rounded(.toNearestOrEven))
    let left = Int((Double(nw - width) / 2).rounded(.toNearestOrEven))
    return crop(scaled, top: top, left: left, height: height, width: width)
  }

  /// Rows [top, top+height) and columns [left, left+width) of an image `[C,H,W]`, which must lie
  /// inside it.
  public static func crop(_ image: Tensor, top: Int, left: Int, height: Int, width: Int) -> Tensor {
    let (c, h, w) = image.chw
    precondition(
      top >= 0 && left >= 0 && top + height <= h && left + width <= w, "crop outside the image")
    var out = Tensor(shape: [c, height, width])
    for ch in 0..<c {
      for y in 0..<height {
        let src = (ch * h + top + y) * w + left
        let dst = (ch * height + y) * width
        for x in 0..<width { out.scalars[dst + x] = image.scalars[src + x] }
      }
    }
    return out
  }
}
