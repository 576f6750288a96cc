import ExprEval
import Foundation
import Testing

/// Runs `body` on a thread with a 512 KB stack (4 MB in debug), so a recursion whose depth grows
/// with the length of an expression crashes the test instead of passing.
func onSmallStack<T: Sendable>(_ body: @escaping @Sendable () -> T) async -> T {
  await withCheckedContinuation { continuation in
    let thread = Thread { continuation.resume(returning: body()) }
    #if DEBUG
      thread.stackSize = 4 << 20
    #else
      thread.stackSize = 512 << 10
    #endif
    thread.start()
  }
}

/// The work of one evaluation is bounded (issue 18): nested and repeated values are refused
/// with "expression too expensive" at the operator that would make them, and a flat chain of
/// operators is not "deeply nested". Expected values are CPython 3.11's (or hand-computed).
@Suite("Evaluation bounds")
struct BoundsTests {
  private static let tooExpensive = "expression too expensive"

  // MARK: Flat chains (issue 18: "a flat sum of 101 terms is refused as too deeply nested")

  private static func terms(_ term: String, _ op: String, _ n: Int) -> String {
    Array(repeating: term, count: n).joined(separator: op)
  }

  /// `1+1+…+1` (n terms) is n; `1-1-…-1` is 2 - n (left-associative); `t+…+t` with t = 0.5 is
  /// n/2 exactly. CPython 3.11 gives 101 and 1000 (and -99, -998); at 10 000 terms its compiler
  /// overflows its recursion limit, the value is plain arithmetic.
  @Test(arguments: [101, 1000, 10_000])
  func flatChainsEvaluate(n: Int) async {
    let results: [String] = await onSmallStack {
      var bad: [String] = []
      func check(_ source: String, _ expected: ExprValue) {
        do {
          let v = try value(source, ExprContext(epoch: 1, epochs: 3))
          if v != expected { bad.append("\(source.prefix(20))… (\(n)): \(v) ≠ \(expected)") }
        } catch {
          bad.append("\(source.prefix(20))… (\(n)): \(error.message)")
        }
      }
      check(Self.terms("1", "+", n), .int(n))
      check(Self.terms("1", " - ", n), .int(2 - n))
      check(Self.terms("t", "+", n), .float(Double(n) / 2))
      check(Self.terms("1", " or ", n - 1) + " or 5", .int(1))
      check(Self.terms("0", " or ", n - 1) + " or 5", .int(5))
      check(Self.terms("t", " and ", n - 1) + " and 7", .int(7))
      check("1+2*3" + String(repeating: "+2*3", count: n - 1), .int(1 + 6 * n))
      check(Self.terms("2", " * ", 62), .int(1 << 62))
      return bad
    }
    #expect(results.isEmpty, "\(results)")
  }

  /// Values from CPython 3.11 for short chains: left-associative arithmetic, right-associative
  /// `**`, precedence inside chains, short-circuiting `and`/`or`.
  @Test func chainsKeepPythonSemantics() throws {
    #expect(try value("100-10-1") == .int(89))
    #expect(try value("8/2/2") == .float(2))
    #expect(try value("2**3**2") == .int(512))
    #expect(try value("7//2//2") == .int(1))
    #expect(try value("2*3+4*5-6//4%5|8^1&3<<1>>1") == .int(25))
    #expect(try value("(1+2)*3-4") == .int(5))
    #expect(try value("0 and 1/0 or 3") == .int(3))
    #expect(try value("1 or 1/0 and 0") == .int(1))
    #expect(try value("t*0 + 1 + 1 - 1") == .float(1))
    #expect(try value("[1] + [2] + [3]") == .list([.int(1), .int(2), .int(3)]))
    // Errors inside a chain point at the failing operator.
    #expect(failure("1 + 2 + 3 / 0 + 4")?.column == 10)
    #expect(failure("t + t + 'a' + t")?.column == 6)
  }

  /// Real nesting (brackets, unary operators, `**`, calls) is still bounded by the depth limit.
  @Test func realNestingIsStillBounded() async {
    let messages: [String?] = await onSmallStack {
      [
        failure(String(repeating: "(", count: 1000) + "1" + String(repeating: ")", count: 1000)),
        failure(String(repeating: "-", count: 1000) + "1"),
        failure("2" + String(repeating: "**2", count: 1000)),
        failure(String(repeating: "abs(", count: 1000) + "1" + String(repeating: ")", count: 1000)),
        failure(
          "1+(" + String(repeating: "1+(", count: 200) + "1" + String(repeating: ")", count: 201)),
      ].map { $0?.message }
    }
    for m in messages { #expect(m == "expression too deeply nested") }
    #expect(
      failure(String(repeating: "(", count: 45) + "1" + String(repeating: ")", count: 45)) == nil)
  }

  // MARK: Work (issue 18: nested list products, str()/sorted() of them)

  /// Each expression would do far more work than any parameter needs; each is refused at the
  /// operator (0-based column) that makes the value too large, during the first evaluation.
  @Test(arguments: [
    ("[[0]*10**6]*10**6", 11),
    ("str([[0]*10**6]*10**6)", 15),
    ("sorted([[0]*10**6]*10**6)", 18),
    ("len([[0]*10**6]*10**6)", 15),
    ("[[[0]*1000]*1000]*1000", 17),
    ("[[0]*10**6]*10**6 == [[0]*10**6]*10**6", 11),
    ("str([[0] * 1000] * 1000)", 0),
    ("sum([[0]] * 10**5, [])", 0),
    ("prod([1] * 10**6, start=[0] * 10**6)", 0),
    ("'a' * 10**6 == 'a' * 10**6 == 'a' * 10**6 == 'a' * 10**6 == 'a' * 10**6", 49),
    ("t and [[0]*10**6]*10**6", 17),
    ("[[0]*1000]*1000 + [[0]*1000]*1000 + [[0]*1000]*1000 + [[0]*1000]*1000", 16),
    ("sorted([[0]*1000]*1000)[::-1][::-1][::-1][::-1]", 35),
  ])
  func expensiveExpressionsAreRefused(source: String, column: Int) {
    let error = failure(source)
    #expect(
      error?.message.hasPrefix(Self.tooExpensive) == true, "\(source): \(String(describing: error))"
    )
    #expect(error?.column == column, "\(source): \(error?.rendered() ?? "no error")")
  }

  /// The same with a variable, so nothing is folded when parsing: the refusal comes at run time.
  @Test func expensiveExpressionsWithVariablesAreRefused() {
    for source in [
      "[[t]*10**6]*10**6", "str([[t]*1000]*1000)*10", "sorted([[epoch]*1000]*10**5)",
      "sum([[t]] * 10**5, [])", "{int(t): [[0]*1000]*1000}.get(0) * 100",
      "'x' * int(10**6 * t) + str([[t] * 1000] * 1000)",
    ] {
      let error = failure(source)
      #expect(
        error?.message.hasPrefix(Self.tooExpensive) == true,
        "\(source): \(String(describing: error))")
      #expect((0..<source.count).contains(error?.column ?? -1), "\(source)")
    }
  }

  /// A dict display is built with a comparison per key pair; 20 000 keys are too many.
  @Test func hugeDictDisplaysAreRefused() throws {
    let keys = (0..<20_000).map { "\($0): 0" }.joined(separator: ", ")
    let error = failure("{" + keys + "}.get(int(t), 1)")
    #expect(error?.message.hasPrefix(Self.tooExpensive) == true, "\(String(describing: error))")
    #expect(error?.column == 0)
    // A schedule with one entry per epoch of a long run is fine (CPython: 299).
    let schedule = (0..<2000).map { "\($0): \($0)" }.joined(separator: ", ")
    #expect(
      try value("{" + schedule + "}.get(epoch, -1)", ExprContext(epoch: 299, epochs: 300))
        == .int(299))
  }

  /// Work a parameter might plausibly do stays allowed; values are CPython's.
  @Test func moderateWorkIsAllowed() throws {
    #expect(try value("len([0] * 10**6)") == .int(1_000_000))
    #expect(try value("sum([1] * 999999)") == .int(999_999))
    #expect(try value("len(str([0] * 1000))") == .int(3000))
    #expect(try value("len(str([[0] * 100] * 1000))") == .int(302_000))
    #expect(try value("len(sorted([[0] * 100] * 100))") == .int(100))
    #expect(try value("len(sum([[0]] * 1000, []))") == .int(1000))
    #expect(try value("len('ab' * 500000)") == .int(1_000_000))
    #expect(try value("[[t] * 3] * 2 == [[t, t, t], [t, t, t]]") == .bool(true))
  }

  /// The budget is per evaluation: a large constant used on every evaluation is charged every
  /// time and never accumulates.
  @Test func theBudgetIsPerEvaluation() throws {
    let e = try Expr(
      "len({0: [[0] * 1000] * 1000}.get(epoch, [])) + len(str([0] * 1000))", groups: .all)
    var random = TableRandom(seed: 1)
    for epoch in 0..<20 {
      let v = try e.evaluate(in: ExprContext(epoch: epoch % 2, epochs: 2), random: &random)
      #expect(v == .int(epoch % 2 == 0 ? 4000 : 3000))
    }
  }

  /// `**` on ints and the math functions with loops end quickly whatever their arguments (they
  /// overflow 64 bits or refuse), so they need no budget.
  @Test func arithmeticEndsQuickly() throws {
    for source in [
      "2 ** 10 ** 18", "7 ** (2 ** 62)", "factorial(10 ** 18)", "perm(10 ** 18, 10 ** 17)",
      "comb(10 ** 18, 5 * 10 ** 17)", "1 << 10 ** 18", "isqrt(2 ** 62)", "pow(1.0000001, 10 ** 18)",
    ] {
      _ = failure(source)
    }
    #expect(failure("2 ** 10 ** 18")?.message.contains("overflow") == true)
    #expect(try value("(-1) ** (10 ** 18)") == .int(1))
    // Empty sequences repeated 2⁶² times are empty at once (the fuzz test found '' * 2**62).
    #expect(try value("'' * 2**62 + str([] * 2**62) + str(() * 2**62)") == .string("[]()"))
  }
}
