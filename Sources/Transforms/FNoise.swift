import PipelineKit

/// `fnoise: R G B` — CLIPig's "frequency noise" (as in CLIPig): per channel, Gaussian noise added
/// to every real-FFT bin of the flattened pixels. That noise is white except for the constant
/// and the alternating component (half the variance), and is produced exactly that way, without
/// an FFT (see `FrequencyNoise`). Random and affine, keeps the resolution; the pullback is the
/// identity.
///
/// Differences from CLIPig: works for odd pixel counts (CLIPig crashed), and `std` is the
/// per-pixel standard deviation at every resolution (CLIPig's was 15·std·√(2/(H·W)), about
/// 0.095·std at 224×224).
public struct FNoise: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- fnoise: …`).
  public static let name = "fnoise"
  /// One line for the docs.
  public static let summary =
    "Adds CLIPig's Fourier-domain noise, per-pixel std as given at any resolution; pullback: identity."
  /// Random, affine, keeps the resolution.
  public static let traits: StageTraits = [.affine, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(0.1),
    StageExample("0.1 0.2 0.3", inputShape: [3, 4, 6]),
    StageExample("0.1*ti", inputShape: [3, 5, 3]),
    StageExample(0.05, inputShape: [3, 1, 1]),
  ]

  let noise: ChannelNoise

  /// Reads the std per channel (one value or three), not negative.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    noise = try ChannelNoise(
      reading: &parameters, stage: Self.name,
      doc: "per-pixel standard deviation per channel (R G B)")
  }

  /// out_c = in_c + fnoise_c with per-pixel std std_c.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let y = try noise.add(to: x, in: &context) { plane, std in
      FrequencyNoise.shape(plane, std: std)
    }
    return (y, { $0 })
  }
}
