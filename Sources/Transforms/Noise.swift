import PipelineKit

/// `noise: R G B` — adds Gaussian noise with a standard deviation per channel, an independent
/// sample per pixel and channel (as in CLIPig). Random and affine, keeps the resolution; the noise
/// does not depend on the input, so the pullback is the identity.
public struct Noise: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- noise: …`).
  public static let name = "noise"
  /// One line for the docs.
  public static let summary =
    "Adds Gaussian noise, std per channel, drawn per pixel and channel; pullback: identity."
  /// Random, affine, keeps the resolution.
  public static let traits: StageTraits = [.affine, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample("1/10"),
    StageExample("0.1 0.2 0.3", inputShape: [3, 4, 5]),
    StageExample("0.1*ti", inputShape: [3, 5, 2]),
    StageExample(0.05, inputShape: [3, 96, 97]),
  ]

  let noise: ChannelNoise

  /// Reads the std per channel (one value or three), not negative.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    noise = try ChannelNoise(
      reading: &parameters, stage: Self.name, doc: "standard deviation per channel (R G B)")
  }

  /// out_c = in_c + std_c · N(0, 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    (try noise.add(to: x, in: &context), { $0 })
  }
}
