import PipelineKit

/// `blur: {kernel_size, sigma}` — Gaussian blur with reflect padding, as torchvision's
/// `gaussian_blur` (as in CLIPig); with `tiling: true` it wraps around the torus instead. Linear, deterministic, keeps the resolution; the pullback is
/// the transposed filter (reflect padding folded back onto the mirrored pixels).
///
/// Kernel sizes are sanitised as CLIPig does (even → +1, at least 1; sigma at least 0.0001).
/// Where PyTorch fails on images not larger than half the kernel, the mirror continues.
public struct Blur: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- blur: …`).
  public static let name = "blur"
  /// One line for the docs.
  public static let summary =
    "Gaussian blur, reflect padding (torchvision's gaussian_blur); pullback: the transposed blur."
  /// Linear, keeps the resolution.
  public static let traits: StageTraits = [.linear]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["kernel_size": 3]),
    StageExample(["kernel_size": "5 3", "sigma": "1.5 0.7"], inputShape: [3, 5, 8]),
    StageExample(["kernel_size": 11], inputShape: [3, 12, 13]),
    StageExample(["kernel_size": [1, 3]], inputShape: [3, 4, 6]),
    StageExample(["kernel_size": 4], inputShape: [3, 7, 5]),
    StageExample(
      ["kernel_size": "int(3 + 4*t)", "sigma": ["0.5 + t", "1 - t/2"]], inputShape: [3, 8, 9]),
    StageExample(["kernel_size": 11], inputShape: [3, 3, 4]),
  ]

  let blur: GaussianBlurParameters

  /// Reads `kernel_size` and `sigma`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    blur = try GaussianBlurParameters(reading: &parameters)
  }

  /// out = G ⋆ in (per channel).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let filter = try blur.filter(in: &context)
    return (filter.apply(x), { filter.adjoint($0) })
  }
}
