/// Interpolation filters with PyTorch's conventions (`align_corners=False`, no antialiasing).
public enum Interpolation: String, Sendable, CaseIterable {
  /// Source index ⌊dst · in/out⌋ (PyTorch's legacy `nearest`).
  case nearest
  /// Bilinear: two taps per axis, half-pixel centres, negative source positions clamped to 0.
  case linear
  /// Bicubic: Keys' cubic convolution with a = −0.75, four taps per axis, borders replicated.
  case cubic

  /// Accepts CLIPig's names and the common aliases (`bilinear`, `bicubic`).
  public init?(name: String) {
    guard let value = Self.named(name) else { return nil }
    self = value
  }
}

extension Interpolation: ConfigChoice {
  /// CLIPig's names and the common aliases, in any case.
  public static let names: [(name: String, value: Interpolation)] = [
    ("nearest", .nearest), ("linear", .linear), ("cubic", .cubic), ("bilinear", .linear),
    ("bicubic", .cubic),
  ]
  /// `Cubic` and `cubic` are the same filter.
  public static var ignoresCase: Bool { true }
}

/// A 1-D resampling map: each output index is a weighted sum of a fixed number of input taps.
/// Applying it along an axis is linear; its adjoint scatters with the same weights.
public struct AxisMap: Sendable, Equatable {
  /// Input length.
  public let inCount: Int
  /// Output length.
  public let outCount: Int
  /// Taps per output index.
  public let width: Int
  /// Source indices, `outCount × width`.
  public let index: [Int32]
  /// Weights, `outCount × width`.
  public let weight: [Float]
  /// The map resizing `inCount` samples to `outCount` with `filter`. With `wrap` the axis is
  /// periodic (a torus): taps beyond either end read the other end (index mod inCount) instead
  /// of the clamped edge, and bilinear keeps negative source positions instead of clamping them
  /// to 0, so resizing commutes with rolling the axis.
  public init(resizing inCount: Int, to outCount: Int, filter: Interpolation, wrap: Bool = false) {
    precondition(inCount > 0 && outCount > 0, "AxisMap: empty axis")
    let scale = Double(inCount) / Double(outCount)
    var index: [Int32] = []
    var weight: [Float] = []
    func clampIndex(_ i: Int) -> Int32 {
      wrap ? Int32(((i % inCount) + inCount) % inCount) : Int32(min(max(i, 0), inCount - 1))
    }
    let width: Int
    switch filter {
    case .nearest:
      width = 1
      for d in 0..<outCount {
        index.append(clampIndex(Int((Double(d) * scale).rounded(.down))))
        weight.append(1)
      }
    case .linear:
      width = 2
      for d in 0..<outCount {
        let centre = (Double(d) + 0.5) * scale - 0.5
        let src = wrap ? centre : max(centre, 0)
        let i0 = Int(src.rounded(.down))
        let lambda = src - Double(i0)
        index += [clampIndex(i0), clampIndex(i0 + 1)]
        weight += [Float(1 - lambda), Float(lambda)]
      }
    case .cubic:
      width = 4
      for d in 0..<outCount {
        let src = (Double(d) + 0.5) * scale - 0.5
        let i = Int(src.rounded(.down))
        let t = src - Double(i)
        for k in -1...2 {
          index.append(clampIndex(i + k))
          weight.append(Float(AxisMap.keys(Double(k) - t)))
        }
      }
    }
    self.init(inCount: inCount, outCount: outCount, width: width, index: index, weight: weight)
  }

  /// A map from explicit taps (for crops, shifts and other gathers).
  public init(inCount: Int, outCount: Int, width: Int, index: [Int32], weight: [Float]) {
    precondition(
      index.count == outCount * width && weight.count == index.count, "AxisMap: tap count")
    precondition(index.allSatisfy { $0 >= 0 && Int($0) < inCount }, "AxisMap: tap out of range")
    self.inCount = inCount
    self.outCount = outCount
    self.width = width
    self.index = index
    self.weight = weight
  }

  /// Keys' cubic convolution kernel with a = −0.75 (PyTorch's bicubic).
  static func keys(_ x: Double) -> Double {
    let a = -0.75
    let ax = abs(x)
    if ax <= 1 { return ((a + 2) * ax - (a + 3)) * ax * ax + 1 }
    if ax < 2 { return ((a * ax - 5 * a) * ax + 8 * a) * ax - 4 * a }
    return 0
  }
}

/// Separable 2-D resampling of images `[C,H,W]` or batches `[N,C,H,W]`: `rows` maps H, `cols`
/// maps W. Linear; `adjoint` is its exact transpose.
public struct Resampler: Sendable, Equatable {
  /// Map along the height.
  public let rows: AxisMap
  /// Map along the width.
  public let cols: AxisMap

  /// A resampler with explicit axis maps.
  public init(rows: AxisMap, cols: AxisMap) {
    self.rows = rows
    self.cols = cols
  }

  /// Resizes (h, w) to (height, width) with `filter`; with `wrap` the image is a torus (see
  /// `AxisMap(resizing:to:filter:wrap:)`).
  public init(
    from h: Int, _ w: Int, to height: Int, _ width: Int, filter: Interpolation, wrap: Bool = false
  ) {
    rows = AxisMap(resizing: h, to: height, filter: filter, wrap: wrap)
    cols = AxisMap(resizing: w, to: width, filter: filter, wrap: wrap)
  }

  /// Resamples every plane of `x`: along W into a scratch plane, then along H.
  public func apply(_ x: Tensor) -> Tensor {
    let (c, h, w) = x.chw
    precondition(h == rows.inCount && w == cols.inCount, "Resampler: input \(x.shape) does not fit")
    let oh = rows.outCount
    let ow = cols.outCount
    return Self.run(x, planes: x.batchCount * c, from: (h, w), to: (oh, ow), scratch: h * ow) {
      s, d, tmp in
      // s (H, W) → tmp (H, OW) → d (OH, OW)
      Self.alongWidth(s, width: w, into: tmp, width: ow, rows: h, cols)
      Self.alongHeight(tmp, into: d, width: ow, rows, transpose: false)
    }
  }

  /// The transpose of `apply`: scatters each output cotangent back onto its taps (the H pass
  /// transposed, then the W pass transposed).
  public func adjoint(_ dy: Tensor) -> Tensor {
    let (c, oh, ow) = dy.chw
    precondition(
      oh == rows.outCount && ow == cols.outCount, "Resampler: cotangent \(dy.shape) does not fit")
    let h = rows.inCount
    let w = cols.inCount
    return Self.run(dy, planes: dy.batchCount * c, from: (oh, ow), to: (h, w), scratch: h * ow) {
      g, d, tmp in
      // g (OH, OW) → tmp (H, OW) → d (H, W)
      tmp.initialize(repeating: 0, count: h * ow)
      Self.alongHeight(g, into: tmp, width: ow, rows, transpose: true)
      Self.alongWidthTransposed(tmp, width: ow, into: d, width: w, rows: h, cols)
    }
  }

  /// The output `[…, out.h, out.w]` of `body(src, dst, scratch)` run on each of `planes` planes
  /// of `x` (`[…, from.h, from.w]`), with `scratch` floats of scratch space per call. `body`
  /// must write every element of `dst`. Planes run on several cores when they are large
  /// enough to pay for it; each writes only its own output, so results never depend on the
  /// thread count.
  private static func run(
    _ x: Tensor, planes: Int, from: (h: Int, w: Int), to: (h: Int, w: Int), scratch: Int,
    _ body: (UnsafePointer<Float>, UnsafeMutablePointer<Float>, UnsafeMutablePointer<Float>) ->
      Void
  ) -> Tensor {
    let inPlane = from.h * from.w
    let outPlane = to.h * to.w
    let total = planes * outPlane
    let scalars = [Float](unsafeUninitializedCapacity: total) { out, initialized in
      initialized = total
      x.scalars.withUnsafeBufferPointer { src in
        guard let srcBase = src.baseAddress, let dstBase = out.baseAddress else {
          out.initialize(repeating: 0)
          return
        }
        func plane(_ p: Int) {
          let tmp = UnsafeMutablePointer<Float>.allocate(capacity: max(scratch, 1))
          defer { tmp.deallocate() }
          body(srcBase + p * inPlane, dstBase + p * outPlane, tmp)
        }
        if planes > 1 && scratch + outPlane >= 16_384 {
          parallelFor(planes, plane)
        } else {
          for p in 0..<planes { plane(p) }
        }
      }
    }
    return Tensor(shape: Array(x.shape.dropLast(2)) + [to.h, to.w], scalars: scalars)
  }

  /// Calls `body(index, weight, taps)` with `map`'s taps as buffers and the taps per output —
  /// a literal 4 for bicubic, so that the loops over taps unroll.
  @inline(__always)
  private static func withTaps(
    _ map: AxisMap, _ body: (UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Float>, Int) -> Void
  ) {
    map.index.withUnsafeBufferPointer { index in
      map.weight.withUnsafeBufferPointer { weight in
        if map.width == 4 { body(index, weight, 4) } else { body(index, weight, map.width) }
      }
    }
  }

  /// Along W: `dst[y, j] = Σ_k wc[j,k] · src[y, ic[j,k]]` for `rows` rows (src `(rows, inW)`,
  /// dst `(rows, outW)`, overwritten). Four rows are summed side by side: they share the taps,
  /// and four sums are in flight (each in the same order as one at a time).
  private static func alongWidth(
    _ src: UnsafePointer<Float>, width inW: Int, into dst: UnsafeMutablePointer<Float>,
    width outW: Int, rows: Int, _ map: AxisMap
  ) {
    withTaps(map) { index, weight, taps in
      var y = 0
      while y + 4 <= rows {
        let s = (src + y * inW, src + (y + 1) * inW, src + (y + 2) * inW, src + (y + 3) * inW)
        let d = (dst + y * outW, dst + (y + 1) * outW, dst + (y + 2) * outW, dst + (y + 3) * outW)
        var t = 0
        for j in 0..<outW {
          var acc: (Float, Float, Float, Float) = (0, 0, 0, 0)
          for _ in 0..<taps {
            let i = Int(index[t])
            let wt = weight[t]
            acc.0 += wt * s.0[i]
            acc.1 += wt * s.1[i]
            acc.2 += wt * s.2[i]
            acc.3 += wt * s.3[i]
            t &+= 1
          }
          (d.0[j], d.1[j], d.2[j], d.3[j]) = acc
        }
        y += 4
      }
      for y in y..<rows {
        let sRow = src + y * inW
        let dRow = dst + y * outW
        var t = 0
        for j in 0..<outW {
          var acc: Float = 0
          for _ in 0..<taps {
            acc += weight[t] * sRow[Int(index[t])]
            t &+= 1
          }
          dRow[j] = acc
        }
      }
    }
  }

  /// The transpose of `alongWidth`: `dst[y, ic[j,k]] += wc[j,k] · src[y, j]` in tap order
  /// (src `(rows, outW)`, dst `(rows, inW)`, overwritten). Neighbouring taps hit the same
  /// outputs, so four rows are scattered side by side to keep four chains of additions in
  /// flight (each output still sums its taps in the same order).
  private static func alongWidthTransposed(
    _ src: UnsafePointer<Float>, width outW: Int, into dst: UnsafeMutablePointer<Float>,
    width inW: Int, rows: Int, _ map: AxisMap
  ) {
    dst.update(repeating: 0, count: rows * inW)
    withTaps(map) { index, weight, taps in
      var y = 0
      while y + 4 <= rows {
        let s = (src + y * outW, src + (y + 1) * outW, src + (y + 2) * outW, src + (y + 3) * outW)
        let d = (dst + y * inW, dst + (y + 1) * inW, dst + (y + 2) * inW, dst + (y + 3) * inW)
        var t = 0
        for j in 0..<outW {
          let v = (s.0[j], s.1[j], s.2[j], s.3[j])
          for _ in 0..<taps {
            let i = Int(index[t])
            let wt = weight[t]
            d.0[i] += wt * v.0
            d.1[i] += wt * v.1
            d.2[i] += wt * v.2
            d.3[i] += wt * v.3
            t &+= 1
          }
        }
        y += 4
      }
      for y in y..<rows {
        let sRow = src + y * outW
        let dRow = dst + y * inW
        var t = 0
        for j in 0..<outW {
          let v = sRow[j]
          for _ in 0..<taps {
            dRow[Int(index[t])] += weight[t] * v
            t &+= 1
          }
        }
      }
    }
  }

  /// Along H, on rows of `width` floats: `dst[i, :] = Σ_k wr[i,k] · src[ir[i,k], :]` (dst
  /// `(outCount, width)`, overwritten), or with `transpose` its adjoint
  /// `dst[ir[i,k], :] += wr[i,k] · src[i, :]` (src `(outCount, width)`, dst `(inCount, width)`,
  /// accumulated).
  private static func alongHeight(
    _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<Float>, width: Int,
    _ map: AxisMap, transpose: Bool
  ) {
    withTaps(map) { index, weight, taps in
      for i in 0..<map.outCount {
        if !transpose { (dst + i * width).update(repeating: 0, count: width) }
        for k in 0..<taps {
          let t = i * taps + k
          let wt = weight[t]
          let r = Int(index[t])
          let (from, to) =
            transpose ? (src + i * width, dst + r * width) : (src + r * width, dst + i * width)
          for j in 0..<width { to[j] += wt * from[j] }
        }
      }
    }
  }
}
