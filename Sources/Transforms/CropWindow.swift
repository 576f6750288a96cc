import PipelineKit

/// What `crop`, `center_crop` and `random_crop` share: the `W H` window size of the latter two,
/// read and checked at load and evaluated per view, torchvision's centring, and the gather of a
/// window (zero outside the image) with its pullback.
struct CropWindow: Sendable {
  /// Width and height of the window.
  let size: [Param<Int>]

  /// Reads the size (width, height; one value for a square), each at least 1; `stage` names the
  /// stage in error messages.
  init(reading parameters: inout ParameterReader, stage: String) throws(ConfigError) {
    size = try parameters.directList(
      Int.self, lengths: [2], doc: "width and height of the window in pixels (one value: square)")
    try Geometry.requireAtLeast(size, 1, "\(stage) size")
    try Geometry.requireExtent(size, "\(stage) size")
  }

  /// The window of the evaluated size (values below 1 count as 1) cut out of `x` at the top
  /// row `offset(height, H, &context)`, then the left column `offset(width, W, &context)`.
  func cut(
    _ x: Tensor, in context: inout StageContext,
    offset: (_ window: Int, _ length: Int, inout StageContext) -> Int
  ) throws(StageError) -> (value: Tensor, pullback: Pullback) {
    let s = try context.values(size)
    let width = try Geometry.extent(s[0], size[0], context)
    let height = try Geometry.extent(s[1], size[1], context)
    let (_, h, w) = x.chw
    let top = offset(height, h, &context)
    let left = offset(width, w, &context)
    return Self.cut(
      x, top: top, left: left, height: height, width: width, wrap: context.tiling)
  }

  /// torchvision's centring of a window of `c` on an axis of `n`: round((n − c)/2) half to even
  /// inside the image; a larger window starts ⌊(c − n)/2⌋ before it.
  static func centredOffset(_ c: Int, in n: Int) -> Int {
    c <= n ? Int((Double(n - c) / 2).rounded(.toNearestOrEven)) : -((c - n) / 2)
  }

  /// Rows [top, top + height) and columns [left, left + width) of every plane of `x`, zero where
  /// they lie outside it (with `wrap`, taken modulo the size: the image is a torus); the
  /// pullback places the cotangent back (the identity when the window is the whole image).
  static func cut(_ x: Tensor, top: Int, left: Int, height: Int, width: Int, wrap: Bool) -> (
    value: Tensor, pullback: Pullback
  ) {
    let (_, h, w) = x.chw
    if top == 0 && left == 0 && height == h && width == w { return (x, { $0 }) }
    let map = IndexMap(
      rows: AxisIndex.window(offset: top, count: height, length: h, wrap: wrap),
      columns: AxisIndex.window(offset: left, count: width, length: w, wrap: wrap),
      inputHeight: h, inputWidth: w)
    return (map.gather(x), { map.scatterAdd($0) })
  }
}
