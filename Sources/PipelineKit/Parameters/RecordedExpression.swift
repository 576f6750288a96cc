import ExprEval

/// A parameter whose value is an expression kept for run time, as the parameter reader met it:
/// what `clipig schedule` tabulates, without walking the YAML again.
public struct RecordedExpression: Sendable {
  /// The parameter path, e.g. `targets[0].transforms[2].noise` or `resolution[0]` (a list
  /// written as one value broadcast to several elements has the list's path, without index).
  public var path: String
  /// Where the expression was written.
  public var location: SourceLocation
  /// The variable groups the key allows (which the expression was checked against).
  public var groups: VariableGroups
  /// The compiled expression.
  public var expression: Expression

  /// A record of `expression` at `path`.
  public init(
    path: String, location: SourceLocation, groups: VariableGroups, expression: Expression
  ) {
    self.path = path
    self.location = location
    self.groups = groups
    self.expression = expression
  }
}

extension Array where Element == RecordedExpression {
  /// The records in the order they were written: by file (in order of first appearance), then
  /// line and column. Values without a place (command-line overrides) keep their position
  /// after the written ones.
  public func inWritingOrder() -> [RecordedExpression] {
    var fileRank: [String: Int] = [:]
    for r in self where r.location.line > 0 && fileRank[r.location.file] == nil {
      fileRank[r.location.file] = fileRank.count
    }
    func key(_ r: RecordedExpression) -> (Int, Int, Int) {
      guard r.location.line > 0, let f = fileRank[r.location.file] else {
        return (Int.max, 0, 0)
      }
      return (f, r.location.line, r.location.column)
    }
    return enumerated().sorted { a, b in
      let ka = key(a.element)
      let kb = key(b.element)
      return ka != kb ? ka < kb : a.offset < b.offset
    }.map(\.element)
  }
}
