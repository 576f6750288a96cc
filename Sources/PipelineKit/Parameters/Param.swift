import ExprEval

/// A value type a parameter can hold: converted from YAML scalars and from expression results
/// with CLIPig's (Python's) casting rules.
public protocol ParamScalar: Sendable, Equatable, CustomStringConvertible {
  /// The type's name in messages ("an integer", "a number" …).
  static var typeDescription: String { get }
  /// Converts a YAML scalar without evaluating expressions; nil when it is not of this type.
  static func fromConfig(_ value: ConfigValue) -> Self?
  /// Converts an expression result (Python's `int(x)`, `float(x)` …); nil when impossible.
  static func fromExpression(_ value: ExprValue) -> Self?
  /// This value as a YAML node (for the resolved-configuration sidecar).
  var configValue: ConfigValue { get }
  /// False for a value no parameter may take: NaN or an infinity.
  var isFiniteValue: Bool { get }
}

extension ParamScalar {
  /// True: only numbers can be NaN or infinite.
  public var isFiniteValue: Bool { true }
}

extension Int: ParamScalar {
  /// "an integer".
  public static var typeDescription: String { "an integer" }
  /// YAML int as is, float truncated toward zero, bool as 0/1, numeric string via `int()`.
  public static func fromConfig(_ value: ConfigValue) -> Int? {
    switch value {
    case .int(let i): return i
    case .float(let d): return d.isFinite && abs(d) < 9e18 ? Int(d) : nil
    case .bool(let b): return b ? 1 : 0
    case .string(let s): return Int(s.trimmingBlanks().replacingUnderscoresInNumber())
    default: return nil
    }
  }
  /// Python's `int(x)`.
  public static func fromExpression(_ value: ExprValue) -> Int? {
    try? value.castToInt()
  }
  /// `.int(self)`.
  public var configValue: ConfigValue { .int(self) }
}

extension Double: ParamScalar {
  /// "a number".
  public static var typeDescription: String { "a number" }
  /// YAML numbers and bools, or a string Python's `float()` accepts (`1e-3`, `inf`).
  public static func fromConfig(_ value: ConfigValue) -> Double? {
    switch value {
    case .int(let i): return Double(i)
    case .float(let d): return d
    case .bool(let b): return b ? 1 : 0
    case .string(let s): return pythonFloat(s)
    default: return nil
    }
  }
  /// Python's `float(x)`.
  public static func fromExpression(_ value: ExprValue) -> Double? {
    try? value.castToDouble()
  }
  /// `.float(self)`.
  public var configValue: ConfigValue { .float(self) }
  /// False for NaN and ±infinity, which parameters refuse.
  public var isFiniteValue: Bool { isFinite }
}

extension Bool: ParamScalar {
  /// "a boolean".
  public static var typeDescription: String { "a boolean (true or false)" }
  /// YAML booleans, integers (0 is false) and the strings true/false/yes/no/on/off/1/0.
  ///
  /// CLIPig turns any non-empty string into `true` (so `"false"` was true); clipig reads the
  /// words as meant and rejects other strings.
  public static func fromConfig(_ value: ConfigValue) -> Bool? {
    switch value {
    case .bool(let b): return b
    case .int(let i): return i != 0
    case .string(let s):
      switch s.trimmingBlanks().lowercased() {
      case "true", "yes", "on", "1": return true
      case "false", "no", "off", "0": return false
      default: return nil
      }
    default: return nil
    }
  }
  /// Python's truth value of a number or boolean.
  public static func fromExpression(_ value: ExprValue) -> Bool? {
    (try? value.castToDouble()).map { $0 != 0 }
  }
  /// `.bool(self)`.
  public var configValue: ConfigValue { .bool(self) }
}

extension String: ParamScalar {
  /// "a string".
  public static var typeDescription: String { "a string" }
  /// Any scalar as its text.
  public static func fromConfig(_ value: ConfigValue) -> String? {
    switch value {
    case .string(let s): return s
    case .int(let i): return String(i)
    case .float(let d): return String(d)
    case .bool(let b): return b ? "true" : "false"
    default: return nil
    }
  }
  /// Strings only.
  public static func fromExpression(_ value: ExprValue) -> String? {
    if case .string(let s) = value { return s }
    return nil
  }
  /// `.string(self)`.
  public var configValue: ConfigValue { .string(self) }
}

/// A parameter: a constant, or an expression evaluated whenever the stage runs.
public struct Param<Value: ParamScalar>: Sendable, CustomStringConvertible {
  /// How the value is obtained.
  public enum Source: Sendable {
    /// Fixed at load time (literals and constant expressions without random functions).
    case constant(Value)
    /// Re-evaluated at run time (uses variables such as `t`, or random functions).
    case expression(Expression)
  }

  /// Constant or expression.
  public let source: Source
  /// The parameter's path for messages, e.g. `targets[0].transforms[2].noise[1]`.
  public let path: String
  /// Where it was written.
  public let location: SourceLocation

  /// A constant parameter.
  public init(_ value: Value, path: String = "", location: SourceLocation = .synthetic("<default>"))
  {
    self.source = .constant(value)
    self.path = path
    self.location = location
  }

  /// A parameter computed by `expression`.
  public init(expression: Expression, path: String, location: SourceLocation) {
    self.source = .expression(expression)
    self.path = path
    self.location = location
  }

  /// The constant value, or nil for an expression.
  public var constantValue: Value? {
    if case .constant(let v) = source { return v }
    return nil
  }

  /// The value as written back to YAML: the constant, or the expression's source text.
  public var configValue: ConfigValue {
    switch source {
    case .constant(let v): v.configValue
    case .expression(let e): .string(e.source)
    }
  }

  /// The constant's text or the expression's source.
  public var description: String {
    switch source {
    case .constant(let v): v.description
    case .expression(let e): e.source
    }
  }

  /// The value in `context`; expression errors become a `StageError` naming this parameter.
  public func value<R: RandomSource>(in context: ExprContext, random: inout R) throws(StageError)
    -> Value
  {
    var items = Expression.itemLimit
    return try value(in: context, random: &random, items: &items)
  }

  /// The value in `context`, the expression creating at most `items` items (lowered by what it
  /// spent; see `Expression.evaluate(in:random:items:)`), for one budget over many evaluations.
  public func value<R: RandomSource>(in context: ExprContext, random: inout R, items: inout Int)
    throws(StageError) -> Value
  {
    switch source {
    case .constant(let v): return v
    case .expression(let e):
      let result: ExprValue
      do {
        result = try e.evaluate(in: context, random: &random, items: &items)
      } catch {
        throw StageError(
          parameter: path, location: location, expression: e.source, context: context,
          message: error.message)
      }
      guard let v = Value.fromExpression(result) else {
        throw StageError(
          parameter: path, location: location, expression: e.source, context: context,
          message: "expected \(Value.typeDescription), the expression gave \(result)")
      }
      guard v.isFiniteValue else {
        throw StageError(
          parameter: path, location: location, expression: e.source, context: context,
          message: "the expression gave \(result), but a parameter must be a finite number")
      }
      return v
    }
  }
}

/// A run-time failure while evaluating a parameter (division by zero, a math domain error …).
public struct StageError: Error, Sendable, CustomStringConvertible {
  /// The parameter path.
  public var parameter: String
  /// Where the parameter was written.
  public var location: SourceLocation
  /// The expression source.
  public var expression: String
  /// The variable values at the time.
  public var context: ExprContext
  /// What went wrong.
  public var message: String

  /// A run-time error of parameter `parameter`.
  public init(
    parameter: String, location: SourceLocation, expression: String, context: ExprContext,
    message: String
  ) {
    self.parameter = parameter
    self.location = location
    self.expression = expression
    self.context = context
    self.message = message
  }

  /// `file:line:col: error: 'path': message in expression '…' with epoch=…, t=…`.
  public var description: String {
    let c = context
    let vars =
      "epoch=\(c.epoch), t=\(c.t), width=\(c.width), height=\(c.height), "
      + "learnrate=\(c.learnrate), learnrate_scale=\(c.learnrateScale), similarity=\(c.similarity)"
    return
      "\(location): error: '\(parameter)': \(message) in expression '\(expression)' with \(vars)"
  }
}

extension String {
  /// The string without leading and trailing blanks (spaces, tabs, newlines).
  func trimmingBlanks() -> String {
    var s = Substring(self)
    while let f = s.first, f.isWhitespace { s.removeFirst() }
    while let l = s.last, l.isWhitespace { s.removeLast() }
    return String(s)
  }

  /// Python 3 accepts `1_000` in `int()`/`float()`; Swift does not.
  func replacingUnderscoresInNumber() -> String {
    guard contains("_") else { return self }
    let chars = Array(self)
    for (i, ch) in chars.enumerated() where ch == "_" {
      guard i > 0, i < chars.count - 1, chars[i - 1].isNumber || chars[i - 1].isHexDigit,
        chars[i + 1].isNumber || chars[i + 1].isHexDigit
      else { return self }
    }
    return filter { $0 != "_" }
  }
}

/// Python's `float(s)` for a string: decimal/exponent forms, `inf`, `nan`, surrounding blanks.
func pythonFloat(_ s: String) -> Double? {
  let t = s.trimmingBlanks().replacingUnderscoresInNumber().lowercased()
  switch t {
  case "inf", "+inf", "infinity", "+infinity": return .infinity
  case "-inf", "-infinity": return -.infinity
  case "nan", "+nan", "-nan": return .nan
  default: break
  }
  guard !t.isEmpty, t.allSatisfy({ $0.isNumber || "+-.e".contains($0) }) else { return nil }
  return Double(t)
}
