import PipelineKit

/// `edge: {kernel_size, sigma, amount}` — keeps the fine detail: out = clamp((in − blur(in)) ·
/// amount_c, 0, 1) with the Gaussian blur of `blur` (as in CLIPig; wrapping with `tiling: true`). Not linear (the clamp),
/// keeps the resolution; the pullback is PyTorch's autograd of the same expression: zero where
/// clamped, else amount_c · (I − Gᵀ) applied to the cotangent.
///
/// Differences from CLIPig: `amount` is per channel (CLIPig broadcast it along the width and
/// failed for every width ≠ 3) and the kernel size is sanitised as for `blur` (CLIPig failed
/// on even sizes).
public struct Edge: Stage {
  /// The key that puts this stage in a `transforms:` or `postproc:` list (`- edge: …`).
  public static let name = "edge"
  /// One line for the docs.
  public static let summary =
    "Detail above the Gaussian blur, clamped: clamp((in − blur(in))·amount, 0, 1); pullback: its derivative, 0 where clamped."
  /// Keeps the resolution; not linear.
  public static let traits: StageTraits = []
  /// Exact derivative of a piecewise-smooth function (the clamp).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["kernel_size": 3, "amount": "1 2 3"]),
    StageExample(["kernel_size": "5 3", "sigma": "1.2 0.9", "amount": 4], inputShape: [3, 8, 6]),
    StageExample(["kernel_size": 4], inputShape: [3, 6, 8]),
    StageExample(["kernel_size": 11, "amount": 5], inputShape: [3, 12, 13]),
    StageExample(["kernel_size": 1, "amount": 2], inputShape: [3, 3, 4]),
    StageExample(["amount": "2+2*t", "sigma": "t, 1"], inputShape: [3, 5, 6]),
  ]

  let blur: GaussianBlurParameters
  let amount: [Param<Double>]

  /// Reads `kernel_size`, `sigma` and `amount`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    blur = try GaussianBlurParameters(reading: &parameters)
    amount = try parameters.list(
      "amount", Double.self, lengths: [3], default: [1, 1, 1], doc: "factor per channel (R G B)")
  }

  /// out_c = clamp((in_c − G ⋆ in_c) · amount_c, 0, 1).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let filter = try blur.filter(in: &context)
    let a = try context.values(amount).map(Float.init)
    let blurred = filter.apply(x)
    var detail = x  // (C, H, W) before the clamp
    detail.scalars.withUnsafeMutableBufferPointer { d in
      blurred.scalars.withUnsafeBufferPointer { b in
        for i in d.indices { d[i] -= b[i] }
      }
    }
    detail = detail.perChannel { c, v in v * a[c % a.count] }
    return (
      ImageOps.clamp(detail, 0, 1),
      { dy in
        var d = ImageOps.clampPullback(dy, input: detail, 0, 1).perChannel { c, v in
          v * a[c % a.count]
        }
        let back = filter.adjoint(d)
        d.scalars.withUnsafeMutableBufferPointer { d in
          back.scalars.withUnsafeBufferPointer { b in
            for i in d.indices { d[i] -= b[i] }
          }
        }
        return d
      }
    )
  }
}
