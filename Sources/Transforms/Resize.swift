import PipelineKit

/// `resize: W H` — resamples the image to width W and height H with bilinear interpolation
/// (PyTorch's half-pixel convention, no antialiasing when shrinking, as CLIPig's torchvision did;
/// with `tiling: true` the taps at the edge read the opposite edge).
/// Linear, changes the resolution; the pullback is the exact transpose of the resampling.
public struct Resize: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- resize: …`).
  public static let name = "resize"
  /// One line for the docs.
  public static let summary = "Resizes the image to width × height (bilinear, no antialiasing)."
  /// Linear, changes the resolution.
  public static let traits: StageTraits = [.linear, .changesResolution]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("4 9"),
    StageExample(5, inputShape: [3, 8, 8]),
    StageExample("11, 3", inputShape: [3, 5, 4]),
    StageExample(4, inputShape: [3, 4, 4]),
    StageExample("width + 2, 3 + 4*t", inputShape: [3, 4, 6], t: 0.5),
  ]

  let size: [Param<Int>]

  /// Reads the size (width, height; one value for a square), each at least 1.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    size = try parameters.directList(
      Int.self, lengths: [2], doc: "output width and height in pixels (one value: square)")
    try Geometry.requireAtLeast(size, 1, "resize size")
    try Geometry.requireExtent(size, "resize size")
  }

  /// Bilinear resampling to the evaluated size (values below 1 count as 1); the identity when the
  /// size is unchanged.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try context.values(size)
    let ow = try Geometry.extent(s[0], size[0], context)
    let oh = try Geometry.extent(s[1], size[1], context)
    let (_, h, w) = x.chw
    if oh == h && ow == w { return (x, { $0 }) }
    let resampler = Resampler(from: h, w, to: oh, ow, filter: .linear, wrap: context.tiling)
    return (resampler.apply(x), { resampler.adjoint($0) })
  }
}
