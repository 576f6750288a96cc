import CLIP
import Foundation
import PipelineKit
import TestSupport
import Testing

/// The ResNet tower's kernels: forward against naive Double references, backward by finite
/// differences (`GradientCheck`), batch-norm folding against the unfolded batch norm.
@Suite struct ResNetKernelTests {
  // MARK: Convolution

  /// Naive (Cout, N, Ho, Wo) convolution of x (Cin, N, H, W) in Double.
  static func naiveConvolution(_ x: [Float], _ w: [Float], _ s: ConvolutionShape) -> [Float] {
    let (ho, wo, k) = (s.outHeight, s.outWidth, s.kernel)
    var out = [Float](repeating: 0, count: s.outputCount)
    for o in 0..<s.outChannels {
      for n in 0..<s.batch {
        for y in 0..<ho {
          for xo in 0..<wo {
            var acc = 0.0
            for c in 0..<s.inChannels {
              for ky in 0..<k {
                for kx in 0..<k {
                  let iy = y * s.stride + ky - s.padding
                  let ix = xo * s.stride + kx - s.padding
                  guard iy >= 0, iy < s.height, ix >= 0, ix < s.width else { continue }
                  let xv = x[((c * s.batch + n) * s.height + iy) * s.width + ix]
                  acc += Double(xv) * Double(w[((o * s.inChannels + c) * k + ky) * k + kx])
                }
              }
            }
            out[((o * s.batch + n) * ho + y) * wo + xo] = Float(acc)
          }
        }
      }
    }
    return out
  }

  static func convolution(_ x: [Float], _ w: [Float], _ s: ConvolutionShape) -> [Float] {
    var out = [Float](repeating: 0, count: s.outputCount)
    var scratch = [Float](repeating: 0, count: max(1, s.scratchCount))
    var (x, w) = (x, w)
    withPointers(&x) { xp in
      withPointers(&w) { wp in
        withPointers(&out) { op in
          withPointers(&scratch) { sp in
            CLIPKernels.convolutionForward(x: xp, weight: wp, out: op, shape: s, scratch: sp)
          }
        }
      }
    }
    return out
  }

  static func convolutionBackward(_ v: [Float], _ w: [Float], _ s: ConvolutionShape) -> [Float] {
    var dx = [Float](repeating: 7, count: s.inputCount)  // overwritten
    var scratch = [Float](repeating: 0, count: max(1, s.scratchCount))
    var (v, w) = (v, w)
    withPointers(&v) { vp in
      withPointers(&w) { wp in
        withPointers(&dx) { dp in
          withPointers(&scratch) { sp in
            CLIPKernels.convolutionBackward(
              dOut: vp, weight: wp, dX: dp, shape: s, scratch: s.isPointwise ? nil : sp)
          }
        }
      }
    }
    return dx
  }

  /// The largest error against the Double reference, relative to its largest value: Float
  /// rounding for the direct convolution; for Winograd's F(4×4, 3×3) a few times more, as its
  /// transforms sum products with coefficients up to 8 (a wrong coefficient errs by O(1)).
  static func tolerance(_ s: ConvolutionShape) -> Double { s.usesWinograd ? 5e-6 : 1e-6 }

  struct ConvCase: Sendable, CustomStringConvertible {
    var cin, cout, side, kernel, stride, padding: Int
    var limit = 1 << 22
    var width: Int? = nil
    var algorithm = ConvolutionAlgorithm.automatic
    var description: String {
      "\(cin)→\(cout) \(side)×\(width ?? side) k\(kernel) s\(stride) p\(padding)"
        + (limit < 1 << 22 ? " chunked" : "")
        + (algorithm == .im2col ? " im2col" : kernel == 3 && stride == 1 ? " Winograd" : "")
    }
  }

  static let convCases: [ConvCase] = [
    .init(cin: 3, cout: 4, side: 9, kernel: 3, stride: 2, padding: 1),  // the stem's first
    .init(cin: 5, cout: 6, side: 7, kernel: 3, stride: 1, padding: 1),
    .init(cin: 5, cout: 6, side: 7, kernel: 3, stride: 1, padding: 1, limit: 5 * 9 * 7 * 3),
    .init(cin: 5, cout: 6, side: 7, kernel: 3, stride: 1, padding: 1, algorithm: .im2col),
    .init(
      cin: 5, cout: 6, side: 7, kernel: 3, stride: 1, padding: 1, limit: 5 * 9 * 7 * 3,
      algorithm: .im2col),
    // Winograd F(4×4, 3×3): sides of every remainder mod 4 (partial tiles), wider and
    // narrower, chunked.
    .init(cin: 4, cout: 3, side: 8, kernel: 3, stride: 1, padding: 1, width: 5),
    .init(cin: 3, cout: 7, side: 1, kernel: 3, stride: 1, padding: 1, width: 6),
    // Maps no larger than one tile, as the last stages of 32–128 px ResNets have them
    // (64 px: 4×4 then 2×2; 32 px: 2×2 then 1×1), at such stages' channel counts.
    .init(cin: 16, cout: 16, side: 4, kernel: 3, stride: 1, padding: 1),
    .init(cin: 64, cout: 48, side: 2, kernel: 3, stride: 1, padding: 1),
    .init(cin: 24, cout: 24, side: 1, kernel: 3, stride: 1, padding: 1),
    .init(cin: 16, cout: 20, side: 3, kernel: 3, stride: 1, padding: 1),
    // One tile row per chunk: 36 positions × (6 + 5) channels × 3 tiles.
    .init(cin: 6, cout: 5, side: 9, kernel: 3, stride: 1, padding: 1, limit: 36 * 11 * 3),
    .init(cin: 6, cout: 8, side: 5, kernel: 1, stride: 1, padding: 0),  // pointwise GEMM
  ]

  @Test(arguments: convCases)
  func convolution(_ c: ConvCase) {
    var s = ConvolutionShape(
      inChannels: c.cin, outChannels: c.cout, batch: 2, height: c.side, width: c.width ?? c.side,
      kernel: c.kernel, stride: c.stride, padding: c.padding)
    s.columnLimit = c.limit
    s.algorithm = c.algorithm
    #expect(s.usesWinograd == (c.algorithm == .automatic && c.kernel == 3 && c.stride == 1))
    var rng = TestRandom(seed: UInt64(c.cin * 31 + c.kernel))
    let x = rng.array(s.inputCount)
    let w = rng.array(c.cout * s.patchLength, scale: 0.5)
    let v = rng.array(s.outputCount)
    Comparison(
      "convolution \(c) vs Double", Self.convolution(x, w, s), Self.naiveConvolution(x, w, s)
    )
    .check(maxRelative: Self.tolerance(s))
    GradientCheck.expectPasses(
      "convolution \(c)", x: x, v: v, forward: { Self.convolution($0, w, s) },
      backward: { Self.convolutionBackward($0, w, s) })
  }

  /// `accumulate` adds to what the output holds, in both directions, for Winograd and im2col.
  @Test(arguments: [ConvolutionAlgorithm.automatic, .im2col])
  func convolutionAccumulates(_ algorithm: ConvolutionAlgorithm) {
    var s = ConvolutionShape(
      inChannels: 3, outChannels: 4, batch: 2, height: 5, width: 6, kernel: 3, padding: 1)
    s.algorithm = algorithm
    var rng = TestRandom(seed: 41)
    var x = rng.array(s.inputCount)
    var w = rng.array(s.outChannels * s.patchLength, scale: 0.5)
    var v = rng.array(s.outputCount)
    let out0 = rng.array(s.outputCount)
    let dx0 = rng.array(s.inputCount)
    var (out, dx) = (out0, dx0)
    var scratch = [Float](repeating: 0, count: s.scratchCount)
    withPointers(&x) { xp in
      withPointers(&w) { wp in
        withPointers(&v) { vp in
          withPointers(&out) { op in
            withPointers(&dx) { dp in
              withPointers(&scratch) { sp in
                CLIPKernels.convolutionForward(
                  x: xp, weight: wp, out: op, shape: s, scratch: sp, accumulate: true)
                CLIPKernels.convolutionBackward(
                  dOut: vp, weight: wp, dX: dp, shape: s, scratch: sp, accumulate: true)
              }
            }
          }
        }
      }
    }
    let forward = Self.naiveConvolution(x, w, s)
    Comparison("accumulated forward", out, zip(out0, forward).map { $0 + $1 })
      .check(maxRelative: Self.tolerance(s))
    let backward = Self.convolutionBackward(v, w, s)
    Comparison("accumulated input gradient", dx, zip(dx0, backward).map { $0 + $1 })
      .check(maxRelative: 1e-6)
  }

  // MARK: Bias + ReLU

  @Test func biasReLU() {
    let (channels, plane) = (3, 37)
    var rng = TestRandom(seed: 5)
    let b = rng.array(channels, scale: 0.3)
    let b2 = rng.array(channels, scale: 0.3)
    // Pre-activations at least 0.05 from the kink, so that finite differences see no switch.
    let x = rng.array(channels * plane).enumerated().map { i, u in
      (u < 0 ? u - 0.05 : u + 0.05) - b[i / plane] - b2[i / plane]
    }
    let v = rng.array(channels * plane)
    func forward(_ x: [Float]) -> [Float] {
      var (y, b, b2) = (x, b, b2)
      withPointers(&y) { yp in
        withPointers(&b) { bp in
          withPointers(&b2) { b2p in
            CLIPKernels.biasActivation(
              yp, bias: bp, bias2: b2p, channels: channels, plane: plane, relu: true)
          }
        }
      }
      return y
    }
    let naive = (0..<x.count).map { max(0, x[$0] + b[$0 / plane] + b2[$0 / plane]) }
    Comparison("bias + ReLU vs reference", forward(x), naive).check(maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "bias + ReLU", x: x, v: v, forward: forward,
      backward: { v in
        var (y, d) = (forward(x), v)
        withPointers(&y) { yp in
          withPointers(&d) { dp in
            CLIPKernels.reluBackward(output: yp, gradient: dp, count: x.count)
          }
        }
        return d
      })
  }

  // MARK: Average pooling

  @Test(arguments: [(8, 2), (7, 2), (9, 3)])
  func averagePool(side: Int, factor: Int) {
    let planes = 3
    let o = side / factor
    var rng = TestRandom(seed: UInt64(side))
    let x = rng.array(planes * side * side)
    let v = rng.array(planes * o * o)
    func forward(_ x: [Float]) -> [Float] {
      var (x, out) = (x, [Float](repeating: 0, count: planes * o * o))
      withPointers(&x) { xp in
        withPointers(&out) { op in
          CLIPKernels.averagePoolForward(
            x: xp, out: op, planes: planes, height: side, width: side, factor: factor)
        }
      }
      return out
    }
    var naive = [Float]()
    for p in 0..<planes {
      for y in 0..<o {
        for xo in 0..<o {
          var s = 0.0
          for dy in 0..<factor {
            for dx in 0..<factor {
              s += Double(x[(p * side + y * factor + dy) * side + xo * factor + dx])
            }
          }
          naive.append(Float(s / Double(factor * factor)))
        }
      }
    }
    Comparison("average pool \(side)/\(factor) vs Double", forward(x), naive)
      .check(maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "average pool \(side)/\(factor)", x: x, v: v, forward: forward,
      backward: { v in
        var (v, dx) = (v, [Float](repeating: 9, count: x.count))
        withPointers(&v) { vp in
          withPointers(&dx) { dp in
            CLIPKernels.averagePoolBackward(
              dOut: vp, dX: dp, planes: planes, height: side, width: side, factor: factor)
          }
        }
        return dx
      })
  }

  // MARK: Attention pool

  struct PoolWeights {
    var positions, qkvW, qkvB, projW, projB: [Float]
  }

  static func attentionPool(_ x: [Float], _ w: PoolWeights, _ s: AttentionPoolShape)
    -> (out: [Float], qkv: [Float], probs: [Float])
  {
    var (x, w) = (x, w)
    var out = [Float](repeating: 0, count: s.batch * s.outWidth)
    var tokens = [Float](repeating: 0, count: s.tokenCount)
    var qkv = [Float](repeating: 0, count: s.qkvCount)
    var probs = [Float](repeating: 0, count: s.probsCount)
    var attention = [Float](repeating: 0, count: s.attentionCount)
    withPointers(&x) { xp in
      withPointers(&w.positions) { pos in
        withPointers(&w.qkvW) { qw in
          withPointers(&w.qkvB) { qb in
            withPointers(&w.projW) { pw in
              withPointers(&w.projB) { pb in
                withPointers(&out) { op in
                  withPointers(&tokens) { tp in
                    withPointers(&qkv) { qp in
                      withPointers(&probs) { pp in
                        withPointers(&attention) { ap in
                          CLIPKernels.attentionPoolForward(
                            x: xp,
                            weights: AttentionPoolWeights(
                              positions: pos, qkvWeight: qw, qkvBias: qb, projWeight: pw,
                              projBias: pb), out: op, tokens: tp, qkv: qp, probs: pp,
                            attention: ap, shape: s)
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
      }
    }
    return (out, qkv, probs)
  }

  /// The pool written out in Double from its definition (open_clip's AttentionPool2d).
  static func naivePool(_ x: [Float], _ w: PoolWeights, _ s: AttentionPoolShape) -> [Float] {
    let (n, c, p, t, h, e) = (s.batch, s.channels, s.positions, s.tokens, s.heads, s.outWidth)
    let hd = c / h
    var out = [Float]()
    for b in 0..<n {
      var tok = [[Double]](repeating: [Double](repeating: 0, count: c), count: t)
      for ch in 0..<c {
        var sum = 0.0
        for j in 0..<p {
          let v = Double(x[(ch * n + b) * p + j])
          sum += v
          tok[1 + j][ch] = v + Double(w.positions[(1 + j) * c + ch])
        }
        tok[0][ch] = sum / Double(p) + Double(w.positions[ch])
      }
      func project(_ row: [Double], _ block: Int) -> [Double] {
        (0..<c).map { o in
          var acc = Double(w.qkvB[block * c + o])
          for i in 0..<c { acc += Double(w.qkvW[(block * c + o) * c + i]) * row[i] }
          return acc
        }
      }
      let q = project(tok[0], 0)
      let keys = tok.map { project($0, 1) }
      let values = tok.map { project($0, 2) }
      var attn = [Double](repeating: 0, count: c)
      for head in 0..<h {
        let range = (head * hd)..<((head + 1) * hd)
        let scores = keys.map { k in
          range.reduce(0.0) { $0 + q[$1] * k[$1] } / Double(hd).squareRoot()
        }
        let m = scores.max() ?? 0
        let ex = scores.map { Foundation.exp($0 - m) }
        let z = ex.reduce(0, +)
        for i in range {
          attn[i] = (0..<t).reduce(0.0) { $0 + ex[$1] / z * values[$1][i] }
        }
      }
      for o in 0..<e {
        var acc = Double(w.projB[o])
        for i in 0..<c { acc += Double(w.projW[o * c + i]) * attn[i] }
        out.append(Float(acc))
      }
    }
    return out
  }

  @Test func attentionPool() {
    let s = AttentionPoolShape(batch: 2, channels: 8, positions: 4, heads: 2, outWidth: 5)
    var rng = TestRandom(seed: 17)
    let c = s.channels
    let w = PoolWeights(
      positions: rng.array(s.tokens * c, scale: 0.5), qkvW: rng.array(3 * c * c, scale: 0.6),
      qkvB: rng.array(3 * c, scale: 0.2), projW: rng.array(s.outWidth * c, scale: 0.5),
      projB: rng.array(s.outWidth, scale: 0.2))
    let x = rng.array(c * s.batch * s.positions, scale: 1.5)
    let v = rng.array(s.batch * s.outWidth)
    Comparison("attention pool vs Double", Self.attentionPool(x, w, s).out, Self.naivePool(x, w, s))
      .check(maxRelative: 1e-5)
    GradientCheck.expectPasses(
      "attention pool", x: x, v: v, forward: { Self.attentionPool($0, w, s).out },
      backward: { v in
        var (_, qkv, probs) = Self.attentionPool(x, w, s)
        var (v, w) = (v, w)
        var dx = [Float](repeating: 3, count: x.count)
        var scratch = [Float](repeating: 0, count: s.backwardScratchCount)
        withPointers(&v) { vp in
          withPointers(&w.positions) { pos in
            withPointers(&w.qkvW) { qw in
              withPointers(&w.qkvB) { qb in
                withPointers(&w.projW) { pw in
                  withPointers(&w.projB) { pb in
                    withPointers(&qkv) { qp in
                      withPointers(&probs) { pp in
                        withPointers(&dx) { dp in
                          withPointers(&scratch) { sp in
                            CLIPKernels.attentionPoolBackward(
                              dOut: vp,
                              weights: AttentionPoolWeights(
                                positions: pos, qkvWeight: qw, qkvBias: qb, projWeight: pw,
                                projBias: pb), qkv: qp, probs: pp, dX: dp, scratch: sp, shape: s)
                          }
                        }
                      }
                    }
                  }
                }
              }
            }
          }
        }
        return dx
      })
  }

  // MARK: Batch-norm folding

  /// conv(x; folded W) + folded bias equals (conv(x; W) − mean)/√(var + ε)·γ + β.
  @Test func batchNormFolding() {
    let s = ConvolutionShape(
      inChannels: 3, outChannels: 4, batch: 2, height: 6, width: 6, kernel: 3, padding: 1)
    var rng = TestRandom(seed: 23)
    let x = rng.array(s.inputCount)
    let w = rng.array(s.outChannels * s.patchLength, scale: 0.5)
    let gamma = rng.array(4).map { 1 + 0.4 * $0 }
    let beta = rng.array(4, scale: 0.3)
    let mean = rng.array(4, scale: 0.5)
    let variance = rng.array(4).map { 0.75 + 0.5 * $0 }
    let eps: Float = 1e-5
    let raw = Self.naiveConvolution(x, w, s)
    let plane = s.outputCount / s.outChannels
    let expected = (0..<raw.count).map { i -> Float in
      let o = i / plane
      let normed =
        (Double(raw[i]) - Double(mean[o])) / (Double(variance[o]) + Double(eps)).squareRoot()
      return Float(normed * Double(gamma[o]) + Double(beta[o]))
    }
    var (folded, bias) = (w, beta)
    var (g, m, vr) = (gamma, mean, variance)
    withPointers(&folded) { wp in
      withPointers(&bias) { bp in
        withPointers(&g) { gp in
          withPointers(&m) { mp in
            withPointers(&vr) { vp in
              CLIPKernels.foldBatchNorm(
                weight: wp, gamma: gp, beta: bp, mean: mp, variance: vp, epsilon: eps,
                outChannels: 4, perOutput: s.patchLength)
            }
          }
        }
      }
    }
    var ours = Self.convolution(x, folded, s)
    withPointers(&ours) { op in
      withPointers(&bias) { bp in
        CLIPKernels.biasActivation(op, bias: bp, channels: 4, plane: plane, relu: false)
      }
    }
    Comparison("folded batch norm vs conv → batch norm", ours, expected)
      .check(maxRelative: Self.tolerance(s))
  }
}
