import Foundation
import PipelineKit
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

/// A deterministic pseudo-random source for test inputs (SplitMix64).
struct TestRandom {
  var bits: SplitMix64
  init(seed: UInt64) { bits = SplitMix64(seed: seed) }
  mutating func next() -> UInt64 { bits.next() }
  /// Uniform in [−1, 1).
  mutating func uniform() -> Float { Float(next() >> 40) * 0x1p-23 - 1 }
  /// `n` uniform values scaled by `scale`.
  mutating func array(_ n: Int, scale: Float = 1) -> [Float] {
    (0..<n).map { _ in uniform() * scale }
  }
}
