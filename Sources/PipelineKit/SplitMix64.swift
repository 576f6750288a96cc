/// SplitMix64 (Steele, Lea & Flood, "Fast splittable pseudorandom number generators", 2014):
/// a 64-bit counter advanced by the golden-ratio increment 0x9E3779B97F4A7C15 and scrambled by
/// a finaliser. Not a source for experiments (that is `SeededRandom`); it seeds `SeededRandom`'s
/// state and makes reproducible test inputs, the same stream Python's scripts reproduce.
public struct SplitMix64: RandomNumberGenerator, Sendable, Equatable {
  /// The counter: the next value is `mix(state &+ increment)`.
  public var state: UInt64

  /// The golden-ratio increment of the counter.
  @inlinable public static var increment: UInt64 { 0x9E37_79B9_7F4A_7C15 }

  /// A stream starting after `seed`.
  @inlinable public init(seed: UInt64) { state = seed }

  /// SplitMix64's finaliser: a bijection of 64-bit words that spreads every input bit over the
  /// output (also usable alone on a counter, as `DeterministicWeights` does).
  @inlinable public static func mix(_ x: UInt64) -> UInt64 {
    var z = x
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }

  /// The next 64 random bits.
  @inlinable public mutating func next() -> UInt64 {
    state &+= Self.increment
    return Self.mix(state)
  }
}
