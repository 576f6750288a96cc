import PipelineKit

/// `random_crop: W H` — cuts a W×H window at a random position (top, then left, drawn uniformly
/// per view). Unlike CLIPig the pair is (width, height) as documented, and a window larger than
/// the current image does not fail: on that axis it is centred and zero-padded like
/// `center_crop`. Linear and random, changes the resolution; the pullback places the cotangent
/// back into the drawn window.
public struct RandomCrop: Stage {
  /// YAML key.
  public static let name = "random_crop"
  /// One line for the docs.
  public static let summary =
    "Cuts width × height at a random position; a window larger than the image is centred and zero-padded."
  /// Linear, random, changes the resolution.
  public static let traits: StageTraits = [.linear, .random, .changesResolution]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("4 3"),
    StageExample(3, inputShape: [3, 6, 6]),
    StageExample("2 7", inputShape: [3, 5, 8]),
    StageExample("3 9", inputShape: [3, 4, 6]),
    StageExample("width/2, height - 3", inputShape: [3, 7, 8], t: 0.5),
  ]

  let size: [Param<Int>]

  /// Reads the size (width, height; one value for a square), each at least 1.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    size = try parameters.directList(
      Int.self, lengths: [2], doc: "width and height of the window in pixels (one value: square)")
    try Geometry.requireAtLeast(size, 1, "random_crop size")
    try Geometry.requireExtent(size, "random_crop size")
  }

  /// Draws the top row, then the left column, and gathers the window.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try context.values(size)
    let cw = try Geometry.extent(s[0], size[0], context)
    let ch = try Geometry.extent(s[1], size[1], context)
    let (_, h, w) = x.chw
    let top = ch <= h ? context.random.integer(in: 0...(h - ch)) : CenterCrop.offset(ch, in: h)
    let left = cw <= w ? context.random.integer(in: 0...(w - cw)) : CenterCrop.offset(cw, in: w)
    if cw == w && ch == h { return (x, { $0 }) }
    let map = IndexMap(
      rows: AxisIndex.window(offset: top, count: ch, length: h),
      columns: AxisIndex.window(offset: left, count: cw, length: w),
      inputHeight: h, inputWidth: w)
    return (map.gather(x), { map.scatterAdd($0) })
  }
}
