import PipelineKit

/// `contrast: F` — blends each pixel with the average gray value and clamps, as torchvision's
/// `adjust_contrast` (as in CLIPig): out = clamp(f·in + (1−f)·m, 0, 1) with m the mean of
/// 0.2989·R + 0.587·G + 0.114·B over all pixels. Not linear (the clamp), keeps the resolution;
/// the pullback is PyTorch's autograd of the same expression (zero where clamped, and through
/// the mean).
///
/// clipig applies it only where it is written (CLIPig injected `contrast: 1` into every
/// transform and postproc entry, an implicit clamp; docs/differences-from-clipig.md).
public struct Contrast: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- contrast: …`).
  public static let name = "contrast"
  /// One line for the docs.
  public static let summary =
    "Blends with the mean gray value and clamps to [0, 1] (torchvision's adjust_contrast); pullback: its derivative, 0 where clamped."
  /// Keeps the resolution; not linear.
  public static let traits: StageTraits = []
  /// Exact derivative of a piecewise-smooth function (the clamp).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(0.5),
    StageExample(1.7, inputShape: [3, 4, 5]),
    StageExample(0, inputShape: [3, 2, 3]),
    StageExample("2 - t", inputShape: [3, 5, 4], inputRange: 0.3...0.7),
  ]

  let factor: Param<Double>
  static let requirement = "contrast factor must not be negative"

  /// Reads the factor (default 1), which must not be negative.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    factor = try parameters.directScalar(
      Double.self, default: 1, doc: "0 flat gray, 1 unchanged, 2 doubled contrast; not negative")
    try factor.validate(Self.requirement) { $0 >= 0 }
  }

  /// out = clamp(f·in + (1−f)·mean(gray), 0, 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let f = Float(try factor.checked(Self.requirement, in: &context) { $0 >= 0 })
    return GrayBlend.apply(x, factor: f, target: .meanGray)
  }
}
