import PipelineKit

/// Constraint `noise: {std}` — reports a constant and never changes the image (as in CLIPig).
///
/// CLIPig computed 100 · L(img, img + std·N(0,1)): the image cancels, so the loss was a random
/// number and its gradient exactly zero. clipig keeps that meaning without the randomness: the
/// value is its expectation, 100 · mean_c std_c² for l2 and 100 · mean_c std_c·√(2/π) for l1,
/// so logs stay comparable. Deterministic, a scalar loss; the pullback is zero. To add noise
/// to the views use the `noise` transform.
public struct NoiseConstraint: Stage {
  /// The key that adds this constraint to a target's `constraints:` (`- noise: …`).
  public static let name = "noise"
  /// One line for the docs.
  public static let summary =
    "CLIPig's no-op: the expected value of 100·L(img, img + std·noise), a constant; pullback: zero."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Examples for the gradient harness and the docs.
  public static let examples: [StageExample] = [
    StageExample(["std": 0.1]),
    StageExample(["std": "0.1 0.2 0.3", "loss": "l1"], inputShape: [3, 4, 4]),
    StageExample(["std": "0.1*ti"], inputShape: [3, 2, 5]),
  ]

  let std: [Param<Double>]
  let loss: ConstraintLoss
  static let requirement = "noise std must not be negative"

  /// Reads `std` (one value or three, not negative) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    std = try parameters.list(
      "std", Double.self, lengths: [3], doc: "noise standard deviation per channel (R G B)")
    loss = try ConstraintLoss(reading: &parameters)
    try std.validate(Self.requirement) { $0 >= 0 }
  }

  /// The expected value of CLIPig's noise loss.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let s = try std.checked(Self.requirement, in: &context) { $0 >= 0 }
    let perChannel = s.map { loss == .l2 ? $0 * $0 : $0 * (2 / Double.pi).squareRoot() }
    let value = 100 * perChannel.reduce(0, +) / Double(perChannel.count)
    let shape = x.shape
    return (Tensor(scalar: Float(value)), { _ in Tensor(shape: shape) })
  }
}
