import PipelineKit

/// Constraint `blur: {kernel_size, sigma}` — pulls the view toward its own Gaussian blur, i.e.
/// toward local smoothness (as in CLIPig): loss = 100 · L(img, blur(img)), the blurred copy part of
/// the gradient graph, kernel and sigma sanitised as for the `blur` transform. A scalar loss;
/// the pullback is (I − Gᵀ)·L'(img − blur(img)).
public struct BlurConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- blur: …`).
  public static let name = "blur"
  /// One line for the docs.
  public static let summary =
    "Distance between the view and its Gaussian blur (×100); pullback: (1 − blurᵀ) of the loss derivative."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative (piecewise for l1).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["kernel_size": 3]),
    StageExample(["kernel_size": 11], inputShape: [3, 12, 13]),
    StageExample(["kernel_size": "4 1", "loss": "l1"], inputShape: [3, 5, 9]),
    StageExample(["kernel_size": "int(1 + 6*t)", "sigma": "0.5 2"], inputShape: [3, 6, 6]),
  ]

  let blur: GaussianBlurParameters
  let loss: ConstraintLoss

  /// Reads `kernel_size`, `sigma` and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    blur = try GaussianBlurParameters(reading: &parameters)
    loss = try ConstraintLoss(reading: &parameters)
  }

  /// 100 · L(img, blur(img)).
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let filter = try blur.filter(in: &context)
    var diff = x  // (C, H, W): x − blur(x)
    let blurred = filter.apply(x)
    diff.scalars.withUnsafeMutableBufferPointer { d in
      for i in d.indices { d[i] -= blurred.scalars[i] }
    }
    var g = [Float](repeating: 0, count: diff.count)
    let value = loss.mean(diff.scalars, factor: 100, gradient: &g)
    let gradient = Tensor(shape: x.shape, scalars: g)
    return (
      Tensor(scalar: Float(value)),
      { dy in
        let s = dy.scalars[0]
        let back = filter.adjoint(gradient)
        var dx = gradient
        dx.scalars.withUnsafeMutableBufferPointer { d in
          for i in d.indices { d[i] = s * (d[i] - back.scalars[i]) }
        }
        return dx
      }
    )
  }
}
