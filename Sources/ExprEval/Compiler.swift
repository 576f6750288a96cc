/// Turns a parsed expression into a `Node` tree: resolves names against the allowed variable
/// groups, binds call arguments to function parameters and folds constant subtrees.
struct Compiler {
  let groups: VariableGroups

  /// The work all constant folding of one expression may do together (see `Budget`): once it is
  /// spent, further subtrees that make large values are left to be evaluated (and refused) when
  /// the expression is evaluated.
  private final class FoldBudget {
    var remaining = Budget.limit
  }
  private let foldBudget = FoldBudget()

  init(groups: VariableGroups) {
    self.groups = groups
  }

  /// Constants of the math module.
  static let constants: [String: Double] = [
    "pi": M.pi, "e": M.e, "tau": M.tau, "inf": .infinity, "nan": .nan,
  ]

  /// Names Python would know but clipig deliberately does not offer.
  static let unsupported: Set<String> = [
    "print", "input", "open", "eval", "exec", "compile", "__import__", "globals", "locals", "vars",
    "dir", "getattr", "setattr", "delattr", "hasattr", "type", "isinstance", "issubclass", "range",
    "map", "filter", "zip", "enumerate", "reversed", "iter", "next", "chr", "ord", "hex", "oct",
    "bin", "format", "repr", "hash", "id", "callable", "dict", "set", "frozenset", "complex",
    "bytes", "bytearray", "memoryview", "object", "super", "slice", "property", "staticmethod",
    "classmethod", "breakpoint", "help", "exit", "quit", "math", "random", "os", "sys",
    "getstate", "setstate", "shuffle", "sample", "choices", "getrandbits", "randbytes",
    "betavariate", "gammavariate", "paretovariate", "vonmisesvariate", "weibullvariate",
    "binomialvariate", "Random", "SystemRandom", "sumprod", "fma", "Ellipsis", "NotImplemented",
  ]

  /// The function a name refers to, if any.
  static func function(named name: String) -> Builtin? {
    name == "ts" ? .timeStep : Builtin(rawValue: name)
  }

  /// Compiles `syntax`, checking every name.
  ///
  /// Each kind of node has its own small function, so the recursion (up to `Parser.maxDepth`
  /// levels) keeps small stack frames even in debug builds.
  func compile(_ syntax: Syntax) throws(ExprError) -> Node {
    let col = syntax.column
    switch syntax.kind {
    case .literal(let v): return Node.folded(v, at: col)
    case .name(let name): return try resolve(name, at: col)
    case .unary(let op, let a): return try unary(op, a, col)
    case .binary(let op, let a, let b): return try binary(op, a, b, col)
    case .chain(let head, let links): return try chain(head, links)
    case .compare(let first, let links): return try comparison(first, links)
    case .conditional(let t, let a, let b): return try conditional(t, a, b)
    case .list(let items): return try display(items, isList: true, col)
    case .tuple(let items): return try display(items, isList: false, col)
    case .dict(let pairs): return try dict(pairs, col)
    case .item(let object, let index): return try subscription(object, index, at: col)
    case .slice:
      throw ExprError("invalid syntax: a slice is only allowed inside [ ]", column: col)
    case .call(let callee, let arguments, let keywords):
      return try call(callee, arguments, keywords)
    case .method(let object, _, let arguments, let keywords):
      return try get(object, arguments, keywords, at: col)
    }
  }

  @inline(never)
  private func unary(_ op: Syntax.UnaryOp, _ a: Syntax, _ col: Int) throws(ExprError) -> Node {
    let x = try compile(a)
    return fold(.unary(op, x, col), [x], at: col)
  }

  @inline(never)
  private func binary(_ op: Semantics.BinaryOp, _ a: Syntax, _ b: Syntax, _ col: Int)
    throws(ExprError) -> Node
  {
    let x = try compile(a)
    let y = try compile(b)
    return fold(.binary(op, x, y, col), [x, y], at: col)
  }

  /// A flat chain `head op₁ x₁ op₂ x₂ …` (left-associative): its constant prefix is folded, a
  /// single remaining link becomes a plain binary, `and` or `or` node.
  @inline(never)
  private func chain(_ head: Syntax, _ links: [Syntax.ChainLink]) throws(ExprError) -> Node {
    var value = try compile(head)
    var compiled: [ChainLink] = []
    compiled.reserveCapacity(links.count)
    for l in links {
      compiled.append(ChainLink(op: l.op, node: try compile(l.operand), column: l.column))
    }
    var first = 0
    folding: while first < compiled.count, let v = value.constantValue {
      let link = compiled[first]
      switch link.op {
      case .and: if v.isTruthy { value = link.node }
      case .or: if !v.isTruthy { value = link.node }
      case .binary(let op):
        let node = Node.binary(op, value, link.node, link.column)
        let folded = fold(node, [value, link.node], at: link.column)
        if !folded.isConstant { break folding }
        value = folded
      }
      first += 1
    }
    let rest = compiled[first...]
    guard let only = rest.first else { return value }
    if rest.count > 1 { return .chain(value, Array(rest)) }
    switch only.op {
    case .binary(let op): return .binary(op, value, only.node, only.column)
    case .and: return .and(value, only.node)
    case .or: return .or(value, only.node)
    }
  }

  @inline(never)
  private func comparison(_ first: Syntax, _ links: [Syntax.Link]) throws(ExprError) -> Node {
    let head = try compile(first)
    var compiled: [CompareLink] = []
    for l in links {
      compiled.append(CompareLink(op: l.op, node: try compile(l.operand), column: l.column))
    }
    return fold(.compare(head, compiled), [head] + compiled.map(\.node), at: first.column)
  }

  @inline(never)
  private func conditional(_ test: Syntax, _ then: Syntax, _ otherwise: Syntax)
    throws(ExprError) -> Node
  {
    let t = try compile(test)
    let a = try compile(then)
    let b = try compile(otherwise)
    if let v = t.constantValue { return v.isTruthy ? a : b }
    return .conditional(test: t, then: a, otherwise: b)
  }

  @inline(never)
  private func display(_ items: [Syntax], isList: Bool, _ col: Int) throws(ExprError) -> Node {
    let nodes = try compileAll(items)
    return fold(isList ? .list(nodes) : .tuple(nodes), nodes, at: col)
  }

  @inline(never)
  private func dict(_ pairs: [(key: Syntax, value: Syntax)], _ col: Int) throws(ExprError)
    -> Node
  {
    var keys: [Node] = []
    var values: [Node] = []
    for pair in pairs {
      keys.append(try compile(pair.key))
      values.append(try compile(pair.value))
    }
    return fold(.dict(keys: keys, values: values, col), keys + values, at: col)
  }

  private func compileAll(_ items: [Syntax]) throws(ExprError) -> [Node] {
    var nodes: [Node] = []
    for s in items { nodes.append(try compile(s)) }
    return nodes
  }

  /// `node` itself, or its value when every child is a constant and evaluating succeeds within
  /// what is left of the folding budget. (A failing constant subtree is kept, so its error
  /// appears when, and if, it is evaluated.) `column` is where a large result is charged.
  private func fold(_ node: Node, _ children: [Node], at column: Int) -> Node {
    guard children.allSatisfy(\.isConstant) else { return node }
    switch node {
    case .call(let f, _, _), .call1(let f, _, _):
      if f.isRandom || f == .timeStep { return node }
    default: break
    }
    var random = NoRandom()
    let available = foldBudget.remaining
    var budget = Budget(available)
    defer { foldBudget.remaining -= available - budget.remaining }
    do {
      let value = try Evaluator.evaluate(node, ExprContext(), &random, &budget)
      return Node.folded(value, at: column)
    } catch {
      return node
    }
  }

  // MARK: Names

  private func resolve(_ name: String, at column: Int) throws(ExprError) -> Node {
    if let value = Compiler.constants[name] { return .constant(.float(value)) }
    if let (_, variable) = Variable.names.first(where: { $0.0 == name }) {
      guard !variable.groups.isDisjoint(with: groups) else {
        throw notAllowed(name, variable.groups, at: column)
      }
      return .variable(variable)
    }
    if Compiler.function(named: name) != nil {
      throw ExprError(
        "'\(name)' is a function: call it, as in \(name)(…)", column: column)
    }
    throw unknown(name, at: column)
  }

  private func notAllowed(_ name: String, _ needed: VariableGroups, at column: Int) -> ExprError {
    let belongs = needed.names.joined(separator: " or ")
    if groups.isEmpty {
      return ExprError(
        "variable '\(name)' is not available here: this parameter takes a constant expression",
        column: column)
    }
    return ExprError(
      "variable '\(name)' (group \(belongs)) is not available here; this parameter allows the "
        + "group\(groups.names.count == 1 ? "" : "s") \(groups.names.joined(separator: ", "))",
      column: column)
  }

  private func unknown(_ name: String, at column: Int) -> ExprError {
    if name == "seed" {
      return ExprError(
        "'seed' is not supported: the run's seed drives every random draw", column: column)
    }
    if Compiler.unsupported.contains(name) {
      return ExprError("'\(name)' is not supported in clipig expressions", column: column)
    }
    if let (_, variable) = Variable.names.first(where: { $0.0 == name }) {
      return notAllowed(name, variable.groups, at: column)
    }
    var message = "unknown name '\(name)'"
    if let suggestion = suggestion(for: name) { message += "; did you mean '\(suggestion)'?" }
    return ExprError(message, column: column)
  }

  /// Every name valid in this compiler's groups.
  var validNames: [String] {
    var names: [String] = []
    for (name, variable) in Variable.names where !variable.groups.isDisjoint(with: groups) {
      names.append(name)
    }
    for f in Builtin.allCases where f != .timeStep || groups.contains(.time) {
      names.append(f.rawValue)
      if f == .timeStep { names.append("ts") }
    }
    names += ["pi", "e", "tau", "inf", "nan", "True", "False", "None"]
    return names
  }

  /// The closest valid name: a case-insensitive match, else the nearest within an edit distance
  /// of 1 (names up to 4 letters) or 2.
  func suggestion(for name: String) -> String? {
    let candidates = validNames
    if let same = candidates.first(where: { $0.lowercased() == name.lowercased() }) {
      return same
    }
    let limit = name.unicodeScalars.count <= 4 ? 1 : 2
    var best: (String, Int)?
    for c in candidates {
      let d = Compiler.editDistance(name, c)
      if d <= limit && d < name.count && d < (best?.1 ?? Int.max) { best = (c, d) }
    }
    return best?.0
  }

  /// Levenshtein distance between two strings.
  static func editDistance(_ a: String, _ b: String) -> Int {
    let x = Array(a.unicodeScalars)
    let y = Array(b.unicodeScalars)
    if x.isEmpty { return y.count }
    if y.isEmpty { return x.count }
    var previous = Array(0...y.count)
    var current = previous
    for i in 1...x.count {
      current[0] = i
      for j in 1...y.count {
        let cost = x[i - 1] == y[j - 1] ? 0 : 1
        current[j] = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
      }
      swap(&previous, &current)
    }
    return previous[y.count]
  }

  // MARK: Subscripts and .get

  @inline(never)
  private func subscription(_ object: Syntax, _ index: Syntax, at column: Int)
    throws(ExprError) -> Node
  {
    let container = try compile(object)
    if case .slice(let a, let b, let c) = index.kind {
      let none = Node.constant(.none)
      let start = try a.map { s throws(ExprError) in try compile(s) } ?? none
      let stop = try b.map { s throws(ExprError) in try compile(s) } ?? none
      let step = try c.map { s throws(ExprError) in try compile(s) } ?? none
      return fold(
        .slice(container, start: start, stop: stop, step: step, column),
        [container, start, stop, step], at: column)
    }
    let key = try compile(index)
    // res[0], res[1], res[-1], res[-2]: read the context directly, without building a list.
    if case .variable(.resolution) = container, case .constant(let k) = key,
      let i = Semantics.intValue(k), (-2...1).contains(i)
    {
      return .variable(i == 0 || i == -2 ? .width : .height)
    }
    return fold(.index(container, key, column), [container, key], at: column)
  }

  @inline(never)
  private func get(
    _ object: Syntax, _ arguments: [Syntax], _ keywords: [Syntax.Keyword], at column: Int
  ) throws(ExprError) -> Node {
    if let k = keywords.first {
      throw ExprError("get() takes no keyword arguments", column: k.column)
    }
    guard (1...2).contains(arguments.count) else {
      throw ExprError(
        "get() takes 1 or 2 arguments (\(arguments.count) given): dict.get(key[, default])",
        column: column)
    }
    let container = try compile(object)
    let key = try compile(arguments[0])
    let otherwise = arguments.count > 1 ? try compile(arguments[1]) : nil
    if case .dict(let d)? = container.constantValue {
      return fold(
        .constantGet(ConstantTable(d), key: key, otherwise: otherwise, column),
        [key] + (otherwise.map { [$0] } ?? []), at: column)
    }
    return fold(
      .get(container, key: key, otherwise: otherwise, column),
      [container, key] + (otherwise.map { [$0] } ?? []), at: column)
  }

  // MARK: Calls

  @inline(never)
  private func call(_ callee: Syntax, _ arguments: [Syntax], _ keywords: [Syntax.Keyword])
    throws(ExprError) -> Node
  {
    guard case .name(let name) = callee.kind else {
      throw ExprError("this expression is not callable", column: callee.column)
    }
    let column = callee.column
    guard let f = Compiler.function(named: name) else {
      if Compiler.constants[name] != nil || Variable.names.contains(where: { $0.0 == name }) {
        _ = try resolve(name, at: column)
        throw ExprError("'\(name)' is a value, not a function", column: column)
      }
      throw unknown(name, at: column)
    }
    if f == .timeStep && !groups.contains(.time) {
      throw notAllowed(name, .time, at: column)
    }
    let sig = f.signature
    if f == .max || f == .min {
      return try minMax(f == .max, name, arguments, keywords, at: column)
    }
    if sig.variadic {
      if let k = keywords.first {
        throw ExprError("\(name)() takes no keyword arguments", column: k.column)
      }
      let nodes = try compileAll(arguments)
      return fold(.call(f, nodes, column), nodes, at: column)
    }
    let positionalCount = sig.positional.count
    if arguments.count > positionalCount {
      throw arityError(name, sig, given: arguments.count + keywords.count, at: column)
    }
    var slots = [Node?](repeating: nil, count: positionalCount + sig.keywordOnly.count)
    for (i, a) in arguments.enumerated() { slots[i] = try compile(a) }
    for k in keywords {
      if k.name == "key", f == .sorted {
        guard case .literal(.none) = k.value.kind else {
          throw ExprError("sorted() key functions are not supported", column: k.column)
        }
      }
      var slot: Int?
      if let i = sig.keywordOnly.firstIndex(of: k.name) {
        slot = positionalCount + i
      } else if let i = sig.positional.firstIndex(of: k.name) {
        guard sig.keywordsAllowed else {
          throw ExprError("\(name)() takes no keyword arguments", column: k.column)
        }
        slot = i
      }
      guard let slot else {
        throw ExprError(
          "\(name)() got an unexpected keyword argument '\(k.name)'", column: k.column)
      }
      if slots[slot] != nil {
        throw ExprError(
          "\(name)() got multiple values for argument '\(k.name)'", column: k.column)
      }
      slots[slot] = try compile(k.value)
    }
    for i in 0..<sig.required where slots[i] == nil {
      if keywords.isEmpty {
        throw arityError(name, sig, given: arguments.count, at: column)
      }
      throw ExprError(
        "\(name)() missing required argument '\(sig.positional[i])'", column: column)
    }

    while let last = slots.last, last == nil { slots.removeLast() }
    var nodes: [Node] = []
    for (i, s) in slots.enumerated() {
      nodes.append(s ?? .constant(sig.defaults[i - sig.required]))
    }
    if nodes.count == 1 { return fold(.call1(f, nodes[0], column), nodes, at: column) }
    return fold(.call(f, nodes, column), nodes, at: column)
  }

  private func minMax(
    _ isMax: Bool, _ name: String, _ arguments: [Syntax], _ keywords: [Syntax.Keyword],
    at column: Int
  ) throws(ExprError) -> Node {
    if arguments.isEmpty {
      throw ExprError(
        "\(name)() expects at least 1 argument (0 given)", column: column)
    }
    var otherwise: Node?
    for k in keywords {
      switch k.name {
      case "key":
        guard case .literal(.none) = k.value.kind else {
          throw ExprError("\(name)() key functions are not supported", column: k.column)
        }
      case "default":
        if arguments.count > 1 {
          throw ExprError(
            "Cannot specify a default for \(name)() with multiple positional arguments",
            column: k.column)
        }
        otherwise = try compile(k.value)
      default:
        throw ExprError(
          "\(name)() got an unexpected keyword argument '\(k.name)'", column: k.column)
      }
    }
    let nodes = try compileAll(arguments)
    return fold(
      .minMax(isMax: isMax, nodes, otherwise: otherwise, column),
      nodes + (otherwise.map { [$0] } ?? []), at: column)
  }

  private func arityError(_ name: String, _ sig: Builtin.Signature, given: Int, at column: Int)
    -> ExprError
  {
    let most = sig.positional.count
    let plural = { (n: Int) in n == 1 ? "argument" : "arguments" }
    let text: String
    if sig.required == most {
      text = "\(name)() takes exactly \(most) \(plural(most)) (\(given) given)"
    } else if sig.required == 0 {
      text = "\(name)() takes at most \(most) \(plural(most)) (\(given) given)"
    } else {
      text = "\(name)() takes from \(sig.required) to \(most) arguments (\(given) given)"
    }
    return ExprError(text, column: column)
  }
}

/// The random source used while folding constants (random calls are never folded).
struct NoRandom: RandomSource {
  mutating func uniform() -> Double { 0 }
  mutating func normal() -> Double { 0 }
}
