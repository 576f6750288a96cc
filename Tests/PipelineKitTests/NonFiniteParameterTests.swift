import ExprEval
import Formats
import PipelineKit
import Testing

/// NaN and infinities never reach a stage (issue 18: `noise: .inf`, `mul: 1e308*10*t` ran to a
/// black image): constants are refused when the YAML is read, computed values when they are
/// evaluated, with an error naming the parameter (and the expression).
@Suite("Non-finite parameter values")
struct NonFiniteParameterTests {
  /// Reads `key` of the one-line YAML mapping `yaml` as a Double parameter allowing `groups`.
  private func read(_ yaml: String, _ key: String, groups: VariableGroups = .transformParameter)
    throws -> Param<Double>
  {
    let node = try YAML.parse(yaml, file: "x.yaml")
    var reader = ParameterReader(node: node, path: "transforms[0]", groups: groups)
    return try reader.scalar(key, Double.self, doc: "a number")
  }

  private func message(_ body: () throws -> Void) -> String {
    do {
      try body()
      return "no error"
    } catch {
      return "\(error)"
    }
  }

  @Test(arguments: [
    "noise: .inf", "noise: -.inf", "noise: .nan", "noise: .NaN", "noise: 'nan'", "noise: '-inf'",
    "noise: 1e308*10", "noise: inf", "noise: nan * 0", "noise: float('inf')",
  ])
  func constantNonFiniteValuesAreRefusedAtLoad(yaml: String) {
    let m = message { _ = try read(yaml, "noise") }
    #expect(m.contains("x.yaml:1:8"), "\(m)")
    #expect(m.contains("transforms[0].noise"), "\(m)")
    #expect(m.contains("expected a finite number"), "\(m)")
  }

  @Test func finiteValuesStillLoad() throws {
    #expect(try read("noise: 1e308", "noise").constantValue == 1e308)
    #expect(try read("noise: -0.0", "noise").constantValue == 0)
    #expect(try read("noise: 'isinf(inf) * 2'", "noise").constantValue == 2)
  }

  /// `mul: 10**t * 1e308` is finite at t = 0 and infinite at t = 1 (CPython: 1e+308, inf): the
  /// run stops there, with the expression and the moment in the message. The issue's
  /// `1e308*10*t` is `inf * t`, NaN already at t = 0 (as in CPython).
  @Test func computedNonFiniteValuesStopWithTheExpression() throws {
    let p = try read("mul: 10**t * 1e308", "mul")
    var random = SeededRandom(seed: 0)
    #expect(try p.value(in: ExprContext(epoch: 0, epochs: 10), random: &random) == 1e308)
    let m = message { _ = try p.value(in: ExprContext(epoch: 9, epochs: 10), random: &random) }
    #expect(m.contains("x.yaml:1:6"), "\(m)")
    #expect(m.contains("'transforms[0].mul'"), "\(m)")
    #expect(m.contains("the expression gave inf, but a parameter must be a finite number"), "\(m)")
    #expect(m.contains("in expression '10**t * 1e308'"), "\(m)")
    #expect(m.contains("epoch=9"), "\(m)")
    let issue = try read("mul: 1e308*10*t", "mul")
    for epoch in [0, 9] {
      let m1 = message {
        _ = try issue.value(in: ExprContext(epoch: epoch, epochs: 10), random: &random)
      }
      #expect(m1.contains("in expression '1e308*10*t'") && m1.contains("epoch=\(epoch)"), "\(m1)")
      #expect(m1.contains("but a parameter must be a finite number"), "\(m1)")
    }
    let nan = try read("mul: (t - 1) * inf", "mul")
    let m2 = message { _ = try nan.value(in: ExprContext(epoch: 9, epochs: 10), random: &random) }
    #expect(m2.contains("the expression gave nan"), "\(m2)")
  }

  /// Integers and booleans cannot be non-finite; their parameters are unaffected.
  @Test func otherTypesAreUnaffected() throws {
    let node = try YAML.parse("n: 3\nflag: true", file: "x.yaml")
    var reader = ParameterReader(node: node, path: "", groups: .time)
    #expect(try reader.scalar("n", Int.self, doc: "").constantValue == 3)
    #expect(try reader.scalar("flag", Bool.self, doc: "").constantValue == true)
  }
}
