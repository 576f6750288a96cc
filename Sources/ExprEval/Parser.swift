/// A Pratt parser for the expression subset of Python that clipig evaluates.
///
/// Binding powers follow Python's precedence table, from the conditional expression (lowest) to
/// calls, subscripts and attribute references (highest); `**` is right-associative and binds
/// tighter than a unary operator on its left but not on its right (`-2**-1 == -(2**(-1))`).
struct Parser {
  /// The deepest nesting of brackets or operators an expression may have.
  static let maxDepth = 100

  private var tokens: [Token]
  private var position = 0
  private var nesting = 0

  private init(tokens: [Token]) {
    self.tokens = tokens
  }

  /// Parses a whole expression (a top-level comma makes a tuple, like Python's `eval`).
  static func parse(_ source: String) throws(ExprError) -> Syntax {
    var parser = Parser(tokens: try Lexer.tokenize(source))
    let start = parser.current
    if start.kind == .end {
      throw ExprError("empty expression", column: start.start)
    }
    let result = try parser.parseList(closing: nil, start: start.start) { p throws(ExprError) in
      try p.expression(0)
    }
    let next = parser.current
    if next.kind != .end { throw parser.unexpected(next) }
    return result
  }

  // MARK: Tokens

  private var current: Token { tokens[position] }

  private func peek(_ offset: Int) -> Token {
    tokens[min(position + offset, tokens.count - 1)]
  }

  private mutating func advance() -> Token {
    let t = tokens[position]
    if position < tokens.count - 1 { position += 1 }
    return t
  }

  private func isOp(_ op: String, _ token: Token? = nil) -> Bool {
    (token ?? current).kind == .op(op)
  }

  private func isName(_ name: String, _ token: Token? = nil) -> Bool {
    (token ?? current).kind == .name(name)
  }

  private static let statementKeywords: Set<String> = [
    "import", "from", "def", "class", "del", "global", "nonlocal", "return", "pass", "raise",
    "try", "except", "finally", "while", "with", "assert", "break", "continue", "elif", "as",
    "async",
  ]

  private static let keywords: Set<String> = statementKeywords.union([
    "False", "None", "True", "and", "await", "else", "for", "if", "in", "is", "lambda", "not",
    "or", "yield",
  ])

  private func unexpected(_ t: Token) -> ExprError {
    switch t.kind {
    case .end:
      return ExprError("unexpected end of expression", column: t.start)
    case .op(")"), .op("]"), .op("}"):
      return ExprError("unmatched '\(t.display)'", column: t.start)
    case .op("="):
      return ExprError(
        "assignment is not supported: an expression cannot assign (use '==' to compare)",
        column: t.start)
    case .op(":="):
      return ExprError("assignment expressions (:=) are not supported", column: t.start)
    case .op(let o)
    where o.count >= 2 && o.hasSuffix("=") && !["==", "!=", "<=", ">="].contains(o):
      return ExprError(
        "assignment is not supported: an expression cannot assign", column: t.start)
    case .op("@"), .op("@="):
      return ExprError(
        "the matrix multiplication operator '@' is not supported", column: t.start)
    case .name("for"):
      return ExprError(
        "comprehensions and generator expressions are not supported", column: t.start)
    case .name(let n) where Parser.statementKeywords.contains(n):
      return ExprError(
        "'\(n)' statements are not supported: a parameter takes a single expression",
        column: t.start)
    case .int, .float, .string, .name:
      return ExprError(
        "invalid syntax: unexpected \(t.display) (missing operator or comma?)", column: t.start)
    default:
      return ExprError("invalid syntax: unexpected '\(t.display)'", column: t.start)
    }
  }

  private mutating func expect(_ op: String, opening: Token) throws(ExprError) {
    if isOp(op) {
      _ = advance()
      return
    }
    if current.kind == .end {
      throw ExprError("'\(opening.display)' was never closed", column: opening.start)
    }
    if case .op(let o) = current.kind, [")", "]", "}"].contains(o) {
      throw ExprError(
        "closing '\(o)' does not match opening '\(opening.display)'", column: current.start)
    }
    throw unexpected(current)
  }

  // MARK: Nodes

  private func node(_ kind: Syntax.Kind, at column: Int, children: [Syntax?])
    throws(ExprError) -> Syntax
  {
    var depth = 0
    for case let c? in children { depth = max(depth, c.depth) }
    if depth + 1 > Parser.maxDepth {
      throw ExprError("expression too deeply nested", column: column)
    }
    return Syntax(column: column, depth: depth + 1, kind: kind)
  }

  private mutating func enter(_ column: Int) throws(ExprError) {
    nesting += 1
    if nesting > Parser.maxDepth {
      throw ExprError("expression too deeply nested", column: column)
    }
  }

  // MARK: Binding powers

  private enum Precedence {
    static let conditional = 1
    static let or = 2
    static let and = 3
    static let not = 4
    static let comparison = 5
    static let bitOr = 6
    static let bitXor = 7
    static let bitAnd = 8
    static let shift = 9
    static let additive = 10
    static let multiplicative = 11
    static let unary = 12
    static let power = 13
    static let postfix = 14
  }

  private static let binaryOps: [String: (Semantics.BinaryOp, Int)] = [
    "|": (.bitOr, Precedence.bitOr), "^": (.bitXor, Precedence.bitXor),
    "&": (.bitAnd, Precedence.bitAnd), "<<": (.shiftLeft, Precedence.shift),
    ">>": (.shiftRight, Precedence.shift), "+": (.add, Precedence.additive),
    "-": (.subtract, Precedence.additive), "*": (.multiply, Precedence.multiplicative),
    "/": (.divide, Precedence.multiplicative), "//": (.floorDivide, Precedence.multiplicative),
    "%": (.modulo, Precedence.multiplicative), "**": (.power, Precedence.power),
  ]

  private static let comparisonOps: [String: Syntax.CompareOp] = [
    "<": .less, "<=": .lessEqual, ">": .greater, ">=": .greaterEqual, "==": .equal,
    "!=": .notEqual,
  ]

  /// The comparison operator starting at the current token, and how many tokens it spans.
  private func comparisonOp() -> (Syntax.CompareOp, Int)? {
    switch current.kind {
    case .op(let o): return Parser.comparisonOps[o].map { ($0, 1) }
    case .name("in"): return (.isIn, 1)
    case .name("not") where isName("in", peek(1)): return (.notIn, 2)
    case .name("is"): return isName("not", peek(1)) ? (.isNotSame, 2) : (.isSame, 1)
    default: return nil
    }
  }

  /// The left binding power of the current token as an infix or postfix operator (0: none).
  private func leftBindingPower() -> Int {
    switch current.kind {
    case .op("("), .op("["), .op("."): return Precedence.postfix
    case .op(let o):
      if let (_, bp) = Parser.binaryOps[o] { return bp }
      if Parser.comparisonOps[o] != nil { return Precedence.comparison }
      return 0
    case .name("if"): return Precedence.conditional
    case .name("or"): return Precedence.or
    case .name("and"): return Precedence.and
    case .name("in"), .name("is"): return Precedence.comparison
    case .name("not") where isName("in", peek(1)): return Precedence.comparison
    default: return 0
    }
  }

  // MARK: Expressions

  /// Parses an expression whose operators all bind tighter than `minPower`.
  ///
  /// Left-associative operators are collected into one flat chain (`1+1+…+1` is a single node
  /// of depth 2), so only real nesting counts toward `maxDepth`.
  private mutating func expression(_ minPower: Int) throws(ExprError) -> Syntax {
    try enter(current.start)
    defer { nesting -= 1 }
    var left = try prefix(minPower)
    var links: [Syntax.ChainLink] = []
    var depth = left.depth
    while true {
      let power = leftBindingPower()
      if power <= minPower { break }
      if let op = chainOperator() {
        let t = advance()
        let operand = try expression(power)
        depth = max(depth, operand.depth)
        if depth + 1 > Parser.maxDepth {
          throw ExprError("expression too deeply nested", column: t.start)
        }
        links.append(Syntax.ChainLink(op: op, operand: operand, column: t.start))
        continue
      }
      left = chain(left, &links, depth: &depth)
      left = try infix(left, power: power)
      depth = left.depth
    }
    return chain(left, &links, depth: &depth)
  }

  /// The current token as a left-associative chain operator (every binary operator but `**`,
  /// and `and`/`or`), if it is one.
  private func chainOperator() -> ChainOp? {
    switch current.kind {
    case .op(let o):
      guard let (op, _) = Parser.binaryOps[o], op != .power else { return nil }
      return .binary(op)
    case .name("and"): return .and
    case .name("or"): return .or
    default: return nil
    }
  }

  /// `head` followed by the collected `links` as one chain node (or `head` when there are none);
  /// empties `links`. `depth` is the chain's height, already checked against `maxDepth`.
  private func chain(_ head: Syntax, _ links: inout [Syntax.ChainLink], depth: inout Int)
    -> Syntax
  {
    guard !links.isEmpty else { return head }
    let result = Syntax(column: links[0].column, depth: depth + 1, kind: .chain(head, links))
    links = []
    depth = result.depth
    return result
  }

  private mutating func prefix(_ minPower: Int) throws(ExprError) -> Syntax {
    let t = current
    switch t.kind {
    case .int(let v):
      _ = advance()
      return try node(.literal(.int(v)), at: t.start, children: [])
    case .float(let v):
      _ = advance()
      return try node(.literal(.float(v)), at: t.start, children: [])
    case .string(let first):
      _ = advance()
      var text = first
      while case .string(let more) = current.kind {
        text += more
        _ = advance()
      }
      return try node(.literal(.string(text)), at: t.start, children: [])
    case .name(let n):
      return try prefixName(n, t, minPower)
    case .op("-"), .op("+"), .op("~"):
      _ = advance()
      let op: Syntax.UnaryOp = isOp("-", t) ? .negate : (isOp("+", t) ? .plus : .invert)
      let operand = try expression(Precedence.unary)
      return try node(.unary(op, operand), at: t.start, children: [operand])
    case .op("("):
      return try parenthesized()
    case .op("["):
      return try listDisplay()
    case .op("{"):
      return try dictDisplay()
    case .op("*"), .op("**"):
      throw ExprError("unpacking with '\(t.display)' is not supported", column: t.start)
    case .op("..."):
      throw ExprError("Ellipsis ('...') is not supported", column: t.start)
    default:
      throw unexpected(t)
    }
  }

  private mutating func prefixName(_ n: String, _ t: Token, _ minPower: Int)
    throws(ExprError) -> Syntax
  {
    switch n {
    case "True", "False":
      _ = advance()
      return try node(.literal(.bool(n == "True")), at: t.start, children: [])
    case "None":
      _ = advance()
      return try node(.literal(.none), at: t.start, children: [])
    case "not":
      if minPower > Precedence.not {
        throw ExprError(
          "invalid syntax: 'not' cannot appear here (put the operand in parentheses)",
          column: t.start)
      }
      _ = advance()
      let operand = try expression(Precedence.not)
      return try node(.unary(.not, operand), at: t.start, children: [operand])
    case "lambda":
      throw ExprError(
        "lambda is not supported: an expression computes a value, it cannot define functions",
        column: t.start)
    case "yield", "await":
      throw ExprError("'\(n)' is not supported in expressions", column: t.start)
    default:
      if Parser.keywords.contains(n) { throw unexpected(t) }
      _ = advance()
      return try node(.name(n), at: t.start, children: [])
    }
  }

  private mutating func infix(_ left: Syntax, power: Int) throws(ExprError) -> Syntax {
    let t = current
    if let (op, width) = comparisonOp() {
      var links: [Syntax.Link] = []
      var children: [Syntax?] = [left]
      var next: (Syntax.CompareOp, Int)? = (op, width)
      while let (op, width) = next {
        let at = current.start
        for _ in 0..<width { _ = advance() }
        let operand = try expression(Precedence.comparison)
        links.append(Syntax.Link(op: op, operand: operand, column: at))
        children.append(operand)
        next = comparisonOp()
      }
      return try node(.compare(left, links), at: t.start, children: children)
    }
    switch t.kind {
    case .op("("):
      return try call(left)
    case .op("["):
      return try subscription(left)
    case .op("."):
      return try attribute(left)
    case .op("**"):
      _ = advance()
      // `**` is right-associative and its right operand may start with a unary operator.
      let right = try expression(Precedence.unary)
      return try node(.binary(.power, left, right), at: t.start, children: [left, right])
    case .name("if"):
      _ = advance()
      let test = try expression(Precedence.conditional)
      guard isName("else") else {
        if current.kind == .end || isOp(")") || isOp("]") || isOp("}") || isOp(",") {
          throw ExprError("expected 'else' after 'if' expression", column: current.start)
        }
        throw unexpected(current)
      }
      _ = advance()
      let otherwise = try expression(0)
      return try node(
        .conditional(test: test, then: left, otherwise: otherwise), at: t.start,
        children: [test, left, otherwise])
    default:
      throw unexpected(t)
    }
  }

  // MARK: Displays

  /// Parses `item (, item)* [,]` up to `closing`; a comma (or `forceTuple`) makes a tuple.
  private mutating func parseList(
    closing: String?, start: Int, item: (inout Parser) throws(ExprError) -> Syntax
  ) throws(ExprError) -> Syntax {
    var items: [Syntax] = [try item(&self)]
    var sawComma = false
    while isOp(",") {
      sawComma = true
      _ = advance()
      if let closing, isOp(closing) { break }
      if closing == nil && current.kind == .end { break }
      items.append(try item(&self))
    }
    if isName("for") { throw unexpected(current) }
    if !sawComma { return items[0] }
    return try node(.tuple(items), at: start, children: items)
  }

  private mutating func parenthesized() throws(ExprError) -> Syntax {
    let open = advance()
    try enter(open.start)
    defer { nesting -= 1 }
    if isOp(")") {
      _ = advance()
      return try node(.tuple([]), at: open.start, children: [])
    }
    if isName("yield") { throw ExprError("'yield' is not supported", column: current.start) }
    let inner = try parseList(closing: ")", start: open.start) { p throws(ExprError) in
      try p.expression(0)
    }
    if isOp(":=") { throw unexpected(current) }
    try expect(")", opening: open)
    // Parentheses only group; the node keeps its own column for error messages.
    return inner
  }

  private mutating func listDisplay() throws(ExprError) -> Syntax {
    let open = advance()
    try enter(open.start)
    defer { nesting -= 1 }
    var items: [Syntax] = []
    while !isOp("]") {
      if isOp("*") {
        throw ExprError("unpacking with '*' is not supported", column: current.start)
      }
      items.append(try expression(0))
      if isName("for") { throw unexpected(current) }
      if isOp(",") {
        _ = advance()
      } else {
        break
      }
    }
    try expect("]", opening: open)
    return try node(.list(items), at: open.start, children: items)
  }

  private mutating func dictDisplay() throws(ExprError) -> Syntax {
    let open = advance()
    try enter(open.start)
    defer { nesting -= 1 }
    var pairs: [(key: Syntax, value: Syntax)] = []
    var children: [Syntax?] = []
    while !isOp("}") {
      if isOp("**") || isOp("*") {
        throw ExprError(
          "unpacking with '\(current.display)' is not supported", column: current.start)
      }
      let key = try expression(0)
      if isName("for") { throw unexpected(current) }
      guard isOp(":") else {
        if !pairs.isEmpty {
          throw ExprError("invalid syntax: expected ':' after a dict key", column: current.start)
        }
        if isOp(",") || isOp("}") {
          throw ExprError(
            "set displays are not supported (a dict display needs 'key: value')",
            column: open.start)
        }
        throw unexpected(current)
      }
      _ = advance()
      let value = try expression(0)
      if isName("for") { throw unexpected(current) }
      pairs.append((key, value))
      children.append(key)
      children.append(value)
      if isOp(",") {
        _ = advance()
      } else {
        break
      }
    }
    try expect("}", opening: open)
    return try node(.dict(pairs), at: open.start, children: children)
  }

  // MARK: Postfix

  private mutating func arguments(opening: Token) throws(ExprError) -> (
    [Syntax], [Syntax.Keyword]
  ) {
    var positional: [Syntax] = []
    var keywords: [Syntax.Keyword] = []
    while !isOp(")") {
      if isOp("*") || isOp("**") {
        throw ExprError(
          "argument unpacking with '\(current.display)' is not supported", column: current.start)
      }
      if case .name(let n) = current.kind, isOp("=", peek(1)), !Parser.keywords.contains(n) {
        let nameToken = advance()
        _ = advance()
        let value = try expression(0)
        keywords.append(Syntax.Keyword(name: n, value: value, column: nameToken.start))
      } else {
        let at = current.start
        let value = try expression(0)
        if isName("for") { throw unexpected(current) }
        if isOp(":=") { throw unexpected(current) }
        if !keywords.isEmpty {
          throw ExprError("positional argument follows keyword argument", column: at)
        }
        positional.append(value)
      }
      if isOp(",") {
        _ = advance()
      } else {
        break
      }
    }
    try expect(")", opening: opening)
    return (positional, keywords)
  }

  private mutating func call(_ callee: Syntax) throws(ExprError) -> Syntax {
    let open = advance()
    try enter(open.start)
    defer { nesting -= 1 }
    let (positional, keywords) = try arguments(opening: open)
    return try node(
      .call(callee: callee, arguments: positional, keywords: keywords), at: callee.column,
      children: [callee] + positional + keywords.map(\.value))
  }

  private mutating func subscriptItem() throws(ExprError) -> Syntax {
    let at = current.start
    var parts: [Syntax?] = [nil, nil, nil]
    var colons = 0
    while true {
      if isOp(":") {
        colons += 1
        if colons > 2 { throw unexpected(current) }
        _ = advance()
        continue
      }
      if isOp("]") || isOp(",") { break }
      if parts[colons] != nil { throw unexpected(current) }
      parts[colons] = try expression(0)
    }
    if colons == 0 {
      guard let index = parts[0] else {
        throw ExprError(
          "invalid syntax: expected an index between '[' and ']'", column: current.start)
      }
      return index
    }
    return try node(.slice(parts[0], parts[1], parts[2]), at: at, children: parts)
  }

  private mutating func subscription(_ object: Syntax) throws(ExprError) -> Syntax {
    let open = advance()
    try enter(open.start)
    defer { nesting -= 1 }
    let index = try parseList(closing: "]", start: current.start) { p throws(ExprError) in
      try p.subscriptItem()
    }
    if case .tuple(let items) = index.kind,
      items.contains(where: { if case .slice = $0.kind { true } else { false } })
    {
      throw ExprError("multi-dimensional slicing is not supported", column: open.start)
    }
    try expect("]", opening: open)
    return try node(.item(object, index), at: open.start, children: [object, index])
  }

  private mutating func attribute(_ object: Syntax) throws(ExprError) -> Syntax {
    let dot = advance()
    guard case .name(let name) = current.kind, !Parser.keywords.contains(name) else {
      throw ExprError("invalid syntax: expected an attribute name after '.'", column: current.start)
    }
    let nameToken = advance()
    if case .name(let module) = object.kind, module == "math" || module == "random" {
      throw ExprError(
        "write '\(name)' instead of '\(module).\(name)': \(module) functions are available directly",
        column: object.column)
    }
    guard name == "get", isOp("(") else {
      throw ExprError(
        "attribute access ('.\(name)') is not supported; the only method is dict.get(key[, default])",
        column: dot.start)
    }
    let open = advance()
    try enter(open.start)
    defer { nesting -= 1 }
    let (positional, keywords) = try arguments(opening: open)
    return try node(
      .method(object: object, name: name, arguments: positional, keywords: keywords),
      at: nameToken.start, children: [object] + positional + keywords.map(\.value))
  }
}
