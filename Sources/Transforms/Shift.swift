import PipelineKit

/// `shift: X Y` — rolls the image right by X and down by Y pixels with wrap-around (CLIPig's
/// `shift`). A value with |v| < 1 is a fraction of the width/height, anything else a pixel count
/// (truncated). Linear, keeps the resolution; the pullback rolls the cotangent back.
public struct Shift: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- shift: …`).
  public static let name = "shift"
  /// One line for the docs.
  public static let summary =
    "Rolls the image right/down with wrap-around; |v| < 1 is a fraction of the size, else pixels."
  /// Linear (a permutation of the pixels), keeps the resolution.
  public static let traits: StageTraits = [.linear]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("1 0"),
    StageExample("-2 3", inputShape: [3, 5, 4]),
    StageExample("0.5", inputShape: [3, 4, 4]),
    StageExample("-0.3 -9", inputShape: [3, 7, 6]),
    StageExample("t*width, -1", inputShape: [3, 3, 8], t: 0.25),
  ]

  let offset: [Param<Double>]

  /// Reads `offset` (x, y; one value for both).
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    offset = try parameters.directList(
      Double.self, lengths: [2],
      doc: "x and y offset: |v| < 1 is a fraction of width/height, else pixels (wraps around)")
  }

  /// out[:, r, c] = in[:, (r − y) mod H, (c − x) mod W].
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let v = try context.values(offset)
    let (_, h, w) = x.chw
    let dx = try Geometry.pixels(v[0], of: w, offset[0], context)
    let dy = try Geometry.pixels(v[1], of: h, offset[1], context)
    return Self.roll(x, x: dx, y: dy)
  }

  /// Rolls an image by whole pixels (shared with `random_shift`).
  static func roll(_ x: Tensor, x dx: Int, y dy: Int) -> (value: Tensor, pullback: Pullback) {
    let (_, h, w) = x.chw
    if dx % w == 0 && dy % h == 0 { return (x, { $0 }) }
    let map = IndexMap(
      rows: AxisIndex.roll(by: dy, length: h), columns: AxisIndex.roll(by: dx, length: w),
      inputHeight: h, inputWidth: w)
    return (map.gather(x), { map.scatterAdd($0) })
  }
}
