import PipelineKit

/// `bwnoise: STD` — adds gray Gaussian noise: one N(0, std²) plane added to all three channels
/// (as in CLIPig). Random and affine, keeps the resolution; the pullback is the identity.
public struct BWNoise: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- bwnoise: …`).
  public static let name = "bwnoise"
  /// One line for the docs.
  public static let summary =
    "Adds gray Gaussian noise (one plane for all channels); pullback: identity."
  /// Random, affine, keeps the resolution.
  public static let traits: StageTraits = [.affine, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(0.1),
    StageExample("1/5*ti", inputShape: [3, 4, 5]),
    StageExample(0.2, inputShape: [3, 101, 96]),
  ]

  let std: Param<Double>
  static let requirement = "bwnoise std must not be negative"

  /// Reads the std, not negative.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    std = try parameters.directScalar(Double.self, doc: "standard deviation of the gray noise")
    try std.validate(Self.requirement) { $0 >= 0 }
  }

  /// out_c = in_c + std · N(0, 1) with one sample per pixel shared by the channels.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = Float(try std.checked(Self.requirement, in: &context) { $0 >= 0 })
    let (c, h, w) = x.chw
    let plane = h * w
    let noise = NormalNoise.array(count: plane, std: s, random: &context.random)  // (H, W)
    var out = x
    out.scalars.withUnsafeMutableBufferPointer { o in
      noise.withUnsafeBufferPointer { n in
        for ch in 0..<c {
          for i in 0..<plane { o[ch * plane + i] += n[i] }
        }
      }
    }
    return (out, { $0 })
  }
}
