import ExprEval
import Foundation
import Testing

/// One row of `Fixtures/expr_table.json`, written by `scripts/gen_expr_table.py` from CPython.
struct TableEntry: Decodable, Sendable, CustomStringConvertible {
  struct Context: Decodable, Sendable {
    var epoch: Int
    var epochs: Int
    var t: Double?
    var width: Double
    var height: Double
    var learnrate: Double
    var learnrate_scale: Double
    var similarity: Double
  }

  var category: String
  var expr: String
  var context: Context
  var result: Encoded?
  var repr: String?
  var error: String?
  var error_type: String?
  var check_message: Bool?

  var description: String { expr }

  var exprContext: ExprContext {
    var c = ExprContext(
      epoch: context.epoch, epochs: context.epochs, width: context.width,
      height: context.height, learnrate: context.learnrate,
      learnrateScale: context.learnrate_scale, similarity: context.similarity)
    if let t = context.t { c.t = t }
    return c
  }
}

/// A Python value as the generator encodes it: `{"int": "8"}`, `{"float": "0.5"}`, ….
indirect enum Encoded: Decodable, Sendable {
  case value(ExprValue)

  private enum Key: String, CodingKey {
    case none, bool, int, float, str, list, tuple, dict
  }

  init(from decoder: any Decoder) throws {
    let c = try decoder.container(keyedBy: Key.self)
    guard let key = c.allKeys.first else {
      throw DecodingError.dataCorrupted(.init(codingPath: c.codingPath, debugDescription: "empty"))
    }
    switch key {
    case .none: self = .value(.none)
    case .bool: self = .value(.bool(try c.decode(Bool.self, forKey: key)))
    case .int:
      let text = try c.decode(String.self, forKey: key)
      guard let i = Int(text) else {
        throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: text)
      }
      self = .value(.int(i))
    case .float:
      let text = try c.decode(String.self, forKey: key)
      guard let d = Double(text) else {
        throw DecodingError.dataCorruptedError(forKey: key, in: c, debugDescription: text)
      }
      self = .value(.float(d))
    case .str: self = .value(.string(try c.decode(String.self, forKey: key)))
    case .list: self = .value(.list(try c.decode([Encoded].self, forKey: key).map(\.exprValue)))
    case .tuple:
      self = .value(.tuple(try c.decode([Encoded].self, forKey: key).map(\.exprValue)))
    case .dict:
      let pairs = try c.decode([[Encoded]].self, forKey: key)
      var d = ExprDict()
      for pair in pairs where pair.count == 2 {
        try d.set(pair[1].exprValue, for: pair[0].exprValue)
      }
      self = .value(.dict(d))
    }
  }

  var exprValue: ExprValue {
    switch self {
    case .value(let v): return v
    }
  }
}

private struct TableDocument: Decodable {
  var python: String
  var seed: UInt64
  var entries: [TableEntry]
}

private let table: TableDocument? = {
  guard
    let url = Bundle.module.url(
      forResource: "expr_table", withExtension: "json", subdirectory: "Fixtures"),
    let data = try? Data(contentsOf: url)
  else { return nil }
  return try? JSONDecoder().decode(TableDocument.self, from: data)
}()

/// Equal types and values; floats within a relative 1e-12 (NaN equals NaN).
func close(_ a: ExprValue, _ b: ExprValue) -> Bool {
  switch (a, b) {
  case (.float(let x), .float(let y)):
    if x.isNaN || y.isNaN { return x.isNaN && y.isNaN }
    if x == y { return x.sign == y.sign || x != 0 }
    return (x - y).magnitude <= 1e-12 * max(x.magnitude, y.magnitude)
  case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
    return x.count == y.count && zip(x, y).allSatisfy { close($0, $1) }
  case (.dict(let x), .dict(let y)):
    return x.count == y.count && zip(x.keys, y.keys).allSatisfy { close($0, $1) }
      && zip(x.values, y.values).allSatisfy { close($0, $1) }
  default:
    return a == b
  }
}

/// Identical, bit for bit (so `repr` must match too).
private func identical(_ a: ExprValue, _ b: ExprValue) -> Bool {
  switch (a, b) {
  case (.float(let x), .float(let y)): return x.bitPattern == y.bitPattern || (x.isNaN && y.isNaN)
  case (.list(let x), .list(let y)), (.tuple(let x), .tuple(let y)):
    return x.count == y.count && zip(x, y).allSatisfy { identical($0, $1) }
  case (.dict(let x), .dict(let y)):
    return x.count == y.count && zip(x.keys, y.keys).allSatisfy { identical($0, $1) }
      && zip(x.values, y.values).allSatisfy { identical($0, $1) }
  default: return a == b
  }
}

private let categories: [String] = {
  var seen: [String] = []
  for e in table?.entries ?? [] where !seen.contains(e.category) { seen.append(e.category) }
  return seen
}()

@Suite("CPython table")
struct TableTests {
  @Test func tableLoads() throws {
    let document = try #require(table)
    #expect(document.entries.count >= 200)
    #expect(document.python.hasPrefix("3.11"))
  }

  @Test("expressions agree with CPython", arguments: categories)
  func category(_ name: String) throws {
    let entries = try #require(table).entries.filter { $0.category == name }
    for entry in entries {
      var random = TableRandom(seed: try #require(table).seed)
      let outcome: Result<ExprValue, ExprError>
      do {
        let e = try Expr(entry.expr, groups: .all)
        outcome = .success(try e.evaluate(in: entry.exprContext, random: &random))
      } catch {
        outcome = .failure(error)
      }
      switch (outcome, entry.result, entry.error) {
      case (.success(let got), let expected?, nil):
        let want = expected.exprValue
        #expect(close(got, want), "\(entry.expr): got \(got.repr), CPython \(entry.repr ?? "")")
        if identical(got, want), let repr = entry.repr {
          #expect(got.repr == repr, "repr of \(entry.expr)")
        }
      case (.failure(let error), nil, let message?):
        if entry.check_message ?? true {
          #expect(error.message == message, "\(entry.expr): \(entry.error_type ?? "")")
        }
      case (.success(let got), _, let message?):
        Issue.record("\(entry.expr): expected error '\(message)', got \(got.repr)")
      case (.failure(let error), _, _):
        Issue.record("\(entry.expr): unexpected error \(error.rendered())")
      default:
        Issue.record("\(entry.expr): malformed table entry")
      }
    }
  }
}
