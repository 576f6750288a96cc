import PipelineKit

/// `mul: R G B` — multiplies every pixel by a color: out_c = in_c · color_c. Linear; pullback
/// scales the cotangent by the same color.
public struct Mul: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- mul: …`).
  public static let name = "mul"
  /// One line for the docs.
  public static let summary = "Multiplies every pixel by a color (out = in · color)."
  /// Linear, keeps the resolution.
  public static let traits: StageTraits = [.linear]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("1/2"),
    StageExample("0.5 2 -1", inputShape: [3, 4, 5]),
    StageExample("1 + t, 0.25, ti", inputShape: [3, 2, 3]),
  ]

  let color: [Param<Double>]

  /// Reads `color` (one value or three).
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    color = try parameters.directList(Double.self, lengths: [3], doc: "factor per channel (R G B)")
  }

  /// out_c = in_c · color_c.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    let c = try context.values(color).map(Float.init)
    return (x.perChannel { ch, v in v * c[ch] }, { dy in dy.perChannel { ch, v in v * c[ch] } })
  }
}
