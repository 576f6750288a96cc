import PipelineKit

/// `center_crop: W H` — cuts a W×H window out of the image's centre (offsets round half to even);
/// a window larger than the image is zero-padded around it, as torchvision's `center_crop` does.
/// Unlike CLIPig, the pair is (width, height) as documented. Linear, changes the resolution; the
/// pullback places the cotangent back into the window (padding receives none).
public struct CenterCrop: Stage {
  /// YAML key.
  public static let name = "center_crop"
  /// One line for the docs.
  public static let summary =
    "Cuts width × height out of the centre; a larger window zero-pads the image around."
  /// Linear, changes the resolution.
  public static let traits: StageTraits = [.linear, .changesResolution]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("3 4"),
    StageExample(4, inputShape: [3, 6, 6]),
    StageExample("6 3", inputShape: [3, 5, 4]),
    StageExample("9 8", inputShape: [3, 4, 5]),
    StageExample("width - 2, height*t", inputShape: [3, 7, 5], t: 0.5),
  ]

  let size: [Param<Int>]

  /// Reads the size (width, height; one value for a square), each at least 1.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    size = try parameters.directList(
      Int.self, lengths: [2], doc: "width and height of the window in pixels (one value: square)")
    try Geometry.requireAtLeast(size, 1, "center_crop size")
    try Geometry.requireExtent(size, "center_crop size")
  }

  /// Gathers the centred window (evaluated sizes below 1 count as 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try context.values(size)
    let cw = try Geometry.extent(s[0], size[0], context)
    let ch = try Geometry.extent(s[1], size[1], context)
    let (_, h, w) = x.chw
    if cw == w && ch == h { return (x, { $0 }) }
    let map = IndexMap(
      rows: AxisIndex.window(offset: Self.offset(ch, in: h), count: ch, length: h),
      columns: AxisIndex.window(offset: Self.offset(cw, in: w), count: cw, length: w),
      inputHeight: h, inputWidth: w)
    return (map.gather(x), { map.scatterAdd($0) })
  }

  /// torchvision's centring: round((n − c)/2) half to even inside the image; a larger window
  /// starts ⌊(c − n)/2⌋ before it.
  static func offset(_ c: Int, in n: Int) -> Int {
    c <= n ? Int((Double(n - c) / 2).rounded(.toNearestOrEven)) : -((c - n) / 2)
  }
}
