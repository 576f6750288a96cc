import ExprEval
import Testing

@Suite("Expression API")
struct APITests {
  @Test func method2ScheduleAtEveryBoundary() throws {
    let schedule = try Expr(
      "{0: 8, 1: 8, 2: 16, 3: 32, 4: 64, 5: 128}.get(int(t*16), 224)", groups: .time)
    #expect(schedule.usesVariables)
    #expect(!schedule.usesRandom)
    #expect(schedule.usedGroups == .time)
    var random = TableRandom(seed: 1)
    let expected: [(Int, Double)] = [
      (0, 8), (37, 8), (38, 16), (56, 16), (57, 32), (74, 32), (75, 64), (93, 64), (94, 128),
      (112, 128), (113, 224), (299, 224),
    ]
    for (epoch, size) in expected {
      let context = ExprContext(epoch: epoch, epochs: 300)
      #expect(try schedule.evaluateDouble(in: context, random: &random) == size, "epoch \(epoch)")
      #expect(try schedule.evaluate(in: context, random: &random) == .int(Int(size)))
    }
  }

  @Test func contextDerivesTime() {
    #expect(ExprContext(epoch: 0, epochs: 300).t == 0)
    #expect(ExprContext(epoch: 299, epochs: 300).t == 1)
    #expect(ExprContext(epoch: 0, epochs: 1).t == 0)
    #expect(ExprContext(epoch: 1, epochs: 2).t == 1)
    #expect(ExprContext(epoch: 5, epochs: 0).t == 5)
    var c = ExprContext(epoch: 0, epochs: 11)
    c.setEpoch(5)
    #expect(c.epoch == 5 && c.t == 0.5)
    #expect(ExprContext.time(epoch: 150, epochs: 300) == 150.0 / 299.0)
  }

  @Test func derivedTimeVariables() throws {
    var c = ExprContext(epoch: 0, epochs: 2)
    c.t = 0.25
    #expect(try value("ti", c) == .float(0.75))
    #expect(try value("t2", c) == .float(0.0625))
    #expect(try value("time_inverse2", c) == .float(0.5625))
    #expect(try value("t5 == t ** 5", c) == .bool(true))
    #expect(try value("ti3 == (1 - t) ** 3", c) == .bool(true))
  }

  @Test func resolutionVariables() throws {
    let c = ExprContext(epoch: 0, epochs: 1, width: 640, height: 480)
    #expect(try value("res", c) == .list([.int(640), .int(480)]))
    #expect(try value("resolution[1]", c) == .int(480))
    #expect(try value("width // 3", c) == .int(213))
    let fractional = ExprContext(width: 12.5, height: 3)
    #expect(try value("width", fractional) == .float(12.5))
  }

  @Test func learnrateAndSimilarity() throws {
    let c = ExprContext(learnrate: 0.003, learnrateScale: 0.5, similarity: 31.25)
    #expect(try value("lr", c) == .float(0.003))
    #expect(try value("learnrate_scale", c) == .float(0.5))
    #expect(try value("sim", c) == .float(31.25))
    #expect(try value("similarity", c) == .float(31.25))
  }

  @Test func groupsGateVariables() throws {
    _ = try Expr("width + t", groups: .learnrateParameter)
    _ = try Expr("sim * 2", groups: .featureParameter)
    _ = try Expr("sim * 2", groups: .constraintParameter)
    _ = try Expr("lr * ts(0, 1)", groups: .transformParameter)
    #expect(throws: ExprError.self) { try Expr("lr", groups: .learnrateParameter) }
    #expect(throws: ExprError.self) { try Expr("sim", groups: .transformParameter) }
    #expect(throws: ExprError.self) { try Expr("epoch", groups: .constant) }
    #expect(
      try Expr("width + sim", groups: .all).usedGroups == [
        .resolution, .targetFeature, .targetConstraint,
      ])
    #expect(try Expr("sim", groups: .featureParameter).usedGroups.contains(.targetFeature))
    #expect(
      VariableGroups.all.names == [
        "time", "resolution", "learnrate", "target_feature", "target_constraint", "frame",
        "pixel",
      ])
    // The pixel position is a mask's alone.
    #expect(throws: ExprError.self) { try Expr("x", groups: .transformParameter) }
    #expect(try Expr("x + y * t", groups: .maskParameter).usedGroups == [.pixel, .time])
  }

  /// An animation's frame variables: available wherever time is, and alone in the warp's
  /// `.frame` group; `ft` is frame / frames (3 / 12 = 0.25).
  @Test func frameVariables() throws {
    var context = ExprContext(epoch: 5, epochs: 11)
    context.frame = 3
    context.frames = 12
    var random = TableRandom(seed: 1)
    let e = try Expr("frame * 10 + ft + frame_time", groups: .transformParameter)
    #expect(try e.evaluate(in: context, random: &random) == .float(30.5))
    _ = try Expr("1 + ft", groups: .frame)
    #expect(throws: ExprError.self) { try Expr("t", groups: .frame) }
    #expect(throws: ExprError.self) { try Expr("frame", groups: .constant) }
  }

  @Test func constantExpressions() throws {
    let c = try Expr("224*3", groups: .constant)
    #expect(!c.usesVariables && !c.usesRandom)
    #expect(c.constantValue == .int(672))
    let r = try Expr("random()", groups: .constant)
    #expect(!r.usesVariables && r.usesRandom)
    #expect(r.constantValue == nil)
    let v = try Expr("1 + t", groups: .time)
    #expect(v.usesVariables && v.constantValue == nil)
    #expect(try Expr("ts(0, 1)", groups: .time).usesVariables)
    // A failing constant is not folded away: its error appears when it is evaluated.
    let bad = try Expr("1 / 0", groups: .constant)
    #expect(bad.constantValue == nil)
    #expect(throws: ExprError.self) { _ = try value("1 / 0") }
    #expect(c.description == "224*3" && c.source == "224*3" && c.groups == .constant)
  }

  @Test func evaluateDoubleConverts() throws {
    var random = TableRandom(seed: 1)
    let c = ExprContext()
    #expect(try Expr("7 // 2", groups: .all).evaluateDouble(in: c, random: &random) == 3)
    #expect(try Expr("1 < 2", groups: .all).evaluateDouble(in: c, random: &random) == 1)
    #expect(try Expr(".5", groups: .all).evaluateDouble(in: c, random: &random) == 0.5)
    do {
      _ = try Expr("[1, 2]", groups: .all).evaluateDouble(in: c, random: &random)
      Issue.record("a list is not a number")
    } catch {
      #expect(error.message == "the expression gives list [1, 2], but a number is needed")
      #expect(error.column == 0 && error.source == "[1, 2]")
    }
  }

  @Test func randomDrawsFromTheCallersSource() throws {
    let e = try Expr("[random(), uniform(2, 4), gauss(1, 2)]", groups: .constant)
    var a = TableRandom(seed: 7)
    var b = TableRandom(seed: 7)
    let first = try e.evaluate(in: ExprContext(), random: &a)
    let second = try e.evaluate(in: ExprContext(), random: &b)
    #expect(first == second)
    #expect(a.bits == b.bits)
    var c = TableRandom(seed: 7)
    let u = c.uniform()
    let v = c.uniform()
    let n = c.normal()
    #expect(first == .list([.float(u), .float(2 + 2 * v), .float(1 + n * 2)]))
    // A different stream gives different numbers.
    var d = TableRandom(seed: 8)
    #expect(try e.evaluate(in: ExprContext(), random: &d) != first)
    // Expressions without random calls leave the source untouched.
    var untouched = TableRandom(seed: 3)
    _ = try Expr("t * 2", groups: .time).evaluate(in: ExprContext(), random: &untouched)
    #expect(untouched.bits.state == 3)
  }

  @Test func randintStaysInRange() throws {
    let e = try Expr("randint(-2, 3)", groups: .constant)
    var random = TableRandom(seed: 11)
    var seen = Set<Int>()
    for _ in 0..<500 {
      guard case .int(let i) = try e.evaluate(in: ExprContext(), random: &random) else {
        Issue.record("randint gave a non-int")
        return
      }
      seen.insert(i)
    }
    #expect(seen == Set(-2...3))
  }

  @Test func castsFollowPython() throws {
    #expect(try ExprValue.float(661.7).castToInt() == 661)
    #expect(try ExprValue.float(-1.5).castToInt() == -1)
    #expect(try ExprValue.bool(true).castToInt() == 1)
    #expect(try ExprValue.string(" 12 ").castToInt() == 12)
    #expect(try ExprValue.string("1_000").castToInt() == 1000)
    #expect(throws: ExprError.self) { try ExprValue.string("2.7").castToInt() }
    #expect(throws: ExprError.self) { try ExprValue.float(.infinity).castToInt() }
    #expect(throws: ExprError.self) { try ExprValue.float(.nan).castToInt() }
    #expect(throws: ExprError.self) { try ExprValue.float(1e19).castToInt() }
    #expect(throws: ExprError.self) { try ExprValue.list([]).castToInt() }
    #expect(try ExprValue.string("1e-3").castToDouble() == 0.001)
    #expect(try ExprValue.string(" -Infinity ").castToDouble() == -.infinity)
    #expect(try ExprValue.int(3).castToDouble() == 3)
    #expect(try ExprValue.bool(false).castToDouble() == 0)
    #expect(throws: ExprError.self) { try ExprValue.string("0x10").castToDouble() }
    #expect(throws: ExprError.self) { try ExprValue.string("1__0").castToDouble() }
    #expect(throws: ExprError.self) { try ExprValue.none.castToDouble() }
    do {
      _ = try ExprValue.string("abc").castToInt()
    } catch {
      #expect(error.message == "invalid literal for int() with base 10: 'abc'")
    }
  }

  @Test func reprIsPythons() throws {
    #expect(ExprValue.float(0.5).repr == "0.5")
    #expect(ExprValue.float(100).repr == "100.0")
    #expect(ExprValue.float(1e16).repr == "1e+16")
    #expect(ExprValue.float(1e-5).repr == "1e-05")
    #expect(ExprValue.float(-0.0).repr == "-0.0")
    #expect(ExprValue.float(.infinity).repr == "inf")
    #expect(ExprValue.float(1.5e300).repr == "1.5e+300")
    #expect(ExprValue.float(5e-324).repr == "5e-324")
    #expect(ExprValue.string("it's").repr == "\"it's\"")
    #expect(ExprValue.string("a\u{1}").repr == "'a\\x01'")
    #expect(ExprValue.tuple([.int(1)]).repr == "(1,)")
    #expect(ExprValue.none.repr == "None")
    #expect(ExprValue.list([.bool(true), .string("x")]).description == "[True, 'x']")
    let d = try ExprDict([(.int(0), .int(8)), (.float(0), .int(9)), (.string("a"), .none)])
    #expect(d.count == 2)
    #expect(ExprValue.dict(d).repr == "{0: 9, 'a': None}")
    #expect(d[.bool(false)] == .int(9))
    #expect(throws: ExprError.self) { try ExprDict([(.list([]), .none)]) }
    #expect(ExprValue.string("x").str == "x" && ExprValue.int(3).str == "3")
  }

  @Test func valueProperties() {
    #expect(ExprValue.int(2).typeName == "int" && ExprValue.none.typeName == "NoneType")
    #expect(ExprValue.list([.int(0)]).isTruthy && !ExprValue.string("").isTruthy)
    #expect(ExprValue.float(.nan).isTruthy)
    #expect(ExprValue.bool(true).numericValue == 1 && ExprValue.string("1").numericValue == nil)
  }

  @Test func sendableAcrossTasks() async throws {
    let e = try Expr("epoch * 2 + t", groups: .time)
    let results = await withTaskGroup(of: Double.self) { group in
      for epoch in 0..<8 {
        group.addTask {
          var random = TableRandom(seed: 0)
          return
            (try? e.evaluateDouble(
              in: ExprContext(epoch: epoch, epochs: 9), random: &random)) ?? -1
        }
      }
      var all: [Double] = []
      for await r in group { all.append(r) }
      return all.sorted()
    }
    let expected: [Double] = (0..<8).map { epoch in Double(epoch * 2) + Double(epoch) / 8 }
    #expect(results == expected)
  }
}
