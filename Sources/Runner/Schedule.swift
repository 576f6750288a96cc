import ExprEval
import PipelineKit

/// `clipig schedule`: the value of every expression-valued parameter of an experiment at chosen
/// epochs, so a user can check a resolution schedule or a fading noise before rendering.
public enum Schedule {
  /// The expressions the table shows: every parameter the loader kept as an expression of
  /// run-time variables (random-only expressions are left out), in the order they are written.
  public static func expressions(of experiment: Experiment) -> [RecordedExpression] {
    experiment.expressions.filter(\.expression.usesVariables).inWritingOrder()
  }

  /// One tabulated expression (the loader's record).
  public typealias Entry = RecordedExpression

  /// The expressions of the experiment `root` decodes to (none when it does not decode).
  ///
  /// A text table: one row per epoch of `epochs` (indices, from 0), one column per expression
  /// (plus resolution and lr). The epoch column counts from 1, as every message does; the
  /// expressions' variable `epoch` is the index, one less.
  public static func table(_ experiment: Experiment, epochs: [Int], seed: UInt64 = 0) -> String {
    let entries = expressions(of: experiment)
    var header = ["epoch", "t", "width", "height", "lr"]
    header += entries.map(\.path)
    var rows: [[String]] = []
    var random = SeededRandom(seed: seed)
    for epoch in epochs {
      var c = experiment.context(atEpoch: epoch)
      var row = [String(epoch + 1), format(c.t)]
      do {
        c = try experiment.variables(atEpoch: epoch, random: &random)
        row += [format(c.width), format(c.height), format(c.learnrate)]
      } catch {
        row += ["error", "error", "error"]
      }
      for entry in entries {
        do {
          row.append(format(try entry.expression.evaluateDouble(in: c, random: &random)))
        } catch {
          row.append("error: \(error.message)")
        }
      }
      rows.append(row)
    }
    var widths = header.map(\.count)
    for row in rows { for (i, cell) in row.enumerated() { widths[i] = max(widths[i], cell.count) } }
    func line(_ cells: [String]) -> String {
      cells.enumerated().map { i, c in String(repeating: " ", count: widths[i] - c.count) + c }
        .joined(separator: "  ")
    }
    return ([line(header)] + rows.map(line)).joined(separator: "\n") + "\n"
  }

  static func format(_ x: Double) -> String {
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
    let s = String(x)
    return s.count > 10 ? String(format4(x)) : s
  }

  static func format4(_ x: Double) -> String {
    let scaled = (x * 10000).rounded() / 10000
    return String(scaled)
  }
}
