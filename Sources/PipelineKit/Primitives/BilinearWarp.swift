/// How a warp reads source points outside the image (an animation's `warp.edge`).
public enum WarpEdge: String, Sendable, CaseIterable {
  /// The outermost pixels continued (PyTorch's `border`/`replicate`).
  case edge
  /// The image continued periodically (`circular`).
  case wrap
  /// The image mirrored at its border, the border pixel repeated once (numpy's `symmetric`,
  /// PyTorch's `reflection` padding of `grid_sample` with `align_corners=False`).
  case reflect
  /// A constant colour.
  case fill

  /// The index on an axis of `count` pixels that index `i` reads, or `IndexMap.none` (fill).
  @inline(__always)
  func resolve(_ i: Int, count n: Int) -> Int32 {
    if i >= 0 && i < n { return Int32(i) }
    switch self {
    case .edge: return Int32(i < 0 ? 0 : n - 1)
    case .wrap: return Int32(((i % n) + n) % n)
    case .reflect:
      let period = 2 * n
      let k = ((i % period) + period) % period
      return Int32(k < n ? k : period - 1 - k)
    case .fill: return IndexMap.none
    }
  }
}

extension WarpEdge: ConfigChoice {
  /// edge, wrap, reflect, fill (`constant` is the same as `fill`).
  public static let names: [(name: String, value: WarpEdge)] =
    allCases.map { (name: $0.rawValue, value: $0) } + [("constant", .fill)]
  /// Named so in errors.
  public static var kind: String? { "edge mode" }
}

/// Bilinear sampling through an affine map, with an edge mode for source points outside the
/// image: output pixel centre p reads the source point s = M·p (coordinates as `Affine2D`'s:
/// pixel (i, j) has its centre at (i + 0.5, j + 0.5)) by interpolating the four pixels around
/// it — u = sₓ − 0.5, i₀ = ⌊u⌋, weights 1 − (u − i₀) and u − i₀ on columns i₀ and i₀ + 1, the
/// same on rows — each tap resolved by the edge mode (PyTorch's `grid_sample` in bilinear mode
/// with `align_corners=False`).
///
/// Affine in the image (linear without `fill`): `apply` is a weighted gather, `adjoint` the
/// exact transpose of its linear part (a weighted scatter-add; fill taps receive nothing). The
/// taps are computed once and shared by every plane and by the pullback.
public struct BilinearWarp: Sendable {
  /// Rows of the source image.
  public let inputHeight: Int
  /// Columns of the source image.
  public let inputWidth: Int
  /// Rows of the output.
  public let outputHeight: Int
  /// Columns of the output.
  public let outputWidth: Int
  /// Four source indices `y·W + x` per output pixel, or `IndexMap.none` for fill.
  private let indices: [Int32]  // (OH·OW, 4)
  /// The four taps' weights per output pixel (they sum to 1).
  private let weights: [Float]  // (OH·OW, 4)

  /// A warp reading an `inputHeight × inputWidth` image through `sourceFromOutput` into an
  /// `outputHeight × outputWidth` one (the same size unless given). A map that is not finite
  /// reads nothing (every tap is fill).
  public init(
    sourceFromOutput m: Affine2D, inputHeight h: Int, inputWidth w: Int, edge: WarpEdge,
    outputHeight: Int? = nil, outputWidth: Int? = nil
  ) {
    precondition(h >= 1 && w >= 1, "BilinearWarp: empty input")
    inputHeight = h
    inputWidth = w
    let oh = outputHeight ?? h
    let ow = outputWidth ?? w
    self.outputHeight = oh
    self.outputWidth = ow
    var indices = [Int32](repeating: IndexMap.none, count: oh * ow * 4)
    var weights = [Float](repeating: 0, count: oh * ow * 4)
    // Far outside the image every mode reads a border or periodic pixel; clamping the
    // coordinate there keeps ⌊u⌋ representable without changing what edge and fill read.
    let limit = Double(4 * max(h, w) + 4)
    for j in 0..<oh {
      for i in 0..<ow {
        let (sx, sy) = m(Double(i) + 0.5, Double(j) + 0.5)
        let p = (j * ow + i) * 4
        guard sx.isFinite, sy.isFinite else { continue }
        var u = sx - 0.5
        var v = sy - 0.5
        if edge == .wrap || edge == .reflect {
          // Periodic modes: move the point by whole periods (exact in Double for these sizes).
          let px = Double(edge == .wrap ? w : 2 * w)
          let py = Double(edge == .wrap ? h : 2 * h)
          u -= (u / px).rounded(.down) * px
          v -= (v / py).rounded(.down) * py
        } else {
          u = min(max(u, -limit), limit)
          v = min(max(v, -limit), limit)
        }
        let x0 = u.rounded(.down)
        let y0 = v.rounded(.down)
        let fx = Float(u - x0)
        let fy = Float(v - y0)
        let (ix, iy) = (Int(x0), Int(y0))
        let cols = (edge.resolve(ix, count: w), edge.resolve(ix + 1, count: w))
        let rows = (edge.resolve(iy, count: h), edge.resolve(iy + 1, count: h))
        let wx = (1 - fx, fx)
        let wy = (1 - fy, fy)
        func tap(_ k: Int, _ r: Int32, _ c: Int32, _ weight: Float) {
          indices[p + k] =
            r == IndexMap.none || c == IndexMap.none ? IndexMap.none : r * Int32(w) + c
          weights[p + k] = weight
        }
        tap(0, rows.0, cols.0, wy.0 * wx.0)
        tap(1, rows.0, cols.1, wy.0 * wx.1)
        tap(2, rows.1, cols.0, wy.1 * wx.0)
        tap(3, rows.1, cols.1, wy.1 * wx.1)
      }
    }
    self.indices = indices
    self.weights = weights
  }

  /// Warps every plane of `[C, H, W]`; fill taps read `fill[c]` (0 when `fill` is empty).
  public func apply(_ x: Tensor, fill: [Float] = []) -> Tensor {
    let (c, h, w) = x.chw
    precondition(h == inputHeight && w == inputWidth, "BilinearWarp: input size mismatch")
    let plane = outputHeight * outputWidth
    var out = Tensor(shape: [c, outputHeight, outputWidth])  // (C, OH, OW)
    x.scalars.withUnsafeBufferPointer { src in
      out.scalars.withUnsafeMutableBufferPointer { dst in
        for ch in 0..<c {
          let base = ch * h * w
          let f = ch < fill.count ? fill[ch] : 0
          for p in 0..<plane {
            var sum: Float = 0
            for k in 0..<4 {
              let index = indices[p * 4 + k]
              let value = index == IndexMap.none ? f : src[base + Int(index)]
              sum += weights[p * 4 + k] * value
            }
            dst[ch * plane + p] = sum
          }
        }
      }
    }
    return out
  }

  /// The transpose of `apply`'s linear part: `[C, OH, OW]` → `[C, H, W]`.
  public func adjoint(_ dy: Tensor) -> Tensor {
    let c = dy.chw.c
    let plane = outputHeight * outputWidth
    precondition(dy.chw.h == outputHeight && dy.chw.w == outputWidth, "BilinearWarp: size")
    var dx = Tensor(shape: [c, inputHeight, inputWidth])  // (C, H, W)
    dy.scalars.withUnsafeBufferPointer { src in
      dx.scalars.withUnsafeMutableBufferPointer { dst in
        for ch in 0..<c {
          let base = ch * inputHeight * inputWidth
          for p in 0..<plane {
            let g = src[ch * plane + p]
            for k in 0..<4 {
              let index = indices[p * 4 + k]
              if index != IndexMap.none { dst[base + Int(index)] += weights[p * 4 + k] * g }
            }
          }
        }
      }
    }
    return dx
  }
}
