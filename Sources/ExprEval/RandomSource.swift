/// Where the random functions of expressions (`random()`, `gauss(m, s)`, …) draw from.
///
/// clipig passes the run's seeded source, so expressions stay reproducible.
public protocol RandomSource {
  /// Uniform Double in [0, 1).
  mutating func uniform() -> Double
  /// A standard normal sample.
  mutating func normal() -> Double
}
