import ExprEval
import Testing

/// An expected error: the message and the column of the caret.
struct ErrorCase: Sendable, CustomStringConvertible {
  var source: String
  var groups: VariableGroups = .all
  var message: String
  var column: Int

  var description: String { source }
}

private func e(_ source: String, _ message: String, _ column: Int, groups: VariableGroups = .all)
  -> ErrorCase
{
  ErrorCase(source: source, groups: groups, message: message, column: column)
}

private let syntaxErrors: [ErrorCase] = [
  e("1 +", "unexpected end of expression", 3),
  e("(1 + 2", "'(' was never closed", 0),
  e("1 + 2)", "unmatched ')'", 5),
  e("1 2", "invalid syntax: unexpected 2 (missing operator or comma?)", 2),
  e("'abc", "unterminated string literal", 0),
  e("[1, 2", "'[' was never closed", 0),
  e("(1]", "closing ']' does not match opening '('", 2),
  e("1 if t", "expected 'else' after 'if' expression", 6),
  e("", "empty expression", 0),
  e("   ", "empty expression", 3),
  e("2 $ 3", "invalid character '$' in expression", 2),
  e(
    "007",
    "leading zeros in decimal integer literals are not permitted; use an 0o prefix for octal integers",
    0),
  e("1__0", "invalid decimal literal", 2),
  e("0x", "invalid hexadecimal literal", 2),
  e("2 * 1j", "complex numbers are not supported in expressions", 4),
  e("t == not t", "invalid syntax: 'not' cannot appear here (put the operand in parentheses)", 5),
  e("x[]", "invalid syntax: expected an index between '[' and ']'", 2),
  e("1 !  2", "invalid syntax: '!' (use 'not' for negation, '!=' for inequality)", 2),
  e("99999999999999999999", "integer literal too large (clipig integers are 64-bit)", 0),
  e("f(1,, 2)", "invalid syntax: unexpected ','", 4),
  e("min(x=1, 2)", "positional argument follows keyword argument", 9),
  e("{1: 2, 3}", "invalid syntax: expected ':' after a dict key", 8),
]

private let nameErrors: [ErrorCase] = [
  e("tme * 2", "unknown name 'tme'; did you mean 'time'?", 0, groups: .time),
  e("2 * widht", "unknown name 'widht'; did you mean 'width'?", 4, groups: .transformParameter),
  e(
    "224 / width",
    "variable 'width' (group resolution) is not available here; this parameter allows the group time",
    6, groups: .time),
  e(
    "1 + sim",
    "variable 'sim' (group target_feature or target_constraint) is not available here;"
      + " this parameter allows the groups time, resolution, learnrate", 4,
    groups: .transformParameter),
  e(
    "t * 2", "variable 't' is not available here: this parameter takes a constant expression", 0,
    groups: .constant),
  e(
    "ts(0, 1)", "variable 'ts' is not available here: this parameter takes a constant expression",
    0, groups: .constant),
  e("2 * Pi", "unknown name 'Pi'; did you mean 'pi'?", 4),
  e("true", "unknown name 'true'; did you mean 'True'?", 0),
  e("foo + 1", "unknown name 'foo'", 0),
  e("range(3)", "'range' is not supported in clipig expressions", 0),
  e("seed(1)", "'seed' is not supported: the run's seed drives every random draw", 0),
  e("1 + sin", "'sin' is a function: call it, as in sin(…)", 4),
  e("t(2)", "'t' is a value, not a function", 0),
  e("(1)(2)", "this expression is not callable", 1),
  e("__import__('os')", "'__import__' is not supported in clipig expressions", 0),
  e("epochs", "unknown name 'epochs'; did you mean 'epoch'?", 0),
]

private let unsupported: [ErrorCase] = [
  e(
    "lambda: 1",
    "lambda is not supported: an expression computes a value, it cannot define functions", 0),
  e("[x for x in res]", "comprehensions and generator expressions are not supported", 3),
  e("sum(x for x in res)", "comprehensions and generator expressions are not supported", 6),
  e(
    "res.count(1)",
    "attribute access ('.count') is not supported; the only method is dict.get(key[, default])", 3),
  e(
    "(1).real",
    "attribute access ('.real') is not supported; the only method is dict.get(key[, default])", 3),
  e("x = 1", "assignment is not supported: an expression cannot assign (use '==' to compare)", 2),
  e("t += 1", "assignment is not supported: an expression cannot assign", 2),
  e("(y := 2)", "assignment expressions (:=) are not supported", 3),
  e("import os", "'import' statements are not supported: a parameter takes a single expression", 0),
  e("{1, 2}", "set displays are not supported (a dict display needs 'key: value')", 0),
  e("max(*res)", "argument unpacking with '*' is not supported", 4),
  e("[*res]", "unpacking with '*' is not supported", 1),
  e(
    "math.sqrt(2)",
    "write 'sqrt' instead of 'math.sqrt': math functions are available directly", 0),
  e("1 @ 2", "the matrix multiplication operator '@' is not supported", 2),
  e("f'{t}'", "f-strings are not supported in expressions", 0),
  e("b'x'", "bytes literals are not supported in expressions", 0),
  e("...", "Ellipsis ('...') is not supported", 0),
  e("'\\N{DASH}'", "\\N{...} escapes are not supported in expressions", 1),
  e("yield 1", "'yield' is not supported in expressions", 0),
  e("'%d' % 3", "string formatting with % is not supported in expressions", 5),
  e("sorted(res, key=abs)", "sorted() key functions are not supported", 12),
  e("max(res, key=abs)", "max() key functions are not supported", 9),
]

private let arity: [ErrorCase] = [
  e("sin(1, 2)", "sin() takes exactly 1 argument (2 given)", 0),
  e("1 + log()", "log() takes from 1 to 2 arguments (0 given)", 4),
  e("uniform(1, c=2)", "uniform() got an unexpected keyword argument 'c'", 11),
  e("sin(x=1)", "sin() takes no keyword arguments", 4),
  e("max()", "max() expects at least 1 argument (0 given)", 0),
  e("{1: 2}.get()", "get() takes 1 or 2 arguments (0 given): dict.get(key[, default])", 7),
  e("{1: 2}.get(1, default=0)", "get() takes no keyword arguments", 14),
  e("round(1, ndigits=2, ndigits=3)", "round() got multiple values for argument 'ndigits'", 20),
  e("uniform(b=1)", "uniform() missing required argument 'a'", 0),
  e("ts(1)", "ts() takes exactly 2 arguments (1 given)", 0),
  e("bool(1, 2)", "bool() takes at most 1 argument (2 given)", 0),
]

private let runtime: [ErrorCase] = [
  e("1 / (t - t)", "float division by zero", 2),
  e("epoch // (epoch - 150)", "integer division or modulo by zero", 6),
  e("res[2]", "list index out of range", 3),
  e("{0: 1}[epoch]", "key 150 not found in the dict (use .get(key, default))", 6),
  e("2 * log(t - 1)", "math domain error", 4),
  e("2 ** 64", "integer overflow: the result does not fit in a 64-bit integer", 2),
  e("10 ** 10 ** 10", "integer overflow: the result does not fit in a 64-bit integer", 3),
  e("epoch * 2 ** 62", "integer overflow: the result does not fit in a 64-bit integer", 6),
  e(
    "(-8) ** (1/3)",
    "a negative number cannot be raised to a fractional power (the result would be complex)", 5),
  e("10.0 ** 400", "float power overflow: numerical result out of range", 5),
  e("res + 1", "can only concatenate list (not \"int\") to list", 4),
  e("[0] * 10 ** 9", "sequence repetition too large (limit 1000000 items)", 4),
  e("res.get(0)", "'list' object has no attribute 'get'", 4),
  e("t if t < 0.2 else 1 / 0", "division by zero", 20),
  e("int('abc')", "invalid literal for int() with base 10: 'abc'", 0),
  e("factorial(10 ** 18)", "integer overflow: the result does not fit in a 64-bit integer", 0),
  e("randrange(0)", "empty range for randrange()", 0),
  e("abs(-2 ** 62 * 2)", "integer overflow: the result does not fit in a 64-bit integer", 0),
]

@Suite("Errors: messages and caret columns")
struct ErrorTests {
  @Test("syntax errors", arguments: syntaxErrors)
  func syntax(_ c: ErrorCase) { check(c) }

  @Test("names", arguments: nameErrors)
  func names(_ c: ErrorCase) { check(c) }

  @Test("unsupported constructs", arguments: unsupported)
  func notSupported(_ c: ErrorCase) { check(c) }

  @Test("arguments", arguments: arity)
  func arguments(_ c: ErrorCase) { check(c) }

  @Test("run-time errors", arguments: runtime)
  func runTime(_ c: ErrorCase) { check(c) }

  private func check(_ c: ErrorCase) {
    guard let error = failure(c.source, groups: c.groups) else {
      Issue.record("'\(c.source)' did not fail")
      return
    }
    #expect(error.message == c.message, "\(c.source)")
    #expect(error.column == c.column, "\(c.source): \(error.rendered())")
    #expect(error.source == c.source)
  }

  @Test func parseErrorsComeBeforeEvaluation() {
    // Names are checked when the expression is parsed, even in branches that never run.
    #expect(throws: ExprError.self) { try Expr("1 if True else widht", groups: .all) }
    // Run-time errors are not: an untaken branch may divide by zero.
    #expect(throws: Never.self) { try value("1 if True else 1/0") }
  }

  @Test func noZeroValidation() throws {
    // CLIPig validated with every variable set to 0 and rejected these (spec §2.2).
    let context = ExprContext(epoch: 3, epochs: 10, width: 224, height: 160)
    #expect(try value("224 / width", context) == .float(1))
    #expect(try value("res[0]", context) == .int(224))
    #expect(try value("1 / t", context) == .float(3))
  }

  @Test func rendered() {
    let error = ExprError("unknown name 'tme'", column: 4, source: "2 * tme")
    #expect(error.rendered() == "unknown name 'tme'\n  2 * tme\n      ^")
    let tabbed = ExprError("oops", column: 2, source: "\t1 x")
    #expect(tabbed.rendered() == "oops\n  \t1 x\n  \t ^")
    let multiline = ExprError("unknown name 'foo'", column: 6, source: "1 +\n  foo")
    #expect(multiline.rendered() == "unknown name 'foo'\n    foo\n    ^")
    #expect(ExprError("plain").rendered() == "plain")
    let atEnd = failure("1 +")
    #expect(atEnd?.rendered() == "unexpected end of expression\n  1 +\n     ^")
  }

  @Test func unicodeColumnsCountScalars() {
    let error = failure("'é' + zz")
    #expect(error?.column == 6)
  }
}
