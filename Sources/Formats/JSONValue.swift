import Foundation
import PipelineKit

/// A parsed JSON document with exact integers kept apart from fractions: model headers and
/// configuration files are validated against it, and test fixtures decode their cases with it.
public enum JSONValue: Decodable, Sendable, Equatable {
  /// `null`.
  case null
  /// `true` or `false`.
  case bool(Bool)
  /// A number without a fraction.
  case int(Int)
  /// Any other number.
  case double(Double)
  /// A string.
  case string(String)
  /// An array.
  case array([JSONValue])
  /// An object.
  case object([String: JSONValue])

  /// Decodes any JSON value, integers kept apart from fractions.
  public init(from decoder: Decoder) throws {
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

  /// Parses `data`; nil when it is not JSON.
  public static func parse(_ data: Data) -> JSONValue? {
    try? JSONDecoder().decode(JSONValue.self, from: data)
  }

  /// Member `key` of an object, else nil.
  public subscript(key: String) -> JSONValue? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  /// The value as an exact integer, else nil.
  public var intValue: Int? {
    if case .int(let i) = self { return i }
    return nil
  }

  /// The value of a number (`int` or `double`), else nil.
  public var doubleValue: Double? {
    switch self {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
  }

  /// The value as a string, else nil.
  public var stringValue: String? {
    if case .string(let s) = self { return s }
    return nil
  }

  /// The value as a configuration node (mapping keys sorted, located at `<json>`).
  public var node: ConfigNode {
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
          o.sorted { $0.key < $1.key }.map {
            ConfigNode.Entry(key: $0.key, keyLocation: .synthetic("<json>"), node: $0.value.node)
          }))
    }
  }
}
