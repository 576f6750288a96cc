import Formats
import Foundation
import PipelineKit

/// A JSON value as the fixture scripts write it (scripts/pixel_fixtures.py,
/// scripts/transform_fixtures.py); `node` turns a case's stage parameters into what
/// `StageRegistry.make` reads.
public typealias FixtureJSON = JSONValue

extension JSONValue {
  /// The value of a number (`int` or `double`), else nil.
  public var number: Double? { doubleValue }

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
