import PipelineKit

/// `rnoise: {std, resolution}` — adds low-resolution Gaussian noise: a 3×h×w normal image is
/// resized to the view with bilinear interpolation (half-pixel centres, no antialiasing),
/// scaled by std per channel and added (as in CLIPig). Random and affine, keeps the resolution;
/// the pullback is the identity.
public struct RNoise: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- rnoise: …`).
  public static let name = "rnoise"
  /// One line for the docs.
  public static let summary =
    "Adds Gaussian noise drawn at a lower resolution and resized bilinearly; pullback: identity."
  /// Random, affine, keeps the resolution.
  public static let traits: StageTraits = [.affine, .random]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["std": 0.1, "resolution": "3 2"]),
    StageExample(["std": "0.1 0.2 0.3", "resolution": 10], inputShape: [3, 6, 7]),
    StageExample(["std": "0.2*ti", "resolution": "int(2 + 4*t), 3"], inputShape: [3, 9, 8]),
    StageExample(["std": 0.5, "resolution": 1], inputShape: [3, 4, 4]),
  ]

  let std: [Param<Double>]
  let resolution: [Param<Int>]
  static let stdRequirement = "rnoise std must not be negative"
  static let resolutionRequirement = "rnoise resolution must be at least 1"

  /// Reads `std` (one value or three, not negative) and `resolution` (w h, at least 1).
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    std = try parameters.list(
      "std", Double.self, lengths: [3], doc: "standard deviation per channel (R G B)")
    resolution = try parameters.list(
      "resolution", Int.self, lengths: [2], doc: "size of the noise image (width height)")
    try std.validate(Self.stdRequirement) { $0 >= 0 }
    try resolution.validate(Self.resolutionRequirement) { $0 >= 1 }
  }

  /// out_c = in_c + std_c · bilinear(N)_c with N a 3×h×w normal image.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try std.checked(Self.stdRequirement, in: &context) { $0 >= 0 }.map(Float.init)
    let r = try resolution.checked(Self.resolutionRequirement, in: &context) { $0 >= 1 }
    let c = x.chw.c
    let noise = Tensor(
      shape: [c, r[1], r[0]],
      scalars: NormalNoise.array(count: c * r[0] * r[1], random: &context.random))
    return (Self.add(noise: noise, to: x, std: s, wrap: context.tiling), { $0 })
  }

  /// x + std_c · (`noise` resized bilinearly to x's size, periodically with `wrap`): the
  /// deterministic part of `rnoise`.
  public static func add(noise: Tensor, to x: Tensor, std: [Float], wrap: Bool = false) -> Tensor {
    let (c, h, w) = x.chw
    let (nc, nh, nw) = noise.chw
    precondition(nc == c, "RNoise.add: \(nc) noise channels for \(c) image channels")
    // (C, H, W)
    let up = Resampler(from: nh, nw, to: h, w, filter: .linear, wrap: wrap).apply(noise)
    var out = x
    let plane = h * w
    out.scalars.withUnsafeMutableBufferPointer { o in
      up.scalars.withUnsafeBufferPointer { u in
        for ch in 0..<c {
          let sc = std[ch % std.count]
          for i in ch * plane..<(ch + 1) * plane { o[i] += sc * u[i] }
        }
      }
    }
    return out
  }
}
