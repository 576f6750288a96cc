import PipelineKit

/// Constraint `mean: {above, below}` — keeps each channel's average above and/or below bounds
/// (as in CLIPig): v_c = average of channel c; loss = 100 · hinge loss of v (see `Bounds`).
/// A scalar loss; the pullback spreads dv_c evenly over channel c.
public struct MeanConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- mean: …`).
  public static let name = "mean"
  /// One line for the docs.
  public static let summary =
    "Channel averages above/below bounds (one-sided, ×100); pullback: spread evenly over each channel."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative of a piecewise-smooth function (the hinge).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["above": 0.7]),
    StageExample(["below": "0.2 0.4 0.3", "loss": "L1"], inputShape: [3, 5, 4]),
    StageExample(["above": "0.6+t/5", "below": 0.2, "loss": "mse"], inputShape: [3, 4, 4]),
    StageExample(["below": "sim/100+0.1"], inputShape: [3, 1, 1]),
  ]

  let loss: BoundedLoss

  /// Reads `above`, `below` (at least one) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    loss = try BoundedLoss(reading: &parameters, value: "average")
  }

  /// 100 · hinge loss of the channel averages.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let shape = x.shape
    return try loss.evaluate(
      ImageStatistics.channelMeans(x), factor: 100, in: &context
    ) { dv in
      let n = Float(shape[1] * shape[2])
      let share = dv.map { Float($0) / n }
      return Tensor(shape: shape, repeating: 0).perChannel { c, _ in share[c] }
    }
  }
}
