/// A value an expression produces: Python's None, bool, int, float, str, list, tuple or dict.
///
/// `==` here is structural (an `.int(1)` is not a `.float(1)`), which is what tests need; Python's
/// own `==` (where `1 == 1.0 == True`) is what expressions use.
public enum ExprValue: Sendable, Equatable {
  /// Python's `None`.
  case none
  /// `True` or `False`.
  case bool(Bool)
  /// A Python int (64-bit here; results that do not fit are an "integer overflow" error).
  case int(Int)
  /// A Python float.
  case float(Double)
  /// A Python str.
  case string(String)
  /// A Python list.
  case list([ExprValue])
  /// A Python tuple.
  case tuple([ExprValue])
  /// A Python dict.
  case dict(ExprDict)

  /// Python's name for the type of this value (`'int'`, `'float'`, `'NoneType'` …).
  public var typeName: String {
    switch self {
    case .none: return "NoneType"
    case .bool: return "bool"
    case .int: return "int"
    case .float: return "float"
    case .string: return "str"
    case .list: return "list"
    case .tuple: return "tuple"
    case .dict: return "dict"
    }
  }

  /// Python's truth value (`bool(x)`).
  public var isTruthy: Bool {
    switch self {
    case .none: return false
    case .bool(let b): return b
    case .int(let i): return i != 0
    case .float(let d): return d != 0
    case .string(let s): return !s.isEmpty
    case .list(let a), .tuple(let a): return !a.isEmpty
    case .dict(let d): return d.count > 0
    }
  }

  /// The value as a Double when it is a number (bool, int or float), else nil.
  public var numericValue: Double? {
    switch self {
    case .bool(let b): return b ? 1 : 0
    case .int(let i): return Double(i)
    case .float(let d): return d
    default: return nil
    }
  }

  /// Python's `repr(x)`: `8`, `0.5`, `1e-05`, `'a'`, `[1, 2]`, `(1,)`, `{0: 8}`.
  public var repr: String {
    switch self {
    case .none: return "None"
    case .bool(let b): return b ? "True" : "False"
    case .int(let i): return String(i)
    case .float(let d): return PythonFormat.floatRepr(d)
    case .string(let s): return PythonFormat.stringRepr(s)
    case .list(let a): return "[" + a.map(\.repr).joined(separator: ", ") + "]"
    case .tuple(let a):
      if a.count == 1 { return "(" + a[0].repr + ",)" }
      return "(" + a.map(\.repr).joined(separator: ", ") + ")"
    case .dict(let d):
      var parts: [String] = []
      for (k, v) in zip(d.keys, d.values) { parts.append(k.repr + ": " + v.repr) }
      return "{" + parts.joined(separator: ", ") + "}"
    }
  }

  /// Python's `str(x)`: like `repr` except that a string is itself.
  public var str: String {
    if case .string(let s) = self { return s }
    return repr
  }

  /// Python's `int(x)`: int truncates toward zero; bool → 0/1; numeric strings are parsed.
  public func castToInt() throws(ExprError) -> Int {
    switch self {
    case .bool(let b): return b ? 1 : 0
    case .int(let i): return i
    case .float(let d): return try PyMath.intFromDouble(d)
    case .string(let s):
      guard let i = try PythonFormat.parseInt(s, base: 10) else {
        throw ExprError(
          "invalid literal for int() with base 10: \(PythonFormat.stringRepr(s))")
      }
      return i
    default:
      throw ExprError(
        "int() argument must be a string, a bytes-like object or a real number, not '\(typeName)'"
      )
    }
  }

  /// Python's `float(x)`: numbers convert; `"1e-3"`, `" 2.5 "`, `"inf"`, `"nan"` are parsed.
  public func castToDouble() throws(ExprError) -> Double {
    switch self {
    case .bool(let b): return b ? 1 : 0
    case .int(let i): return Double(i)
    case .float(let d): return d
    case .string(let s):
      guard let d = PythonFormat.parseFloat(s) else {
        throw ExprError("could not convert string to float: \(PythonFormat.stringRepr(s))")
      }
      return d
    default:
      throw ExprError(
        "float() argument must be a string or a real number, not '\(typeName)'")
    }
  }

  /// Whether Python could use the value as a dict key.
  var isHashable: Bool {
    switch self {
    case .list, .dict: return false
    case .tuple(let a): return a.allSatisfy(\.isHashable)
    default: return true
    }
  }
}

extension ExprValue: CustomStringConvertible {
  /// Python's `repr` of the value.
  public var description: String { repr }
}

/// A Python dict: keys in insertion order, looked up with Python's `==` (`1`, `1.0` and `True`
/// are one key).
public struct ExprDict: Sendable, Equatable {
  /// The keys, in insertion order.
  public private(set) var keys: [ExprValue]
  /// The values, parallel to `keys`.
  public private(set) var values: [ExprValue]

  /// An empty dict.
  public init() {
    keys = []
    values = []
  }

  /// A dict from key/value pairs; a repeated key keeps its first position and its last value.
  public init(_ pairs: [(ExprValue, ExprValue)]) throws(ExprError) {
    self.init()
    for (k, v) in pairs { try set(v, for: k) }
  }

  /// The number of entries.
  public var count: Int { keys.count }

  /// The index of `key` in `keys`, if present.
  func index(of key: ExprValue) -> Int? {
    for i in keys.indices where Semantics.equal(keys[i], key) { return i }
    return nil
  }

  /// The value for `key`, or nil if absent.
  public subscript(key: ExprValue) -> ExprValue? {
    index(of: key).map { values[$0] }
  }

  /// Sets `value` for `key`; throws for an unhashable key (a list or a dict).
  public mutating func set(_ value: ExprValue, for key: ExprValue) throws(ExprError) {
    guard key.isHashable else { throw ExprError("unhashable type: '\(key.typeName)'") }
    if let i = index(of: key) {
      values[i] = value
    } else {
      keys.append(key)
      values.append(value)
    }
  }

  /// Equal when both hold the same keys (Python equality) with structurally equal values.
  public static func == (lhs: ExprDict, rhs: ExprDict) -> Bool {
    guard lhs.count == rhs.count else { return false }
    for (k, v) in zip(lhs.keys, lhs.values) {
      guard let other = rhs[k], other == v else { return false }
    }
    return true
  }
}
