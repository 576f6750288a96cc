import ExprEval
import PipelineKit

/// `clipig schedule`: the value of every expression-valued parameter of an experiment at chosen
/// epochs, so a user can check a resolution schedule or a fading noise before rendering.
public enum Schedule {
  /// One expression found in a configuration.
  public struct Entry: Sendable {
    /// Parameter path, e.g. `targets[0].transforms[6].bwnoise[0]`.
    public var path: String
    /// The expression.
    public var expression: Expression
  }

  /// Every scalar in `root` that is an expression using variables (constants are left out).
  public static func expressions(in root: ConfigNode) -> [Entry] {
    var result: [Entry] = []
    func groups(for path: String) -> VariableGroups {
      if path.hasPrefix("resolution") || path.hasPrefix("interpolation") { return [.time] }
      if path.hasPrefix("learnrate") { return [.time, .resolution] }
      if path.contains(".features[") { return [.time, .resolution, .learnrate, .targetFeature] }
      if path.contains(".constraints[") || path.hasPrefix("targets[") && path.hasSuffix(".weight") {
        return [.time, .resolution, .learnrate, .targetConstraint]
      }
      if path.contains(".transforms[") || path.hasPrefix("postproc[") {
        return [.time, .resolution, .learnrate]
      }
      return []
    }
    func visit(_ node: ConfigNode, _ path: String) {
      switch node.value {
      case .mapping(let entries):
        for e in entries { visit(e.node, path.isEmpty ? e.key : path + "." + e.key) }
      case .sequence(let elements):
        for (i, e) in elements.enumerated() { visit(e, "\(path)[\(i)]") }
      case .string(let text):
        let g = groups(for: path)
        guard !g.isEmpty else { return }
        // One expression if the whole text is one (`1. - .95 * pow(t, 5.)`), else list items.
        let parts =
          (try? Expression(text, groups: g)) != nil ? [text] : ParameterReader.splitListText(text)
        for (i, part) in parts.enumerated() {
          guard let e = try? Expression(part, groups: g), e.usesVariables else { continue }
          result.append(Entry(path: parts.count > 1 ? "\(path)[\(i)]" : path, expression: e))
        }
      default: return
      }
    }
    visit(root, "")
    return result
  }

  /// A text table: one row per epoch, one column per expression (plus resolution and lr).
  public static func table(_ experiment: Experiment, epochs: [Int], seed: UInt64 = 0) -> String {
    let entries = expressions(in: experiment.source)
    var header = ["epoch", "t", "width", "height", "lr"]
    header += entries.map(\.path)
    var rows: [[String]] = []
    var random = SeededRandom(seed: seed)
    for epoch in epochs {
      var c = ExprContext(epoch: epoch, epochs: experiment.epochs)
      var row = [String(epoch), format(c.t)]
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
