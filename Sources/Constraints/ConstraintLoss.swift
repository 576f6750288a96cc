import PipelineKit

/// A constraint's loss function (`loss`): the mean over all elements of the squared (`l2`,
/// `mse`) or absolute (`l1`, `mae`) differences. Names are accepted in any case (CLIPig's were
/// case-sensitive and only checked when first used; clipig checks them at load).
public enum ConstraintLoss: String, Sendable, ConfigChoice {
  /// Mean absolute difference.
  case l1
  /// Mean squared difference.
  case l2

  /// l1/mae and l2/mse.
  public static let names: [(name: String, value: ConstraintLoss)] = [
    ("l1", .l1), ("mae", .l1), ("l2", .l2), ("mse", .l2),
  ]
  /// `L1` and `MSE` are accepted too.
  public static var ignoresCase: Bool { true }

  /// Reads `loss` (default `l2`).
  public init(reading parameters: inout ParameterReader) throws(ConfigError) {
    self = try parameters.choice(
      "loss", Self.self, default: "l2", doc: "mean absolute or mean squared difference")
  }

  /// The loss of one difference: d² or |d|.
  @inlinable
  public func value(_ d: Double) -> Double {
    switch self {
    case .l1: abs(d)
    case .l2: d * d
    }
  }

  /// Its derivative: 2d or sign(d) (0 at 0, as PyTorch).
  @inlinable
  public func derivative(_ d: Double) -> Double {
    switch self {
    case .l1: d > 0 ? 1 : d < 0 ? -1 : 0
    case .l2: 2 * d
    }
  }

  /// factor · mean over `diff` of the loss, and the derivative of that with respect to each
  /// element of `diff` (written to `gradient`, same length).
  public func mean(_ diff: [Float], factor: Double, gradient: inout [Float]) -> Double {
    precondition(gradient.count == diff.count)
    guard !diff.isEmpty else { return 0 }
    let n = Double(diff.count)
    var total = 0.0
    for i in diff.indices {
      let d = Double(diff[i])
      total += value(d)
      gradient[i] = Float(factor * derivative(d) / n)
    }
    return factor * total / n
  }

  /// `factor · mean` of the loss over `diff` (img − a target that does not depend on the
  /// image) as a scalar tensor, with its pullback to the image: `dy · dL/d diff`.
  public func meanOfDifference(_ diff: Tensor, factor: Double) -> (
    value: Tensor, pullback: Pullback
  ) {
    var g = [Float](repeating: 0, count: diff.count)
    let value = mean(diff.scalars, factor: factor, gradient: &g)
    let shape = diff.shape
    return (
      Tensor(scalar: Float(value)),
      { dy in Tensor(shape: shape, scalars: g) * dy.scalars[0] }
    )
  }
}

/// The `above`/`below` bounds of the mean, std, saturation, contrast and edge_mean constraints
/// (as in CLIPig) as one-sided hinges (docs/differences-from-clipig.md): `above: a` penalises only channels whose
/// value is below a, `below: b` only those above b:
/// loss = F · (L(max(0, a − v)) + L(max(0, v − b))), L the mean over the channels of the loss
/// function. CLIPig's terms were symmetric (both pulled v toward the bound from either side).
public struct Bounds: Sendable {
  /// Lower bound per channel.
  public let above: [Param<Double>]?
  /// Upper bound per channel.
  public let below: [Param<Double>]?

  /// Reads `above` and `below`; at least one must be given.
  public init(reading parameters: inout ParameterReader, value: String) throws(ConfigError) {
    above = try parameters.optionalList(
      "above", Double.self, lengths: [3], doc: "penalise channels whose \(value) is below this")
    below = try parameters.optionalList(
      "below", Double.self, lengths: [3], doc: "penalise channels whose \(value) is above this")
    if above == nil && below == nil {
      // Point at a misspelt bound rather than only saying that none was given.
      for entry in parameters.node.entries ?? [] {
        let close = Suggestions.closest(to: entry.key, among: ["above", "below"])
        if !close.isEmpty && entry.key != "above" && entry.key != "below" {
          throw ConfigError(
            "unknown parameter '\(entry.key)' (did you mean '\(close[0])'?); give 'above', 'below' or both",
            at: entry.keyLocation, path: parameters.path + "." + entry.key)
        }
      }
      throw ConfigError(
        "give 'above', 'below' or both", at: parameters.node.location, path: parameters.path)
    }
  }

  /// The loss for channel values `v`, times `factor`, and its derivative with respect to `v`.
  public func loss(
    _ v: [Double], function: ConstraintLoss, factor: Double, in context: inout StageContext
  ) throws(StageError) -> (value: Double, dv: [Double]) {
    var total = 0.0
    var dv = [Double](repeating: 0, count: v.count)
    let n = Double(v.count)
    if let above {
      let a = try context.values(above)
      for c in v.indices {
        let d = max(0, a[c % a.count] - v[c])
        total += function.value(d) / n
        if d > 0 { dv[c] -= factor * function.derivative(d) / n }
      }
    }
    if let below {
      let b = try context.values(below)
      for c in v.indices {
        let d = max(0, v[c] - b[c % b.count])
        total += function.value(d) / n
        if d > 0 { dv[c] += factor * function.derivative(d) / n }
      }
    }
    return (factor * total, dv)
  }
}

/// What the `above`/`below` constraints (mean, std, saturation, contrast, edge_mean) share:
/// their `Bounds` and loss function, and turning channel values into the constraint's output.
public struct BoundedLoss: Sendable {
  /// The one-sided bounds.
  public let bounds: Bounds
  /// The loss function applied to the distance from a bound.
  public let function: ConstraintLoss

  /// Bounds and a loss function read elsewhere.
  public init(bounds: Bounds, function: ConstraintLoss) {
    self.bounds = bounds
    self.function = function
  }

  /// Reads `above`, `below` (at least one; `value` names what they bound) and then `loss`.
  public init(reading parameters: inout ParameterReader, value: String) throws(ConfigError) {
    bounds = try Bounds(reading: &parameters, value: value)
    function = try ConstraintLoss(reading: &parameters)
  }

  /// The constraint's output `[1]` for channel values `v` times `factor`, and its pullback,
  /// given the pullback `vjp` from a cotangent of `v` to one of the image.
  public func evaluate(
    _ v: [Double], factor: Double, in context: inout StageContext,
    vjp: @escaping ([Double]) -> Tensor
  ) throws(StageError) -> (value: Tensor, pullback: Pullback) {
    let (value, dv) = try bounds.loss(v, function: function, factor: factor, in: &context)
    return (
      Tensor(scalar: Float(value)),
      { dy in
        let s = Double(dy.scalars[0])
        return vjp(dv.map { $0 * s })
      }
    )
  }
}
