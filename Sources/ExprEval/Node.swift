#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A variable of CLIPig's variable groups, resolved from its name (or alias) at compile time.
enum Variable: Sendable, CaseIterable {
  case epoch
  case time, time2, time3, time4, time5
  case timeInverse, timeInverse2, timeInverse3, timeInverse4, timeInverse5
  case resolution, width, height
  case learnrate, learnrateScale
  case similarity
  case frame, frameTime
  case pixelX, pixelY

  /// The groups that make the variable available (similarity has two).
  var groups: VariableGroups {
    switch self {
    case .epoch, .time, .time2, .time3, .time4, .time5, .timeInverse, .timeInverse2,
      .timeInverse3, .timeInverse4, .timeInverse5:
      return .time
    case .resolution, .width, .height: return .resolution
    case .learnrate, .learnrateScale: return .learnrate
    case .similarity: return [.targetFeature, .targetConstraint]
    case .frame, .frameTime: return [.time, .frame]
    case .pixelX, .pixelY: return .pixel
    }
  }

  /// Names (full name first, then the alias) by which expressions refer to each variable.
  static let names: [(String, Variable)] = [
    ("epoch", .epoch), ("time", .time), ("t", .time), ("time2", .time2), ("t2", .time2),
    ("time3", .time3), ("t3", .time3), ("time4", .time4), ("t4", .time4), ("time5", .time5),
    ("t5", .time5), ("time_inverse", .timeInverse), ("ti", .timeInverse),
    ("time_inverse2", .timeInverse2), ("ti2", .timeInverse2), ("time_inverse3", .timeInverse3),
    ("ti3", .timeInverse3), ("time_inverse4", .timeInverse4), ("ti4", .timeInverse4),
    ("time_inverse5", .timeInverse5), ("ti5", .timeInverse5), ("resolution", .resolution),
    ("res", .resolution), ("width", .width), ("height", .height), ("learnrate", .learnrate),
    ("lr", .learnrate), ("learnrate_scale", .learnrateScale), ("lrs", .learnrateScale),
    ("similarity", .similarity), ("sim", .similarity), ("frame", .frame),
    ("frame_time", .frameTime), ("ft", .frameTime), ("x", .pixelX), ("y", .pixelY),
  ]

  /// A pixel size as a Python value: an int when whole (as CLIPig's always are), else a float.
  @inline(__always) static func size(_ d: Double) -> ExprValue {
    if d == d.rounded(.towardZero) && d.magnitude < 9_007_199_254_740_992 { return .int(Int(d)) }
    return .float(d)
  }

  /// The value in `c`.
  @inline(__always) func value(in c: ExprContext) -> ExprValue {
    switch self {
    case .epoch: return .int(c.epoch)
    case .time: return .float(c.t)
    case .time2: return .float(pow(c.t, 2))
    case .time3: return .float(pow(c.t, 3))
    case .time4: return .float(pow(c.t, 4))
    case .time5: return .float(pow(c.t, 5))
    case .timeInverse: return .float(1 - c.t)
    case .timeInverse2: return .float(pow(1 - c.t, 2))
    case .timeInverse3: return .float(pow(1 - c.t, 3))
    case .timeInverse4: return .float(pow(1 - c.t, 4))
    case .timeInverse5: return .float(pow(1 - c.t, 5))
    case .resolution: return .list([Variable.size(c.width), Variable.size(c.height)])
    case .width: return Variable.size(c.width)
    case .height: return Variable.size(c.height)
    case .learnrate: return .float(c.learnrate)
    case .learnrateScale: return .float(c.learnrateScale)
    case .similarity: return .float(c.similarity)
    case .frame: return .int(c.frame)
    case .frameTime: return .float(c.frameTime)
    case .pixelX: return .float(c.x)
    case .pixelY: return .float(c.y)
    }
  }
}

/// A constant dict used with `.get` or `[]`, with a direct-index table when its keys are small
/// ints (the resolution schedules of CLIPig configs are such dicts).
final class ConstantTable: Sendable {
  let dict: ExprDict
  let base: Int
  let dense: [ExprValue?]

  init(_ dict: ExprDict) {
    self.dict = dict
    var keys: [Int] = []
    for k in dict.keys {
      switch k {
      case .int(let i): keys.append(i)
      case .bool(let b): keys.append(b ? 1 : 0)
      default: break
      }
    }
    if keys.count == dict.count, let lo = keys.min(), let hi = keys.max(),
      case (let span, let overflow) = hi.subtractingReportingOverflow(lo), !overflow, span < 1024
    {
      var table = [ExprValue?](repeating: nil, count: hi - lo + 1)
      for (k, v) in zip(keys, dict.values) { table[k - lo] = v }
      base = lo
      dense = table
    } else {
      base = 0
      dense = []
    }
  }

  /// The value for `key`, nil if absent; throws for an unhashable key.
  @inline(__always) func lookup(_ key: ExprValue) throws(ExprError) -> ExprValue? {
    if !dense.isEmpty {
      var i: Int
      switch key {
      case .int(let k): i = k
      case .bool(let b): i = b ? 1 : 0
      case .float(let d):
        guard d == d.rounded(.towardZero), d.magnitude < 9e15 else { return nil }
        i = Int(d)
      default: return nil
      }
      i = i &- base
      return i >= 0 && i < dense.count ? dense[i] : nil
    }
    guard key.isHashable else { throw ExprError("unhashable type: '\(key.typeName)'") }
    return dict[key]
  }
}

/// What a link of a flat left-associative chain does with the value so far and its operand.
enum ChainOp: Sendable {
  case binary(Semantics.BinaryOp)
  case and
  case or
}

/// One `op operand` link of a compiled left-associative chain (`a + b - c`, `a and b and c`).
struct ChainLink: Sendable {
  var op: ChainOp
  var node: Node
  var column: Int
}

/// One `op operand` link of a compiled comparison chain.
struct CompareLink: Sendable {
  var op: Syntax.CompareOp
  var node: Node
  var column: Int
}

/// The compiled form of an expression: names resolved, calls bound to functions, constant
/// subtrees folded. Integers are source columns for error messages.
indirect enum Node: Sendable {
  case constant(ExprValue)
  /// A folded constant list, tuple, dict or string too large to be free: each use is charged
  /// its expanded size (`weight`) at `column`.
  case heavyConstant(ExprValue, weight: Int, Int)
  case variable(Variable)
  case unary(Syntax.UnaryOp, Node, Int)
  case binary(Semantics.BinaryOp, Node, Node, Int)
  /// A flat chain of left-associative operators, evaluated in a loop (no recursion per link).
  case chain(Node, [ChainLink])
  case and(Node, Node)
  case or(Node, Node)
  case compare(Node, [CompareLink])
  case conditional(test: Node, then: Node, otherwise: Node)
  case list([Node])
  case tuple([Node])
  case dict(keys: [Node], values: [Node], Int)
  case index(Node, Node, Int)
  case slice(Node, start: Node, stop: Node, step: Node, Int)
  case get(Node, key: Node, otherwise: Node?, Int)
  case constantGet(ConstantTable, key: Node, otherwise: Node?, Int)
  case call(Builtin, [Node], Int)
  /// A call with one argument (no argument list to build).
  case call1(Builtin, Node, Int)
  case minMax(isMax: Bool, [Node], otherwise: Node?, Int)

  /// Whether the node is a folded constant.
  var isConstant: Bool { constantValue != nil }

  /// The value of a folded constant.
  var constantValue: ExprValue? {
    switch self {
    case .constant(let v), .heavyConstant(let v, _, _): return v
    default: return nil
    }
  }

  /// A constant node for `value`: charged on use when it is large.
  static func folded(_ value: ExprValue, at column: Int) -> Node {
    if Budget.isScalar(value) { return .constant(value) }
    // A value past the limit (possible only from a display of large constants) stays charged
    // as just past it, so using it always fails; measuring it never costs more than the limit.
    let w = Budget.weight(value, limit: Budget.limit)
    return w <= Budget.lightWeight ? .constant(value) : .heavyConstant(value, weight: w, column)
  }

  /// Visits this node and all nodes below it.
  func visit(_ body: (Node) -> Void) {
    body(self)
    switch self {
    case .constant, .heavyConstant, .variable: break
    case .chain(let a, let links):
      a.visit(body)
      for l in links { l.node.visit(body) }
    case .unary(_, let a, _), .call1(_, let a, _): a.visit(body)
    case .binary(_, let a, let b, _), .and(let a, let b), .or(let a, let b),
      .index(let a, let b, _):
      a.visit(body)
      b.visit(body)
    case .compare(let a, let links):
      a.visit(body)
      for l in links { l.node.visit(body) }
    case .conditional(let a, let b, let c):
      a.visit(body)
      b.visit(body)
      c.visit(body)
    case .list(let items), .tuple(let items), .call(_, let items, _):
      for n in items { n.visit(body) }
    case .dict(let keys, let values, _):
      for n in keys + values { n.visit(body) }
    case .slice(let a, let b, let c, let d, _):
      for n in [a, b, c, d] { n.visit(body) }
    case .get(let a, let b, let c, _):
      a.visit(body)
      b.visit(body)
      c?.visit(body)
    case .constantGet(_, let b, let c, _):
      b.visit(body)
      c?.visit(body)
    case .minMax(_, let items, let d, _):
      for n in items { n.visit(body) }
      d?.visit(body)
    }
  }
}

/// Up to three argument values inline (no allocation), more in an array.
struct Arguments {
  private(set) var count = 0
  private var a0 = ExprValue.none
  private var a1 = ExprValue.none
  private var a2 = ExprValue.none
  private var rest: [ExprValue] = []

  init() {}

  init(_ values: [ExprValue]) {
    for v in values { append(v) }
  }

  @inline(__always) mutating func append(_ v: ExprValue) {
    switch count {
    case 0: a0 = v
    case 1: a1 = v
    case 2: a2 = v
    default: rest.append(v)
    }
    count += 1
  }

  @inline(__always) subscript(_ i: Int) -> ExprValue {
    switch i {
    case 0: return a0
    case 1: return a1
    case 2: return a2
    default: return rest[i - 3]
    }
  }

  /// The argument at `i`, or nil when absent or None.
  func optional(_ i: Int) -> ExprValue? {
    guard i < count else { return nil }
    if case .none = self[i] { return nil }
    return self[i]
  }

  var values: [ExprValue] { (0..<count).map { self[$0] } }
}

extension ExprError {
  /// The same error reported at `column`.
  @inline(__always) func at(_ column: Int) -> ExprError {
    var e = self
    e.column = column
    return e
  }
}

/// Walks a compiled tree. Recursion depth is bounded by `Parser.maxDepth` (a flat chain of
/// operators is one node, walked in a loop).
///
/// Every list, tuple, dict or string an operation creates is charged to the budget `w` at the
/// operation's column, so one evaluation's work is bounded (see `Budget`). Values that only pass
/// through (`and`, `or`, `if`, indexing) or come from a child were charged where they were made.
enum Evaluator {
  static func evaluate<R: RandomSource>(
    _ node: Node, _ c: ExprContext, _ r: inout R, _ w: inout Budget
  ) throws(ExprError) -> ExprValue {
    switch node {
    case .constant(let v):
      return v
    case .variable(let v):
      return v.value(in: c)
    case .binary(let op, let a, let b, let column):
      let x = try evaluate(a, c, &r, &w)
      let y = try evaluate(b, c, &r, &w)
      return try binary(op, x, y, column, &w)
    case .call(let f, let nodes, let column):
      var args = Arguments()
      for n in nodes { args.append(try evaluate(n, c, &r, &w)) }
      let v: ExprValue
      do { v = try Functions.apply(f, args, c, &r, &w) } catch { throw error.at(column) }
      if !Budget.isScalar(v) { try w.charge(v, at: column) }
      return v
    case .call1(let f, let a, let column):
      let x = try evaluate(a, c, &r, &w)
      let v: ExprValue
      do { v = try Functions.apply1(f, x, c, &r, &w) } catch { throw error.at(column) }
      if !Budget.isScalar(v) { try w.charge(v, at: column) }
      return v
    case .constantGet(let table, let key, let otherwise, let column):
      let k = try evaluate(key, c, &r, &w)
      var d = ExprValue.none
      if let otherwise { d = try evaluate(otherwise, c, &r, &w) }
      let v: ExprValue
      do { v = try table.lookup(k) ?? d } catch { throw error.at(column) }
      // The table's values are constants, never charged before.
      if !Budget.isScalar(v) { try w.charge(v, at: column) }
      return v
    case .unary(let op, let a, let column):
      let x = try evaluate(a, c, &r, &w)
      do {
        switch op {
        case .negate: return try Semantics.negate(x)
        case .plus: return try Semantics.plus(x)
        case .invert: return try Semantics.invert(x)
        case .not: return .bool(!x.isTruthy)
        }
      } catch { throw error.at(column) }
    case .and(let a, let b):
      let x = try evaluate(a, c, &r, &w)
      return x.isTruthy ? try evaluate(b, c, &r, &w) : x
    case .or(let a, let b):
      let x = try evaluate(a, c, &r, &w)
      return x.isTruthy ? x : try evaluate(b, c, &r, &w)
    case .compare(let first, let links):
      var left = try evaluate(first, c, &r, &w)
      for link in links {
        let right = try evaluate(link.node, c, &r, &w)
        let holds: Bool
        do { holds = try compare(link.op, left, right) } catch { throw error.at(link.column) }
        if !holds { return .bool(false) }
        left = right
      }
      return .bool(true)
    case .conditional(let test, let then, let otherwise):
      return try evaluate(test, c, &r, &w).isTruthy
        ? try evaluate(then, c, &r, &w) : try evaluate(otherwise, c, &r, &w)
    default:
      return try evaluateOther(node, c, &r, &w)
    }
  }

  /// `x op y`, charging a created sequence; the float cases inline.
  @inline(__always)
  private static func binary(
    _ op: Semantics.BinaryOp, _ x: ExprValue, _ y: ExprValue, _ column: Int, _ w: inout Budget
  ) throws(ExprError) -> ExprValue {
    if case .float(let u) = x, case .float(let v) = y {
      switch op {
      case .add: return .float(u + v)
      case .subtract: return .float(u - v)
      case .multiply: return .float(u * v)
      default: break
      }
    }
    let v: ExprValue
    do { v = try Semantics.binary(op, x, y) } catch { throw error.at(column) }
    if !Budget.isScalar(v) { try w.charge(v, at: column) }
    return v
  }

  /// A flat left-associative chain, in a loop: `((head op₁ x₁) op₂ x₂) …`.
  private static func chain<R: RandomSource>(
    _ head: Node, _ links: [ChainLink], _ c: ExprContext, _ r: inout R, _ w: inout Budget
  ) throws(ExprError) -> ExprValue {
    var value = try evaluate(head, c, &r, &w)
    for link in links {
      switch link.op {
      case .binary(let op):
        let y = try evaluate(link.node, c, &r, &w)
        value = try binary(op, value, y, link.column, &w)
      case .and:
        if value.isTruthy { value = try evaluate(link.node, c, &r, &w) }
      case .or:
        if !value.isTruthy { value = try evaluate(link.node, c, &r, &w) }
      }
    }
    return value
  }

  /// The less common nodes, kept out of the hot function so its frame stays small.
  @inline(never)
  private static func evaluateOther<R: RandomSource>(
    _ node: Node, _ c: ExprContext, _ r: inout R, _ w: inout Budget
  ) throws(ExprError) -> ExprValue {
    switch node {
    case .heavyConstant(let v, let weight, let column):
      try w.spend(weight, at: column)
      return v
    case .chain(let head, let links):
      return try chain(head, links, c, &r, &w)
    case .list(let items):
      var out: [ExprValue] = []
      out.reserveCapacity(items.count)
      for n in items { out.append(try evaluate(n, c, &r, &w)) }
      return .list(out)
    case .tuple(let items):
      var out: [ExprValue] = []
      out.reserveCapacity(items.count)
      for n in items { out.append(try evaluate(n, c, &r, &w)) }
      return .tuple(out)
    case .dict(let keys, let values, let column):
      var d = ExprDict()
      for (k, v) in zip(keys, values) {
        let key = try evaluate(k, c, &r, &w)
        let value = try evaluate(v, c, &r, &w)
        // Each insertion compares the key with every key so far (as `Budget` weighs dicts).
        try w.spend(d.count / 8 + 1, at: column)
        do { try d.set(value, for: key) } catch { throw error.at(column) }
      }
      return .dict(d)
    case .index(let a, let b, let column):
      let x = try evaluate(a, c, &r, &w)
      let y = try evaluate(b, c, &r, &w)
      do { return try Semantics.index(x, y) } catch { throw error.at(column) }
    case .slice(let a, let start, let stop, let step, let column):
      let x = try evaluate(a, c, &r, &w)
      let lo = try evaluate(start, c, &r, &w)
      let hi = try evaluate(stop, c, &r, &w)
      let st = try evaluate(step, c, &r, &w)
      let v: ExprValue
      do { v = try Semantics.slice(x, lo, hi, st) } catch { throw error.at(column) }
      try w.charge(v, at: column)
      return v
    case .get(let a, let key, let otherwise, let column):
      let x = try evaluate(a, c, &r, &w)
      let k = try evaluate(key, c, &r, &w)
      let d = try otherwise.map { n throws(ExprError) in try evaluate(n, c, &r, &w) } ?? .none
      guard case .dict(let dict) = x else {
        throw ExprError("'\(x.typeName)' object has no attribute 'get'", column: column)
      }
      guard k.isHashable else {
        throw ExprError("unhashable type: '\(k.typeName)'", column: column)
      }
      return dict[k] ?? d
    case .minMax(let isMax, let nodes, let otherwise, let column):
      var args = Arguments()
      for n in nodes { args.append(try evaluate(n, c, &r, &w)) }
      let d = try otherwise.map { n throws(ExprError) in try evaluate(n, c, &r, &w) }
      do { return try Functions.minMax(isMax: isMax, args, otherwise: d) } catch {
        throw error.at(column)
      }
    default:
      preconditionFailure("node handled by evaluate(_:_:_:)")
    }
  }

  static func compare(_ op: Syntax.CompareOp, _ a: ExprValue, _ b: ExprValue) throws(ExprError)
    -> Bool
  {
    switch op {
    case .less: return try Semantics.compare(.less, a, b)
    case .lessEqual: return try Semantics.compare(.lessEqual, a, b)
    case .greater: return try Semantics.compare(.greater, a, b)
    case .greaterEqual: return try Semantics.compare(.greaterEqual, a, b)
    case .equal: return Semantics.equal(a, b)
    case .notEqual: return !Semantics.equal(a, b)
    case .isIn: return try Semantics.contains(b, a)
    case .notIn: return try !Semantics.contains(b, a)
    case .isSame: return Semantics.identical(a, b)
    case .isNotSame: return !Semantics.identical(a, b)
    }
  }
}
