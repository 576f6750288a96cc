import PipelineKit

/// `saturation: F` — blends each pixel with its gray value and clamps, as torchvision's
/// `adjust_saturation` (as in CLIPig): out = clamp(f·in + (1−f)·gray, 0, 1) with
/// gray = 0.2989·R + 0.587·G + 0.114·B. 0 gives gray, 1 leaves the image (clamped), 2 doubles
/// the saturation. Not linear (the clamp), keeps the resolution; the pullback is PyTorch's
/// autograd of the same expression (zero where clamped).
///
/// clipig applies it only where it is written (CLIPig injected `saturation: 1` into every
/// transform and postproc entry, an implicit clamp; docs/differences-from-clipig.md).
public struct Saturation: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- saturation: …`).
  public static let name = "saturation"
  /// One line for the docs.
  public static let summary =
    "Blends with the gray image and clamps to [0, 1] (torchvision's adjust_saturation); pullback: its derivative, 0 where clamped."
  /// Keeps the resolution; not linear.
  public static let traits: StageTraits = []
  /// Exact derivative of a piecewise-smooth function (the clamp).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(0.5),
    StageExample(2, inputShape: [3, 4, 5]),
    StageExample(0, inputShape: [3, 3, 4]),
    StageExample("1 + t", inputShape: [3, 5, 2], inputRange: 0.2...0.8),
  ]

  let factor: Param<Double>
  static let requirement = "saturation factor must not be negative"

  /// Reads the factor (default 1), which must not be negative.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    factor = try parameters.directScalar(
      Double.self, default: 1, doc: "0 gray, 1 unchanged, 2 doubled saturation; not negative")
    try factor.validate(Self.requirement) { $0 >= 0 }
  }

  /// out = clamp(f·in + (1−f)·gray, 0, 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let f = Float(try factor.checked(Self.requirement, in: &context) { $0 >= 0 })
    return GrayBlend.apply(x, factor: f, target: .pixelGray)
  }
}
