import Foundation
import Testing

/// llm.c-style comparison of a computed tensor with its reference: prints the first pairs,
/// max |Δ|, max |Δ| relative to max |ref|, the norm-relative error and the cosine.
public struct Comparison: CustomStringConvertible {
  /// What is compared, as the report names it.
  public var name: String
  /// The number of elements.
  public var count: Int
  /// max |ours − ref|.
  public var maxAbs: Double
  /// max |ref|.
  public var maxRef: Double
  /// ‖ours − ref‖ / ‖ref‖.
  public var relativeNorm: Double
  /// The cosine between ours and ref.
  public var cosine: Double
  /// The first (ours, ref) pairs, for the report.
  public var firstPairs: [(Float, Float)]

  /// max |Δ| / max |ref|.
  public var maxRelative: Double { maxRef > 0 ? maxAbs / maxRef : maxAbs }

  /// Compares `ours` with `ref` (the same number of elements).
  public init(_ name: String, _ ours: [Float], _ ref: [Float]) {
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

  /// One line: the figures and the first pairs.
  public var description: String {
    let pairs = firstPairs.map { String(format: "%.6g/%.6g", Double($0.0), Double($0.1)) }
      .joined(separator: " ")
    return String(
      format:
        "%@ [%d]: max|Δ| %.3e (%.3e of max|ref|), rel norm %.3e, cosine %.9f; first ours/ref: %@",
      name, count, maxAbs, maxRelative, relativeNorm, cosine, pairs)
  }

  /// Prints the report and records an issue when the relative error exceeds `tolerance`.
  @discardableResult
  public func check(
    maxRelative tolerance: Double, sourceLocation: SourceLocation = #_sourceLocation
  )
    -> Comparison
  {
    print(description)
    #expect(maxRelative < tolerance, "\(self)", sourceLocation: sourceLocation)
    return self
  }
}
