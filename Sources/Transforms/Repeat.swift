import PipelineKit

/// `repeat: CX CY` — tiles the image CX times horizontally and CY times vertically. Linear,
/// changes the resolution to (CX·W) × (CY·H); the pullback sums the cotangent of all tiles.
public struct Repeat: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- repeat: …`).
  public static let name = "repeat"
  /// One line for the docs.
  public static let summary =
    "Tiles the image the given number of times horizontally and vertically."
  /// Linear, changes the resolution.
  public static let traits: StageTraits = [.linear, .changesResolution]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(2),
    StageExample("3 1", inputShape: [3, 3, 4]),
    StageExample("1 2", inputShape: [3, 4, 3]),
    StageExample("1 + 2*t, 2", inputShape: [3, 2, 3], t: 1),
  ]

  let count: [Param<Int>]

  /// Reads the counts (x, y; one value for both), each at least 1.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    count = try parameters.directList(
      Int.self, lengths: [2], doc: "number of copies horizontally and vertically")
    try Geometry.requireAtLeast(count, 1, "repeat count")
    try Geometry.requireExtent(count, "repeat count")
  }

  /// out[:, r, c] = in[:, r mod H, c mod W] (evaluated counts below 1 count as 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let n = try context.values(count)
    let (_, h, w) = x.chw
    let cx = try Geometry.extent(n[0], count[0], context)
    let cy = try Geometry.extent(n[1], count[1], context)
    if cx == 1 && cy == 1 { return (x, { $0 }) }
    _ = try Geometry.bounded(cx * w, count[0], context)
    _ = try Geometry.bounded(cy * h, count[1], context)
    let map = IndexMap(
      rows: AxisIndex.tile(count: cy, length: h), columns: AxisIndex.tile(count: cx, length: w),
      inputHeight: h, inputWidth: w)
    return (map.gather(x), { map.scatterAdd($0) })
  }
}
