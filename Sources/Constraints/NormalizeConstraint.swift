import PipelineKit

/// Constraint `normalize: {min, max}` — pulls each channel's value range toward [min, max]
/// (as in CLIPig): with lo_c, hi_c the channel's extremes and d_c = hi_c − lo_c (1 if 0),
/// target = min_c + (img − lo_c)/d_c · (max_c − min_c); loss = 10 · L(img, target), the
/// target part of the gradient graph. A scalar loss; the pullback includes the paths through
/// lo and hi (shared evenly between tied extremes, as PyTorch's min/max).
public struct NormalizeConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- normalize: …`).
  public static let name = "normalize"
  /// One line for the docs.
  public static let summary =
    "Distance to the view with each channel stretched to [min, max] (×10); pullback: through the pixels and the channel extremes."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative where the extremes do not change place.
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["min": 0.1, "max": 0.9], inputRange: 0.2...0.7),
    StageExample([:], inputRange: 0.2...0.7),
    StageExample(
      ["min": "0.1 0.2 0.3", "max": 0.9, "loss": "l1"], inputShape: [3, 5, 6],
      inputRange: -0.5...1.5),
    StageExample(["min": "t/4", "max": "1-t/4"], inputShape: [3, 3, 4], inputRange: 0...0.6),
  ]

  let low: [Param<Double>]
  let high: [Param<Double>]
  let loss: ConstraintLoss

  /// Reads `min` (default 0 0 0), `max` (default 1 1 1) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    low = try parameters.list(
      "min", Double.self, lengths: [3], default: [0, 0, 0],
      doc: "target minimum per channel (R G B)")
    high = try parameters.list(
      "max", Double.self, lengths: [3], default: [1, 1, 1],
      doc: "target maximum per channel (R G B)")
    loss = try ConstraintLoss(reading: &parameters)
  }

  /// 10 · L(img, img stretched to [min, max] per channel).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let a = try context.values(low)
    let b = try context.values(high)
    let (c, h, w) = x.chw
    let n = h * w
    var lo = [Float](repeating: 0, count: c)
    var hi = [Float](repeating: 0, count: c)
    var diff = x  // (C, H, W): img − target
    for ch in 0..<c where n > 0 {
      let part = x.scalars[ch * n..<(ch + 1) * n]
      lo[ch] = part.min() ?? 0
      hi[ch] = part.max() ?? 0
      let d = hi[ch] - lo[ch]
      let r = Float(b[ch % b.count] - a[ch % a.count]) / (d == 0 ? 1 : d)
      let base = Float(a[ch % a.count])
      for i in ch * n..<(ch + 1) * n {
        diff.scalars[i] = x.scalars[i] - (base + (x.scalars[i] - lo[ch]) * r)
      }
    }
    var g = [Float](repeating: 0, count: diff.count)  // dL/d(img − target)
    let value = loss.mean(diff.scalars, factor: 10, gradient: &g)
    return (
      Tensor(scalar: Float(value)),
      { dy in
        let s = dy.scalars[0]
        var dx = Tensor(shape: x.shape)
        for ch in 0..<c where n > 0 {
          let d = hi[ch] - lo[ch]
          let flat = d == 0
          let r = Double(b[ch % b.count] - a[ch % a.count]) / Double(flat ? 1 : d)
          var dLo = 0.0
          var dHi = 0.0
          var nLo = 0
          var nHi = 0
          for i in ch * n..<(ch + 1) * n {
            let gi = Double(s * g[i])
            let t = Double(x.scalars[i] - lo[ch])
            dx.scalars[i] = Float(gi * (1 - r))
            // e = x − a − (x − lo)·r with r = (b − a)/(hi − lo).
            dLo += gi * (flat ? r : r - t * r / Double(d))
            if !flat { dHi += gi * t * r / Double(d) }
            if x.scalars[i] == lo[ch] { nLo += 1 }
            if x.scalars[i] == hi[ch] { nHi += 1 }
          }
          for i in ch * n..<(ch + 1) * n {
            if x.scalars[i] == lo[ch] { dx.scalars[i] += Float(dLo / Double(nLo)) }
            if x.scalars[i] == hi[ch] { dx.scalars[i] += Float(dHi / Double(nHi)) }
          }
        }
        return dx
      }
    )
  }
}
