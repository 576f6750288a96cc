import ExprEval

/// A small, fast, seedable random source (xoshiro256**, seeded through SplitMix64).
///
/// It is a value: copying it copies the stream, so two copies draw identical numbers. This is
/// what makes random stages reproducible and finite-difference testable. One seed per run drives
/// every draw; `fork(_:)` derives independent streams without touching the parent.
public struct SeededRandom: RandomNumberGenerator, ExprEval.RandomSource, Sendable, Equatable {
  private var s0: UInt64, s1: UInt64, s2: UInt64, s3: UInt64

  /// A stream determined entirely by `seed`.
  public init(seed: UInt64) {
    var seeder = SplitMix64(seed: seed)
    s0 = seeder.next()
    s1 = seeder.next()
    s2 = seeder.next()
    s3 = seeder.next()
  }

  /// The next 64 random bits.
  public mutating func next() -> UInt64 {
    let result = rotl(s1 &* 5, 7) &* 9
    let t = s1 << 17
    s2 ^= s0
    s3 ^= s1
    s1 ^= s2
    s0 ^= s3
    s2 ^= t
    s3 = rotl(s3, 45)
    return result
  }

  @inline(__always) private func rotl(_ x: UInt64, _ k: UInt64) -> UInt64 {
    (x << k) | (x >> (64 &- k))
  }

  /// An independent stream derived from this one's state and `salt`; `self` is unchanged.
  public func fork(_ salt: UInt64) -> SeededRandom {
    var copy = self
    let a = copy.next()
    return SeededRandom(seed: a ^ (salt &* 0xD1B5_4A32_D192_ED03))
  }

  /// Uniform Double in [0, 1) with 53 random bits.
  public mutating func uniform() -> Double {
    Double(next() >> 11) * 0x1.0p-53
  }

  /// Uniform Double in [a, b) (or [b, a) when b < a), like Python's `random.uniform`.
  public mutating func uniform(_ a: Double, _ b: Double) -> Double {
    a + (b - a) * uniform()
  }

  /// A standard normal sample (Box–Muller; one sample per call so streams stay simple).
  public mutating func normal() -> Double {
    var u1 = uniform()
    while u1 <= 0 { u1 = uniform() }
    let u2 = uniform()
    return (-2 * _log(u1)).squareRoot() * _cos(2 * Double.pi * u2)
  }

  /// Uniform integer in the closed range `lo...hi`.
  public mutating func integer(in range: ClosedRange<Int>) -> Int {
    Int.random(in: range, using: &self)
  }

  /// Fills `buffer` with normal samples times `std`.
  public mutating func fillNormal(_ buffer: inout [Float], std: Float = 1) {
    for i in buffer.indices { buffer[i] = Float(normal()) * std }
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) private func _log(_ x: Double) -> Double { Glibc.log(x) }
  @inline(__always) private func _cos(_ x: Double) -> Double { Glibc.cos(x) }
#else
  import Foundation
  @inline(__always) private func _log(_ x: Double) -> Double { Foundation.log(x) }
  @inline(__always) private func _cos(_ x: Double) -> Double { Foundation.cos(x) }
#endif
