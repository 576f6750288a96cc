import PipelineKit

/// Constraint `std: {above, below}` — keeps each channel's standard deviation above and/or
/// below bounds (as in CLIPig): v_c = sample std of channel c (divisor n − 1); loss = 100 · hinge
/// loss of v. A scalar loss; the pullback is dv_c · (x − mean_c) / ((n − 1) · v_c) (0 for a
/// flat channel, where PyTorch gives NaN).
public struct StdConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- std: …`).
  public static let name = "std"
  /// One line for the docs.
  public static let summary =
    "Channel standard deviations above/below bounds (one-sided, ×100); pullback: dv·(x − mean)/((n−1)·std)."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative of a piecewise-smooth function (the hinge).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["above": "0.5 0.6 0.7"]),
    StageExample(["below": 0.1, "loss": "mae"], inputShape: [3, 7, 6]),
    StageExample(["above": "0.4*ti+0.3", "below": 0.05], inputShape: [3, 3, 5]),
  ]

  let loss: BoundedLoss

  /// Reads `above`, `below` (at least one) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    loss = try BoundedLoss(reading: &parameters, value: "standard deviation")
  }

  /// 100 · hinge loss of the channel standard deviations.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let (c, h, w) = x.chw
    let n = h * w
    let means = ImageStatistics.channelMeans(x)
    var std = [Double](repeating: 0, count: c)
    for ch in 0..<c where n > 1 {
      var s = 0.0
      for i in ch * n..<(ch + 1) * n {
        let d = Double(x.scalars[i]) - means[ch]
        s += d * d
      }
      std[ch] = (s / Double(n - 1)).squareRoot()
    }
    return try loss.evaluate(std, factor: 100, in: &context) { dv in
      let scale = (0..<c).map { std[$0] > 0 ? dv[$0] / (Double(n - 1) * std[$0]) : 0 }
      return x.perChannel { ch, v in Float(scale[ch] * (Double(v) - means[ch])) }
    }
  }
}
