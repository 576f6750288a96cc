import Foundation
import Testing

/// Paths of the committed fixtures (Tests/CLIPTests/Fixtures).
enum Fixture {
  /// Absolute path of fixture `name`.
  static func path(_ name: String) -> String {
    guard let base = Bundle.module.resourceURL else { return "Fixtures/" + name }
    return base.appendingPathComponent("Fixtures").appendingPathComponent(name).path
  }

  /// The decoded JSON fixture `name`.
  static func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: URL(fileURLWithPath: path(name)))
    return try JSONDecoder().decode(T.self, from: data)
  }
}

/// True in optimised builds: big-shape checks only run there.
let isReleaseBuild: Bool = {
  #if DEBUG
    return false
  #else
    return true
  #endif
}()
