import PipelineKit

/// A differentiable piece as the harness sees it: its value at an input and the pullback there.
public typealias DifferentiableFunction = (Tensor) throws -> (value: Tensor, pullback: Pullback)

extension GradientHarness {
  /// Checks any value-and-pullback piece — a kernel, a model tower, an objective, an image
  /// parametrization, a whole epoch — at the input `x`, as stages are checked: for
  /// L(x) = ⟨v, f(x)⟩ with a random cotangent v, `pullback(v)` against central finite
  /// differences (per `policy`), the pullback's shape, finiteness and linearity in v, and
  /// determinism (two evaluations give the same bits). An empty result means all passed.
  ///
  /// `name` labels the failures. The function must be deterministic: capture any random stream
  /// it uses, so that every evaluation draws the same numbers.
  public static func check(
    _ name: String, at x: Tensor, policy: GradientPolicy = .smooth, options: Options = Options(),
    _ f: DifferentiableFunction
  ) -> [GradientCheckFailure] {
    var failures: [GradientCheckFailure] = []
    func fail(_ check: String, _ detail: String) {
      failures.append(GradientCheckFailure(stage: name, example: 0, check: check, detail: detail))
    }
    func run(_ input: Tensor) -> (value: Tensor, pullback: Pullback)? {
      do {
        return try f(input)
      } catch {
        fail("forward", "\(error)")
        return nil
      }
    }
    var rng = SeededRandom(seed: options.seed)
    guard let (y, pullback) = run(x) else { return failures }
    if !y.scalars.allSatisfy(\.isFinite) { fail("forward", "output is not finite") }
    var v = Tensor(shape: y.shape)
    rng.fillNormal(&v.scalars)
    let g = pullback(v)
    guard g.shape == x.shape else {
      fail("pullback shape", "expected \(x.shape), got \(g.shape)")
      return failures
    }
    if !g.scalars.allSatisfy(\.isFinite) { fail("pullback", "cotangent is not finite") }
    if let (y2, _) = run(x), y2.scalars != y.scalars {
      fail("determinism", "two evaluations at the same input differ")
    }
    var v2 = Tensor(shape: y.shape)
    rng.fillNormal(&v2.scalars)
    let linErr = relativeError(pullback(v * 2 + v2).scalars, (g * 2 + pullback(v2)).scalars)
    if linErr > options.identityTolerance * 10 {
      fail(
        "pullback linearity",
        "pullback(2v₁+v₂) ≠ 2·pullback(v₁)+pullback(v₂): relative error \(linErr)")
    }
    if policy == .straightThrough {
      if y.shape == x.shape, relativeError(g.scalars, v.scalars) > options.identityTolerance {
        fail("straight-through", "pullback(v) ≠ v")
      }
    } else {
      failures += finiteDifferences(
        x: x, g: g, v: v, policy: policy, options: options, rng: &rng,
        loss: { input in run(input).map { $0.value.dot(v) } },
        report: { fail("finite differences", $0) })
    }
    return failures
  }
}
