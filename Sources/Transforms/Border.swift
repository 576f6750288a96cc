import PipelineKit

/// `border: {size: W H, color: R G B}` — paints the outermost `size` columns (left and right) and
/// rows (top and bottom) with `color`; sizes beyond the image cover all of it, 0 paints nothing.
/// Affine, keeps the resolution; the pullback passes the cotangent of the inner pixels and gives
/// border pixels none.
public struct Border: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- border: …`).
  public static let name = "border"
  /// One line for the docs.
  public static let summary =
    "Paints a border of the given width/height and color on the image's edge."
  /// Affine (copy plus a constant border), keeps the resolution.
  public static let traits: StageTraits = [.affine]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["size": 1]),
    StageExample(["size": "2 1", "color": "0.5 0.2 -1"], inputShape: [3, 5, 8]),
    StageExample(["size": "0 2", "color": 1], inputShape: [3, 6, 6]),
    StageExample(["size": "9 0"], inputShape: [3, 4, 5]),
    StageExample(["size": "1 + 2*t, 1", "color": "t"], inputShape: [3, 7, 6], t: 0.5),
  ]

  let size: [Param<Int>]
  let color: [Param<Double>]

  /// Reads `size` (width of the left/right and height of the top/bottom band, ≥ 0) and `color`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    size = try parameters.list(
      "size", Int.self, lengths: [2], default: [1, 1],
      doc: "border width (left/right columns) and height (top/bottom rows) in pixels")
    color = try parameters.list(
      "color", Double.self, lengths: [3], default: [0, 0, 0], doc: "border color (R G B)")
    try Geometry.requireAtLeast(size, 0, "border size")
  }

  /// Copies the image and sets the border bands to `color`.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try context.values(size)
    let fill = Geometry.perChannel(try context.values(color), x.chw.c)
    let (_, h, w) = x.chw
    let sx = min(max(s[0], 0), w)
    let sy = min(max(s[1], 0), h)
    if sx == 0 && sy == 0 { return (x, { $0 }) }
    let map = IndexMap(
      rows: AxisIndex.border(size: sy, length: h), columns: AxisIndex.border(size: sx, length: w),
      inputHeight: h, inputWidth: w)
    return (map.gather(x, fill: fill), { map.scatterAdd($0) })
  }
}
