import ExprEval

/// Maps a cotangent of a stage's output to the cotangent of its input (a vector–Jacobian
/// product). It closes over whatever the forward pass computed (random draws, index maps).
public typealias Pullback = (Tensor) -> Tensor

/// A differentiable step of a pipeline: a transform, a post-processing effect or a constraint.
///
/// A stage is created from its YAML parameters and is immutable afterwards. `forward` maps one
/// image `[C,H,W]` to its output (an image for transforms, a `[1]` loss for constraints) and
/// returns a hand-written pullback. Random draws come from `context.random` inside `forward`,
/// so two calls with copies of one context give bit-identical results.
///
/// A custom transform is one type conforming to `Stage` plus one registration line:
/// `let registry = StageRegistry.transforms.adding(Vignette.self)`.
public protocol Stage: Sendable {
  /// The YAML key, in CLIPig's snake_case (`random_rotate`).
  static var name: String { get }
  /// One line on what the stage does, for generated docs.
  static var summary: String { get }
  /// Whether it is linear/affine, random, resolution-changing (drives tests and the runner).
  static var traits: StageTraits { get }
  /// How its pullback relates to the true derivative (drives the gradient harness).
  static var gradient: GradientPolicy { get }
  /// Parameter sets that exercise the stage: they feed the gradient harness and the docs.
  static var examples: [StageExample] { get }

  /// Reads and checks the parameters; every user error is a `ConfigError` with file:line:col.
  init(parameters: inout ParameterReader) throws(ConfigError)

  /// The output for one image `[C,H,W]` and the pullback from output to input cotangent.
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  )
}

extension Stage {
  /// Smooth by default: the pullback is the exact derivative everywhere.
  public static var gradient: GradientPolicy { .smooth }

  /// Runs the stage on each view of a batch `[N,C,H,W]` in order (each view draws its own
  /// random numbers, in view order) and stacks the outputs.
  public func forwardBatch(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    precondition(x.rank == 4, "forwardBatch: expected [N,C,H,W], got \(x.shape)")
    var outputs: [Tensor] = []
    var pullbacks: [Pullback] = []
    for i in 0..<x.shape[0] {
      let (y, pb) = try forward(x.view(i), in: &context)
      outputs.append(y)
      pullbacks.append(pb)
    }
    let inputShape = Array(x.shape.dropFirst())
    return (
      Tensor.stack(outputs),
      { dy in
        var parts: [Tensor] = []
        parts.reserveCapacity(pullbacks.count)
        for i in pullbacks.indices { parts.append(pullbacks[i](dy.view(i))) }
        let dx = Tensor.stack(parts)
        precondition(Array(dx.shape.dropFirst()) == inputShape)
        return dx
      }
    )
  }
}

/// What kind of function a stage computes.
public struct StageTraits: OptionSet, Sendable, Hashable {
  /// The raw bit set.
  public let rawValue: Int
  /// Creates traits from raw bits.
  public init(rawValue: Int) { self.rawValue = rawValue }

  /// f(x) = A·x: checked with the exact adjoint identity ⟨f(x), v⟩ = ⟨x, fᵀ(v)⟩.
  public static let linear = StageTraits(rawValue: 1 << 0)
  /// f(x) = A·x + b (b may be random): checked with ⟨f(x) − f(0), v⟩ = ⟨x, fᵀ(v)⟩.
  public static let affine = StageTraits(rawValue: 1 << 1)
  /// Draws random numbers: checked for determinism under a copied context and for using it.
  public static let random = StageTraits(rawValue: 1 << 2)
  /// Output size differs from the input's: not allowed in `postproc`.
  public static let changesResolution = StageTraits(rawValue: 1 << 3)
  /// Output is a `[1]` loss (constraints).
  public static let scalarLoss = StageTraits(rawValue: 1 << 4)
}

/// How a stage's pullback relates to its derivative; the harness checks each accordingly.
public enum GradientPolicy: Sendable, Equatable {
  /// Exact derivative everywhere: checked by central finite differences.
  case smooth
  /// Exact derivative of a piecewise-smooth function (clamp, quantize, max): checked by finite
  /// differences at coordinates where the function is locally smooth (one-sided differences agree).
  case piecewise
  /// The pullback passes the cotangent through unchanged on purpose (straight-through estimator).
  case straightThrough
}

/// One parameter set for a stage, with the input it should be tested on.
public struct StageExample: Sendable {
  /// The stage's YAML value (`0.5`, `"1 2"`, or a mapping of parameters).
  public var parameters: ConfigNode
  /// The input image shape `[C,H,W]`.
  public var inputShape: [Int]
  /// Training time `t` at which parameters are evaluated.
  public var t: Double
  /// Range of the random input values.
  public var inputRange: ClosedRange<Float>

  /// An example with parameters `parameters` on a `[C,H,W]` input (default 3×6×7: odd, non-square).
  public init(
    _ parameters: ConfigNode, inputShape: [Int] = [3, 6, 7], t: Double = 0.5,
    inputRange: ClosedRange<Float> = 0...1
  ) {
    self.parameters = parameters
    self.inputShape = inputShape
    self.t = t
    self.inputRange = inputRange
  }
}

/// Everything a stage may read while running: the expression variables of this moment, the
/// run's seeded random source and whether the image is a torus (`tiling`).
public struct StageContext: Sendable {
  /// Values of `t`, `epoch`, `resolution`, `learnrate`, `similarity` … for expressions.
  public var variables: ExprContext
  /// The random source; stages draw from it inside `forward`.
  public var random: SeededRandom
  /// The image a `ReferenceImageStage` (the `content` constraint) compares its input with,
  /// `[C,H,W]` at the input's size; the runner sets it for those stages, nil elsewhere.
  public var reference: Tensor?
  /// The experiment's `tiling: true`: the image is a torus, so every stage that reads beyond
  /// the edge or mixes neighbours (pad, rotate, scale, translate, crop, blur, resize …) reads
  /// the opposite edge instead of a fill, a mirror or a clamp.
  public var tiling: Bool

  /// A context with the given variables, random stream, reference image and tiling.
  public init(
    variables: ExprContext = ExprContext(), random: SeededRandom = SeededRandom(seed: 0),
    reference: Tensor? = nil, tiling: Bool = false
  ) {
    self.variables = variables
    self.random = random
    self.reference = reference
    self.tiling = tiling
  }

  /// The value of `parameter` now (expressions are evaluated, drawing from `random`).
  public mutating func value<T: ParamScalar>(_ parameter: Param<T>) throws(StageError) -> T {
    try parameter.value(in: variables, random: &random)
  }

  /// The values of a list parameter now.
  public mutating func values<T: ParamScalar>(_ parameters: [Param<T>]) throws(StageError) -> [T] {
    var result: [T] = []
    result.reserveCapacity(parameters.count)
    for p in parameters { result.append(try p.value(in: variables, random: &random)) }
    return result
  }
}
