import PipelineKit

/// What `noise` and `fnoise` share: the standard deviation per channel (`R G B`, one value or
/// three, not negative) and adding one noise plane per channel, drawn from the view's stream.
struct ChannelNoise: Sendable {
  /// Standard deviation per channel.
  let std: [Param<Double>]
  /// The message for a negative std.
  let requirement: String

  /// Reads the std per channel of stage `stage`, described by `doc`; constants must not be
  /// negative.
  init(reading parameters: inout ParameterReader, stage: String, doc: String) throws(ConfigError) {
    requirement = "\(stage) std must not be negative"
    std = try parameters.directList(Double.self, lengths: [3], doc: doc)
    try std.validate(requirement) { $0 >= 0 }
  }

  /// x + a noise plane per channel of an image `[C,H,W]`: N(0, std_c²) samples, or with
  /// `shape` N(0, 1) samples that `shape(plane, std_c)` turns into channel c's noise in place.
  /// Draws one number per channel from the context's stream, in channel order.
  func add(
    to x: Tensor, in context: inout StageContext,
    shape: ((UnsafeMutableBufferPointer<Float>, Float) -> Void)? = nil
  ) throws(StageError) -> Tensor {
    let s = try std.checked(requirement, in: &context) { $0 >= 0 }
    let (c, h, w) = x.chw
    let plane = h * w
    precondition(x.count == c * plane, "ChannelNoise: expected one image [C,H,W], got \(x.shape)")
    guard c > 0 else { return x }
    let std = (0..<c).map { Float(s[$0 % s.count]) }
    var out = [Float](unsafeUninitializedCapacity: x.count) { n, initialized in  // (C, H, W)
      NormalNoise.fill(
        n, planes: c, std: shape == nil ? std : [Float](repeating: 1, count: c),
        random: &context.random)
      initialized = c * plane
      if let shape {
        for ch in 0..<c {
          shape(UnsafeMutableBufferPointer(rebasing: n[ch * plane..<(ch + 1) * plane]), std[ch])
        }
      }
    }
    out.withUnsafeMutableBufferPointer { o in
      x.scalars.withUnsafeBufferPointer { x in
        for i in o.indices { o[i] += x[i] }
      }
    }
    return Tensor(shape: x.shape, scalars: out)
  }
}
