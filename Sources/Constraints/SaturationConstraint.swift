import PipelineKit

/// Constraint `saturation: {above, below}` — keeps each channel's saturation above and/or below
/// bounds (as in CLIPig): with g the per-pixel average of R, G, B, v_c = average over pixels of
/// |channel_c − g|; loss = 100 · hinge loss of v. A scalar loss; the pullback is
/// (dv_c·s_c − ⅓·Σ_k dv_k·s_k)/n per pixel with s = sign(channel − g).
public struct SaturationConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- saturation: …`).
  public static let name = "saturation"
  /// One line for the docs.
  public static let summary =
    "Mean |channel − gray| above/below bounds (one-sided, ×100); pullback: its derivative through the signs."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative of a piecewise-smooth function (abs and hinge).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["below": 0.005]),
    StageExample(["above": 0.5, "loss": "l1"], inputShape: [3, 5, 5]),
    StageExample(["below": "0.1*ti", "above": "0.3, 0.3, 0.4"], inputShape: [3, 4, 3]),
  ]

  let loss: BoundedLoss

  /// Reads `above`, `below` (at least one) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    loss = try BoundedLoss(reading: &parameters, value: "saturation")
  }

  /// 100 · hinge loss of the channel saturations.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let (c, h, w) = x.chw
    let n = h * w
    var sign = [Float](repeating: 0, count: c * n)  // (C, H·W) sign(x − g)
    var v = [Double](repeating: 0, count: c)
    x.scalars.withUnsafeBufferPointer { p in
      for i in 0..<n {
        var g: Float = 0
        for ch in 0..<c { g += p[ch * n + i] }
        g /= Float(c)
        for ch in 0..<c {
          let d = p[ch * n + i] - g
          v[ch] += Double(abs(d))
          sign[ch * n + i] = d > 0 ? 1 : d < 0 ? -1 : 0
        }
      }
    }
    if n > 0 { v = v.map { $0 / Double(n) } }
    let shape = x.shape
    return try loss.evaluate(v, factor: 100, in: &context) { dv in
      var dx = [Float](repeating: 0, count: c * n)  // (C, H·W)
      let scale = dv.map { Float($0 / Double(n)) }
      for i in 0..<n {
        var mean: Float = 0
        for ch in 0..<c { mean += scale[ch] * sign[ch * n + i] }
        mean /= Float(c)
        for ch in 0..<c { dx[ch * n + i] = scale[ch] * sign[ch * n + i] - mean }
      }
      return Tensor(shape: shape, scalars: dx)
    }
  }
}
