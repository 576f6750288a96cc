/// The functions expressions can call: Python builtins, the `math` module, the `random` module
/// (drawing from the caller's `RandomSource`) and CLIPig's `time_step`/`ts`.
enum Builtin: String, CaseIterable, Sendable {
  // Python builtins.
  case abs, all, any, bool, divmod, float, int, len, list, max, min, round, sorted, str, sum
  case tuple
  // The math module.
  case acos, acosh, asin, asinh, atan, atan2, atanh, cbrt, ceil, comb, copysign, cos, cosh
  case degrees, dist, erf, erfc, exp, exp2, expm1, fabs, factorial, floor, fmod, frexp, fsum
  case gamma, gcd, hypot, isclose, isfinite, isinf, isnan, isqrt, lcm, ldexp, lgamma, log
  case log10, log1p, log2, modf, nextafter, perm, pow, prod, radians, remainder, sin, sinh
  case sqrt, tan, tanh, trunc, ulp
  // The random module.
  case random, uniform, gauss, normalvariate, lognormvariate, expovariate, randint, randrange
  case choice, triangular
  // CLIPig's time step function (needs the time group).
  case timeStep = "time_step"

  /// Whether calling it draws from the random source.
  var isRandom: Bool {
    switch self {
    case .random, .uniform, .gauss, .normalvariate, .lognormvariate, .expovariate, .randint,
      .randrange, .choice, .triangular:
      return true
    default:
      return false
    }
  }

  /// How a function takes its arguments.
  struct Signature {
    /// Names of the parameters that can be passed by position, in order.
    var positional: [String]
    /// How many leading positional parameters are required.
    var required: Int
    /// Whether the positional parameters may also be passed by keyword.
    var keywordsAllowed = false
    /// Parameters that can only be passed by keyword.
    var keywordOnly: [String] = []
    /// Takes any number of positional arguments (at least `required`).
    var variadic = false
    /// Defaults of the optional parameters (positional then keyword-only), used to fill a gap
    /// when a later parameter is given.
    var defaults: [ExprValue] = []
  }

  private static func fixed(_ names: String..., keywords: Bool = false) -> Signature {
    Signature(positional: names, required: names.count, keywordsAllowed: keywords)
  }

  /// The signature of the function (Python 3.11's).
  var signature: Signature {
    switch self {
    case .abs, .len, .all, .any, .fsum: return Builtin.fixed("x")
    case .bool: return Signature(positional: ["x"], required: 0, defaults: [.bool(false)])
    case .float: return Signature(positional: ["x"], required: 0, defaults: [.float(0)])
    case .str: return Signature(positional: ["object"], required: 0, defaults: [.string("")])
    case .list: return Signature(positional: ["iterable"], required: 0, defaults: [.list([])])
    case .tuple: return Signature(positional: ["iterable"], required: 0, defaults: [.tuple([])])
    case .int:
      return Signature(
        positional: ["x", "base"], required: 0, keywordsAllowed: true,
        defaults: [.int(0), .int(10)])
    case .divmod, .atan2, .copysign, .fmod, .nextafter, .remainder, .dist, .pow, .ldexp:
      return Builtin.fixed("x", "y")
    case .max, .min:
      return Signature(
        positional: [], required: 1, keywordOnly: ["key", "default"], variadic: true,
        defaults: [.none, .none])
    case .hypot, .gcd, .lcm: return Signature(positional: [], required: 0, variadic: true)
    case .round:
      return Signature(
        positional: ["number", "ndigits"], required: 1, keywordsAllowed: true, defaults: [.none])
    case .sorted:
      return Signature(
        positional: ["iterable"], required: 1, keywordOnly: ["key", "reverse"],
        defaults: [.none, .bool(false)])
    case .sum:
      return Signature(
        positional: ["iterable", "start"], required: 1, keywordsAllowed: true, defaults: [.int(0)])
    case .prod:
      return Signature(
        positional: ["iterable"], required: 1, keywordOnly: ["start"], defaults: [.int(1)])
    case .comb: return Builtin.fixed("n", "k")
    case .perm: return Signature(positional: ["n", "k"], required: 1, defaults: [.none])
    case .isclose:
      return Signature(
        positional: ["a", "b"], required: 2, keywordOnly: ["rel_tol", "abs_tol"],
        defaults: [.float(1e-9), .float(0)])
    case .log: return Signature(positional: ["x", "base"], required: 1, defaults: [.float(M.e)])
    case .random: return Signature(positional: [], required: 0)
    case .uniform: return Builtin.fixed("a", "b", keywords: true)
    case .randint: return Builtin.fixed("a", "b", keywords: true)
    case .gauss, .normalvariate:
      return Signature(
        positional: ["mu", "sigma"], required: 0, keywordsAllowed: true,
        defaults: [.float(0), .float(1)])
    case .lognormvariate: return Builtin.fixed("mu", "sigma", keywords: true)
    case .expovariate: return Builtin.fixed("lambd", keywords: true)
    case .randrange:
      return Signature(
        positional: ["start", "stop", "step"], required: 1, keywordsAllowed: true,
        defaults: [.none, .int(1)])
    case .choice: return Builtin.fixed("seq", keywords: true)
    case .triangular:
      return Signature(
        positional: ["low", "high", "mode"], required: 0, keywordsAllowed: true,
        defaults: [.float(0), .float(1), .none])
    case .timeStep: return Builtin.fixed("a", "b")
    default: return Builtin.fixed("x")
    }
  }
}

/// Mathematical constants, as CPython defines them.
enum M {
  static let pi = 3.141592653589793
  static let e = 2.718281828459045
  static let tau = 6.283185307179586
}
