/// The parsed form of an expression: an immutable tree of nodes, each with its source column.
struct Syntax: Sendable {
  /// A comparison operator of a (possibly chained) comparison.
  enum CompareOp: String, Sendable {
    case less = "<"
    case lessEqual = "<="
    case greater = ">"
    case greaterEqual = ">="
    case equal = "=="
    case notEqual = "!="
    case isIn = "in"
    case notIn = "not in"
    case isSame = "is"
    case isNotSame = "is not"
  }

  /// A prefix operator.
  enum UnaryOp: String, Sendable {
    case negate = "-"
    case plus = "+"
    case invert = "~"
    case not = "not"
  }

  /// One `op operand` link of a comparison chain.
  struct Link: Sendable {
    var op: CompareOp
    var operand: Syntax
    var column: Int
  }

  /// One `op operand` link of a flat left-associative chain.
  struct ChainLink: Sendable {
    var op: ChainOp
    var operand: Syntax
    var column: Int
  }

  /// A `name=value` argument.
  struct Keyword: Sendable {
    var name: String
    var value: Syntax
    var column: Int
  }

  indirect enum Kind: Sendable {
    case literal(ExprValue)
    case name(String)
    case unary(UnaryOp, Syntax)
    /// `a ** b` (the one right-associative binary operator).
    case binary(Semantics.BinaryOp, Syntax, Syntax)
    /// `head op₁ x₁ op₂ x₂ …` for the left-associative operators (arithmetic, bitwise, `and`,
    /// `or`), evaluated left to right: one node however long, so a flat sum of thousands of
    /// terms is not "deeply nested".
    case chain(Syntax, [ChainLink])
    case compare(Syntax, [Link])
    case conditional(test: Syntax, then: Syntax, otherwise: Syntax)
    case list([Syntax])
    case tuple([Syntax])
    case dict([(key: Syntax, value: Syntax)])
    case item(Syntax, Syntax)
    case slice(Syntax?, Syntax?, Syntax?)
    case call(callee: Syntax, arguments: [Syntax], keywords: [Keyword])
    case method(object: Syntax, name: String, arguments: [Syntax], keywords: [Keyword])
  }

  /// Offset (in Unicode scalars) of the token this node is reported at.
  var column: Int
  /// Height of the subtree (a leaf is 1).
  var depth: Int
  var kind: Kind
}
