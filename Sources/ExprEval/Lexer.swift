/// One token of an expression; `start` and `end` are offsets in Unicode scalars.
struct Token: Sendable {
  enum Kind: Sendable, Equatable {
    case int(Int)
    case float(Double)
    case string(String)
    case name(String)
    case op(String)
    case end
  }

  var kind: Kind
  var start: Int
  var end: Int

  /// How the token reads in an error message.
  var display: String {
    switch kind {
    case .int(let i): return String(i)
    case .float(let d): return PythonFormat.floatRepr(d)
    case .string(let s): return PythonFormat.stringRepr(s)
    case .name(let n): return n
    case .op(let o): return o
    case .end: return "end of expression"
    }
  }
}

/// Splits an expression into tokens, following Python's lexical rules for the parts of the
/// language clipig supports and rejecting the others with a clear message.
struct Lexer {
  private let s: [Unicode.Scalar]
  private var i = 0

  init(_ source: String) {
    s = Array(source.unicodeScalars)
  }

  /// All tokens, ending with `.end`.
  static func tokenize(_ source: String) throws(ExprError) -> [Token] {
    var lexer = Lexer(source)
    var tokens: [Token] = []
    while true {
      let t = try lexer.next()
      tokens.append(t)
      if t.kind == .end { return tokens }
    }
  }

  private func peek(_ offset: Int = 0) -> Unicode.Scalar? {
    i + offset < s.count ? s[i + offset] : nil
  }

  private static let operators: [String] = [
    "**=", "//=", ">>=", "<<=", "...", "**", "//", "<<", ">>", "<=", ">=", "==", "!=", ":=", "->",
    "+=", "-=", "*=", "/=", "%=", "&=", "|=", "^=", "@=", "+", "-", "*", "/", "%", "@", "&", "|",
    "^", "~", "<", ">", "(", ")", "[", "]", "{", "}", ",", ":", ".", ";", "=",
  ]

  /// The operators as scalar arrays, longest first (so the first match is the longest).
  private static let operatorScalars: [[Unicode.Scalar]] = operators.map {
    Array($0.unicodeScalars)
  }

  private static func isDigit(_ c: Unicode.Scalar?) -> Bool {
    guard let c else { return false }
    return c.value >= 48 && c.value <= 57
  }

  private static func isIdentifierStart(_ c: Unicode.Scalar?) -> Bool {
    guard let c else { return false }
    return c == "_" || c.properties.isXIDStart
  }

  private static func isIdentifierContinue(_ c: Unicode.Scalar?) -> Bool {
    guard let c else { return false }
    return c == "_" || c.properties.isXIDContinue
  }

  mutating func next() throws(ExprError) -> Token {
    skipSpace: while let c = peek() {
      switch c {
      case " ", "\t", "\n", "\r", "\u{0C}":
        i += 1
      case "#":
        while let d = peek(), d != "\n" && d != "\r" { i += 1 }
      case "\\":
        if peek(1) == "\n" || peek(1) == "\r" {
          i += 2
        } else {
          throw ExprError("unexpected character after line continuation character", column: i)
        }
      default:
        break skipSpace
      }
    }
    let start = i
    guard let c = peek() else { return Token(kind: .end, start: i, end: i) }
    if Lexer.isDigit(c) || (c == "." && Lexer.isDigit(peek(1))) {
      return try number()
    }
    if c == "'" || c == "\"" {
      return try string(raw: false, start: start)
    }
    if Lexer.isIdentifierStart(c) {
      while Lexer.isIdentifierContinue(peek()) { i += 1 }
      let name = String(String.UnicodeScalarView(s[start..<i]))
      if let q = peek(), q == "'" || q == "\"" {
        let prefix = name.lowercased()
        switch prefix {
        case "r", "u": return try string(raw: prefix == "r", start: start)
        case "f", "fr", "rf":
          throw ExprError("f-strings are not supported in expressions", column: start)
        case "b", "br", "rb":
          throw ExprError("bytes literals are not supported in expressions", column: start)
        default: break
        }
      }
      return Token(kind: .name(name), start: start, end: i)
    }
    for (index, op) in Lexer.operatorScalars.enumerated() where i + op.count <= s.count {
      var matches = true
      for k in op.indices where s[i + k] != op[k] {
        matches = false
        break
      }
      if matches {
        i += op.count
        return Token(kind: .op(Lexer.operators[index]), start: start, end: i)
      }
    }
    if c == "!" {
      throw ExprError(
        "invalid syntax: '!' (use 'not' for negation, '!=' for inequality)", column: i)
    }
    throw ExprError("invalid character '\(String(c))' in expression", column: i)
  }

  // MARK: Numbers

  private mutating func digits(
    _ isValid: (Unicode.Scalar) -> Bool, kind: String, start: Int
  ) throws(ExprError) -> String {
    var out = ""
    var lastUnderscore = false
    while let c = peek() {
      if c == "_" {
        if lastUnderscore || out.isEmpty {
          throw ExprError("invalid \(kind) literal", column: i)
        }
        lastUnderscore = true
        i += 1
      } else if isValid(c) {
        out.unicodeScalars.append(c)
        lastUnderscore = false
        i += 1
      } else {
        break
      }
    }
    if lastUnderscore { throw ExprError("invalid \(kind) literal", column: i - 1) }
    return out
  }

  private mutating func number() throws(ExprError) -> Token {
    let start = i
    if peek() == "0", let p = peek(1), "xXoObB".unicodeScalars.contains(p) {
      let (radix, kind): (Int, String) =
        switch p {
        case "x", "X": (16, "hexadecimal")
        case "o", "O": (8, "octal")
        default: (2, "binary")
        }
      i += 2
      if peek() == "_" { i += 1 }
      let text = try digits(
        { PythonFormat.digitValue($0).map { $0 < radix } ?? false }, kind: kind, start: start)
      if text.isEmpty || Lexer.isIdentifierContinue(peek()) || Lexer.isDigit(peek()) {
        throw ExprError("invalid \(kind) literal", column: i)
      }
      guard let value = Int(text, radix: radix) else {
        throw ExprError(
          "integer literal too large (clipig integers are 64-bit)", column: start)
      }
      return Token(kind: .int(value), start: start, end: i)
    }
    let intPart = try digits({ Lexer.isDigit($0) }, kind: "decimal", start: start)
    var isFloat = false
    var text = intPart
    if peek() == "." {
      isFloat = true
      i += 1
      text += "."
      if Lexer.isDigit(peek()) {
        text += try digits({ Lexer.isDigit($0) }, kind: "decimal", start: start)
      } else if peek() == "_" {
        throw ExprError("invalid decimal literal", column: i)
      }
    }
    if let e = peek(), e == "e" || e == "E" {
      let save = i
      i += 1
      var exponent = "e"
      if let sign = peek(), sign == "+" || sign == "-" {
        exponent.unicodeScalars.append(sign)
        i += 1
      }
      if Lexer.isDigit(peek()) {
        exponent += try digits({ Lexer.isDigit($0) }, kind: "decimal", start: start)
        text += exponent
        isFloat = true
      } else {
        i = save
        throw ExprError("invalid decimal literal", column: save)
      }
    }
    if let j = peek(), j == "j" || j == "J" {
      throw ExprError("complex numbers are not supported in expressions", column: start)
    }
    if Lexer.isIdentifierContinue(peek()) {
      throw ExprError("invalid decimal literal", column: i)
    }
    if isFloat {
      let value = Double(text.hasPrefix(".") ? "0" + text : text) ?? .nan
      return Token(kind: .float(value), start: start, end: i)
    }
    if intPart.count > 1 && intPart.hasPrefix("0") && intPart.contains(where: { $0 != "0" }) {
      throw ExprError(
        "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
        column: start)
    }
    guard let value = Int(intPart) else {
      throw ExprError("integer literal too large (clipig integers are 64-bit)", column: start)
    }
    return Token(kind: .int(value), start: start, end: i)
  }

  // MARK: Strings

  private mutating func string(raw: Bool, start: Int) throws(ExprError) -> Token {
    var pieces = String.UnicodeScalarView()
    guard let quote = peek() else { throw ExprError("unexpected end of expression", column: i) }
    let triple = peek(1) == quote && peek(2) == quote
    i += triple ? 3 : 1
    while true {
      guard let c = peek() else {
        throw ExprError(
          triple ? "unterminated triple-quoted string literal" : "unterminated string literal",
          column: start)
      }
      if c == quote {
        if !triple {
          i += 1
          break
        }
        if peek(1) == quote && peek(2) == quote {
          i += 3
          break
        }
        pieces.append(c)
        i += 1
        continue
      }
      if (c == "\n" || c == "\r") && !triple {
        throw ExprError("unterminated string literal", column: start)
      }
      if c == "\\" {
        guard let e = peek(1) else {
          throw ExprError("unterminated string literal", column: start)
        }
        if raw {
          pieces.append(c)
          pieces.append(e)
          i += 2
          continue
        }
        try escape(e, into: &pieces)
        continue
      }
      pieces.append(c)
      i += 1
    }
    return Token(kind: .string(String(pieces)), start: start, end: i)
  }

  private mutating func hexEscape(count: Int, into out: inout String.UnicodeScalarView)
    throws(ExprError)
  {
    let escapeStart = i
    i += 2
    var value: UInt32 = 0
    for _ in 0..<count {
      guard let c = peek(), let d = PythonFormat.digitValue(c), d < 16 else {
        throw ExprError("truncated escape sequence in string literal", column: escapeStart)
      }
      value = value * 16 + UInt32(d)
      i += 1
    }
    guard let scalar = Unicode.Scalar(value) else {
      throw ExprError("illegal Unicode character in string literal", column: escapeStart)
    }
    out.append(scalar)
  }

  private mutating func escape(_ e: Unicode.Scalar, into out: inout String.UnicodeScalarView)
    throws(ExprError)
  {
    let simple: [Unicode.Scalar: Unicode.Scalar] = [
      "\\": "\\", "'": "'", "\"": "\"", "a": "\u{07}", "b": "\u{08}", "f": "\u{0C}",
      "n": "\n", "r": "\r", "t": "\t", "v": "\u{0B}",
    ]
    if let r = simple[e] {
      out.append(r)
      i += 2
      return
    }
    switch e {
    case "\n":
      i += 2
    case "\r":
      i += 2
      if peek() == "\n" { i += 1 }
    case "x": try hexEscape(count: 2, into: &out)
    case "u": try hexEscape(count: 4, into: &out)
    case "U": try hexEscape(count: 8, into: &out)
    case "N":
      throw ExprError("\\N{...} escapes are not supported in expressions", column: i)
    case "0"..."7":
      i += 1
      var value: UInt32 = 0
      var n = 0
      while n < 3, let c = peek(), c.value >= 48 && c.value <= 55 {
        value = value * 8 + (c.value - 48)
        i += 1
        n += 1
      }
      out.append(Unicode.Scalar(value) ?? "\u{FFFD}")
    default:
      // Python keeps an unknown escape as written.
      out.append("\\")
      out.append(e)
      i += 2
    }
  }
}
