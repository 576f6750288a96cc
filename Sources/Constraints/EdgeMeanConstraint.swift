import PipelineKit

/// Constraint `edge_mean: {above, below, kernel_size, sigma}` — keeps each channel's amount of
/// fine detail above and/or below bounds (as in CLIPig): v_c = average over pixels of
/// |blur(img) − img| with the Gaussian blur of `blur`; loss = 100 · hinge loss of v. A scalar
/// loss; the pullback is (Gᵀ − I)·s with s = sign(blur(img) − img)·dv_c/n.
public struct EdgeMeanConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- edge_mean: …`).
  public static let name = "edge_mean"
  /// One line for the docs.
  public static let summary =
    "Mean |blur(img) − img| above/below bounds (one-sided, ×100); pullback: (blurᵀ − 1) of the signs."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative of a piecewise-smooth function (abs and hinge).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["above": 0.5]),
    StageExample(
      ["below": 0.01, "kernel_size": "5 3", "sigma": "1.3 0.6", "loss": "l1"],
      inputShape: [3, 7, 8]),
    StageExample(["above": 0.3, "kernel_size": 11], inputShape: [3, 6, 7]),
    StageExample(["above": "0.2+t", "kernel_size": 4], inputShape: [3, 6, 5]),
  ]

  let blur: GaussianBlurParameters
  let loss: BoundedLoss

  /// Reads `above`, `below` (at least one), `kernel_size`, `sigma` and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    let bounds = try Bounds(reading: &parameters, value: "mean |blur(img) − img|")
    blur = try GaussianBlurParameters(reading: &parameters)
    loss = BoundedLoss(bounds: bounds, function: try ConstraintLoss(reading: &parameters))
  }

  /// 100 · hinge loss of the channel edge means.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let filter = try blur.filter(in: &context)
    let (c, h, w) = x.chw
    let n = h * w
    var sign = filter.apply(x)  // (C, H, W): blur(x) − x, then its sign
    var v = [Double](repeating: 0, count: c)
    sign.scalars.withUnsafeMutableBufferPointer { s in
      for ch in 0..<c {
        for i in ch * n..<(ch + 1) * n {
          let d = s[i] - x.scalars[i]
          v[ch] += Double(abs(d))
          s[i] = d > 0 ? 1 : d < 0 ? -1 : 0
        }
        if n > 0 { v[ch] /= Double(n) }
      }
    }
    let signs = sign
    return try loss.evaluate(v, factor: 100, in: &context) { dv in
      let scale = dv.map { Float($0 / Double(n)) }
      let s = signs.perChannel { ch, v in v * scale[ch] }
      var dx = filter.adjoint(s)
      dx.scalars.withUnsafeMutableBufferPointer { d in
        for i in d.indices { d[i] -= s.scalars[i] }
      }
      return dx
    }
  }
}
