/// A problem with an expression: a syntax error, an unknown name, or a failure while evaluating.
///
/// `column` is a 0-based offset (in Unicode scalars) into `source`, so a caret can point at the
/// offending token: `rendered()` gives the message, the expression and a line with that caret.
public struct ExprError: Error, Sendable, Equatable, CustomStringConvertible {
  /// One sentence saying what is wrong (Python's wording for run-time errors where it is clear).
  public var message: String
  /// 0-based offset (in Unicode scalars) into `source` where the problem is.
  public var column: Int
  /// The expression the error is about (empty when the error is not about a particular source).
  public var source: String

  /// An error at `column` of `source`.
  public init(_ message: String, column: Int = 0, source: String = "") {
    self.message = message
    self.column = column
    self.source = source
  }

  /// The message, the expression, and a line with a caret under `column`.
  ///
  /// For a multi-line expression only the line holding `column` is shown. Tabs in the shown line
  /// are kept in the caret line so the caret stays aligned in a terminal.
  public func rendered() -> String {
    if source.isEmpty { return message }
    let scalars = Array(source.unicodeScalars)
    let col = min(max(column, 0), scalars.count)
    var lineStart = col
    while lineStart > 0 && !isLineBreak(scalars[lineStart - 1]) { lineStart -= 1 }
    var lineEnd = col
    while lineEnd < scalars.count && !isLineBreak(scalars[lineEnd]) { lineEnd += 1 }
    var line = String.UnicodeScalarView()
    line.append(contentsOf: scalars[lineStart..<lineEnd])
    var caret = String.UnicodeScalarView()
    for scalar in scalars[lineStart..<col] { caret.append(scalar == "\t" ? "\t" : " ") }
    caret.append("^")
    return message + "\n  " + String(line) + "\n  " + String(caret)
  }

  /// The message followed by the expression and the caret column, on one line.
  public var description: String {
    source.isEmpty ? message : "\(message) (in '\(source)' at column \(column))"
  }

  private func isLineBreak(_ scalar: Unicode.Scalar) -> Bool {
    scalar == "\n" || scalar == "\r"
  }
}
