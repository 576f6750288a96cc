import PipelineKit

/// `crop: X Y W H` — cuts the region of columns [X, X+W) and rows [Y, Y+H) out of the image. A
/// value with |v| < 1 is a fraction of the width (X, W) or height (Y, H), anything else a pixel
/// count (truncated toward zero); the parts of the region outside the image are zero (as newer
/// torchvision pads; with `tiling: true` the region wraps around the torus). Linear, changes the
/// resolution; the pullback places the cotangent back into the region.
public struct Crop: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- crop: …`).
  public static let name = "crop"
  /// One line for the docs.
  public static let summary =
    "Cuts the region x, y, width, height (|v| < 1: fraction of the size); outside the image is zero."
  /// Linear, changes the resolution.
  public static let traits: StageTraits = [.linear, .changesResolution]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("1 2 4 3"),
    StageExample("1 0.5 0.6 2", inputShape: [3, 4, 5]),
    StageExample("0 0 0.5 0.5", inputShape: [3, 6, 6]),
    StageExample("-2 3 4 4", inputShape: [3, 5, 6]),
    StageExample("3 4 5 5", inputShape: [3, 6, 7]),
    StageExample("t, 1, width - 2, 0.5*ti", inputShape: [3, 6, 5], t: 0.5),
  ]

  let xywh: [Param<Double>]

  /// Reads x, y, width and height; width and height must be positive.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    xywh = try parameters.directList(
      Double.self, lengths: [4],
      doc: "left, top, width, height: |v| < 1 is a fraction of the image size, else pixels")
    try Geometry.requirePositive(Array(xywh[2...]), "crop width and height")
  }

  /// Gathers the region (evaluated width/height below one pixel count as one pixel).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let v = try context.values(xywh)
    let (_, h, w) = x.chw
    let left = try Geometry.pixels(v[0], of: w, xywh[0], context)
    let top = try Geometry.pixels(v[1], of: h, xywh[1], context)
    let cw = try Geometry.extent(Geometry.pixels(v[2], of: w, xywh[2], context), xywh[2], context)
    let ch = try Geometry.extent(Geometry.pixels(v[3], of: h, xywh[3], context), xywh[3], context)
    return CropWindow.cut(x, top: top, left: left, height: ch, width: cw, wrap: context.tiling)
  }
}
