import ExprEval
import PipelineKit

/// One failed check of the gradient harness: which stage, which example, what and by how much.
public struct GradientCheckFailure: Error, Sendable, CustomStringConvertible {
  /// The stage's registered name.
  public var stage: String
  /// Index into the stage's `examples` (−1 when the stage has none).
  public var example: Int
  /// The check that failed ("finite differences", "adjoint", "determinism" …).
  public var check: String
  /// Numbers and the first mismatching pairs.
  public var detail: String

  /// `stage[example] check: detail`.
  public var description: String { "\(stage)[example \(example)] \(check): \(detail)" }
}

/// The generic gradient harness: proves a stage's hand-written pullback against its forward.
///
/// For L(x) = ⟨v, f(x)⟩ with random v it compares `pullback(v)` with central finite differences
/// (L accumulated in Double, the same random draws in every evaluation), checks the exact adjoint
/// identity for linear and affine stages, determinism under a copied context for every stage
/// (and that random stages really use the context), the pullback's shape and its linearity in v,
/// and that batch forward equals per-view forward. A `ReferenceImageStage` is given a random
/// reference image of the input's shape and must depend on it. Use it for your own stages with one line:
/// `#expect(GradientHarness.check(MyStage.self).isEmpty)`.
public enum GradientHarness {
  /// Tolerances and sizes.
  public struct Options: Sendable {
    /// Relative finite-difference step, scaled by max(1, |x_i|).
    public var epsilon: Double = 3e-3
    /// Pass threshold for the norm-relative finite-difference error.
    public var tolerance: Double = 1e-3
    /// Pass threshold for the adjoint and linearity identities (relative).
    public var identityTolerance: Double = 1e-4
    /// At most this many input coordinates are perturbed.
    public var maxCoordinates: Int = 256
    /// Seed of inputs, cotangents and the stage's random stream.
    public var seed: UInt64 = 0x5EED
    /// Runs the stage on a torus (`StageContext.tiling`, the experiment's `tiling: true`), so
    /// its wrap-around mode is what is proved.
    public var tiling = false
    /// Defaults.
    public init() {}
  }

  /// Checks every stage of `registry` with all its examples; an empty result means all passed.
  public static func check(registry: StageRegistry, options: Options = Options())
    -> [GradientCheckFailure]
  {
    registry.stages.flatMap { check($0, groups: registry.kind.groups, options: options) }
  }

  /// Checks `type` with each of its examples (a stage without examples fails).
  public static func check(
    _ type: any Stage.Type, groups: VariableGroups = StageRegistry.Kind.transforms.groups,
    options: Options = Options()
  ) -> [GradientCheckFailure] {
    if type.examples.isEmpty {
      return [
        GradientCheckFailure(
          stage: type.name, example: -1, check: "examples", detail: "the stage has no examples")
      ]
    }
    var failures: [GradientCheckFailure] = []
    for (i, example) in type.examples.enumerated() {
      let stage: any Stage
      do {
        stage = try StageRegistry.make(
          type, parameters: example.parameters, path: type.name, groups: groups
        ).stage
      } catch {
        failures.append(
          GradientCheckFailure(
            stage: type.name, example: i, check: "parameters", detail: "\(error)"))
        continue
      }
      failures += check(stage: stage, example: example, index: i, options: options)
    }
    return failures
  }

  /// Checks one configured stage on the input described by `example`.
  public static func check(
    stage: any Stage, example: StageExample, index: Int = 0, options: Options = Options()
  ) -> [GradientCheckFailure] {
    let type = Swift.type(of: stage)
    var failures: [GradientCheckFailure] = []
    func fail(_ check: String, _ detail: String) {
      failures.append(
        GradientCheckFailure(stage: type.name, example: index, check: check, detail: detail))
    }
    var rng = SeededRandom(seed: options.seed &+ UInt64(index))
    let shape = example.inputShape
    let lo = example.inputRange.lowerBound
    let hi = example.inputRange.upperBound
    let x = Tensor(shape: shape) { _ in lo + (hi - lo) * Float(rng.uniform()) }
    var variables = ExprContext(
      epoch: 50, epochs: 101, width: Double(shape[2]), height: Double(shape[1]))
    variables.t = example.t
    var context = StageContext(
      variables: variables, random: SeededRandom(seed: options.seed ^ 0xC0FFEE),
      tiling: options.tiling)
    // A reference-image stage compares with a random image of the input's shape.
    let comparesWithReference = stage is any ReferenceImageStage
    if comparesWithReference {
      context.reference = Tensor(shape: shape) { _ in lo + (hi - lo) * Float(rng.uniform()) }
    }

    func run(_ input: Tensor, _ ctx: StageContext) -> (Tensor, Pullback)? {
      var c = ctx
      do {
        return try stage.forward(input, in: &c)
      } catch {
        fail("forward", "\(error)")
        return nil
      }
    }

    guard let (y, pullback) = run(x, context) else { return failures }
    if !y.scalars.allSatisfy(\.isFinite) { fail("forward", "output is not finite") }
    if type.traits.contains(.scalarLoss) && y.shape != [1] {
      fail("shape", "a loss stage must return shape [1], got \(y.shape)")
    }
    var v = Tensor(shape: y.shape)
    rng.fillNormal(&v.scalars)
    let g = pullback(v)
    if g.shape != x.shape {
      fail("pullback shape", "expected \(x.shape), got \(g.shape)")
      return failures
    }
    if !g.scalars.allSatisfy(\.isFinite) { fail("pullback", "cotangent is not finite") }

    // Determinism: the same context gives the same bits; random stages must use the context.
    if let (y2, _) = run(x, context), y2.scalars != y.scalars {
      fail("determinism", "two forwards with copies of one context differ")
    }
    var other = context
    other.random = SeededRandom(seed: options.seed ^ 0xBADC0DE)
    if let (y3, _) = run(x, other) {
      let differs = y3.scalars != y.scalars
      if type.traits.contains(.random) && !differs {
        fail(
          "randomness",
          "declared random but the output does not depend on the context's random source")
      } else if !type.traits.contains(.random) && differs {
        fail(
          "randomness",
          "the output depends on the random source but the stage is not declared random")
      }
    }

    // A reference-image stage must use its reference.
    if comparesWithReference {
      var moved = context
      moved.reference = Tensor(shape: shape) { _ in lo + (hi - lo) * Float(rng.uniform()) }
      if let (y4, _) = run(x, moved), y4.scalars == y.scalars {
        fail("reference", "the output does not depend on StageContext.reference")
      }
    }

    // Linearity of the pullback in v.
    var v2 = Tensor(shape: y.shape)
    rng.fillNormal(&v2.scalars)
    let combined = pullback(v * 2 + v2)
    let expected = g * 2 + pullback(v2)
    let linErr = relativeError(combined.scalars, expected.scalars)
    if linErr > options.identityTolerance * 10 {
      fail(
        "pullback linearity",
        "pullback(2v₁+v₂) ≠ 2·pullback(v₁)+pullback(v₂): relative error \(linErr)")
    }

    // Adjoint identity for linear and affine stages.
    if type.traits.contains(.linear) || type.traits.contains(.affine) {
      var fx = y
      if type.traits.contains(.affine), let (y0, _) = run(Tensor(shape: shape), context) {
        fx = fx + y0 * -1
      }
      let lhs = fx.dot(v)
      let rhs = x.dot(g)
      // Relative to the size of the summed terms, so a sum that nearly cancels is not misread.
      let magnitude = max(absoluteDot(fx, v), absoluteDot(x, g), 1e-12)
      let err = abs(lhs - rhs) / magnitude
      if err > options.identityTolerance {
        fail(
          "adjoint",
          "⟨f(x)\(type.traits.contains(.affine) ? "−f(0)" : ""), v⟩ = \(lhs) but ⟨x, fᵀv⟩ = \(rhs) (relative error \(err))"
        )
      }
    }

    // Finite differences (or the straight-through identity).
    if type.gradient == .straightThrough {
      if y.shape == x.shape {
        let err = relativeError(g.scalars, v.scalars)
        if err > options.identityTolerance {
          fail("straight-through", "pullback(v) ≠ v: relative error \(err)")
        }
      } else {
        fail("straight-through", "a straight-through stage must keep the shape")
      }
    } else {
      failures += finiteDifferences(
        x: x, g: g, v: v, policy: type.gradient, options: options, rng: &rng,
        loss: { input in run(input, context).map { $0.0.dot(v) } },
        report: { fail("finite differences", $0) })
    }

    // Batch forward equals per-view forward (random views draw in view order).
    do {
      var x2 = Tensor(shape: shape)
      rng.fillNormal(&x2.scalars)
      x2 = Tensor(
        shape: shape, scalars: x2.scalars.map { lo + (hi - lo) * (0.5 + 0.2 * $0).clamped(0, 1) })
      var cBatch = context
      var cViews = context
      do {
        let (yb, pbb) = try stage.forwardBatch(Tensor.stack([x, x2]), in: &cBatch)
        let (ya, pba) = try stage.forward(x, in: &cViews)
        let (yc, pbc) = try stage.forward(x2, in: &cViews)
        if yb.scalars != Tensor.stack([ya, yc]).scalars {
          fail("batch", "forwardBatch differs from forward on each view")
        } else {
          var vb = Tensor(shape: yb.shape)
          rng.fillNormal(&vb.scalars)
          let gb = pbb(vb)
          let gv = Tensor.stack([pba(vb.view(0)), pbc(vb.view(1))])
          if relativeError(gb.scalars, gv.scalars) > 1e-6 {
            fail("batch", "batch pullback differs from per-view pullbacks")
          }
        }
      } catch {
        fail("batch", "\(error)")
      }
    }
    return failures
  }

  static func finiteDifferences(
    x: Tensor, g: Tensor, v: Tensor, policy: GradientPolicy, options: Options,
    rng: inout SeededRandom,
    loss: (Tensor) -> Double?, report: (String) -> Void
  ) -> [GradientCheckFailure] {
    var coordinates = Array(0..<x.count)
    if coordinates.count > options.maxCoordinates {
      coordinates.shuffle(using: &rng)
      coordinates = Array(coordinates.prefix(options.maxCoordinates)).sorted()
    }
    guard let l0 = loss(x) else { return [] }
    // Typical size of a gradient component, the scale kinks are judged against.
    let gScale = (g.scalars.reduce(0.0) { $0 + Double($1) * Double($1) } / Double(max(1, g.count)))
      .squareRoot()
    var numeric: [Double] = []
    var analytic: [Double] = []
    var skipped = 0
    for i in coordinates {
      let xi = Double(x.scalars[i])
      let eps = options.epsilon * max(1, abs(xi))
      var xp = x
      xp.scalars[i] = Float(xi + eps)
      var xm = x
      xm.scalars[i] = Float(xi - eps)
      // Use the step actually representable in Float.
      let h = (Double(xp.scalars[i]) - Double(xm.scalars[i])) / 2
      guard let lp = loss(xp), let lm = loss(xm) else { return [] }
      if policy == .piecewise {
        let dp = (lp - l0) / (Double(xp.scalars[i]) - xi)
        let dm = (l0 - lm) / (xi - Double(xm.scalars[i]))
        if abs(dp - dm) > 1e-2 * max(abs(dp), abs(dm), gScale) + 1e-5 {
          skipped += 1
          continue
        }
        // A kink whose slope change is too small for the test above still moves the central
        // difference by up to half that change. At half the step a smooth function's central
        // difference moves by O(h²); one with a kink near x moves by about as much as the kink
        // shifts it, so a disagreement beyond the tolerance marks the coordinate as a kink.
        var xp2 = x
        xp2.scalars[i] = Float(xi + eps / 2)
        var xm2 = x
        xm2.scalars[i] = Float(xi - eps / 2)
        guard let lp2 = loss(xp2), let lm2 = loss(xm2) else { return [] }
        let half = (lp2 - lm2) / (Double(xp2.scalars[i]) - Double(xm2.scalars[i]))
        let full = (lp - lm) / (2 * h)
        if abs(half - full) > options.tolerance * max(abs(full), gScale) {
          skipped += 1
          continue
        }
      }
      numeric.append((lp - lm) / (2 * h))
      analytic.append(Double(g.scalars[i]))
    }
    if numeric.isEmpty {
      report("no coordinate where the function is locally smooth (\(skipped) skipped)")
      return []
    }
    let err = relativeError(numeric, analytic)
    if err > options.tolerance {
      var pairs: [String] = []
      for k in numeric.indices where pairs.count < 5 && abs(numeric[k] - analytic[k]) > 1e-6 {
        pairs.append("fd \(fmt(numeric[k])) vs pullback \(fmt(analytic[k]))")
      }
      let maxDiff = zip(numeric, analytic).map { abs($0 - $1) }.max() ?? 0
      report(
        "relative error \(fmt(err)) > \(options.tolerance) over \(numeric.count) coordinates"
          + " (max |Δ| \(fmt(maxDiff))); first pairs: " + pairs.joined(separator: "; "))
    }
    return []
  }

  /// Σ |a_i b_i| in Double.
  static func absoluteDot(_ a: Tensor, _ b: Tensor) -> Double {
    var s = 0.0
    for i in 0..<a.count { s += abs(Double(a.scalars[i]) * Double(b.scalars[i])) }
    return s
  }

  /// ‖a − b‖ / max(‖a‖, ‖b‖), 0 when both are (nearly) zero.
  public static func relativeError<S: BinaryFloatingPoint>(_ a: [S], _ b: [S]) -> Double {
    precondition(a.count == b.count)
    var d = 0.0
    var na = 0.0
    var nb = 0.0
    for k in a.indices {
      let x = Double(a[k])
      let y = Double(b[k])
      d += (x - y) * (x - y)
      na += x * x
      nb += y * y
    }
    let scale = max(na, nb).squareRoot()
    return scale < 1e-12 ? 0 : d.squareRoot() / scale
  }

  static func fmt(_ x: Double) -> String {
    let s = String(x)
    return s.count > 12 ? String(s.prefix(12)) : s
  }
}

extension Float {
  fileprivate func clamped(_ lo: Float, _ hi: Float) -> Float { Swift.min(Swift.max(self, lo), hi) }
}
