import PipelineKit

/// `pad: {size: X Y, color: R G B, mode: fill|edge|wrap}` — adds X columns left and right and Y
/// rows top and bottom: `fill` with `color`, `edge` repeating the outermost pixels, `wrap`
/// continuing the image periodically (also beyond the image size). With `tiling: true` every
/// mode wraps (the image is a torus). Affine (linear for edge/wrap),
/// changes the resolution to (W + 2X) × (H + 2Y); the pullback scatter-adds the cotangent back onto
/// the pixels each padded pixel copies.
public struct Pad: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- pad: …`).
  public static let name = "pad"
  /// One line for the docs.
  public static let summary =
    "Adds columns/rows around the image: a color (fill), the edge pixels (edge) or wrapped image (wrap)."
  /// Affine, changes the resolution.
  public static let traits: StageTraits = [.affine, .changesResolution]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["size": "2 1"]),
    StageExample(["size": 3, "color": "0.5 -0.25 1"], inputShape: [3, 4, 5]),
    StageExample(["size": "2 3", "mode": "edge"], inputShape: [3, 5, 4]),
    StageExample(["size": "1 2", "mode": "wrap"], inputShape: [3, 4, 6]),
    StageExample(["size": "9 5", "mode": "wrap"], inputShape: [3, 3, 4]),
    StageExample(["size": "0 1", "mode": "edge"], inputShape: [3, 2, 3]),
    StageExample(["size": "width/2, 4*t", "mode": "edge"], inputShape: [3, 5, 6], t: 0.5),
  ]

  let size: [Param<Int>]
  let color: [Param<Double>]
  let mode: PadMode

  /// Reads `size` (≥ 0), `color` and `mode`; an unknown mode fails with the closest valid one.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    size = try parameters.list(
      "size", Int.self, lengths: [2],
      doc: "columns added left and right, rows added top and bottom")
    color = try parameters.list(
      "color", Double.self, lengths: [3], default: [0, 0, 0],
      doc: "color of the added pixels in fill mode")
    let modeParam = try parameters.scalar(
      "mode", String.self, default: "fill",
      doc: "fill (color), edge (repeat the outermost pixels) or wrap (continue periodically)")
    mode = try ParameterReader.resolve(modeParam, PadMode.self)
    try Geometry.requireAtLeast(size, 0, "pad size")
    try Geometry.requireExtent(size, "pad size")
  }

  /// Gathers the padded image (negative evaluated sizes count as 0); wraps on a torus.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try context.values(size)
    let (_, h, w) = x.chw
    let sx = max(try Geometry.bounded(s[0], size[0], context), 0)
    let sy = max(try Geometry.bounded(s[1], size[1], context), 0)
    if sx == 0 && sy == 0 { return (x, { $0 }) }
    _ = try Geometry.bounded(w + 2 * sx, size[0], context)
    _ = try Geometry.bounded(h + 2 * sy, size[1], context)
    let mode = context.tiling ? .wrap : mode
    let map = IndexMap(
      rows: AxisIndex.pad(length: h, before: sy, after: sy, mode: mode),
      columns: AxisIndex.pad(length: w, before: sx, after: sx, mode: mode),
      inputHeight: h, inputWidth: w)
    let fill = mode == .fill ? Geometry.perChannel(try context.values(color), x.chw.c) : []
    return (map.gather(x, fill: fill), { map.scatterAdd($0) })
  }
}
