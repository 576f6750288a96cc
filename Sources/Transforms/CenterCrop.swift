import PipelineKit

/// `center_crop: W H` — cuts a W×H window out of the image's centre (offsets round half to even);
/// a window larger than the image is zero-padded around it, as torchvision's `center_crop` does
/// (with `tiling: true`, the image repeated around it).
/// Unlike CLIPig, the pair is (width, height) as documented. Linear, changes the resolution; the
/// pullback places the cotangent back into the window (padding receives none).
public struct CenterCrop: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- center_crop: …`).
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

  let window: CropWindow

  /// Reads the size (width, height; one value for a square), each at least 1.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    window = try CropWindow(reading: &parameters, stage: Self.name)
  }

  /// Gathers the centred window (evaluated sizes below 1 count as 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    try window.cut(x, in: &context) { c, n, _ in CropWindow.centredOffset(c, in: n) }
  }
}
