import ArgumentParser
import ExprEval
import PipelineKit

/// `clipig bench expr`: how long one evaluation of the method-2 resolution schedule takes.
struct BenchExpr: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "expr",
    abstract: "Evaluate the method-2 resolution schedule many times; print ns per evaluation.")

  @Option(help: "Number of evaluations.")
  var count = 1_000_000

  @Option(help: "The expression to time.")
  var expression = "{0: 8, 1: 8, 2: 16, 3: 32, 4: 64, 5: 128}.get(int(t*16), 224)"

  func run() throws {
    let epochs = 300
    let parsed = try Expression(expression, groups: .all)
    var random = SeededRandom(seed: 1)
    var context = ExprContext(epoch: 0, epochs: epochs, width: 224, height: 224)
    var checksum = 0.0
    // Warm up once over a whole run, then time.
    for epoch in 0..<epochs {
      context.setEpoch(epoch)
      checksum += try parsed.evaluateDouble(in: context, random: &random)
    }
    let n = max(count, 1)
    let clock = ContinuousClock()
    let start = clock.now
    for i in 0..<n {
      context.setEpoch(i % epochs)
      checksum += try parsed.evaluateDouble(in: context, random: &random)
    }
    let elapsed = clock.now - start
    let nanoseconds =
      Double(elapsed.components.seconds) * 1e9 + Double(elapsed.components.attoseconds) * 1e-9
    print("expression: \(expression)")
    print("evaluations: \(n)  (checksum \(checksum))")
    print("ns per evaluation: \(String(Int((nanoseconds / Double(n) * 10).rounded())).tenths)")
  }
}

extension String {
  /// "1234" → "123.4": an integer count of tenths shown with one decimal.
  fileprivate var tenths: String {
    let digits = count < 2 ? String(repeating: "0", count: 2 - count) + self : self
    return digits.dropLast() + "." + digits.suffix(1)
  }
}
