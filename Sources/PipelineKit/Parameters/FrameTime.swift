import ExprEval

/// A start or end time (CLIPig's start/end rule): an integer is an epoch index, a float or `N%` a fraction
/// of the training time `t`.
public enum FrameTime: Sendable, Equatable, CustomStringConvertible {
  /// An epoch index (inclusive).
  case epoch(Int)
  /// A fraction of training time, compared with `t` (inclusive).
  case fraction(Double)

  /// `10` or `0.5`.
  public var description: String {
    switch self {
    case .epoch(let e): String(e)
    case .fraction(let f): String(f)
    }
  }

  /// The value as YAML.
  public var configValue: ConfigValue {
    switch self {
    case .epoch(let e): .int(e)
    case .fraction(let f): .float(f)
    }
  }

  /// Converts `10`, `0.5`, `"50%"`, `"2*5"` (an int result stays an epoch: clipig keeps the
  /// expression's type where CLIPig made every expression a fraction).
  public static func convert(_ node: ConfigNode, path: String, random: inout SeededRandom)
    throws(ConfigError)
    -> FrameTime
  {
    let time = try convertValue(node, path: path, random: &random)
    if case .fraction(let f) = time, !f.isFinite {
      throw ConfigError(
        "expected a finite fraction of the training time, got \(f)", at: node.location, path: path)
    }
    return time
  }

  private static func convertValue(_ node: ConfigNode, path: String, random: inout SeededRandom)
    throws(ConfigError)
    -> FrameTime
  {
    switch node.value {
    case .int(let i): return .epoch(i)
    case .float(let d): return .fraction(d)
    case .bool(let b): return .epoch(b ? 1 : 0)
    case .string(let raw):
      var s = raw.trimmingBlanks()
      let percent = s.hasSuffix("%")
      if percent { s.removeLast() }
      let value: ExprValue
      if let i = Int(s.replacingUnderscoresInNumber()) {
        value = .int(i)
      } else if let d = pythonFloat(s) {
        value = .float(d)
      } else {
        do {
          let e = try Expression(s, groups: [])
          value = try e.evaluate(in: ExprContext(), random: &random)
        } catch {
          throw ConfigError(
            "expected an epoch (integer), a fraction (float) or a percentage; " + error.rendered(),
            at: node.location, path: path)
        }
      }
      if percent {
        guard let d = try? value.castToDouble() else {
          throw ConfigError(
            "expected a percentage such as '50%', got '\(raw)'", at: node.location, path: path)
        }
        return .fraction(d * 0.01)
      }
      switch value {
      case .int(let i): return .epoch(i)
      case .float(let d): return .fraction(d)
      case .bool(let b): return .epoch(b ? 1 : 0)
      default:
        throw ConfigError(
          "expected an epoch or a fraction, '\(raw)' gives \(value)", at: node.location, path: path)
      }
    default:
      throw ConfigError(
        "expected an epoch (integer), a fraction (float) or a percentage, got \(node.kindDescription)",
        at: node.location, path: path)
    }
  }
}

/// An activity window: active iff start ≤ now ≤ end, each bound compared as epoch or as `t`.
public struct Window: Sendable, Equatable {
  /// First active moment (inclusive).
  public var start: FrameTime
  /// Last active moment (inclusive).
  public var end: FrameTime

  /// Always active: start 0.0, end 1.0 (CLIPig's defaults).
  public static let always = Window(start: .fraction(0), end: .fraction(1))

  /// A window from `start` to `end`.
  public init(start: FrameTime, end: FrameTime) {
    self.start = start
    self.end = end
  }

  /// Whether the window contains the moment (`epoch`, `t`).
  public func contains(epoch: Int, t: Double) -> Bool {
    let afterStart: Bool
    switch start {
    case .epoch(let e): afterStart = e <= epoch
    case .fraction(let f): afterStart = f <= t
    }
    let beforeEnd: Bool
    switch end {
    case .epoch(let e): beforeEnd = e >= epoch
    case .fraction(let f): beforeEnd = f >= t
    }
    return afterStart && beforeEnd
  }
}
