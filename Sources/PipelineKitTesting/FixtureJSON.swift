import Foundation
import PipelineKit

/// A JSON value as the fixture scripts write it (scripts/pixel_fixtures.py,
/// scripts/transform_fixtures.py), convertible to the configuration node a user would write.
///
/// Test targets that compare stages with PyTorch fixtures decode their cases with it: a case's
/// stage parameters are a `FixtureJSON`, and `node` turns them into what `StageRegistry.make`
/// reads.
public enum FixtureJSON: Decodable, Sendable, Equatable {
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
  case array([FixtureJSON])
  /// An object.
  case object([String: FixtureJSON])

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
    } else if let a = try? c.decode([FixtureJSON].self) {
      self = .array(a)
    } else {
      self = .object(try c.decode([String: FixtureJSON].self))
    }
  }

  /// The value as a YAML node (mapping keys sorted, keys located at `<fixture>`).
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
            ConfigNode.Entry(key: $0.key, keyLocation: .synthetic("<fixture>"), node: $0.value.node)
          }))
    }
  }

  /// The value of a number (`int` or `double`), else nil.
  public var number: Double? {
    switch self {
    case .int(let i): Double(i)
    case .double(let d): d
    default: nil
    }
  }

  /// Member `key` of an object, else nil.
  public subscript(key: String) -> FixtureJSON? {
    if case .object(let o) = self { return o[key] }
    return nil
  }

  /// A fixture file that is not in the test bundle.
  public struct MissingFixture: Error, CustomStringConvertible {
    /// The file's name.
    public var name: String
    /// What went wrong.
    public var description: String { "fixture Fixtures/\(name).json is not in the test bundle" }
  }

  /// Decodes `Fixtures/<name>.json` from a test target's resource `bundle` (`Bundle.module`).
  public static func load<T: Decodable>(_ type: T.Type, named name: String, from bundle: Bundle)
    throws -> T
  {
    guard let url = bundle.url(forResource: name, withExtension: "json", subdirectory: "Fixtures")
    else { throw MissingFixture(name: name) }
    return try JSONDecoder().decode(type, from: Data(contentsOf: url))
  }
}

/// The largest absolute element-wise difference of two arrays (0 when both are empty, infinite
/// when their lengths differ), for fixture tolerances and their messages.
public func maxAbsDiff(_ a: [Float], _ b: [Float]) -> Float {
  guard a.count == b.count else { return .infinity }
  return zip(a, b).map { abs($0 - $1) }.max() ?? 0
}
