import PipelineKit

/// `add: R G B` — adds a color to every pixel: out_c = in_c + color_c. Affine; pullback is the
/// identity.
public struct Add: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- add: …`).
  public static let name = "add"
  /// One line for the docs.
  public static let summary = "Adds a color to every pixel (out = in + color)."
  /// Affine, keeps the resolution.
  public static let traits: StageTraits = [.affine]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("0.1 -0.2 0.3"),
    StageExample(0.5, inputShape: [3, 4, 4]),
    StageExample("t/2, -t, 1", inputShape: [3, 5, 2]),
  ]

  let color: [Param<Double>]

  /// Reads `color` (one value or three).
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    color = try parameters.directList(
      Double.self, lengths: [3], doc: "color added per channel (R G B)")
  }

  /// out_c = in_c + color_c.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    let c = try context.values(color).map(Float.init)
    return (x.perChannel { ch, v in v + c[ch] }, { $0 })
  }
}
