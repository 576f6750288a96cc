import CLIP
import Foundation
import PipelineKit
import Testing

/// The bf16 arithmetic: conversion against a Double-arithmetic reference of round-to-nearest-
/// even, and the GEMM against a Double reference on bf16-rounded inputs — on the emulated path
/// on every machine, and on the AVX512_BF16 microkernel where the CPU has it.
@Suite struct BFloat16Tests {
  /// The bf16 nearest to `x` by exact Double distances, ties to the even significand; NaN
  /// quietened with its sign; overflow by the same rule to ±∞ (bf16's largest finite value
  /// plus half an ulp rounds up).
  static func referenceRound(_ x: Float) -> UInt16 {
    let bits = x.bitPattern
    if x.isNaN { return UInt16(bits >> 16) | 0x0040 }
    if x.isInfinite { return UInt16(bits >> 16) }
    let down = UInt16(bits >> 16)  // truncation: toward zero
    let up = down &+ 1  // next bf16 away from zero (0x7f80 = ∞ past the largest)
    func value(_ b: UInt16) -> Double {
      if b & 0x7fff == 0x7f80 {
        // ∞ stands at the next binade's first value for the distance rule.
        return (b & 0x8000 != 0 ? -1 : 1) * 0x1p128
      }
      return Double(Float(bitPattern: UInt32(b) << 16))
    }
    let dDown = abs(Double(x) - value(down))
    let dUp = abs(Double(x) - value(up))
    if dDown < dUp { return down }
    if dUp < dDown { return up }
    return down & 1 == 0 ? down : up
  }

  @Test func conversionRoundsToNearestEvenAndKeepsSpecials() {
    let cases: [(Float, UInt16)] = [
      (1, 0x3f80), (-2, 0xc000), (0, 0), (-0.0, 0x8000),
      (Float(bitPattern: 0x3f80_8000), 0x3f80),  // tie, even below
      (Float(bitPattern: 0x3f81_8000), 0x3f82),  // tie, even above
      (Float(bitPattern: 0x3f80_8001), 0x3f81),  // just past the tie
      (Float(bitPattern: 0x3f80_7fff), 0x3f80),
      (.infinity, 0x7f80), (-.infinity, 0xff80),
      (.greatestFiniteMagnitude, 0x7f80),  // rounds up past bf16's largest: ∞
      (Float(bitPattern: 0x7f7f_7fff), 0x7f7f),  // just below the tie: largest finite bf16
      (Float(bitPattern: 0x0000_8000), 0x0000),  // subnormal tie, even below
      (Float(bitPattern: 0x0001_8000), 0x0002),  // subnormal tie, even above
      (Float(bitPattern: 0x8000_0001), 0x8000),
    ]
    for (x, bits) in cases {
      #expect(
        BFloat16.round(x) == bits, "round(\(x.bitPattern)) = \(BFloat16.round(x)), not \(bits)")
    }
    // NaNs: stay NaN, keep the sign, become quiet (a signalling NaN whose payload sits in the
    // low half would otherwise turn into ∞).
    for nanBits: UInt32 in [0x7fc0_0000, 0x7f80_0001, 0xff80_0001, 0x7fbf_ffff, 0xffc1_2345] {
      let r = BFloat16.round(Float(bitPattern: nanBits))
      #expect(BFloat16.widen(r).isNaN)
      #expect(r & 0x8000 == UInt16(nanBits >> 16) & 0x8000)
      #expect(r & 0x0040 != 0)
    }
    // Random bit patterns (every class of float) against the Double reference.
    var rng = SeededRandom(seed: 28)
    for _ in 0..<200_000 {
      let x = Float(bitPattern: UInt32(truncatingIfNeeded: rng.next()))
      #expect(BFloat16.round(x) == Self.referenceRound(x), "bits \(x.bitPattern)")
      if BFloat16.round(x) != Self.referenceRound(x) { return }
    }
    // The bulk conversion is the same function.
    let values = (0..<1000).map { _ in Float(rng.normal() * 100) } + [.nan, .infinity, -0.0]
    var out = [UInt16](repeating: 0, count: values.count)
    values.withUnsafeBufferPointer { v in
      out.withUnsafeMutableBufferPointer {
        BFloat16.convert(v.baseAddress!, into: $0.baseAddress!, count: v.count)
      }
    }
    #expect(out == values.map { Self.referenceRound($0) })
  }

  /// The paths to check here: the emulation always, the microkernel where the CPU has it.
  static var paths: [BF16Path] {
    BFloat16.hasNativeDotProducts ? [.emulated, .native] : [.emulated]
  }

  /// One GEMM of the bf16 kernel against Double sums of the bf16-rounded inputs, with the
  /// fp32-accumulation bound |Δ| ≤ (k + 2)·2⁻²⁴·Σ|a·b| (+ the beta term's rounding).
  static func checkGEMM(
    path: BF16Path, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float,
    beta: Float, bf16A: Bool, bf16B: Bool, seed: UInt64
  ) -> Bool {
    var rng = SeededRandom(seed: seed)
    let (ra, ca) = transA ? (k, m) : (m, k)
    let (rb, cb) = transB ? (n, k) : (k, n)
    let lda = ca + 3
    let ldb = cb + 1
    let ldc = n + 2
    var a = (0..<(ra * lda)).map { _ in Float(rng.normal()) }
    var b = (0..<(rb * ldb)).map { _ in Float(rng.normal()) }
    var c = (0..<(m * ldc)).map { _ in Float(rng.normal()) }
    if beta == 0 { c = c.map { _ in .nan } }  // beta 0 must not read C
    let a16 = a.map { BFloat16.round($0) }
    let b16 = b.map { BFloat16.round($0) }
    func ea(_ i: Int, _ l: Int) -> Double {
      Double(BFloat16.widen(a16[transA ? l * lda + i : i * lda + l]))
    }
    func eb(_ l: Int, _ j: Int) -> Double {
      Double(BFloat16.widen(b16[transB ? j * ldb + l : l * ldb + j]))
    }
    let c0 = c
    a.withUnsafeMutableBufferPointer { ap in
      b.withUnsafeMutableBufferPointer { bp in
        a16.withUnsafeBufferPointer { a16p in
          b16.withUnsafeBufferPointer { b16p in
            c.withUnsafeMutableBufferPointer { cp in
              let opA = GEMMOperand(
                UnsafePointer(ap.baseAddress!), bf16: bf16A ? a16p.baseAddress : nil, path: path)
              let opB = GEMMOperand(
                UnsafePointer(bp.baseAddress!), bf16: bf16B ? b16p.baseAddress : nil, path: path)
              BFloat16.gemm(
                path: path, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
                a: opA, lda: lda, b: opB, ldb: ldb, beta: beta, c: cp.baseAddress!, ldc: ldc)
            }
          }
        }
      }
    }
    for i in 0..<m {
      for j in 0..<n {
        var sum = 0.0
        var size = 0.0
        for l in 0..<k {
          let p = ea(i, l) * eb(l, j)
          sum += p
          size += abs(p)
        }
        let prior = beta == 0 ? 0 : Double(beta) * Double(c0[i * ldc + j])
        let expected = Double(alpha) * sum + prior
        let bound =
          Double(k + 2) * 0x1p-24 * abs(Double(alpha)) * size + 0x1p-23 * abs(prior) + 1e-30
        let got = Double(c[i * ldc + j])
        if !(abs(got - expected) <= bound) {
          Issue.record(
            "\(path) tA \(transA) tB \(transB) \(m)×\(n)×\(k) C[\(i),\(j)] = \(got), expected \(expected) ± \(bound)"
          )
          return false
        }
      }
      // Columns past n (padding) untouched.
      for j in n..<ldc where !(c[i * ldc + j].isNaN && c0[i * ldc + j].isNaN) {
        if c[i * ldc + j] != c0[i * ldc + j] {
          Issue.record("\(path): wrote C[\(i),\(j)] outside the matrix")
          return false
        }
      }
    }
    return true
  }

  @Test(arguments: [false, true])
  func gemmMatchesDoubleReference(transA: Bool) {
    // Edges of the 12×32 tile and of the 256-deep k blocks, odd k, both operand kinds.
    let shapes: [(Int, Int, Int)] = [
      (1, 1, 1), (5, 7, 3), (12, 32, 2), (13, 33, 17), (25, 70, 257), (40, 65, 520), (3, 100, 9),
    ]
    var seed: UInt64 = transA ? 1000 : 0
    for path in Self.paths {
      for (m, n, k) in shapes {
        for transB in [false, true] {
          for (bf16A, bf16B) in [(false, false), (true, false), (false, true), (true, true)] {
            seed += 1
            let (alpha, beta): (Float, Float) =
              seed % 3 == 0 ? (0.5, 1) : seed % 3 == 1 ? (1, 0) : (2, -0.75)
            if !Self.checkGEMM(
              path: path, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha,
              beta: beta, bf16A: bf16A, bf16B: bf16B, seed: seed)
            {
              return
            }
          }
        }
      }
    }
  }

  @Test func gemmSplitsOverCoresLikeOneCall() {
    // Large enough to be split (by columns, and by rows when there are few columns): every
    // part agrees with the Double reference.
    for path in Self.paths {
      #expect(
        Self.checkGEMM(
          path: path, transA: false, transB: true, m: 70, n: 300, k: 130, alpha: 1, beta: 0,
          bf16A: false, bf16B: true, seed: 7))
      #expect(
        Self.checkGEMM(
          path: path, transA: true, transB: false, m: 300, n: 20, k: 400, alpha: 1, beta: 1,
          bf16A: true, bf16B: false, seed: 8))
    }
  }

  @Test func subnormalInputsCountAsZeroAndNaNPropagates() {
    // vdpbf16ps reads bf16 subnormals as zero; the emulation does the same.
    for path in Self.paths {
      var a: [Float] = [Float(bitPattern: 0x0040_0000), 1]  // a bf16 subnormal, 1
      var b: [Float] = [1e30, 3]
      var c: [Float] = [0]
      a.withUnsafeMutableBufferPointer { ap in
        b.withUnsafeMutableBufferPointer { bp in
          c.withUnsafeMutableBufferPointer { cp in
            BFloat16.gemm(
              path: path, transA: false, transB: false, m: 1, n: 1, k: 2,
              a: GEMMOperand(UnsafePointer(ap.baseAddress!), path: path), lda: 2,
              b: GEMMOperand(UnsafePointer(bp.baseAddress!), path: path), ldb: 1,
              c: cp.baseAddress!, ldc: 1)
          }
        }
      }
      #expect(c == [3], "\(path)")
      a = [.nan, 1]
      a.withUnsafeMutableBufferPointer { ap in
        b.withUnsafeMutableBufferPointer { bp in
          c.withUnsafeMutableBufferPointer { cp in
            BFloat16.gemm(
              path: path, transA: false, transB: false, m: 1, n: 1, k: 2,
              a: GEMMOperand(UnsafePointer(ap.baseAddress!), path: path), lda: 2,
              b: GEMMOperand(UnsafePointer(bp.baseAddress!), path: path), ldb: 1,
              c: cp.baseAddress!, ldc: 1)
          }
        }
      }
      #expect(c[0].isNaN, "\(path)")
    }
  }

  @Test func precisionSettingResolvesByCPU() {
    #expect(CLIPPrecision.fp32.resolve(nativeBF16: true).path == nil)
    #expect(CLIPPrecision.auto.resolve(nativeBF16: true, bf16Faster: true).path == .native)
    #expect(CLIPPrecision.auto.resolve(nativeBF16: true, bf16Faster: false).path == nil)
    #expect(
      CLIPPrecision.auto.resolve(nativeBF16: false) == .init(requested: .auto, path: nil, note: nil)
    )
    #expect(CLIPPrecision.bf16.resolve(nativeBF16: true).path == .native)
    let forced = CLIPPrecision.bf16.resolve(nativeBF16: false)
    #expect(forced.path == nil && forced.used == "fp32")
    #expect(forced.note?.contains("running fp32") == true)
  }
}
