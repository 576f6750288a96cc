/// A register-blocked matrix product for the small per-head products of attention
/// (tens to hundreds of rows), called from inside parallel loops where OpenBLAS is not used.
///
/// C (m, n) (+)= A (m, k) · B (k, n), where A is addressed with any row and column stride
/// (so Aᵀ views work), B and C have unit column stride and the given row strides. Tiles of
/// 4 rows × 8 columns keep 8 SIMD accumulators in registers of the baseline x86-64 target.
enum SmallGEMM {
  typealias V8 = SIMD8<Float>

  @inline(__always)
  private static func load8(_ p: UnsafePointer<Float>) -> V8 {
    UnsafeRawPointer(p).loadUnaligned(as: V8.self)
  }

  @inline(__always)
  private static func store8(_ v: V8, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V8.self)
  }

  /// C = A·B (`accumulate` false) or C += A·B.
  static func multiply(
    m: Int, n: Int, k: Int,
    a: UnsafePointer<Float>, aRow: Int, aCol: Int,
    b: UnsafePointer<Float>, bRow: Int,
    c: UnsafeMutablePointer<Float>, cRow: Int, accumulate: Bool
  ) {
    let n8 = n / 8 * 8
    var i = 0
    while i + 4 <= m {
      let a0 = a + i * aRow
      let a1 = a0 + aRow
      let a2 = a1 + aRow
      let a3 = a2 + aRow
      var j = 0
      while j < n8 {
        var c0 = V8()
        var c1 = V8()
        var c2 = V8()
        var c3 = V8()
        var bp = b + j
        var p = 0
        for _ in 0..<k {
          let bv = load8(bp)
          c0 += V8(repeating: a0[p]) * bv
          c1 += V8(repeating: a1[p]) * bv
          c2 += V8(repeating: a2[p]) * bv
          c3 += V8(repeating: a3[p]) * bv
          bp += bRow
          p += aCol
        }
        let cp = c + i * cRow + j
        if accumulate {
          c0 += load8(cp)
          c1 += load8(cp + cRow)
          c2 += load8(cp + 2 * cRow)
          c3 += load8(cp + 3 * cRow)
        }
        store8(c0, cp)
        store8(c1, cp + cRow)
        store8(c2, cp + 2 * cRow)
        store8(c3, cp + 3 * cRow)
        j += 8
      }
      if n8 < n { scalarBlock(i..<(i + 4), n8..<n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate) }
      i += 4
    }
    while i < m {
      let a0 = a + i * aRow
      var j = 0
      while j < n8 {
        var c0 = V8()
        var bp = b + j
        var p = 0
        for _ in 0..<k {
          c0 += V8(repeating: a0[p]) * load8(bp)
          bp += bRow
          p += aCol
        }
        let cp = c + i * cRow + j
        if accumulate { c0 += load8(cp) }
        store8(c0, cp)
        j += 8
      }
      if n8 < n { scalarBlock(i..<(i + 1), n8..<n, k, a, aRow, aCol, b, bRow, c, cRow, accumulate) }
      i += 1
    }
  }

  private static func scalarBlock(
    _ rows: Range<Int>, _ cols: Range<Int>, _ k: Int, _ a: UnsafePointer<Float>, _ aRow: Int,
    _ aCol: Int, _ b: UnsafePointer<Float>, _ bRow: Int, _ c: UnsafeMutablePointer<Float>,
    _ cRow: Int, _ accumulate: Bool
  ) {
    for i in rows {
      for j in cols {
        var s: Float = 0
        for p in 0..<k { s += a[i * aRow + p * aCol] * b[p * bRow + j] }
        c[i * cRow + j] = accumulate ? c[i * cRow + j] + s : s
      }
    }
  }
}
