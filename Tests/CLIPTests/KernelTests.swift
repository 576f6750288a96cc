import CLIP
import Foundation
import PipelineKit
import PipelineKitTesting
import TestSupport
import Testing

/// Finite-difference checks of each kernel pair (forward, backward-to-input) through the generic
/// gradient harness, and forward checks against naive Double references.
enum GradientCheck {
  /// The harness's failures for the kernel pair at `x` (flat arrays; v is unused: the harness
  /// draws its own random cotangents).
  static func failures(
    x: [Float], forward: @escaping ([Float]) -> [Float],
    backward: @escaping ([Float]) -> [Float], name: String
  ) -> [GradientCheckFailure] {
    GradientHarness.check(name, at: Tensor(shape: [x.count], scalars: x)) { input in
      let y = forward(input.scalars)
      return (
        Tensor(shape: [y.count], scalars: y),
        { dy in Tensor(shape: [input.count], scalars: backward(dy.scalars)) }
      )
    }
  }

  /// Records an issue unless the kernel pair passes the harness (norm-relative error ≤ 1e-3).
  static func expectPasses(
    _ name: String, x: [Float], v: [Float], forward: @escaping ([Float]) -> [Float],
    backward: @escaping ([Float]) -> [Float],
    sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) {
    let failures = failures(x: x, forward: forward, backward: backward, name: name)
    #expect(failures.isEmpty, "\(failures)", sourceLocation: sourceLocation)
  }
}

/// Calls `body` with mutable pointers to copies of the arrays (test convenience).
func withPointers<R>(
  _ a: inout [Float], _ body: (UnsafeMutablePointer<Float>) -> R
) -> R {
  a.withUnsafeMutableBufferPointer { body($0.baseAddress!) }
}

@Suite struct KernelTests {
  // MARK: Layer norm

  static func layerNorm(_ x: [Float], _ w: [Float], _ b: [Float], rows: Int, width: Int)
    -> (out: [Float], mean: [Float], rstd: [Float])
  {
    var out = [Float](repeating: 0, count: x.count)
    var mean = [Float](repeating: 0, count: rows)
    var rstd = [Float](repeating: 0, count: rows)
    var x = x
    var w = w
    var b = b
    withPointers(&x) { xp in
      withPointers(&w) { wp in
        withPointers(&b) { bp in
          withPointers(&out) { op in
            withPointers(&mean) { mp in
              withPointers(&rstd) { rp in
                CLIPKernels.layerNormForward(
                  x: xp, weight: wp, bias: bp, out: op, mean: mp, rstd: rp, rows: rows,
                  width: width, epsilon: 1e-5)
              }
            }
          }
        }
      }
    }
    return (out, mean, rstd)
  }

  @Test(arguments: [37, 48])
  func layerNorm(width: Int) {
    let rows = 5
    var rng = TestRandom(seed: UInt64(width))
    let x = rng.array(rows * width, scale: 2).map { $0 + 0.5 }
    let w = rng.array(width).map { 1 + 0.3 * $0 }
    let b = rng.array(width, scale: 0.3)
    let v = rng.array(rows * width)
    // Naive Double reference.
    let ours = Self.layerNorm(x, w, b, rows: rows, width: width).out
    var naive = [Float]()
    for r in 0..<rows {
      let row = x[(r * width)..<((r + 1) * width)].map(Double.init)
      let m = row.reduce(0, +) / Double(width)
      let vr = row.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(width)
      for j in 0..<width {
        naive.append(Float((row[j] - m) / (vr + 1e-5).squareRoot() * Double(w[j]) + Double(b[j])))
      }
    }
    Comparison("layer norm vs Double", ours, naive).check(maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "layer norm (width \(width))", x: x, v: v,
      forward: { Self.layerNorm($0, w, b, rows: rows, width: width).out },
      backward: { (v: [Float]) -> [Float] in
        var (_, mean, rstd) = Self.layerNorm(x, w, b, rows: rows, width: width)
        var dx = [Float](repeating: 0, count: x.count)
        var (v, x, w) = (v, x, w)
        withPointers(&v) { vp in
          withPointers(&x) { xp in
            withPointers(&mean) { mp in
              withPointers(&rstd) { rp in
                withPointers(&w) { wp in
                  withPointers(&dx) { dp in
                    CLIPKernels.layerNormBackward(
                      dOut: vp, x: xp, mean: mp, rstd: rp, weight: wp, dX: dp, rows: rows,
                      width: width)
                  }
                }
              }
            }
          }
        }
        return dx
      })
  }

  // MARK: Linear

  static func linear(_ x: [Float], _ w: [Float], _ b: [Float], rows: Int, n: Int, o: Int) -> [Float]
  {
    var out = [Float](repeating: 0, count: rows * o)
    var (x, w, b) = (x, w, b)
    withPointers(&x) { xp in
      withPointers(&w) { wp in
        withPointers(&b) { bp in
          withPointers(&out) { op in
            CLIPKernels.linearForward(
              x: xp, weight: wp, bias: bp, out: op, rows: rows, inWidth: n, outWidth: o)
          }
        }
      }
    }
    return out
  }

  @Test func linear() {
    let (rows, n, o) = (6, 20, 13)
    var rng = TestRandom(seed: 3)
    let x = rng.array(rows * n)
    let w = rng.array(o * n, scale: 0.3)
    let b = rng.array(o)
    let v = rng.array(rows * o)
    var naive = [Float]()
    for r in 0..<rows {
      for j in 0..<o {
        var s = Double(b[j])
        for i in 0..<n { s += Double(x[r * n + i]) * Double(w[j * n + i]) }
        naive.append(Float(s))
      }
    }
    Comparison("linear vs Double", Self.linear(x, w, b, rows: rows, n: n, o: o), naive)
      .check(maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "linear", x: x, v: v, forward: { Self.linear($0, w, b, rows: rows, n: n, o: o) },
      backward: { (v: [Float]) -> [Float] in
        var dx = [Float](repeating: 1, count: x.count)  // overwritten (accumulate: false)
        var (v, w) = (v, w)
        withPointers(&v) { vp in
          withPointers(&w) { wp in
            withPointers(&dx) { dp in
              CLIPKernels.linearBackward(
                dOut: vp, weight: wp, dX: dp, rows: rows, inWidth: n, outWidth: o,
                accumulate: false)
            }
          }
        }
        return dx
      })
  }

  // MARK: Attention

  struct AttentionCase: Sendable, CustomStringConvertible {
    var queries: Int
    var causal: Bool
    var description: String { "queries \(queries)\(causal ? ", causal" : "")" }
  }

  static let batch = 2
  static let tokens = 5
  static let heads = 2
  static let width = 16

  static func attention(_ qkv: [Float], _ c: AttentionCase) -> (out: [Float], probs: [Float]) {
    var out = [Float](repeating: 0, count: batch * c.queries * width)
    var probs = [Float](repeating: 0, count: batch * heads * c.queries * tokens)
    var qkv = qkv
    withPointers(&qkv) { q in
      withPointers(&out) { o in
        withPointers(&probs) { p in
          CLIPKernels.attentionForward(
            qkv: q, out: o, probs: p, batch: batch, tokens: tokens, queries: c.queries,
            heads: heads, width: width, causal: c.causal)
        }
      }
    }
    return (out, probs)
  }

  @Test(arguments: [
    AttentionCase(queries: 5, causal: false), AttentionCase(queries: 1, causal: false),
    AttentionCase(queries: 5, causal: true),
  ])
  func attention(_ c: AttentionCase) {
    let (batch, tokens, heads, width) = (Self.batch, Self.tokens, Self.heads, Self.width)
    var rng = TestRandom(seed: 5)
    let qkv = rng.array(batch * tokens * 3 * width, scale: 1.5)
    let v = rng.array(batch * c.queries * width)
    // Naive Double reference.
    let hd = width / heads
    var naive = [Float](repeating: 0, count: batch * c.queries * width)
    for b in 0..<batch {
      for h in 0..<heads {
        for i in 0..<c.queries {
          let keys = c.causal ? i + 1 : tokens
          var s = [Double]()
          for j in 0..<keys {
            var d = 0.0
            for k in 0..<hd {
              d +=
                Double(qkv[(b * tokens + i) * 3 * width + h * hd + k])
                * Double(qkv[(b * tokens + j) * 3 * width + width + h * hd + k])
            }
            s.append(d / Double(hd).squareRoot())
          }
          let m = s.max()!
          let e = s.map { Foundation.exp($0 - m) }
          let z = e.reduce(0, +)
          for k in 0..<hd {
            var o = 0.0
            for j in 0..<keys {
              o += e[j] / z * Double(qkv[(b * tokens + j) * 3 * width + 2 * width + h * hd + k])
            }
            naive[(b * c.queries + i) * width + h * hd + k] = Float(o)
          }
        }
      }
    }
    Comparison("attention vs Double (\(c))", Self.attention(qkv, c).out, naive).check(
      maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "attention (\(c))", x: qkv, v: v, forward: { Self.attention($0, c).out },
      backward: { (v: [Float]) -> [Float] in
        var probs = Self.attention(qkv, c).probs
        var dqkv = [Float](repeating: 7, count: qkv.count)  // overwritten
        var scratch = [Float](
          repeating: .nan,
          count: CLIPKernels.attentionScratchCount(
            batch: batch, tokens: tokens, queries: c.queries, heads: heads, width: width))
        var (v, qkv) = (v, qkv)
        withPointers(&v) { vp in
          withPointers(&qkv) { qp in
            withPointers(&probs) { pp in
              withPointers(&dqkv) { dp in
                withPointers(&scratch) { sp in
                  CLIPKernels.attentionBackward(
                    dOut: vp, qkv: qp, probs: pp, dQKV: dp, scratch: sp, batch: batch,
                    tokens: tokens,
                    queries: c.queries, heads: heads, width: width, causal: c.causal)
                }
              }
            }
          }
        }
        return dqkv
      })
  }

  // MARK: Activations

  static func activation(_ kind: CLIPConfig.Activation, _ x: [Float]) -> [Float] {
    let n = x.count
    var out = [Float](repeating: 0, count: n)
    var x = x
    withPointers(&x) { xp in
      withPointers(&out) { op in CLIPKernels.activationForward(kind, x: xp, out: op, count: n) }
    }
    return out
  }

  @Test(arguments: [CLIPConfig.Activation.quickGELU, .gelu])
  func activation(_ kind: CLIPConfig.Activation) {
    var rng = TestRandom(seed: 9)
    let x = rng.array(203, scale: 5)  // not a multiple of the vector width
    let v = rng.array(203)
    let naive = x.map { x -> Float in
      let d = Double(x)
      return Float(
        kind == .quickGELU
          ? d / (1 + Foundation.exp(-1.702 * d)) : 0.5 * d * (1 + erf(d / 2.0.squareRoot())))
    }
    Comparison("\(kind) vs Double", Self.activation(kind, x), naive).check(maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "\(kind)", x: x, v: v, forward: { Self.activation(kind, $0) },
      backward: { (v: [Float]) -> [Float] in
        let n = x.count
        var dx = [Float](repeating: 0, count: n)
        var (v, x) = (v, x)
        withPointers(&v) { vp in
          withPointers(&x) { xp in
            withPointers(&dx) { dp in
              CLIPKernels.activationBackward(kind, x: xp, dOut: vp, dX: dp, count: n)
            }
          }
        }
        return dx
      })
  }

  // MARK: Patch embedding

  /// Patch rearrangement + GEMM, as the encoder composes them: (2, 3, 8, 8), patch 4, width 5.
  @Test func patchEmbedding() {
    let (batch, size, patch, width) = (2, 8, 4, 5)
    let g2 = (size / patch) * (size / patch)
    let k = 3 * patch * patch
    var rng = TestRandom(seed: 13)
    let pixels = rng.array(batch * 3 * size * size)
    let w = rng.array(width * k, scale: 0.3)
    let v = rng.array(batch * g2 * width)
    func forward(_ x: [Float]) -> [Float] {
      var patches = [Float](repeating: 0, count: batch * g2 * k)
      var x = x
      withPointers(&x) { xp in
        withPointers(&patches) { pp in
          CLIPKernels.patchesForward(
            pixels: xp, patches: pp, batch: batch, size: size, patch: patch)
        }
      }
      return Self.linear(
        patches, w, [Float](repeating: 0, count: width), rows: batch * g2, n: k, o: width)
    }
    // Against a direct strided convolution in Double.
    var naive = [Float]()
    for b in 0..<batch {
      for gy in 0..<(size / patch) {
        for gx in 0..<(size / patch) {
          for o in 0..<width {
            var s = 0.0
            for ch in 0..<3 {
              for y in 0..<patch {
                for x in 0..<patch {
                  s +=
                    Double(pixels[((b * 3 + ch) * size + gy * patch + y) * size + gx * patch + x])
                    * Double(w[((o * 3 + ch) * patch + y) * patch + x])
                }
              }
            }
            naive.append(Float(s))
          }
        }
      }
    }
    Comparison("patch embedding vs Double convolution", forward(pixels), naive).check(
      maxRelative: 1e-6)
    GradientCheck.expectPasses(
      "patch embedding", x: pixels, v: v, forward: forward,
      backward: { (v: [Float]) -> [Float] in
        var dPatches = [Float](repeating: 0, count: batch * g2 * k)
        var dx = [Float](repeating: 3, count: pixels.count)
        var (v, w) = (v, w)
        withPointers(&v) { vp in
          withPointers(&w) { wp in
            withPointers(&dPatches) { dp in
              CLIPKernels.linearBackward(
                dOut: vp, weight: wp, dX: dp, rows: batch * g2, inWidth: k, outWidth: width,
                accumulate: false)
              withPointers(&dx) { xp in
                CLIPKernels.patchesBackward(
                  dPatches: dp, dPixels: xp, batch: batch, size: size, patch: patch)
              }
            }
          }
        }
        return dx
      })
  }

  // MARK: Normalisations

  @Test func clipNormalizationAndFeatureNormalization() {
    var rng = TestRandom(seed: 17)
    let x = rng.array(2 * 3 * 4 * 4).map { 0.5 + 0.5 * $0 }
    let v = rng.array(x.count)
    GradientCheck.expectPasses(
      "CLIP mean/std normalisation", x: x, v: v,
      forward: {
        CLIPImageNormalization.normalize(Tensor(shape: [2, 3, 4, 4], scalars: $0)).value.scalars
      },
      backward: {
        CLIPImageNormalization.normalize(Tensor(shape: [2, 3, 4, 4], scalars: x)).pullback(
          Tensor(shape: [2, 3, 4, 4], scalars: $0)
        ).scalars
      })
    let f = rng.array(2 * 7)
    let vf = rng.array(2 * 7)
    GradientCheck.expectPasses(
      "feature L2 normalisation", x: f, v: vf,
      forward: { CLIPFeatures.normalize(Tensor(shape: [2, 7], scalars: $0)).value.scalars },
      backward: {
        CLIPFeatures.normalize(Tensor(shape: [2, 7], scalars: f)).pullback(
          Tensor(shape: [2, 7], scalars: $0)
        ).scalars
      })
  }

  /// The harness must catch a slightly wrong backward (so tolerances cannot rot unnoticed).
  @Test func harnessRejectsWrongBackward() {
    var rng = TestRandom(seed: 19)
    let x = rng.array(50, scale: 3)
    let wrong = GradientCheck.failures(
      x: x, forward: { Self.activation(.quickGELU, $0) },
      backward: { (v: [Float]) -> [Float] in
        let n = x.count
        var dx = [Float](repeating: 0, count: n)
        var (v, x) = (v, x)
        withPointers(&v) { vp in
          withPointers(&x) { xp in
            withPointers(&dx) { dp in
              CLIPKernels.activationBackward(.quickGELU, x: xp, dOut: vp, dX: dp, count: n)
            }
          }
        }
        return dx.map { $0 * 1.01 }
      }, name: "wrong GELU backward")
    #expect(wrong.contains { $0.check == "finite differences" }, "\(wrong)")
  }
}
