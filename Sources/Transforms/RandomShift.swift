import PipelineKit

/// `random_shift: LO HI` or `X_LO X_HI Y_LO Y_HI` — rolls the image by a random offset with
/// wrap-around: x = U(x_lo, x_hi), y = U(y_lo, y_hi) drawn per view, then `shift`'s rule (|v| < 1
/// is a fraction, so `0 1` means "any position"). Linear and random, keeps the resolution; the
/// pullback rolls the cotangent back by the same drawn offset.
public struct RandomShift: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- random_shift: …`).
  public static let name = "random_shift"
  /// One line for the docs.
  public static let summary =
    "Rolls the image by a random offset with wrap-around (2 values for both axes, or x and y ranges)."
  /// Linear, random, keeps the resolution.
  public static let traits: StageTraits = [.linear, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("0 1"),
    StageExample("-3 3", inputShape: [3, 5, 8]),
    StageExample("0 1 -2 -1", inputShape: [3, 6, 6]),
    StageExample("-ti ti", inputShape: [3, 4, 7], t: 0.25),
  ]

  let offset: [Param<Double>]

  /// Reads the offset range: 2 values (both axes) or 4 (x range, y range); constant ranges must
  /// have min ≤ max.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    offset = try parameters.directList(
      Double.self, lengths: [2, 4],
      doc: "offset range: 'lo hi' for both axes or 'x_lo x_hi y_lo y_hi'; |v| < 1 is a fraction")
    try Geometry.requireOrdered(offset[0], offset[1], "random_shift")
    if offset.count == 4 { try Geometry.requireOrdered(offset[2], offset[3], "random_shift y") }
  }

  /// Draws x then y uniformly and rolls like `shift`.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let v = try context.values(offset)
    let (_, h, w) = x.chw
    let ox = context.random.uniform(v[0], v[1])
    let oy =
      offset.count == 4 ? context.random.uniform(v[2], v[3]) : context.random.uniform(v[0], v[1])
    let dx = try Geometry.pixels(ox, of: w, offset[0], context)
    let dy = try Geometry.pixels(oy, of: h, offset[offset.count == 4 ? 2 : 0], context)
    return Shift.roll(x, x: dx, y: dy)
  }
}
