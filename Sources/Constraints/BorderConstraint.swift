import PipelineKit

/// Constraint `border: {size, color}` — pulls the view's border toward a color (as in CLIPig):
/// loss = 100 · L(img, painted) where painted is img with the top/bottom min(size_h, H) rows and
/// left/right min(size_w, W) columns set to color; the loss is averaged over all pixels. A
/// scalar loss; the pullback is the loss derivative on border pixels and 0 inside. Size 0 means
/// no border (CLIPig crashed).
public struct BorderConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- border: …`).
  public static let name = "border"
  /// One line for the docs.
  public static let summary =
    "Distance between the border pixels and a color (×100, averaged over the view); pullback: nonzero on the border only."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative (piecewise for l1).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["size": 2]),
    StageExample([:]),
    StageExample(["size": "2 1", "color": "1 0.5 0", "loss": "l1"], inputShape: [3, 5, 6]),
    StageExample(["size": "9 1"], inputShape: [3, 4, 5]),
    StageExample(["size": "int(2*t), 0", "color": "ti"], inputShape: [3, 4, 4]),
  ]

  let size: [Param<Int>]
  let color: [Param<Double>]
  let loss: ConstraintLoss
  static let requirement = "border size must not be negative"

  /// Reads `size` (w h, default 1 1, not negative), `color` (default black) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    size = try parameters.list(
      "size", Int.self, lengths: [2], default: [1, 1], doc: "border width in pixels (x y)")
    color = try parameters.list(
      "color", Double.self, lengths: [3], default: [0, 0, 0],
      doc: "the border's target color (R G B)")
    loss = try ConstraintLoss(reading: &parameters)
    try size.validate(Self.requirement) { $0 >= 0 }
  }

  /// 100 · L(img, img with its border painted).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try size.checked(Self.requirement, in: &context) { $0 >= 0 }
    let col = try context.values(color).map(Float.init)
    let (c, h, w) = x.chw
    let sx = min(s[0], w)
    let sy = min(s[1], h)
    var diff = Tensor(shape: x.shape)  // (C, H, W): img − painted, 0 inside
    for ch in 0..<c {
      for y in 0..<h {
        let rowBorder = y < sy || y >= h - sy
        for xi in 0..<w where rowBorder || xi < sx || xi >= w - sx {
          let i = (ch * h + y) * w + xi
          diff.scalars[i] = x.scalars[i] - col[ch % col.count]
        }
      }
    }
    return loss.meanOfDifference(diff, factor: 100)
  }
}
