/// Fast, reproducible Gaussian noise fields for the noise stages.
///
/// A field takes one 64-bit draw from the caller's stream and fills the buffer from
/// independent sub-streams of fixed-size chunks (Marsaglia's polar method, two samples per
/// accepted pair), in parallel. The result depends only on that draw, never on the number of
/// cores, so a copied context reproduces it bit for bit.
public enum NormalNoise {
  /// Samples per independent sub-stream.
  static let chunk = 8192

  /// Fills `buffer` with N(0, std²) samples, drawing one number from `random`.
  public static func fill(
    _ buffer: UnsafeMutableBufferPointer<Float>, std: Float = 1, random: inout SeededRandom
  ) {
    let seed = random.next()
    let count = buffer.count
    guard count > 0, let base = buffer.baseAddress else { return }
    let chunks = (count + chunk - 1) / chunk
    let out = UncheckedSendableBox(base)
    let body: (Int) -> Void = { c in
      let start = c * chunk
      fillChunk(out.value + start, count: min(chunk, count - start), std: std, seed: seed, index: c)
    }
    if chunks > 1 { parallelFor(chunks, body) } else { body(0) }
  }

  /// A new array of `count` N(0, std²) samples, drawing one number from `random`.
  public static func array(count: Int, std: Float = 1, random: inout SeededRandom) -> [Float] {
    var values = [Float](repeating: 0, count: count)
    values.withUnsafeMutableBufferPointer { fill($0, std: std, random: &random) }
    return values
  }

  private static func fillChunk(
    _ p: UnsafeMutablePointer<Float>, count: Int, std: Float, seed: UInt64, index: Int
  ) {
    var rng = SeededRandom(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
    let scale: Float = 0x1.0p-31
    var i = 0
    while i < count {
      // Two uniforms in (−1, 1) from the halves of one 64-bit draw.
      let bits = rng.next()
      let u = Float(Int32(truncatingIfNeeded: bits)) * scale
      let v = Float(Int32(truncatingIfNeeded: bits >> 32)) * scale
      let s = u * u + v * v
      if s >= 1 || s == 0 { continue }
      let f = std * (-2 * noiseLog(s) / s).squareRoot()
      p[i] = u * f
      if i + 1 < count { p[i + 1] = v * f }
      i += 2
    }
  }
}

/// CLIPig's `fnoise` shaping, without the FFT (spec §5.11).
///
/// CLIPig flattens a channel into a signal of N = H·W samples, adds independent N(0, s²) noise
/// to the real and imaginary part of each of its real-FFT bins and transforms back. Because the
/// real Fourier basis is orthogonal, that noise is white Gaussian noise except that the two
/// basis vectors whose imaginary part the inverse drops — the constant (DC) one and, for even
/// N, the alternating (Nyquist) one (−1)^t — carry half the variance. So it is produced
/// exactly in O(N) from white noise w: n = α·(w − β·P·w), with P the projection onto those
/// (one or two) vectors and β = 1 − 1/√2. The distribution (its covariance) is identical to
/// CLIPig's construction, for odd N too, where CLIPig crashed.
///
/// Strength: CLIPig's per-pixel std was 15·std·√(2/N) (≈ 0.095·std at 224×224, 0.074·std at
/// 288×288). Here α is chosen so that the per-pixel std is exactly `std` at every resolution,
/// like `noise` (what CLIPig's documentation promised).
public enum FrequencyNoise {
  /// Turns white N(0, 1) noise of one flattened channel into fnoise with per-pixel std `std`,
  /// in place (a linear map).
  public static func shape(_ w: UnsafeMutableBufferPointer<Float>, std: Float) {
    let n = w.count
    guard n > 0 else { return }
    var sum = 0.0
    var alternating = 0.0
    for t in 0..<n {
      let v = Double(w[t])
      sum += v
      alternating += t & 1 == 0 ? v : -v
    }
    let even = n % 2 == 0
    let m = even ? 2.0 : 1.0  // attenuated basis vectors
    let beta = 1 - 1 / 2.0.squareRoot()
    let alpha = Double(std) / (1 - m / (2 * Double(n))).squareRoot()
    let dc = Float(beta * sum / Double(n))
    let nyquist = even ? Float(beta * alternating / Double(n)) : 0
    let a = Float(alpha)
    for t in 0..<n {
      let p = t & 1 == 0 ? dc + nyquist : dc - nyquist
      w[t] = a * (w[t] - p)
    }
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) private func noiseLog(_ x: Float) -> Float { Glibc.logf(x) }
#else
  import Foundation
  @inline(__always) private func noiseLog(_ x: Float) -> Float { Foundation.log(x) }
#endif
