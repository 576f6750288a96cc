import PipelineKit

/// `random_scale: MIN MAX` — zooms the content about the image centre by a factor s = U(MIN, MAX)
/// drawn per view (s > 1 enlarges): output pixel p reads the nearest source pixel to
/// centre + (p − centre)/s, zero outside (torchvision's affine with `NEAREST`; with
/// `tiling: true` the source wraps around the torus). Linear and random,
/// keeps the resolution; the pullback scatter-adds onto the pixels that were read.
public struct RandomScale: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- random_scale: …`).
  public static let name = "random_scale"
  /// One line for the docs.
  public static let summary =
    "Zooms about the centre by a random factor in [min, max] (nearest neighbour, black outside)."
  /// Linear, random, keeps the resolution.
  public static let traits: StageTraits = [.linear, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("0.5 1.5"),
    StageExample("1.2 2", inputShape: [3, 6, 6]),
    StageExample("0.6 0.9", inputShape: [3, 5, 8]),
    StageExample("1 - t/2, 1 + t", inputShape: [3, 7, 4], t: 0.5),
  ]

  let scale: [Param<Double>]

  /// Reads the factor range; constant factors must be positive and min ≤ max.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    scale = try parameters.directList(
      Double.self, lengths: [2], doc: "minimum and maximum zoom factor (0.5: half, 2: double)")
    try Geometry.requirePositive(scale, "random_scale factor")
    try Geometry.requireOrdered(scale[0], scale[1], "random_scale")
  }

  /// Draws the factor and samples the zoomed image; an evaluated factor ≤ 0 is a run-time error.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let v = try context.values(scale)
    let s = context.random.uniform(v[0], v[1])
    guard s > 0, s.isFinite else {
      throw Geometry.error(scale[0], "the zoom factor must be greater than 0, got \(s)", context)
    }
    let (_, h, w) = x.chw
    if s == 1 { return (x, { $0 }) }
    let sampler = AffineSampler(
      sourceFromOutput: .scaling(s, centerX: Double(w) / 2, centerY: Double(h) / 2), inputHeight: h,
      inputWidth: w, wrap: context.tiling)
    return (sampler.apply(x), { sampler.adjoint($0) })
  }
}
