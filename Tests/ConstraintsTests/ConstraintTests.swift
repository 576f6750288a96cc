import Constraints
import Foundation
import PipelineKit
import PipelineKitTesting
import Testing

/// One case of `Fixtures/constraints.json` (see scripts/pixel_fixtures.py).
struct ConstraintCase: Decodable {
  var name: String
  var params: FixtureJSON
  var shape: [Int]
  var input: [Float]
  var value: Double
  var grad: [Float]
}

/// The cases of `Fixtures/constraints.json`.
struct ConstraintFixtures: Decodable {
  var cases: [ConstraintCase]

  static func load() throws -> ConstraintFixtures {
    try FixtureJSON.load(ConstraintFixtures.self, named: "constraints", from: .module)
  }
}

private func make(_ name: String, _ parameters: ConfigNode) throws(ConfigError) -> any Stage {
  try StageRegistry.constraints.make(
    name: name, parameters: parameters, path: "constraints[0].\(name)",
    keyLocation: .synthetic("test"))
}

private func evaluate(_ name: String, _ parameters: ConfigNode, _ x: Tensor) throws -> (
  Double, Tensor
) {
  var context = StageContext()
  let (y, pb) = try make(name, parameters).forward(x, in: &context)
  #expect(y.shape == [1])
  return (Double(y.scalars[0]), pb(Tensor(scalar: 1)))
}

/// A `[3,H,W]` image whose channel c is the constant `values[c]`.
private func flat(_ values: [Float], h: Int = 4, w: Int = 5) -> Tensor {
  Tensor(shape: [3, h, w]) { values[$0 / (h * w)] }
}

@Suite("Built-in constraints")
struct BuiltinConstraintTests {
  @Test func everyRegisteredConstraintPassesTheGradientHarness() {
    #expect(StageRegistry.constraints.names.count == 10)
    let failures = GradientHarness.check(registry: .constraints)
    #expect(failures.isEmpty, "\(failures.map(\.description).joined(separator: "\n"))")
  }

  /// Values within 1e-5 relative, gradients within 1e-6 absolute plus 1e-4 of the largest
  /// gradient component (float32 sums over the view).
  @Test func constraintsMatchTorch() throws {
    let fixtures = try ConstraintFixtures.load()
    #expect(fixtures.cases.count >= 18)
    for fixture in fixtures.cases {
      let label = "\(fixture.name) \(fixture.params)"
      let (value, g) = try evaluate(
        fixture.name, fixture.params.node, Tensor(shape: fixture.shape, scalars: fixture.input))
      #expect(
        abs(value - fixture.value) <= 1e-5 * max(1, abs(fixture.value)),
        "\(label): \(value) vs \(fixture.value)")
      let scale = fixture.grad.map(abs).max() ?? 0
      let diff = maxAbsDiff(g.scalars, fixture.grad)
      #expect(diff <= 1e-6 + 1e-4 * scale, "\(label) gradient: max |Δ| \(diff) (largest \(scale))")
    }
  }
}

@Suite("Constraints: golden values and semantics")
struct ConstraintSemanticsTests {
  /// Spec §15: `above: a` (l2) = 100·mean_c((a − m_c)²) — but only for channels below a
  /// (one-sided, spec §16.2).
  @Test func meanFormulas() throws {
    let x = flat([0.2, 0.5, 0.9])
    let (above, g) = try evaluate("mean", ["above": 0.6], x)
    let expected = 100 * (0.4 * 0.4 + 0.1 * 0.1 + 0) / 3
    #expect(abs(above - expected) < 1e-4)
    // d/dx of 100·mean_c(relu(a − m_c)²): −200·(a − m_c)/3/n on channels below a, 0 above.
    #expect(abs(g.scalars[0] - Float(-200 * 0.4 / 3 / 20)) < 1e-6)
    #expect(g.scalars[2 * 20] == 0)
    // `below: a` now penalises only the channel above a.
    let (below, _) = try evaluate("mean", ["below": 0.6], x)
    #expect(abs(below - 100 * (0.3 * 0.3) / 3) < 1e-4)
    // above .1 + below .9 with l1: zero for any image with channel means in [.1, .9]
    // (CLIPig: the constant 80).
    let (both, gBoth) = try evaluate("mean", ["above": 0.1, "below": 0.9, "loss": "l1"], x)
    #expect(both == 0)
    #expect(gBoth.scalars.allSatisfy { $0 == 0 })
    let (outside, _) = try evaluate(
      "mean", ["above": 0.1, "below": 0.9, "loss": "L1"], flat([0, 0.5, 1]))
    #expect(abs(outside - 100 * (0.1 + 0.1) / 3) < 1e-4)
  }

  @Test func noiseIsAConstantWithZeroGradient() throws {
    var r = SeededRandom(seed: 3)
    let x = Tensor(shape: [3, 10, 11]) { _ in Float(r.uniform()) }
    let (l2, g) = try evaluate("noise", ["std": 0.1], x)
    #expect(abs(l2 - 1) < 1e-5)  // 100 · 0.1²
    #expect(g.scalars.allSatisfy { $0 == 0 })
    let (l1, _) = try evaluate("noise", ["std": "0.1 0.2 0.3", "loss": "l1"], x)
    #expect(abs(l1 - 100 * 0.2 * (2 / Double.pi).squareRoot()) < 1e-4)
  }

  @Test func flatImagesAreFinite() throws {
    let x = flat([0.3, 0.3, 0.3])
    for (name, parameters) in [
      ("std", ["above": 0.1] as ConfigNode), ("contrast", ["above": 0.5]),
      ("saturation", ["above": 0.1]),
      ("normalize", [:]), ("edge_mean", ["above": 0.1]), ("blur", [:]), ("border", ["size": 0]),
    ] {
      let (v, g) = try evaluate(name, parameters, x)
      #expect(v.isFinite && g.scalars.allSatisfy(\.isFinite), "\(name)")
    }
    #expect(try evaluate("border", ["size": 0], x).0 == 0)
    #expect(try evaluate("contrast", ["above": 0.5], x).0 == 1 * 0.25)  // v = 0, (0.5)²
  }

  @Test func badParametersFailAtLoad() {
    func message(_ name: String, _ parameters: ConfigNode) -> String? {
      do {
        _ = try make(name, parameters)
        return nil
      } catch {
        return "\(error)"
      }
    }
    let at = SourceLocation(file: "c.yaml", line: 9, column: 3)
    #expect(
      message("mean", ConfigNode(.mapping([]), at: at))
        == "c.yaml:9:3: error: 'constraints[0].mean': give 'above', 'below' or both")
    #expect(message("std", ["above": 0.1, "loss": "l3"])?.contains("unknown loss 'l3'") == true)
    #expect(message("std", ["above": 0.1, "loss": "MSE"]) == nil)
    #expect(message("saturation", ["abov": 0.1])?.contains("did you mean 'above'") == true)
    #expect(message("border", ["size": -1])?.contains("must not be negative") == true)
    #expect(message("noise", [:])?.contains("missing required parameter 'std'") == true)
    #expect(message("noise", ["std": -0.1]) != nil)
    #expect(message("mean", ["above": "1 2"])?.contains("length") == true)
    #expect(message("blur", ["weight": 2])?.contains("unknown parameter 'weight'") == true)
  }

  @Test func parametersMayUseTheTargetSimilarity() throws {
    let stage = try make("mean", ["above": "sim/100"])
    var context = StageContext()
    context.variables.similarity = 30
    let (y, _) = try stage.forward(flat([0.1, 0.2, 0.3]), in: &context)
    #expect(abs(y.scalars[0] - 100 * (0.04 + 0.01) / 3) < 1e-4)
  }
}

@Suite("Constraints on a torus")
struct TilingConstraintTests {
  @Test func everyConstraintsWrapModePassesTheGradientHarness() {
    var options = GradientHarness.Options()
    options.tiling = true
    let failures = GradientHarness.check(registry: .constraints, options: options)
    #expect(failures.isEmpty, "\(failures.map(\.description).joined(separator: "\n"))")
  }
}
