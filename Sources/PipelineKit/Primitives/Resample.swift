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
    var tmp = [Float](repeating: 0, count: h * ow)  // (H, OW)
    x.scalars.withUnsafeBufferPointer { src in
      out.scalars.withUnsafeMutableBufferPointer { dst in
        for p in 0..<planes {
          let s = src.baseAddress! + p * h * w
          let d = dst.baseAddress! + p * oh * ow
          // Along W: tmp[y, j] = Σ_k wc[j,k] · s[y, ic[j,k]]
          for y in 0..<h {
            for j in 0..<ow {
              var acc: Float = 0
              for k in 0..<cols.width {
                let t = j * cols.width + k
                acc += cols.weight[t] * s[y * w + Int(cols.index[t])]
              }
              tmp[y * ow + j] = acc
            }
          }
          // Along H: d[i, j] = Σ_k wr[i,k] · tmp[ir[i,k], j]
          for i in 0..<oh {
            for j in 0..<ow { d[i * ow + j] = 0 }
            for k in 0..<rows.width {
              let t = i * rows.width + k
              let wt = rows.weight[t]
              let r = Int(rows.index[t]) * ow
              for j in 0..<ow { d[i * ow + j] += wt * tmp[r + j] }
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
    var tmp = [Float](repeating: 0, count: h * ow)  // (H, OW)
    dy.scalars.withUnsafeBufferPointer { src in
      dx.scalars.withUnsafeMutableBufferPointer { dst in
        for p in 0..<planes {
          let g = src.baseAddress! + p * oh * ow
          let d = dst.baseAddress! + p * h * w
          for i in 0..<(h * ow) { tmp[i] = 0 }
          for i in 0..<oh {
            for k in 0..<rows.width {
              let t = i * rows.width + k
              let wt = rows.weight[t]
              let r = Int(rows.index[t]) * ow
              for j in 0..<ow { tmp[r + j] += wt * g[i * ow + j] }
            }
          }
          for y in 0..<h {
            for j in 0..<ow {
              let v = tmp[y * ow + j]
              for k in 0..<cols.width {
                let t = j * cols.width + k
                d[y * w + Int(cols.index[t])] += cols.weight[t] * v
              }
            }
          }
        }
      }
    }
    return dx
  }
}
