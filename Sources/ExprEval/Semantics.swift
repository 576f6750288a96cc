/// Python's operators on `ExprValue`s: arithmetic, comparison, membership, indexing.
///
/// Errors are thrown without a column; the evaluator attaches the operator's column.
enum Semantics {
  // MARK: Equality and ordering

  /// Python's `a == b`.
  static func equal(_ a: ExprValue, _ b: ExprValue) -> Bool {
    switch (a, b) {
    case (.int(let x), .int(let y)): return x == y
    case (.float(let x), .float(let y)): return x == y
    case (.int(let x), .float(let y)): return PyMath.compare(x, y) == 0
    case (.float(let x), .int(let y)): return PyMath.compare(y, x) == 0
    case (.bool(let x), _): return equal(.int(x ? 1 : 0), b)
    case (_, .bool(let y)): return equal(a, .int(y ? 1 : 0))
    case (.none, .none): return true
    case (.string(let x), .string(let y)): return x.unicodeScalars.elementsEqual(y.unicodeScalars)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
      return x.count == y.count && zip(x, y).allSatisfy { equal($0, $1) }
    case (.dict(let x), .dict(let y)):
      guard x.count == y.count else { return false }
      for (k, v) in zip(x.keys, x.values) {
        guard let other = y[k], equal(v, other) else { return false }
      }
      return true
    default: return false
    }
  }

  enum Order: String {
    case less = "<"
    case lessEqual = "<="
    case greater = ">"
    case greaterEqual = ">="
  }

  private static func apply(_ order: Order, _ c: Int?) -> Bool {
    guard let c else { return false }
    switch order {
    case .less: return c < 0
    case .lessEqual: return c <= 0
    case .greater: return c > 0
    case .greaterEqual: return c >= 0
    }
  }

  private static func three<T: Comparable>(_ x: T, _ y: T) -> Int? {
    x < y ? -1 : (x > y ? 1 : (x == y ? 0 : nil))
  }

  /// Python's `a < b`, `a <= b`, `a > b`, `a >= b`.
  static func compare(_ order: Order, _ a: ExprValue, _ b: ExprValue) throws(ExprError) -> Bool {
    switch (a, b) {
    case (.int(let x), .int(let y)): return apply(order, three(x, y))
    case (.float(let x), .float(let y)): return apply(order, three(x, y))
    case (.int(let x), .float(let y)): return apply(order, PyMath.compare(x, y))
    case (.float(let x), .int(let y)): return apply(order, PyMath.compare(y, x).map { -$0 })
    case (.bool(let x), .int), (.bool(let x), .float), (.bool(let x), .bool):
      return try compare(order, .int(x ? 1 : 0), b)
    case (.int, .bool(let y)), (.float, .bool(let y)):
      return try compare(order, a, .int(y ? 1 : 0))
    case (.string(let x), .string(let y)):
      let c: Int =
        x.unicodeScalars.lexicographicallyPrecedes(y.unicodeScalars)
        ? -1 : (x.unicodeScalars.elementsEqual(y.unicodeScalars) ? 0 : 1)
      return apply(order, c)
    case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
      for (u, v) in zip(x, y) where !equal(u, v) { return try compare(order, u, v) }
      return apply(order, three(x.count, y.count))
    default:
      throw ExprError(
        "'\(order.rawValue)' not supported between instances of '\(a.typeName)' and '\(b.typeName)'"
      )
    }
  }

  /// Python's `a in b`.
  static func contains(_ container: ExprValue, _ item: ExprValue) throws(ExprError) -> Bool {
    switch container {
    case .list(let a), .tuple(let a): return a.contains { equal($0, item) }
    case .dict(let d):
      guard item.isHashable else { throw ExprError("unhashable type: '\(item.typeName)'") }
      return d.index(of: item) != nil
    case .string(let s):
      guard case .string(let needle) = item else {
        throw ExprError("'in <string>' requires string as left operand, not \(item.typeName)")
      }
      return find(Array(needle.unicodeScalars), in: Array(s.unicodeScalars))
    default:
      throw ExprError("argument of type '\(container.typeName)' is not iterable")
    }
  }

  /// Whether `pattern` occurs in `text` (Knuth–Morris–Pratt: linear time, so no input hangs).
  static func find(_ pattern: [Unicode.Scalar], in text: [Unicode.Scalar]) -> Bool {
    if pattern.isEmpty { return true }
    if pattern.count > text.count { return false }
    var failure = [Int](repeating: 0, count: pattern.count)
    var k = 0
    for i in 1..<pattern.count {
      while k > 0 && pattern[i] != pattern[k] { k = failure[k - 1] }
      if pattern[i] == pattern[k] { k += 1 }
      failure[i] = k
    }
    k = 0
    for c in text {
      while k > 0 && c != pattern[k] { k = failure[k - 1] }
      if c == pattern[k] { k += 1 }
      if k == pattern.count { return true }
    }
    return false
  }

  /// Python's `a is b`, for the immutable values expressions have: same type and equal (always
  /// false for lists and dicts, which are distinct objects each time they are built).
  static func identical(_ a: ExprValue, _ b: ExprValue) -> Bool {
    switch (a, b) {
    case (.none, .none): return true
    case (.bool(let x), .bool(let y)): return x == y
    case (.int(let x), .int(let y)): return x == y
    case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern
    case (.string(let x), .string(let y)): return x == y
    case (.tuple(let x), .tuple(let y)): return x.isEmpty && y.isEmpty
    default: return false
    }
  }

  // MARK: Arithmetic

  enum BinaryOp: String, Sendable {
    case add = "+"
    case subtract = "-"
    case multiply = "*"
    case divide = "/"
    case floorDivide = "//"
    case modulo = "%"
    case power = "**"
    case shiftLeft = "<<"
    case shiftRight = ">>"
    case bitAnd = "&"
    case bitOr = "|"
    case bitXor = "^"
  }

  private static func unsupported(_ op: BinaryOp, _ a: ExprValue, _ b: ExprValue) -> ExprError {
    let symbol = op == .power ? "** or pow()" : op.rawValue
    return ExprError(
      "unsupported operand type(s) for \(symbol): '\(a.typeName)' and '\(b.typeName)'")
  }

  /// The int value of an int or bool.
  @inline(__always) static func intValue(_ v: ExprValue) -> Int? {
    switch v {
    case .int(let i): return i
    case .bool(let b): return b ? 1 : 0
    default: return nil
    }
  }

  /// `a op b`.
  static func binary(_ op: BinaryOp, _ a: ExprValue, _ b: ExprValue) throws(ExprError) -> ExprValue
  {
    // The common numeric cases first.
    switch (a, b) {
    case (.float(let x), .float(let y)): return try floatOp(op, x, y, a, b)
    case (.int(let x), .int(let y)): return try intOp(op, x, y, a, b)
    case (.float(let x), .int(let y)): return try floatOp(op, x, Double(y), a, b)
    case (.int(let x), .float(let y)): return try floatOp(op, Double(x), y, a, b)
    default: break
    }
    switch (a, b) {
    case (.bool(let x), .bool(let y)):
      switch op {
      case .bitAnd: return .bool(x && y)
      case .bitOr: return .bool(x || y)
      case .bitXor: return .bool(x != y)
      default: return try intOp(op, x ? 1 : 0, y ? 1 : 0, a, b)
      }
    case (.bool(let x), .int), (.bool(let x), .float):
      return try binary(op, .int(x ? 1 : 0), b)
    case (.int, .bool(let y)), (.float, .bool(let y)):
      return try binary(op, a, .int(y ? 1 : 0))
    default: break
    }
    return try sequenceOp(op, a, b)
  }

  private static func floatOp(
    _ op: BinaryOp, _ x: Double, _ y: Double, _ a: ExprValue, _ b: ExprValue
  ) throws(ExprError) -> ExprValue {
    switch op {
    case .add: return .float(x + y)
    case .subtract: return .float(x - y)
    case .multiply: return .float(x * y)
    case .divide:
      if y == 0 { throw ExprError("float division by zero") }
      return .float(x / y)
    case .floorDivide: return .float(try PyMath.floorDivide(x, y))
    case .modulo: return .float(try PyMath.modulo(x, y))
    case .power: return .float(try PyMath.power(x, y))
    case .shiftLeft, .shiftRight, .bitAnd, .bitOr, .bitXor: throw unsupported(op, a, b)
    }
  }

  private static func intOp(
    _ op: BinaryOp, _ x: Int, _ y: Int, _ a: ExprValue, _ b: ExprValue
  ) throws(ExprError) -> ExprValue {
    switch op {
    case .add: return .int(try PyMath.add(x, y))
    case .subtract: return .int(try PyMath.subtract(x, y))
    case .multiply: return .int(try PyMath.multiply(x, y))
    case .divide:
      if y == 0 { throw ExprError("division by zero") }
      return .float(Double(x) / Double(y))
    case .floorDivide: return .int(try PyMath.floorDivide(x, y))
    case .modulo: return .int(try PyMath.modulo(x, y))
    case .power:
      if y < 0 { return .float(try PyMath.power(Double(x), Double(y))) }
      return .int(try PyMath.power(x, y))
    case .shiftLeft: return .int(try PyMath.shiftLeft(x, y))
    case .shiftRight: return .int(try PyMath.shiftRight(x, y))
    case .bitAnd: return .int(x & y)
    case .bitOr: return .int(x | y)
    case .bitXor: return .int(x ^ y)
    }
  }

  private static func repeated<C: RangeReplaceableCollection>(_ c: C, _ n: Int) throws(ExprError)
    -> C
  {
    if n <= 0 || c.isEmpty { return C() }
    let (total, o) = c.count.multipliedReportingOverflow(by: n)
    if o || total > PyMath.maxSequenceLength {
      throw ExprError("sequence repetition too large (limit \(PyMath.maxSequenceLength) items)")
    }
    if c.count == 1, let only = c.first { return C(repeating: only, count: n) }
    var r = C()
    r.reserveCapacity(total)
    for _ in 0..<n { r.append(contentsOf: c) }
    return r
  }

  private static func concatenated<C: RangeReplaceableCollection>(_ x: C, _ y: C)
    throws(ExprError) -> C
  {
    if x.count + y.count > PyMath.maxSequenceLength {
      throw ExprError("sequence too long (limit \(PyMath.maxSequenceLength) items)")
    }
    return x + y
  }

  private static func sequenceOp(_ op: BinaryOp, _ a: ExprValue, _ b: ExprValue)
    throws(ExprError) -> ExprValue
  {
    switch op {
    case .add:
      switch (a, b) {
      case (.string(let x), .string(let y)):
        if x.unicodeScalars.count + y.unicodeScalars.count > PyMath.maxSequenceLength {
          throw ExprError("sequence too long (limit \(PyMath.maxSequenceLength) items)")
        }
        return .string(x + y)
      case (.list(let x), .list(let y)): return .list(try concatenated(x, y))
      case (.tuple(let x), .tuple(let y)): return .tuple(try concatenated(x, y))
      case (.string, _), (.list, _), (.tuple, _):
        throw ExprError(
          "can only concatenate \(a.typeName) (not \"\(b.typeName)\") to \(a.typeName)")
      default: throw unsupported(op, a, b)
      }
    case .multiply:
      var sequence = a
      var count = b
      if intValue(a) != nil {
        sequence = b
        count = a
      }
      switch sequence {
      case .string, .list, .tuple:
        guard let n = intValue(count) else {
          if case .string = count, case .string = sequence { throw unsupported(op, a, b) }
          throw ExprError("can't multiply sequence by non-int of type '\(count.typeName)'")
        }
        switch sequence {
        case .string(let s):
          let (total, o) = s.unicodeScalars.count.multipliedReportingOverflow(by: max(n, 0))
          if o || total > PyMath.maxSequenceLength {
            throw ExprError(
              "sequence repetition too large (limit \(PyMath.maxSequenceLength) items)")
          }
          // `'' * 2**62` is '' at once (String(repeating:count:) would loop 2⁶² times).
          if s.isEmpty || n <= 0 { return .string("") }
          return .string(String(repeating: s, count: n))
        case .list(let x): return .list(try repeated(x, n))
        case .tuple(let x): return .tuple(try repeated(x, n))
        default: break
        }
      default: break
      }
      throw unsupported(op, a, b)
    case .modulo:
      if case .string = a {
        throw ExprError("string formatting with % is not supported in expressions")
      }
      throw unsupported(op, a, b)
    default:
      throw unsupported(op, a, b)
    }
  }

  /// `-a`.
  static func negate(_ a: ExprValue) throws(ExprError) -> ExprValue {
    switch a {
    case .float(let x): return .float(-x)
    case .int(let x): return .int(try PyMath.negate(x))
    case .bool(let x): return .int(x ? -1 : 0)
    default: throw ExprError("bad operand type for unary -: '\(a.typeName)'")
    }
  }

  /// `+a`.
  static func plus(_ a: ExprValue) throws(ExprError) -> ExprValue {
    switch a {
    case .float, .int: return a
    case .bool(let x): return .int(x ? 1 : 0)
    default: throw ExprError("bad operand type for unary +: '\(a.typeName)'")
    }
  }

  /// `~a`.
  static func invert(_ a: ExprValue) throws(ExprError) -> ExprValue {
    guard let x = intValue(a) else {
      throw ExprError("bad operand type for unary ~: '\(a.typeName)'")
    }
    return .int(~x)
  }

  // MARK: Indexing

  /// Python's `container[key]` for a non-slice key.
  static func index(_ container: ExprValue, _ key: ExprValue) throws(ExprError) -> ExprValue {
    switch container {
    case .list(let a), .tuple(let a):
      let i = try sequenceIndex(key, count: a.count, container: container)
      return a[i]
    case .string(let s):
      let scalars = Array(s.unicodeScalars)
      let i = try sequenceIndex(key, count: scalars.count, container: container)
      return .string(String(scalars[i]))
    case .dict(let d):
      guard key.isHashable else { throw ExprError("unhashable type: '\(key.typeName)'") }
      guard let v = d[key] else {
        throw ExprError("key \(key.repr) not found in the dict (use .get(key, default))")
      }
      return v
    default:
      throw ExprError("'\(container.typeName)' object is not subscriptable")
    }
  }

  private static func sequenceIndex(_ key: ExprValue, count: Int, container: ExprValue)
    throws(ExprError) -> Int
  {
    let noun = container.typeName == "str" ? "string" : container.typeName
    guard let raw = intValue(key) else {
      if case .string = container {
        throw ExprError("string indices must be integers, not '\(key.typeName)'")
      }
      throw ExprError(
        "\(container.typeName) indices must be integers or slices, not \(key.typeName)")
    }
    let i = raw < 0 ? raw &+ count : raw
    guard i >= 0 && i < count else { throw ExprError("\(noun) index out of range") }
    return i
  }

  /// Python's `container[start:stop:step]`.
  static func slice(
    _ container: ExprValue, _ start: ExprValue, _ stop: ExprValue, _ step: ExprValue
  ) throws(ExprError) -> ExprValue {
    func bound(_ v: ExprValue) throws(ExprError) -> Int? {
      if case .none = v { return nil }
      guard let i = intValue(v) else {
        throw ExprError(
          "slice indices must be integers or None or have an __index__ method")
      }
      return i
    }
    let stepValue = try bound(step) ?? 1
    if stepValue == 0 { throw ExprError("slice step cannot be zero") }
    let startValue = try bound(start)
    let stopValue = try bound(stop)
    func pick<T>(_ items: [T]) -> [T] {
      let n = items.count
      func adjust(_ v: Int?, _ defaultValue: Int) -> Int {
        guard var v else { return defaultValue }
        if v < 0 {
          v = v < -n ? (stepValue < 0 ? -1 : 0) : v + n
        } else if v >= n {
          v = stepValue < 0 ? n - 1 : n
        }
        return v
      }
      let lo = adjust(startValue, stepValue < 0 ? n - 1 : 0)
      let hi = adjust(stopValue, stepValue < 0 ? -1 : n)
      var out: [T] = []
      var i = lo
      if stepValue > 0 {
        while i < hi {
          out.append(items[i])
          i &+= stepValue
          if i < lo { break }
        }
      } else {
        while i > hi {
          out.append(items[i])
          i &+= stepValue
          if i > lo { break }
        }
      }
      return out
    }
    switch container {
    case .list(let a): return .list(pick(a))
    case .tuple(let a): return .tuple(pick(a))
    case .string(let s):
      return .string(String(String.UnicodeScalarView(pick(Array(s.unicodeScalars)))))
    default:
      throw ExprError("'\(container.typeName)' object is not subscriptable")
    }
  }

  /// The items of a list, tuple, dict (its keys) or string (its characters).
  static func iterate(_ v: ExprValue) throws(ExprError) -> [ExprValue] {
    switch v {
    case .list(let a), .tuple(let a): return a
    case .dict(let d): return d.keys
    case .string(let s): return s.unicodeScalars.map { .string(String($0)) }
    default: throw ExprError("'\(v.typeName)' object is not iterable")
    }
  }
}
