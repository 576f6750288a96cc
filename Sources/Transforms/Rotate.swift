import PipelineKit

/// `rotate: {degree: A, center: FX FY}` — rotates the content A degrees counter-clockwise about
/// the point (FX·W, FY·H) (0 0 is the top-left corner, 1 1 the bottom-right one), nearest
/// neighbour with round-half-even, zero where the source falls outside (as in CLIPig; with
/// `tiling: true` the source wraps around the torus instead). Linear, keeps
/// the resolution; the pullback scatter-adds the cotangent onto the pixels that were read.
public struct Rotate: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- rotate: …`).
  public static let name = "rotate"
  /// One line for the docs.
  public static let summary =
    "Rotates the content counter-clockwise about a pivot (fractions of the size), nearest neighbour, black outside."
  /// Linear, keeps the resolution.
  public static let traits: StageTraits = [.linear]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["degree": 90]),
    StageExample(["degree": 30], inputShape: [3, 6, 6]),
    StageExample(["degree": -45, "center": 0], inputShape: [3, 7, 6]),
    StageExample(["degree": 135, "center": 1], inputShape: [3, 6, 6]),
    StageExample(["degree": 17.5, "center": "1 0"], inputShape: [3, 5, 8]),
    StageExample(["degree": "-30*ti", "center": "0.3 t"], inputShape: [3, 8, 5], t: 0.25),
  ]

  let degree: Param<Double>
  let center: [Param<Double>]

  /// Reads `degree` and `center`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    degree = try parameters.scalar(
      "degree", Double.self, doc: "counter-clockwise angle in degrees")
    center = try parameters.list(
      "center", Double.self, lengths: [2], default: [0.5, 0.5],
      doc: "pivot x and y as fractions of width and height (0.5 0.5: the image centre)")
  }

  /// Samples the rotated image.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let angle = try context.value(degree)
    let c = try context.values(center)
    return Self.rotate(x, degrees: angle, fx: c[0], fy: c[1], wrap: context.tiling)
  }

  /// Rotates about (fx·W, fy·H) (shared with `random_rotate`); `wrap` reads a torus.
  static func rotate(_ x: Tensor, degrees: Double, fx: Double, fy: Double, wrap: Bool) -> (
    value: Tensor, pullback: Pullback
  ) {
    let (_, h, w) = x.chw
    let m = Affine2D.rotation(degrees: degrees, centerX: fx * Double(w), centerY: fy * Double(h))
    if m == .identity { return (x, { $0 }) }
    let sampler = AffineSampler(sourceFromOutput: m, inputHeight: h, inputWidth: w, wrap: wrap)
    return (sampler.apply(x), { sampler.adjoint($0) })
  }
}
