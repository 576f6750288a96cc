import Foundation
import Testing

/// Paths of the committed fixtures (Tests/CLIPTests/Fixtures).
enum Fixture {
  /// Absolute path of fixture `name`.
  static func path(_ name: String) -> String {
    guard let base = Bundle.module.resourceURL else { return "Fixtures/" + name }
    return base.appendingPathComponent("Fixtures").appendingPathComponent(name).path
  }

  /// The decoded JSON fixture `name`.
  static func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
    return try JSONDecoder().decode(T.self, from: data)
  }
}

/// True in optimised builds: big-shape checks only run there.
let isReleaseBuild: Bool = {
  #if DEBUG
    return false
  #else
    return true
  #endif
}()

/// llm.c-style comparison of a computed tensor with its reference: prints the first pairs,
/// max |Δ|, max |Δ| relative to max |ref|, the norm-relative error and the cosine.
struct Comparison: CustomStringConvertible {
  var name: String
  var count: Int
  var maxAbs: Double
  var maxRef: Double
  var relativeNorm: Double
  var cosine: Double
  var firstPairs: [(Float, Float)]

  /// max |Δ| / max |ref|.
  var maxRelative: Double { maxRef > 0 ? maxAbs / maxRef : maxAbs }

  init(_ name: String, _ ours: [Float], _ ref: [Float]) {
    precondition(ours.count == ref.count, "\(name): \(ours.count) vs \(ref.count) elements")
    self.name = name
    count = ours.count
    var maxAbs = 0.0
    var maxRef = 0.0
    var dd = 0.0
    var rr = 0.0
    var oo = 0.0
    var or = 0.0
    for i in 0..<ours.count {
      let o = Double(ours[i])
      let r = Double(ref[i])
      maxAbs = max(maxAbs, abs(o - r))
      maxRef = max(maxRef, abs(r))
      dd += (o - r) * (o - r)
      rr += r * r
      oo += o * o
      or += o * r
    }
    self.maxAbs = maxAbs
    self.maxRef = maxRef
    relativeNorm = rr > 0 ? (dd / rr).squareRoot() : dd.squareRoot()
    cosine = oo > 0 && rr > 0 ? or / (oo * rr).squareRoot() : (oo == rr ? 1 : 0)
    firstPairs = (0..<min(4, ours.count)).map { (ours[$0], ref[$0]) }
  }

  var description: String {
    let pairs = firstPairs.map { String(format: "%.6g/%.6g", Double($0.0), Double($0.1)) }
      .joined(separator: " ")
    return String(
      format:
        "%@ [%d]: max|Δ| %.3e (%.3e of max|ref|), rel norm %.3e, cosine %.9f; first ours/ref: %@",
      name, count, maxAbs, maxRelative, relativeNorm, cosine, pairs)
  }

  /// Prints the report and records an issue when the relative error exceeds `tolerance`.
  @discardableResult
  func check(maxRelative tolerance: Double, sourceLocation: SourceLocation = #_sourceLocation)
    -> Comparison
  {
    print(description)
    #expect(maxRelative < tolerance, "\(self)", sourceLocation: sourceLocation)
    return self
  }
}

/// A deterministic pseudo-random source for test inputs (SplitMix64).
struct TestRandom {
  var state: UInt64
  init(seed: UInt64) { state = seed }
  mutating func next() -> UInt64 {
    state &+= 0x9E37_79B9_7F4A_7C15
    var z = state
    z = (z ^ (z >> 30)) &* 0xBF58_476D_1CE4_E5B9
    z = (z ^ (z >> 27)) &* 0x94D0_49BB_1331_11EB
    return z ^ (z >> 31)
  }
  /// Uniform in [−1, 1).
  mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }
  /// `n` uniform values scaled by `scale`.
  mutating func array(_ n: Int, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in uniform() * scale }
  }
}
