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
    switch name.lowercased() {
    case "nearest": self = .nearest
    case "linear", "bilinear": self = .linear
    case "cubic", "bicubic": self = .cubic
    default: return nil
    }
  }
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

  /// The map resizing `inCount` samples to `outCount` with `filter`.
  public init(resizing inCount: Int, to outCount: Int, filter: Interpolation) {
    precondition(inCount > 0 && outCount > 0, "AxisMap: empty axis")
    self.inCount = inCount
    self.outCount = outCount
    let scale = Double(inCount) / Double(outCount)
    var index: [Int32] = []
    var weight: [Float] = []
    func clampIndex(_ i: Int) -> Int32 { Int32(min(max(i, 0), inCount - 1)) }
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
        let src = max((Double(d) + 0.5) * scale - 0.5, 0)
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
    self.index = index
    self.weight = weight
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

  /// Resizes (h, w) to (height, width) with `filter`.
  public init(from h: Int, _ w: Int, to height: Int, _ width: Int, filter: Interpolation) {
    rows = AxisMap(resizing: h, to: height, filter: filter)
    cols = AxisMap(resizing: w, to: width, filter: filter)
  }

  /// Resamples every plane of `x`.
  public func apply(_ x: Tensor) -> Tensor {
    let (c, h, w) = x.chw
    precondition(h == rows.inCount && w == cols.inCount, "Resampler: input \(x.shape) does not fit")
    let planes = x.batchCount * c
    let oh = rows.outCount
    let ow = cols.outCount
    var out = Tensor(shape: Array(x.shape.dropLast(2)) + [oh, ow])
    withTaps { rIndex, rWeight, cIndex, cWeight in
      x.scalars.withUnsafeBufferPointer { src in
        out.scalars.withUnsafeMutableBufferPointer { dst in
          guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
          let rk = rows.width
          let ck = cols.width
          Self.forPlanes(planes, work: h * ow + oh * ow) { p in
            let s = srcBase + p * h * w  // (H, W)
            let d = dstBase + p * oh * ow  // (OH, OW)
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)  // (H, OW)
            defer { tmp.deallocate() }
            // Along W: tmp[y, j] = Σ_k wc[j,k] · s[y, ic[j,k]]
            for y in 0..<h {
              let sRow = s + y * w
              let tRow = tmp + y * ow
              if ck == 4 {
                // The bicubic case, unrolled (same summation order as the loop below).
                var t = 0
                for j in 0..<ow {
                  var acc: Float = 0
                  acc += cWeight[t] * sRow[Int(cIndex[t])]
                  acc += cWeight[t &+ 1] * sRow[Int(cIndex[t &+ 1])]
                  acc += cWeight[t &+ 2] * sRow[Int(cIndex[t &+ 2])]
                  acc += cWeight[t &+ 3] * sRow[Int(cIndex[t &+ 3])]
                  tRow[j] = acc
                  t &+= 4
                }
              } else {
                var t = 0
                for j in 0..<ow {
                  var acc: Float = 0
                  for _ in 0..<ck {
                    acc += cWeight[t] * sRow[Int(cIndex[t])]
                    t &+= 1
                  }
                  tRow[j] = acc
                }
              }
            }
            // Along H: d[i, j] = Σ_k wr[i,k] · tmp[ir[i,k], j]
            for i in 0..<oh {
              let dRow = d + i * ow
              dRow.update(repeating: 0, count: ow)
              for k in 0..<rk {
                let t = i * rk + k
                let wt = rWeight[t]
                let tRow = tmp + Int(rIndex[t]) * ow
                for j in 0..<ow { dRow[j] += wt * tRow[j] }
              }
            }
          }
        }
      }
    }
    return out
  }

  /// The transpose of `apply`: scatters each output cotangent back onto its taps.
  public func adjoint(_ dy: Tensor) -> Tensor {
    let (c, oh, ow) = dy.chw
    precondition(
      oh == rows.outCount && ow == cols.outCount, "Resampler: cotangent \(dy.shape) does not fit")
    let planes = dy.batchCount * c
    let h = rows.inCount
    let w = cols.inCount
    var dx = Tensor(shape: Array(dy.shape.dropLast(2)) + [h, w])
    withTaps { rIndex, rWeight, cIndex, cWeight in
      dy.scalars.withUnsafeBufferPointer { src in
        dx.scalars.withUnsafeMutableBufferPointer { dst in
          guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
          let rk = rows.width
          let ck = cols.width
          Self.forPlanes(planes, work: h * ow + oh * ow) { p in
            let g = srcBase + p * oh * ow  // (OH, OW)
            let d = dstBase + p * h * w  // (H, W)
            let tmp = UnsafeMutablePointer<Float>.allocate(capacity: h * ow)  // (H, OW)
            defer { tmp.deallocate() }
            tmp.initialize(repeating: 0, count: h * ow)
            // Transpose of the H pass: tmp[ir[i,k], j] += wr[i,k] · g[i, j]
            for i in 0..<oh {
              let gRow = g + i * ow
              for k in 0..<rk {
                let t = i * rk + k
                let wt = rWeight[t]
                let tRow = tmp + Int(rIndex[t]) * ow
                for j in 0..<ow { tRow[j] += wt * gRow[j] }
              }
            }
            // Transpose of the W pass: d[y, ic[j,k]] += wc[j,k] · tmp[y, j]
            for y in 0..<h {
              let tRow = tmp + y * ow
              let dRow = d + y * w
              var t = 0
              for j in 0..<ow {
                let v = tRow[j]
                for _ in 0..<ck {
                  dRow[Int(cIndex[t])] += cWeight[t] * v
                  t &+= 1
                }
              }
            }
          }
        }
      }
    }
    return dx
  }

  /// Calls `body` with the tap indices and weights of both axes as buffers.
  private func withTaps(
    _ body: (
      UnsafeBufferPointer<Int32>, UnsafeBufferPointer<Float>, UnsafeBufferPointer<Int32>,
      UnsafeBufferPointer<Float>
    ) -> Void
  ) {
    rows.index.withUnsafeBufferPointer { rIndex in
      rows.weight.withUnsafeBufferPointer { rWeight in
        cols.index.withUnsafeBufferPointer { cIndex in
          cols.weight.withUnsafeBufferPointer { cWeight in body(rIndex, rWeight, cIndex, cWeight) }
        }
      }
    }
  }

  /// Runs `body` for each plane, on several cores when the planes are large enough to pay for
  /// it. Each plane writes only its own output, so results never depend on the thread count.
  private static func forPlanes(_ planes: Int, work: Int, _ body: (Int) -> Void) {
    if planes > 1 && work >= 16_384 {
      parallelFor(planes, body)
    } else {
      for p in 0..<planes { body(p) }
    }
  }
}
