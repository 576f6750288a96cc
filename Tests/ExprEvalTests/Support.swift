import ExprEval
import PipelineKit

/// `ExprEval.Expression` (Foundation, imported by some test files, has a type of that name too).
typealias Expr = Expression

/// The generator `scripts/gen_expr_table.py` uses: SplitMix64 uniforms with 53 bits, and one
/// Box–Muller normal from two uniforms. Python and Swift produce the same streams.
struct TableRandom: RandomSource {
  var bits: SplitMix64

  init(seed: UInt64) { bits = SplitMix64(seed: seed) }

  mutating func next64() -> UInt64 { bits.next() }

  mutating func uniform() -> Double { Double(next64() >> 11) * 0x1.0p-53 }

  mutating func normal() -> Double {
    var u1 = uniform()
    while u1 <= 0 { u1 = uniform() }
    let u2 = uniform()
    return (-2 * log(u1)).squareRoot() * cos(2 * Double.pi * u2)
  }
}

/// Evaluates `source` with every group allowed, in `context`.
func value(
  _ source: String, _ context: ExprContext = ExprContext(epoch: 150, epochs: 300),
  seed: UInt64 = 1
) throws(ExprError) -> ExprValue {
  var random = TableRandom(seed: seed)
  return try Expr(source, groups: .all).evaluate(in: context, random: &random)
}

/// The error `source` gives (parsing or evaluating), or nil.
func failure(
  _ source: String, groups: VariableGroups = .all,
  _ context: ExprContext = ExprContext(epoch: 150, epochs: 300, width: 224, height: 224)
) -> ExprError? {
  do {
    var random = TableRandom(seed: 1)
    _ = try Expr(source, groups: groups).evaluate(in: context, random: &random)
    return nil
  } catch {
    return error
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif
