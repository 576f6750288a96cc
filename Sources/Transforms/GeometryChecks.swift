import PipelineKit

/// Load-time checks and run-time conversions shared by the geometric transforms.
///
/// Constant parameters are checked when the configuration loads (a `ConfigError` with
/// file:line:column); values that come from expressions can only be checked when the stage runs,
/// where they are clamped to something meaningful or, when nothing is, reported as a `StageError`.
enum Geometry {
  /// The largest image side a transform may produce (a 16384² RGB view is already 3 GB).
  static let maxExtent = 16_384

  /// Fails when a constant element of `params` is below `minimum`.
  static func requireAtLeast<T: ParamScalar & Comparable>(
    _ params: [Param<T>], _ minimum: T, _ what: String
  ) throws(ConfigError) {
    for p in params {
      if let v = p.constantValue, v < minimum {
        throw ConfigError(
          "\(what) must be at least \(minimum), got \(v)", at: p.location, path: p.path)
      }
    }
  }

  /// Fails when a constant element of `params` is not positive.
  static func requirePositive(_ params: [Param<Double>], _ what: String) throws(ConfigError) {
    for p in params {
      if let v = p.constantValue, !(v > 0) {
        throw ConfigError("\(what) must be greater than 0, got \(v)", at: p.location, path: p.path)
      }
    }
  }

  /// Fails when a constant element of `params` lies outside `range`.
  static func requireWithin(_ params: [Param<Double>], _ range: ClosedRange<Double>, _ what: String)
    throws(ConfigError)
  {
    for p in params {
      if let v = p.constantValue, !range.contains(v) {
        throw ConfigError(
          "\(what) must lie in [\(range.lowerBound), \(range.upperBound)], got \(v)",
          at: p.location,
          path: p.path)
      }
    }
  }

  /// Fails when a constant element of `params` exceeds `maxExtent`.
  static func requireExtent(_ params: [Param<Int>], _ what: String) throws(ConfigError) {
    for p in params {
      if let v = p.constantValue, v > maxExtent {
        throw ConfigError(
          "\(what) of \(v) pixels exceeds the limit of \(maxExtent)", at: p.location, path: p.path)
      }
    }
  }

  /// Fails when both bounds are constants and `lo > hi`.
  static func requireOrdered(_ lo: Param<Double>, _ hi: Param<Double>, _ what: String)
    throws(ConfigError)
  {
    if let a = lo.constantValue, let b = hi.constantValue, a > b {
      throw ConfigError(
        "\(what): the minimum \(a) exceeds the maximum \(b)", at: lo.location, path: lo.path)
    }
  }

  /// A run-time error about `parameter`'s current value.
  static func error<T>(_ parameter: Param<T>, _ message: String, _ context: StageContext)
    -> StageError
  {
    StageError(
      parameter: parameter.path, location: parameter.location, expression: parameter.description,
      context: context.variables, message: message)
  }

  /// `value` unchanged when it is at most `maxExtent` (so sums and products of a few such values
  /// cannot overflow), else a run-time error.
  static func bounded<T>(_ value: Int, _ parameter: Param<T>, _ context: StageContext)
    throws(StageError) -> Int
  {
    if value > maxExtent {
      throw error(parameter, "\(value) pixels exceeds the limit of \(maxExtent)", context)
    }
    return value
  }

  /// An output extent from an evaluated size: at least 1 (smaller values are clamped, so
  /// `resize: "224*ti"` ends at one pixel instead of failing), at most `maxExtent`.
  static func extent<T>(_ value: Int, _ parameter: Param<T>, _ context: StageContext)
    throws(StageError) -> Int
  {
    max(try bounded(value, parameter, context), 1)
  }

  /// Python's `int(v)` for an evaluated float: truncation toward zero; non-finite values and
  /// magnitudes beyond any image are a run-time error.
  static func truncate(_ v: Double, _ parameter: Param<Double>, _ context: StageContext)
    throws(StageError) -> Int
  {
    guard v.isFinite, abs(v) < 1e12 else {
      throw error(parameter, "expected a finite pixel count, got \(v)", context)
    }
    return Int(v)
  }

  /// CLIPig's offset rule (`shift`, `random_shift`, `crop`): a value with |v| < 1 is a fraction of
  /// `length`, anything else a pixel count; the result is truncated toward zero.
  static func pixels(
    _ v: Double, of length: Int, _ parameter: Param<Double>, _ context: StageContext
  )
    throws(StageError) -> Int
  {
    try truncate(abs(v) < 1 ? v * Double(length) : v, parameter, context)
  }

  /// A color for `channels` channels: the RGB values, repeated should an image ever have more
  /// (or fewer) than three.
  static func perChannel(_ color: [Double], _ channels: Int) -> [Float] {
    guard !color.isEmpty else { return [] }
    return (0..<channels).map { Float(color[$0 % color.count]) }
  }
}
