import ExprEval
import PipelineKit
import Testing

/// Reads `node` as a list parameter of `T` (lengths `lengths`) and returns the constant values.
private func constants<T: ParamScalar>(
  _ node: ConfigNode, _ type: T.Type, lengths: [Int], groups: VariableGroups = []
) throws -> [T] {
  var random = SeededRandom(seed: 1)
  let params = try ParameterReader.convertList(
    node, T.self, lengths: lengths, path: "p", groups: groups, random: &random)
  return params.map { $0.constantValue! }
}

private func message(_ body: () throws -> Void) -> String {
  do {
    try body()
    return "no error"
  } catch {
    return "\(error)"
  }
}

@Suite("Parameter conversion (spec §2.2)")
struct ParameterConversionTests {
  @Test func listsFromTextAndBroadcast() throws {
    #expect(try constants("640, 480", Int.self, lengths: [2]) == [640, 480])
    #expect(try constants("640 480", Int.self, lengths: [2]) == [640, 480])
    #expect(try constants("224*3", Int.self, lengths: [2]) == [672, 672])
    #expect(try constants(["224 * 3", "pow(224, 1.2)"], Int.self, lengths: [2]) == [672, 661])
    #expect(try constants("1/2", Double.self, lengths: [3]) == [0.5, 0.5, 0.5])
    #expect(try constants(3, Double.self, lengths: [2, 4]) == [3.0, 3.0])
    #expect(try constants("2 3", Double.self, lengths: [2, 4]) == [2.0, 3.0])
    #expect(try constants("1 2 3 4", Double.self, lengths: [2, 4]) == [1, 2, 3, 4])
    #expect(try constants("224*2 224//2", Int.self, lengths: [2]) == [448, 112])
    #expect(try constants("1", Double.self, lengths: [3]) == [1, 1, 1])
    #expect(try constants("1 2 3", Double.self, lengths: [3]) == [1, 2, 3])
  }

  @Test func commaInsideCallIsNotASeparator() throws {
    // CLIPig splits "pow(224, 1.2)" at the comma and fails; clipig reads one value.
    #expect(try constants("pow(224, 1.2)", Int.self, lengths: [2]) == [661, 661])
    #expect(ParameterReader.splitListText("pow(2, 3), 4") == ["pow(2, 3)", "4"])
    #expect(ParameterReader.splitListText("-30 30") == ["-30", "30"])
    #expect(ParameterReader.splitListText("  8   16 ") == ["8", "16"])
    #expect(ParameterReader.splitListText("min(t, 1) 2") == ["min(t, 1)", "2"])
  }

  @Test func wrongLengthsAreErrors() {
    let m = message { _ = try constants("1 2 3", Double.self, lengths: [2, 4]) }
    #expect(m.contains("expected a list of length 1 or 2 or 4, got 3 values"), "\(m)")
    let m2 = message { _ = try constants("1 / 2", Double.self, lengths: [3]) }
    #expect(m2.contains("error"), "\(m2)")
  }

  @Test func scalarCasts() throws {
    #expect(try constants(2.7, Int.self, lengths: [1]) == [2])
    #expect(try constants("2.7", Int.self, lengths: [1]) == [2])
    #expect(try constants("1e3", Int.self, lengths: [1]) == [1000])
    #expect(try constants("1e-3", Double.self, lengths: [1]) == [0.001])
    #expect(try constants(true, Int.self, lengths: [1]) == [1])
    #expect(try constants("sin(0)", Double.self, lengths: [1]) == [0])
    #expect(try constants("false", Bool.self, lengths: [1]) == [false])
  }

  @Test func variableExpressionsStayExpressions() throws {
    var random = SeededRandom(seed: 1)
    let p = try ParameterReader.convertList(
      "0.1*ti", Double.self, lengths: [3], path: "noise", groups: [.time], random: &random)
    #expect(p.count == 3)
    #expect(p.allSatisfy { $0.constantValue == nil })
    var context = ExprContext(epoch: 0, epochs: 11)
    context.t = 0.25
    #expect(try p[0].value(in: context, random: &random) == 0.1 * 0.75)
  }

  @Test func variablesOutsideTheirGroupsAreLoadErrors() {
    let m = message { _ = try constants("t * 2", Int.self, lengths: [1], groups: []) }
    #expect(m.contains("p:") || m.contains("'p'"), "\(m)")
    #expect(m.contains("t"), "\(m)")
  }
}

@Suite("Parameter reader")
struct ParameterReaderTests {
  @Test func unknownKeySuggestsClosest() {
    let node: ConfigNode = ["siz": 3, "mode": "edge"]
    var reader = ParameterReader(node: node, path: "pad", groups: [.time])
    let m = message {
      _ = try reader.list("size", Int.self, lengths: [2], default: [1, 1], doc: "")
      _ = try reader.scalar("mode", String.self, default: "fill", doc: "")
      try reader.finish()
    }
    #expect(m.contains("unknown parameter 'siz' (did you mean 'size'?)"), "\(m)")
  }

  @Test func missingRequiredParameter() {
    let node: ConfigNode = ["mode": "edge"]
    var reader = ParameterReader(node: node, path: "pad", groups: [.time])
    let m = message { _ = try reader.list("size", Int.self, lengths: [2], doc: "") }
    #expect(m.contains("missing required parameter 'size'"), "\(m)")
  }

  @Test func directValueStagesRejectMappings() {
    let node: ConfigNode = ["std": 0.1]
    var reader = ParameterReader(
      node: node, path: "targets[0].transforms[0].noise", groups: [.time])
    let m = message { _ = try reader.directList(Double.self, lengths: [3], doc: "") }
    #expect(m.contains("'noise' takes its value directly"), "\(m)")
  }

  @Test func defaultsApplyWhenAbsent() throws {
    var reader = ParameterReader(node: ["degree": 10], path: "rotate", groups: [.time])
    let center = try reader.list("center", Double.self, lengths: [2], default: [0.5, 0.5], doc: "")
    #expect(center.map(\.constantValue) == [0.5, 0.5])
    #expect(reader.specs.first?.defaultText == "[0.5, 0.5]")
  }
}

@Suite("Start/end times (spec §2.3)")
struct FrameTimeTests {
  private func convert(_ node: ConfigNode) throws -> FrameTime {
    var random = SeededRandom(seed: 0)
    return try FrameTime.convert(node, path: "start", random: &random)
  }

  @Test func conversions() throws {
    #expect(try convert(1) == .epoch(1))
    #expect(try convert(0.5) == .fraction(0.5))
    #expect(try convert("25%") == .fraction(0.25))
    #expect(try convert("300") == .epoch(300))
    #expect(try convert("0.5") == .fraction(0.5))
    #expect(try convert("12.5%") == .fraction(0.125))
    #expect(try convert(true) == .epoch(1))
    // clipig keeps an integer expression an epoch (CLIPig made it the fraction 10.0).
    #expect(try convert("2*5") == .epoch(10))
    if case .fraction(let f) = try convert("99.9%") {
      #expect(abs(f - 0.999) < 1e-12)
    } else {
      Issue.record("not a fraction")
    }
  }

  @Test func windows() {
    let w = Window(start: .fraction(0.5), end: .epoch(200))
    #expect(!w.contains(epoch: 149, t: 149.0 / 299))
    #expect(w.contains(epoch: 150, t: 150.0 / 299))
    #expect(w.contains(epoch: 200, t: 200.0 / 299))
    #expect(!w.contains(epoch: 201, t: 201.0 / 299))
    // Method 1's postproc `end: 10%` over 200 epochs: epochs 0–19.
    let post = Window(start: .fraction(0), end: .fraction(0.1))
    #expect((0..<200).filter { post.contains(epoch: $0, t: Double($0) / 199) } == Array(0...19))
  }
}

@Suite("Suggestions")
struct SuggestionTests {
  @Test func editDistance() {
    #expect(Suggestions.editDistance("kitten", "sitting") == 3)
    #expect(Suggestions.editDistance("rmsprob", "rmsprop") == 1)
    #expect(Suggestions.editDistance("ab", "ba") == 1)
    #expect(Suggestions.editDistance("", "abc") == 3)
  }

  @Test func closest() {
    let names = ["random_rotate", "rotate", "random_scale", "resize", "noise", "bwnoise"]
    #expect(Suggestions.closest(to: "random_rotat", among: names).first == "random_rotate")
    #expect(Suggestions.closest(to: "nosie", among: names).first == "noise")
    #expect(Suggestions.closest(to: "zzzzzzzz", among: names).isEmpty)
  }
}
