import PipelineKit

/// `quantize: R G B` — rounds each channel down to a multiple of its step:
/// out_c = ⌊in_c / step_c⌋ · step_c (as in CLIPig). Piecewise constant, keeps the resolution; the
/// pullback is zero (PyTorch's `floor` gradient), so it is meant for `postproc`.
public struct Quantize: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- quantize: …`).
  public static let name = "quantize"
  /// One line for the docs.
  public static let summary =
    "Rounds down to multiples of a step per channel (out = ⌊in/step⌋·step); pullback: zero."
  /// Keeps the resolution; not linear.
  public static let traits: StageTraits = []
  /// Exact derivative of a piecewise-constant function (zero).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("0.1 0.3 0.5"),
    StageExample(0.25, inputShape: [3, 4, 4], inputRange: -1...1),
    StageExample("0.1+t/10", inputShape: [3, 3, 5]),
  ]

  let step: [Param<Double>]

  /// Reads the step per channel (one value or three), each positive.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    step = try parameters.directList(
      Double.self, lengths: [3], doc: "step per channel (R G B), positive")
    try step.validate("quantize step must be positive") { $0 > 0 }
  }

  /// out_c = ⌊in_c / step_c⌋ · step_c.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try step.checked("quantize step must be positive", in: &context) { $0 > 0 }.map(
      Float.init)
    let shape = x.shape
    return (
      x.perChannel { c, v in (v / s[c]).rounded(.down) * s[c] },
      { _ in Tensor(shape: shape) }
    )
  }
}
