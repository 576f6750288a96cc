import PipelineKit

/// `clamp: MIN MAX` — clamps every value to [min, max] (as in CLIPig). Piecewise linear, keeps the
/// resolution; the pullback passes the cotangent where min ≤ in ≤ max and is 0 elsewhere
/// (PyTorch's `clamp` gradient).
public struct Clamp: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- clamp: …`).
  public static let name = "clamp"
  /// One line for the docs.
  public static let summary =
    "Clamps values to [min, max]; pullback: the cotangent where the input is inside, 0 where clamped."
  /// Keeps the resolution; not linear.
  public static let traits: StageTraits = []
  /// Exact derivative of a piecewise-linear function.
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("0 1", inputRange: -0.5...1.5),
    StageExample("0.2, 0.7", inputShape: [3, 4, 4]),
    StageExample("0, 1 - t", inputShape: [3, 5, 2], inputRange: -1...2),
  ]

  let range: [Param<Double>]

  /// Reads the range (min max); constant ranges must have min ≤ max.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    range = try parameters.directList(Double.self, lengths: [2], doc: "the range: min max")
    if let r: [Double] = range.constantValues(), r[0] > r[1] {
      throw ConfigError(
        "clamp range: min (\(r[0])) is greater than max (\(r[1]))", at: range[0].location,
        path: parameters.path)
    }
  }

  /// out = min(max(in, lo), hi) (hi wins when lo > hi, as in PyTorch).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let r = try context.values(range)
    let lo = Float(r[0])
    let hi = Float(r[1])
    return (ImageOps.clamp(x, lo, hi), { dy in ImageOps.clampPullback(dy, input: x, lo, hi) })
  }
}
