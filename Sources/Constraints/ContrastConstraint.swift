import PipelineKit

/// Constraint `contrast: {above, below}` — keeps each channel's contrast above and/or below
/// bounds (as in CLIPig): v_c = average of the pixels above the channel mean − average of those
/// below it (0 for a flat channel); loss = 1 · hinge loss of v (CLIPig's factor for contrast is
/// 1, not 100). A scalar loss; the pullback is dv_c/|high| on the pixels above the mean and
/// −dv_c/|low| on those below (the sets are held fixed, as in PyTorch).
public struct ContrastConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- contrast: …`).
  public static let name = "contrast"
  /// One line for the docs.
  public static let summary =
    "Mean of pixels above − below the channel mean, above/below bounds (one-sided, ×1); pullback: ±dv/count on those pixels."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative where the pixel sets do not change.
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["above": 0.9]),
    StageExample(["below": "0.1 0.2 0.3", "loss": "l1"], inputShape: [3, 5, 8]),
    StageExample(["above": "0.8+t/10", "below": 2], inputShape: [3, 2, 3]),
  ]

  let loss: BoundedLoss

  /// Reads `above`, `below` (at least one) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    loss = try BoundedLoss(reading: &parameters, value: "contrast")
  }

  /// 1 · hinge loss of the channel contrasts.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let (c, h, w) = x.chw
    let n = h * w
    let means = ImageStatistics.channelMeans(x)
    var v = [Double](repeating: 0, count: c)
    var weightHigh = [Double](repeating: 0, count: c)  // 1/|high| per channel (0 when empty)
    var weightLow = [Double](repeating: 0, count: c)
    for ch in 0..<c {
      var high = 0.0
      var low = 0.0
      var nh = 0
      var nl = 0
      let m = Float(means[ch])
      for i in ch * n..<(ch + 1) * n {
        let p = x.scalars[i]
        if p > m {
          high += Double(p)
          nh += 1
        } else if p < m {
          low += Double(p)
          nl += 1
        }
      }
      // Both sets are empty together (a flat channel): CLIPig's fill value cancels to 0.
      if nh > 0 && nl > 0 {
        v[ch] = high / Double(nh) - low / Double(nl)
        weightHigh[ch] = 1 / Double(nh)
        weightLow[ch] = 1 / Double(nl)
      }
    }
    return try loss.evaluate(v, factor: 1, in: &context) { dv in
      let m = means.map(Float.init)
      let high = (0..<c).map { Float(dv[$0] * weightHigh[$0]) }
      let low = (0..<c).map { Float(-dv[$0] * weightLow[$0]) }
      return x.perChannel { ch, p in p > m[ch] ? high[ch] : p < m[ch] ? low[ch] : 0 }
    }
  }
}
