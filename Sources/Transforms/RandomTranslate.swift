import PipelineKit

/// `random_translate: A B` — moves the content by whole pixels tx = round(U(−A·W, A·W)),
/// ty = round(U(−B·H, B·H)) (half to even), drawn per view, zero where nothing moves in
/// (torchvision's affine translation; with `tiling: true` what leaves one edge comes back at the
/// other, a roll). A and B are fractions in [0, 1]. Linear and random, keeps
/// the resolution; the pullback moves the cotangent back.
public struct RandomTranslate: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- random_translate: …`).
  public static let name = "random_translate"
  /// One line for the docs.
  public static let summary =
    "Moves the content by a random whole-pixel offset up to a fraction of the size (black fill)."
  /// Linear, random, keeps the resolution.
  public static let traits: StageTraits = [.linear, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("0.5 0.3"),
    StageExample(0.25, inputShape: [3, 8, 8]),
    StageExample("1 0", inputShape: [3, 4, 6]),
    StageExample("t, ti/2", inputShape: [3, 6, 5], t: 0.5),
  ]

  let offset: [Param<Double>]

  /// Reads the maximum fractions (x, y), each in [0, 1].
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    offset = try parameters.directList(
      Double.self, lengths: [2],
      doc: "largest horizontal and vertical move as a fraction of width and height (0 to 1)")
    try Geometry.requireWithin(offset, 0...1, "random_translate offset")
  }

  /// Draws tx then ty and samples the moved image (evaluated fractions are clamped to [0, 1]).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let v = try context.values(offset).map { $0.isNaN ? 0 : min(max($0, 0), 1) }
    let (_, h, w) = x.chw
    let mx = v[0] * Double(w)
    let my = v[1] * Double(h)
    let tx = context.random.uniform(-mx, mx).rounded(.toNearestOrEven)
    let ty = context.random.uniform(-my, my).rounded(.toNearestOrEven)
    if tx == 0 && ty == 0 { return (x, { $0 }) }
    let sampler = AffineSampler(
      sourceFromOutput: .translation(x: tx, y: ty), inputHeight: h, inputWidth: w,
      wrap: context.tiling)
    return (sampler.apply(x), { sampler.adjoint($0) })
  }
}
