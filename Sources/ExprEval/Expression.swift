/// A CLIPig expression (a Python expression over the run's variables), parsed once and
/// evaluated many times.
///
/// ```swift
/// let schedule = try Expression("{0: 8, 1: 16}.get(int(t*16), 224)", groups: .time)
/// let size = try schedule.evaluate(in: ExprContext(epoch: 40, epochs: 300), random: &rng)
/// ```
public struct Expression: Sendable, CustomStringConvertible {
  /// The expression as written.
  public let source: String
  /// The variable groups the expression was checked against.
  public let groups: VariableGroups
  /// The variable groups the expression actually uses.
  public let usedGroups: VariableGroups
  let root: Node
  /// The compiled expression's node count (see `operationCount`).
  private let nodes: Int
  private let variableUse: Bool
  private let randomUse: Bool

  /// Parses and checks names: unknown names and variables outside `groups` are errors here,
  /// with the closest valid name suggested. Never validates by evaluating with zeros.
  public init(_ source: String, groups: VariableGroups) throws(ExprError) {
    self.source = source
    self.groups = groups
    do {
      root = try Compiler(groups: groups).compile(try Parser.parse(source))
    } catch {
      throw error.in(source)
    }
    var variables = false
    var random = false
    var used: VariableGroups = []
    var count = 0
    root.visit { node in
      count += 1
      switch node {
      case .variable(let v):
        variables = true
        used.formUnion(v.groups.intersection(groups))
      case .call(let f, _, _), .call1(let f, _, _):
        if f == .timeStep {
          variables = true
          used.insert(.time)
        }
        if f.isRandom { random = true }
      default: break
      }
    }
    variableUse = variables
    randomUse = random
    usedGroups = used
    nodes = count
  }

  /// The items (list, tuple and dict entries, string bytes) one evaluation may create: the
  /// bound on its time beyond its operations (numbers are free).
  public static let itemLimit = Budget.limit

  /// The operations of one evaluation at most (the compiled expression's nodes; it has no
  /// loops): with `itemLimit`, what bounds the time of callers that evaluate it many times.
  public var operationCount: Int { nodes }

  /// False for a constant expression (which may still call `random()`).
  public var usesVariables: Bool { variableUse }

  /// Whether evaluating draws from the random source.
  public var usesRandom: Bool { randomUse }

  /// The value, when the expression uses neither variables nor random functions and evaluates
  /// without error (constant subtrees are folded when the expression is parsed).
  public var constantValue: ExprValue? {
    root.constantValue
  }

  /// The expression as written.
  public var description: String { source }

  /// The value of the expression in `context`; random functions draw from `random`.
  public func evaluate<R: RandomSource>(in context: ExprContext, random: inout R)
    throws(ExprError) -> ExprValue
  {
    do {
      return try run(context, &random)
    } catch {
      throw error.in(source)
    }
  }

  /// Evaluates; expressions without random calls run through code specialised for `NoRandom`.
  @inline(__always)
  private func run<R: RandomSource>(_ context: ExprContext, _ random: inout R)
    throws(ExprError) -> ExprValue
  {
    var items = Budget.limit
    return try run(context, &random, items: &items)
  }

  /// The value of the expression in `context`, creating at most `items` items (which it
  /// lowers by what it spent): one budget shared by many evaluations.
  public func evaluate<R: RandomSource>(
    in context: ExprContext, random: inout R, items: inout Int
  ) throws(ExprError) -> ExprValue {
    do {
      return try run(context, &random, items: &items)
    } catch {
      throw error.in(source)
    }
  }

  /// Evaluates with `items` of budget, lowered by what the evaluation spent.
  @inline(__always)
  private func run<R: RandomSource>(_ context: ExprContext, _ random: inout R, items: inout Int)
    throws(ExprError) -> ExprValue
  {
    var budget = Budget(items)
    defer { items = budget.remaining }
    if randomUse { return try Evaluator.evaluate(root, context, &random, &budget) }
    var none = NoRandom()
    return try Evaluator.evaluate(root, context, &none, &budget)
  }

  /// Fast path used every step: the value as Double (int/bool/float results converted; other
  /// types → error).
  public func evaluateDouble<R: RandomSource>(in context: ExprContext, random: inout R)
    throws(ExprError) -> Double
  {
    let value: ExprValue
    do {
      value = try run(context, &random)
    } catch {
      throw error.in(source)
    }
    switch value {
    case .float(let d): return d
    case .int(let i): return Double(i)
    case .bool(let b): return b ? 1 : 0
    default:
      throw ExprError(
        "the expression gives \(value.typeName) \(value.repr), but a number is needed",
        column: 0, source: source)
    }
  }
}

extension ExprError {
  /// The same error about `source`.
  func `in`(_ source: String) -> ExprError {
    var e = self
    e.source = source
    return e
  }
}
