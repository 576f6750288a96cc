import Foundation
import PipelineKit
import Testing

/// The normal sampler behind `noise`, `bwnoise`, `fnoise` and `rnoise` (`NormalNoise`, a
/// ziggurat): moments, tails and the shape of the distribution within statistical bounds, and
/// reproducibility. Bounds are 6 standard errors, so a correct sampler fails with probability
/// below 1e-8 per check (the seeds are fixed anyway).
@Suite("Normal noise sampler")
struct NoiseStatisticsTests {
  static let count = 1 << 21

  static let samples: [Double] = {
    var random = SeededRandom(seed: 2024)
    return NormalNoise.array(count: count, random: &random).map(Double.init)
  }()

  /// P(Z ≤ z) for a standard normal Z.
  static func phi(_ z: Double) -> Double { 0.5 * erfc(-z / 2.0.squareRoot()) }

  @Test func meanAndVarianceAreZeroAndOne() {
    let x = Self.samples
    let n = Double(x.count)
    let mean = x.reduce(0, +) / n
    let variance = x.reduce(0) { $0 + ($1 - mean) * ($1 - mean) } / (n - 1)
    let fourth = x.reduce(0) { $0 + $1 * $1 * $1 * $1 } / n
    #expect(abs(mean) < 6 / n.squareRoot(), "mean \(mean)")
    // Var(z²) = 2, Var(z⁴) = 96.
    #expect(abs(variance - 1) < 6 * (2 / n).squareRoot(), "variance \(variance)")
    #expect(abs(fourth - 3) < 6 * (96 / n).squareRoot(), "fourth moment \(fourth)")
  }

  /// Counts between quantile edges, including the tail beyond the ziggurat's base (3.654),
  /// match the normal distribution.
  @Test func histogramAndTailsMatchTheNormalDistribution() {
    let edges: [Double] = [
      -.infinity, -4.5, -3.7, -3, -2, -1, -0.5, -0.1, 0, 0.1, 0.5, 1, 2, 3, 3.7, 4.5, .infinity,
    ]
    var counts = [Int](repeating: 0, count: edges.count - 1)
    for v in Self.samples {
      var b = 0
      while b + 1 < edges.count - 1 && v >= edges[b + 1] { b += 1 }
      counts[b] += 1
    }
    let n = Double(Self.samples.count)
    for b in counts.indices {
      let p = Self.phi(edges[b + 1]) - Self.phi(edges[b])
      let expected = n * p
      let sigma = (n * p * (1 - p)).squareRoot()
      #expect(
        abs(Double(counts[b]) - expected) < 6 * sigma + 1,
        "[\(edges[b]), \(edges[b + 1])): \(counts[b]) vs \(expected)")
    }
    // Beyond 3σ on either side: 0.27 %.
    let beyond3 = Self.samples.filter { abs($0) > 3 }.count
    let p3 = 2 * Self.phi(-3)
    #expect(abs(Double(beyond3) - n * p3) < 6 * (n * p3 * (1 - p3)).squareRoot())
    #expect(Self.samples.allSatisfy { $0.isFinite && abs($0) < 8 })
  }

  /// Neighbours (the two halves of one 64-bit draw), elements a chunk apart (independent
  /// sub-streams) and consecutive signs are uncorrelated.
  @Test func samplesAreUncorrelated() {
    let x = Self.samples
    for lag in [1, 2, 8192] {
      var s = 0.0
      for i in 0..<(x.count - lag) { s += x[i] * x[i + lag] }
      let r = s / Double(x.count - lag)
      #expect(abs(r) < 6 / Double(x.count - lag).squareRoot(), "lag \(lag): \(r)")
    }
    var sameSign = 0
    for i in 1..<x.count where (x[i] > 0) == (x[i - 1] > 0) { sameSign += 1 }
    let m = Double(x.count - 1)
    #expect(abs(Double(sameSign) - m / 2) < 6 * (m / 4).squareRoot())
  }

  /// Filling several planes at once gives the samples of filling them one after the other.
  @Test func planesAtOnceEqualPlanesInTurn() {
    let plane = 20_000
    let std: [Float] = [0.1, 1, 2.5]
    var a = SeededRandom(seed: 9)
    var b = a
    var together = [Float](repeating: 0, count: 3 * plane)
    together.withUnsafeMutableBufferPointer {
      NormalNoise.fill($0, planes: 3, std: std, random: &a)
    }
    var inTurn = [Float](repeating: 0, count: 3 * plane)
    inTurn.withUnsafeMutableBufferPointer { n in
      for p in 0..<3 {
        let part = UnsafeMutableBufferPointer(rebasing: n[p * plane..<(p + 1) * plane])
        NormalNoise.fill(part, std: std[p], random: &b)
      }
    }
    #expect(together == inTurn)
    #expect(a == b)
  }

  @Test func stdScalesAndCopiesReproduce() {
    var a = SeededRandom(seed: 5)
    var b = a
    let x = NormalNoise.array(count: 100_003, std: 0.3, random: &a)
    let y = NormalNoise.array(count: 100_003, std: 0.3, random: &b)
    #expect(x == y)
    #expect(a == b)
    let variance = x.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(x.count)
    #expect(abs(variance - 0.09) < 6 * 0.09 * (2 / Double(x.count)).squareRoot())
    // One draw from the caller's stream per field, whatever its size.
    var c = SeededRandom(seed: 5)
    _ = c.next()
    #expect(c == a)
    // The next draw gives another field.
    let first = NormalNoise.array(count: 16, random: &a)
    #expect(NormalNoise.array(count: 16, random: &a) != first)
    #expect(NormalNoise.array(count: 0, random: &a).isEmpty)
    #expect(NormalNoise.array(count: 1, std: 0, random: &a) == [0])
  }
}
