import PipelineKit

/// `mean: R G B` — shifts each channel so that its average is the given value:
/// out_c = in_c + mean_c − average(in_c) (as in CLIPig). Affine, keeps the resolution; the
/// pullback removes each channel's average from the cotangent (dx_c = dy_c − average(dy_c)).
public struct Mean: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- mean: …`).
  public static let name = "mean"
  /// One line for the docs.
  public static let summary =
    "Sets each channel's average (out = in − average(in) + mean); pullback: cotangent minus its channel average."
  /// Affine, keeps the resolution.
  public static let traits: StageTraits = [.affine]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(0.5),
    StageExample("0.2 0.5 0.8", inputShape: [3, 4, 4]),
    StageExample("t, 0.5, ti", inputShape: [3, 1, 5]),
  ]

  let mean: [Param<Double>]

  /// Reads the target averages (one value or three).
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    mean = try parameters.directList(
      Double.self, lengths: [3], doc: "target average per channel (R G B)")
  }

  /// out_c = in_c + mean_c − average(in_c).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let target = try context.values(mean)
    let averages = ImageStatistics.channelMeans(x)
    let shift = averages.indices.map { Float(target[$0 % target.count] - averages[$0]) }
    return (
      x.perChannel { c, v in v + shift[c] },
      { dy in
        let a = ImageStatistics.channelMeans(dy).map(Float.init)
        return dy.perChannel { c, v in v - a[c] }
      }
    )
  }
}
