import Foundation

/// Small vector helpers for the kernels: unaligned SIMD loads/stores, dot products, a
/// vectorised exp. All take raw pointers; callers own the bounds.
enum VectorMath {
  typealias V = SIMD16<Float>

  @inline(__always)
  static func load(_ p: UnsafePointer<Float>) -> V {
    UnsafeRawPointer(p).loadUnaligned(as: V.self)
  }

  @inline(__always)
  static func store(_ v: V, _ p: UnsafeMutablePointer<Float>) {
    UnsafeMutableRawPointer(p).storeBytes(of: v, as: V.self)
  }

  /// Σ a[i]·b[i] for i < n.
  @inline(__always)
  static func dot(_ a: UnsafePointer<Float>, _ b: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc0 = V()
    var acc1 = V()
    var i = 0
    while i + 32 <= n {
      acc0 += load(a + i) * load(b + i)
      acc1 += load(a + i + 16) * load(b + i + 16)
      i += 32
    }
    if i + 16 <= n {
      acc0 += load(a + i) * load(b + i)
      i += 16
    }
    var s = (acc0 + acc1).sum()
    while i < n {
      s += a[i] * b[i]
      i += 1
    }
    return s
  }

  /// y[i] += alpha · x[i] for i < n.
  @inline(__always)
  static func axpy(
    _ alpha: Float, _ x: UnsafePointer<Float>, _ y: UnsafeMutablePointer<Float>, _ n: Int
  ) {
    let a = V(repeating: alpha)
    var i = 0
    while i + 16 <= n {
      var v = load(y + i)
      v += a * load(x + i)
      store(v, y + i)
      i += 16
    }
    while i < n {
      y[i] += alpha * x[i]
      i += 1
    }
  }

  /// Σ x[i] for i < n.
  @inline(__always)
  static func sum(_ x: UnsafePointer<Float>, _ n: Int) -> Float {
    var acc = V()
    var i = 0
    while i + 16 <= n {
      acc += load(x + i)
      i += 16
    }
    var s = acc.sum()
    while i < n {
      s += x[i]
      i += 1
    }
    return s
  }

  /// eˣ per lane (max relative error 9e-8 on [-87, 88]): x = n·ln2 + r with |r| ≤ ln2/2, e^r by its degree-7 Taylor polynomial
  /// (truncation error below 1e-8 relative), 2ⁿ assembled in the exponent bits.
  @inline(__always)
  static func exp(_ x: V) -> V {
    // (Element-wise min/max and rounding on SIMD types compile to scalar loops; comparisons
    // with `replace` and the 1.5·2²³ rounding trick stay vectorised. No `addProduct`: without
    // hardware FMA in the baseline target it becomes a libm call per lane.)
    var clamped = x
    clamped.replace(with: V(repeating: -87), where: clamped .< V(repeating: -87))
    clamped.replace(with: V(repeating: 88), where: clamped .> V(repeating: 88))
    let magic = V(repeating: 12_582_912)
    let t = clamped * V(repeating: 1.442_695_04) + magic
    let n = t - magic
    // ln 2 split in a part exact in Float and the remainder (Cody–Waite reduction).
    var r = clamped - n * V(repeating: 0.693_145_75)
    r = r - n * V(repeating: 1.428_606_8e-6)
    var p = V(repeating: 1.0 / 5040)
    p = p * r + V(repeating: 1.0 / 720)
    p = p * r + V(repeating: 1.0 / 120)
    p = p * r + V(repeating: 1.0 / 24)
    p = p * r + V(repeating: 1.0 / 6)
    p = p * r + V(repeating: 0.5)
    p = p * r + V(repeating: 1)
    p = p * r + V(repeating: 1)
    let bits = (unsafeBitCast(t, to: SIMD16<Int32>.self) &- 0x4B40_0000 &+ 127) &<< 23
    return p * unsafeBitCast(bits, to: V.self)
  }

  /// eˣ for a scalar through the vector path (same rounding as the vector lanes).
  @inline(__always)
  static func exp(_ x: Float) -> Float { exp(V(repeating: x))[0] }
}
