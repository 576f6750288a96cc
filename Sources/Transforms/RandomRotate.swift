import PipelineKit

/// `random_rotate: {degree: MIN MAX, center: MIN MAX}` — `rotate` by a random angle U(MIN, MAX)
/// about a random pivot whose x and y fractions are both drawn from the one `center` range (as in
/// CLIPig: `center: 0 1` puts the pivot anywhere). Drawn per view in the order angle, x, y; with
/// `tiling: true` the source wraps around the torus instead of reading black. Linear
/// and random, keeps the resolution; the pullback scatter-adds onto the pixels that were read.
public struct RandomRotate: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- random_rotate: …`).
  public static let name = "random_rotate"
  /// One line for the docs.
  public static let summary =
    "Rotates by a random angle about a random pivot (nearest neighbour, black outside)."
  /// Linear, random, keeps the resolution.
  public static let traits: StageTraits = [.linear, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["degree": "-30 30"]),
    StageExample(["degree": "-20 20", "center": "0 1"], inputShape: [3, 6, 6]),
    StageExample(["degree": "60 120", "center": "0.3 0.7"], inputShape: [3, 5, 8]),
    StageExample(["degree": "-30*ti 30", "center": "0 0.1"], inputShape: [3, 7, 5], t: 0.5),
  ]

  let degree: [Param<Double>]
  let center: [Param<Double>]

  /// Reads the angle range and the pivot range; constant ranges must have min ≤ max.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    degree = try parameters.list(
      "degree", Double.self, lengths: [2],
      doc: "minimum and maximum counter-clockwise angle in degrees")
    center = try parameters.list(
      "center", Double.self, lengths: [2], default: [0.5, 0.5],
      doc: "minimum and maximum pivot position, as a fraction of the size, for both x and y")
    try Geometry.requireOrdered(degree[0], degree[1], "random_rotate degree")
    try Geometry.requireOrdered(center[0], center[1], "random_rotate center")
  }

  /// Draws angle, pivot x and pivot y, then rotates like `rotate`.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let d = try context.values(degree)
    let c = try context.values(center)
    let angle = context.random.uniform(d[0], d[1])
    let fx = context.random.uniform(c[0], c[1])
    let fy = context.random.uniform(c[0], c[1])
    return Rotate.rotate(x, degrees: angle, fx: fx, fy: fy, wrap: context.tiling)
  }
}
