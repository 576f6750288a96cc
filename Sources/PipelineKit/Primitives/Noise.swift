/// Fast, reproducible Gaussian noise fields for the noise stages.
///
/// A field takes one 64-bit draw from the caller's stream and fills the buffer from
/// independent sub-streams of fixed-size chunks, in parallel. The result depends only on that
/// draw, never on the number of cores, so a copied context reproduces it bit for bit.
///
/// Samples come from a 256-layer ziggurat (`Ziggurat`): each 64-bit draw of a sub-stream gives
/// two candidates of 32 bits (8 for the layer, 1 for the sign, 23 for the position in the
/// layer); about 99 % of them are accepted with one comparison and one multiplication, the
/// rest go through the exact wedge and tail tests (Marsaglia & Tsang's method).
public enum NormalNoise {
  /// Samples per independent sub-stream.
  static let chunk = 8192

  /// Fills `buffer` with N(0, std²) samples, drawing one number from `random`.
  public static func fill(
    _ buffer: UnsafeMutableBufferPointer<Float>, std: Float = 1, random: inout SeededRandom
  ) {
    fill(buffer, planes: 1, std: [std], random: &random)
  }

  /// Fills `buffer`, cut into `planes` equal planes, with N(0, std[p]²) samples in plane p,
  /// drawing one number from `random` per plane in order: the same samples as filling the
  /// planes one after the other, with all their chunks spread over the cores at once.
  public static func fill(
    _ buffer: UnsafeMutableBufferPointer<Float>, planes: Int, std: [Float],
    random: inout SeededRandom
  ) {
    precondition(planes > 0 && buffer.count % planes == 0, "NormalNoise: \(planes) planes")
    precondition(std.count == planes, "NormalNoise: \(std.count) stds for \(planes) planes")
    let seeds = (0..<planes).map { _ in random.next() }
    let count = buffer.count / planes
    guard count > 0, let base = buffer.baseAddress else { return }
    let chunks = (count + chunk - 1) / chunk  // per plane
    let out = UncheckedSendableBox(base)
    let body: (Int) -> Void = { job in
      let (p, c) = job.quotientAndRemainder(dividingBy: chunks)
      let start = c * chunk
      fillChunk(
        out.value + p * count + start, count: min(chunk, count - start), std: std[p],
        seed: seeds[p], index: c)
    }
    if planes * chunks > 1 { parallelFor(planes * chunks, body) } else { body(0) }
  }

  /// A new array of `count` N(0, std²) samples, drawing one number from `random`.
  public static func array(count: Int, std: Float = 1, random: inout SeededRandom) -> [Float] {
    [Float](unsafeUninitializedCapacity: count) { buffer, initialized in
      fill(buffer, std: std, random: &random)
      initialized = count
    }
  }

  /// Fills `count` (at most `chunk`) samples of chunk `index` from its own sub-stream.
  ///
  /// Two passes: the stream's bits first (one 32-bit candidate per sample, a serial chain), then
  /// the ziggurat per sample (independent, so the loop pipelines); the rare rejected candidate
  /// is replaced from the same stream, in order, so the result stays deterministic.
  private static func fillChunk(
    _ p: UnsafeMutablePointer<Float>, count: Int, std: Float, seed: UInt64, index: Int
  ) {
    var rng = SeededRandom(seed: seed ^ (UInt64(index) &* 0x9E37_79B9_7F4A_7C15))
    let z = Ziggurat.shared
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: count) { candidates in  // (count,)
      var g = rng  // a local copy keeps the state in registers
      var k = 0
      while k + 1 < count {
        let bits = g.next()
        candidates[k] = UInt32(truncatingIfNeeded: bits)
        candidates[k + 1] = UInt32(truncatingIfNeeded: bits >> 32)
        k += 2
      }
      if k < count { candidates[k] = UInt32(truncatingIfNeeded: g.next()) }
      rng = g
      z.threshold.withUnsafeBufferPointer { threshold in
        withUnsafeTemporaryAllocation(of: Float.self, capacity: Ziggurat.layers) { scale in
          // (L,): the sample per unit of the 23-bit position in each layer, times std.
          for j in 0..<Ziggurat.layers { scale[j] = z.step[j] * std }
          for i in 0..<count {
            let b = candidates[i]
            let j = Int(b & 0xFF)
            let u = b >> 9
            if u < threshold[j] {
              let sign = (b & 0x100) << 23  // bit 8 moved to the float's sign bit
              p[i] = Float(bitPattern: (Float(u) * scale[j]).bitPattern | sign)
            } else {
              p[i] = z.replacement(for: b, threshold: threshold, std: std, random: &rng)
            }
          }
        }
      }
    }
  }
}

/// The tables of a 256-layer ziggurat for the half-normal density f(x) = exp(−x²/2)
/// (Marsaglia & Tsang's construction), computed once.
///
/// Layer 0 is the rectangle [0, r] × [0, f(r)] together with the tail beyond r; layer j ≥ 1 is
/// [0, x_j] × [f(x_j), f(x_{j+1})]. All have the same area v, so a uniformly chosen layer and a
/// uniform point u·x_j in it give a sample from f whenever the point lies under the curve:
/// always when u·x_j < x_{j+1} (the fast path), otherwise after a test against f in the wedge
/// or, in layer 0, by sampling the tail exactly.
struct Ziggurat: Sendable {
  /// Number of layers (8 bits of a candidate).
  static let layers = 256
  /// The right edge of the base rectangle.
  static let r = 3.6541528853610088
  /// The shared tables.
  static let shared = Ziggurat()

  /// Right edges x_j, `(L + 1,)`: x_0 = v/f(r) (layer 0's width including its tail), x_1 = r,
  /// …, x_L = 0.
  let edge: [Double]
  /// f(x_j), `(L + 1,)`, with f(x_L) = 1.
  let height: [Double]
  /// ⌊x_{j+1}/x_j · 2²³⌋, `(L,)`: positions below it lie under the curve.
  let threshold: [UInt32]
  /// x_j · 2⁻²³ as Float, `(L,)`: the sample per unit of the 23-bit position.
  let step: [Float]

  init() {
    let n = Self.layers
    let r = Self.r
    let fr = gaussianExp(-0.5 * r * r)
    let area = r * fr + (Double.pi / 2).squareRoot() * zigguratErfc(r / 2.0.squareRoot())
    var x = [Double](repeating: 0, count: n + 1)
    x[0] = area / fr
    x[1] = r
    for j in 1..<(n - 1) {
      x[j + 1] = (-2 * zigguratLog(gaussianExp(-0.5 * x[j] * x[j]) + area / x[j])).squareRoot()
    }
    x[n] = 0
    edge = x
    height = x.map { gaussianExp(-0.5 * $0 * $0) }
    threshold = (0..<n).map { UInt32((x[$0 + 1] / x[$0] * 0x1p23).rounded(.down)) }
    step = (0..<n).map { Float(x[$0] * 0x1p-23) }
  }

  /// The sample for a 32-bit candidate `b` (bits 0–7 the layer, bit 8 the sign, bits 9–31 the
  /// position in the layer) that missed the fast path: its wedge or tail test, and while that
  /// rejects, fresh candidates from `random` (fast path first). `threshold` is `self.threshold`.
  @inline(never)
  func replacement(
    for b: UInt32, threshold: UnsafeBufferPointer<UInt32>, std: Float,
    random: inout SeededRandom
  ) -> Float {
    var b = b
    while true {
      let j = Int(b & 0xFF)
      let u = b >> 9
      let sign = (b & 0x100) << 23
      if u < threshold[j] {
        return Float(bitPattern: (Float(u) * (step[j] * std)).bitPattern | sign)
      }
      if let x = slowPath(layer: j, position: u, random: &random) {
        return Float(bitPattern: (x * std).bitPattern | sign)
      }
      b = UInt32(truncatingIfNeeded: random.next())
    }
  }

  /// The magnitude for a candidate that missed the fast path (layer `j`, 23-bit `position`),
  /// or nil when it is rejected; draws further uniforms from `random` as needed.
  func slowPath(layer j: Int, position u: UInt32, random: inout SeededRandom) -> Float? {
    if j == 0 {
      // The tail beyond r (Marsaglia): a = −ln(u₁)/r, b = −ln(u₂) until 2b > a²; r + a.
      while true {
        let a = -zigguratLog(Self.openUniform(&random)) / Self.r
        let b = -zigguratLog(Self.openUniform(&random))
        if 2 * b > a * a { return Float(Self.r + a) }
      }
    }
    let x = Double(u) * edge[j] * 0x1p-23
    let y = height[j] + random.uniform() * (height[j + 1] - height[j])
    return y < gaussianExp(-0.5 * x * x) ? Float(x) : nil
  }

  /// A uniform Double in (0, 1] (never 0, so its logarithm is finite).
  private static func openUniform(_ random: inout SeededRandom) -> Double {
    Double((random.next() >> 11) + 1) * 0x1.0p-53
  }
}

/// CLIPig's `fnoise` shaping, without the FFT (as in CLIPig).
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
  @inline(__always) private func zigguratLog(_ x: Double) -> Double { Glibc.log(x) }
  @inline(__always) private func zigguratErfc(_ x: Double) -> Double { Glibc.erfc(x) }
#else
  import Foundation
  @inline(__always) private func zigguratLog(_ x: Double) -> Double { Foundation.log(x) }
  @inline(__always) private func zigguratErfc(_ x: Double) -> Double { Foundation.erfc(x) }
#endif
