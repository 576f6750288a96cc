import PipelineKit
import PipelineKitTesting
import Testing

// Stages with known defects: the harness must catch each one. A harness that passes these has
// been loosened and can no longer be trusted.

/// y = x², correct pullback 2x·dy — or, with `scale` ≠ 1, a subtly wrong one.
private struct Square: Stage {
  static let name = "square"
  static let summary = "x²"
  static let traits: StageTraits = []
  static let examples = [StageExample(1.0), StageExample(0.98)]
  let scale: Float
  init(parameters: inout ParameterReader) throws(ConfigError) {
    scale = Float(try parameters.directScalar(Double.self, doc: "").constantValue ?? 1)
  }
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    let s = scale
    return (
      x.perChannel { _, v in v * v },
      { dy in Tensor(shape: dy.shape) { i in 2 * x.scalars[i] * dy.scalars[i] * s } }
    )
  }
}

/// Linear y = 2x whose pullback is 0.98 times too small.
private struct ScaledPullback: Stage {
  static let name = "scaled_pullback"
  static let summary = "2x with a 2% wrong pullback"
  static let traits: StageTraits = [.linear]
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (x * 2, { $0 * (2 * 0.98) })
  }
}

/// x + 0.5 wrongly declared linear.
private struct AffineDeclaredLinear: Stage {
  static let name = "affine_declared_linear"
  static let summary = "x + 0.5"
  static let traits: StageTraits = [.linear]
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (x.perChannel { _, v in v + 0.5 }, { $0 })
  }
}

/// Adds noise from the system's generator: not reproducible.
private struct Unseeded: Stage {
  static let name = "unseeded"
  static let summary = "x + unseeded noise"
  static let traits: StageTraits = [.affine, .random]
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    var g = SystemRandomNumberGenerator()
    return (x.perChannel { _, v in v + Float.random(in: 0..<0.1, using: &g) }, { $0 })
  }
}

/// Draws from the context without declaring `.random`.
private struct UndeclaredRandom: Stage {
  static let name = "undeclared_random"
  static let summary = "x + noise"
  static let traits: StageTraits = [.affine]
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    var noise = [Float](repeating: 0, count: x.count)
    context.random.fillNormal(&noise, std: 0.1)
    return (x + Tensor(shape: x.shape, scalars: noise), { $0 })
  }
}

/// Pullback of the wrong shape.
private struct WrongShape: Stage {
  static let name = "wrong_shape"
  static let summary = "identity with a broken pullback"
  static let traits: StageTraits = [.linear]
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (x, { dy in Tensor(shape: [dy.count + 1]) })
  }
}

private struct NoExamples: Stage {
  static let name = "no_examples"
  static let summary = "identity"
  static let traits: StageTraits = [.linear]
  static let examples: [StageExample] = []
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (x, { $0 })
  }
}

/// clamp(x, 0.3, 0.7) with its exact (zero outside) pullback: piecewise smooth.
private struct ClampMiddle: Stage {
  static let name = "clamp_middle"
  static let summary = "clamp to [0.3, 0.7]"
  static let traits: StageTraits = []
  static let gradient = GradientPolicy.piecewise
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (
      x.perChannel { _, v in min(max(v, 0.3), 0.7) },
      { dy in
        Tensor(shape: dy.shape) { i in (0.3...0.7).contains(x.scalars[i]) ? dy.scalars[i] : 0 }
      }
    )
  }
}

/// The same clamp but claiming a pass-through gradient without declaring it.
private struct ClampPassThrough: Stage {
  static let name = "clamp_pass_through"
  static let summary = "clamp with an undeclared straight-through pullback"
  static let traits: StageTraits = []
  static let gradient = GradientPolicy.piecewise
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (x.perChannel { _, v in min(max(v, 0.3), 0.7) }, { $0 })
  }
}

@Suite("Gradient harness self-test")
struct GradientHarnessSelfTests {
  private func checks(_ type: any Stage.Type) -> [String] {
    GradientHarness.check(type).map(\.check)
  }

  @Test func correctStagesPass() {
    #expect(
      GradientHarness.check(ClampMiddle.self).isEmpty, "\(GradientHarness.check(ClampMiddle.self))")
    let square = GradientHarness.check(Square.self)
    // Example 0 (scale 1) is right; example 1 (scale 0.98) must fail finite differences.
    #expect(!square.contains { $0.example == 0 }, "\(square)")
    #expect(square.contains { $0.example == 1 && $0.check == "finite differences" }, "\(square)")
  }

  @Test func aPullbackTwoPercentOffFails() {
    let c = checks(ScaledPullback.self)
    #expect(c.contains("finite differences"), "\(c)")
    #expect(c.contains("adjoint"), "\(c)")
  }

  @Test func wrongTraitsFail() {
    #expect(checks(AffineDeclaredLinear.self).contains("adjoint"))
    #expect(checks(UndeclaredRandom.self).contains("randomness"))
  }

  @Test func unreproducibleStagesFail() {
    #expect(checks(Unseeded.self).contains("determinism"))
  }

  @Test func brokenPullbackShapeFails() {
    #expect(checks(WrongShape.self).contains("pullback shape"))
  }

  @Test func stagesWithoutExamplesFail() {
    #expect(checks(NoExamples.self) == ["examples"])
  }

  @Test func undeclaredStraightThroughFails() {
    #expect(checks(ClampPassThrough.self).contains("finite differences"))
  }

  @Test func registryIterationCoversEveryStage() {
    let registry = StageRegistry(
      kind: .transforms, [ClampMiddle.self, NoExamples.self, ScaledPullback.self])
    let failed = Set(GradientHarness.check(registry: registry).map(\.stage))
    #expect(failed == ["no_examples", "scaled_pullback"])
  }
}
