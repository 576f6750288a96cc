import Foundation
import PipelineKit
import Testing

/// A JSON value as the fixture scripts write it, convertible to a configuration node.
enum JSONValue: Decodable {
  case null
  case bool(Bool)
  case int(Int)
  case double(Double)
  case string(String)
  case array([JSONValue])
  case object([String: JSONValue])

  init(from decoder: Decoder) throws {
    let c = try decoder.singleValueContainer()
    if c.decodeNil() {
      self = .null
    } else if let b = try? c.decode(Bool.self) {
      self = .bool(b)
    } else if let i = try? c.decode(Int.self) {
      self = .int(i)
    } else if let d = try? c.decode(Double.self) {
      self = .double(d)
    } else if let s = try? c.decode(String.self) {
      self = .string(s)
    } else if let a = try? c.decode([JSONValue].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: JSONValue].self))
    }
  }

  /// The value as a YAML node (mapping keys sorted).
  var node: ConfigNode {
    switch self {
    case .null: ConfigNode(.null)
    case .bool(let b): ConfigNode(.bool(b))
    case .int(let i): ConfigNode(.int(i))
    case .double(let d): ConfigNode(.float(d))
    case .string(let s): ConfigNode(.string(s))
    case .array(let a): ConfigNode(.sequence(a.map(\.node)))
    case .object(let o):
      ConfigNode(
        .mapping(
          o.keys.sorted().map {
            ConfigNode.Entry(key: $0, keyLocation: .synthetic("<fixture>"), node: o[$0]!.node)
          }))
    }
  }
}

/// One case of `Fixtures/pixel.json` (see scripts/pixel_fixtures.py).
struct PixelCase: Decodable {
  var name: String
  var params: JSONValue
  var shape: [Int]
  var input: [Float]
  var output: [Float]
  var v: [Float]
  var grad: [Float]
  var noise: [Float]?
  var noiseShape: [Int]?
  /// saturation/contrast: torchvision's blend before its clamp to [0, 1].
  var unclamped: [Float]?
}

struct PixelFixtures: Decodable {
  var cases: [PixelCase]

  static func load() throws -> PixelFixtures {
    let url = try #require(
      Bundle.module.url(forResource: "pixel", withExtension: "json", subdirectory: "Fixtures"))
    return try JSONDecoder().decode(PixelFixtures.self, from: Data(contentsOf: url))
  }
}

/// Largest absolute difference, for messages.
func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
