import PipelineKit

/// `random_crop: W H` — cuts a W×H window at a random position (top, then left, drawn uniformly
/// per view). Unlike CLIPig the pair is (width, height) as documented, and a window larger than
/// the current image does not fail: on that axis it is centred and zero-padded like
/// `center_crop`. With `tiling: true` the window starts anywhere and wraps around the edge.
/// Linear and random, changes the resolution; the pullback places the cotangent back into the
/// drawn window.
public struct RandomCrop: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- random_crop: …`).
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

  let window: CropWindow

  /// Reads the size (width, height; one value for a square), each at least 1.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    window = try CropWindow(reading: &parameters, stage: Self.name)
  }

  /// Draws the top row, then the left column, and gathers the window. On a torus
  /// (`tiling: true`) the window may start anywhere, 0..<size, and wraps around the edge.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    try window.cut(x, in: &context) { c, n, context in
      if context.tiling { return context.random.integer(in: 0...(n - 1)) }
      return c <= n ? context.random.integer(in: 0...(n - c)) : CropWindow.centredOffset(c, in: n)
    }
  }
}
