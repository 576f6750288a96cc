#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Python's `random` module functions on top of a caller's `RandomSource`.
///
/// Everything that Python derives from `random()` is derived the same way here (`uniform`,
/// `triangular`, `expovariate`, and the integer choices through Python's `_randbelow` for
/// generators without `getrandbits`), so with the same stream of uniforms the results equal
/// CPython's. Normal draws (`gauss`, `normalvariate`, `lognormvariate`) use the source's
/// `normal()`: `mu + normal() * sigma`.
enum RandomFunctions {
  static func apply<R: RandomSource>(_ f: Builtin, _ a: Arguments, _ r: inout R)
    throws(ExprError) -> ExprValue
  {
    switch f {
    case .random:
      return .float(r.uniform())
    case .uniform:
      let width = try Semantics.binary(.subtract, a[1], a[0])
      let u = ExprValue.float(r.uniform())
      return try Semantics.binary(.add, a[0], try Semantics.binary(.multiply, width, u))
    case .gauss, .normalvariate:
      let mu = a.count > 0 ? a[0] : .float(0)
      let sigma = a.count > 1 ? a[1] : .float(1)
      let z = ExprValue.float(r.normal())
      return try Semantics.binary(.add, mu, try Semantics.binary(.multiply, z, sigma))
    case .lognormvariate:
      let z = ExprValue.float(r.normal())
      let n = try Semantics.binary(.add, a[0], try Semantics.binary(.multiply, z, a[1]))
      let x = try Functions.real(n)
      return .float(try Functions.checked(x, exp(x), canOverflow: true))
    case .expovariate:
      let u = r.uniform()
      let numerator = ExprValue.float(-log(1.0 - u))
      return try Semantics.binary(.divide, numerator, a[0])
    case .randrange:
      return .int(try randrange(a[0], a.optional(1), a.count > 2 ? a[2] : nil, &r))
    case .randint:
      let stop = try Semantics.binary(.add, a[1], .int(1))
      return .int(try randrange(a[0], stop, nil, &r))
    case .choice:
      let n = try Functions.length(a[0])
      if n == 0 { throw ExprError("Cannot choose from an empty sequence") }
      return try Semantics.index(a[0], .int(randbelow(n, &r)))
    case .triangular:
      return try triangular(a, &r)
    default:
      preconditionFailure("\(f) is not a random function")
    }
  }

  /// Python's `_randbelow_without_getrandbits`: a uniform int in `0..<n` from 53-bit floats.
  static func randbelow<R: RandomSource>(_ n: Int, _ r: inout R) -> Int {
    let maxSize = 9_007_199_254_740_992  // 2**53
    if n >= maxSize {
      return min(Int((r.uniform() * Double(n)).rounded(.down)), n - 1)
    }
    let rem = maxSize % n
    let limit = Double(maxSize - rem) / Double(maxSize)
    var u = r.uniform()
    var tries = 0
    // A proper source needs fewer than two draws on average; the bound only guards against a
    // source that breaks the [0, 1) contract.
    while u >= limit && tries < 64 {
      u = r.uniform()
      tries += 1
    }
    if u >= limit || u < 0 { return min(max(Int((u * Double(n)).rounded(.down)), 0), n - 1) }
    return Int((u * Double(maxSize)).rounded(.down)) % n
  }

  /// An integral argument of `randrange` (Python 3.11 still accepts integral floats).
  private static func index(_ v: ExprValue, _ what: String) throws(ExprError) -> Int {
    if let i = Semantics.intValue(v) { return i }
    if case .float(let d) = v, d.isFinite, d == d.rounded(.towardZero) {
      return try PyMath.intFromDouble(d)
    }
    throw ExprError("non-integer \(what) for randrange()")
  }

  private static func randrange<R: RandomSource>(
    _ start: ExprValue, _ stop: ExprValue?, _ step: ExprValue?, _ r: inout R
  ) throws(ExprError) -> Int {
    let istart = try index(start, "arg 1")
    guard let stop else {
      if let step, !Semantics.equal(step, .int(1)) {
        throw ExprError("Missing a non-None stop argument")
      }
      if istart > 0 { return randbelow(istart, &r) }
      throw ExprError("empty range for randrange()")
    }
    let istop = try index(stop, "stop")
    let width = try PyMath.subtract(istop, istart)
    let istep = try step.map { v throws(ExprError) in try index(v, "step") } ?? 1
    if istep == 1 {
      if width > 0 { return istart + randbelow(width, &r) }
      throw ExprError("empty range for randrange() (\(istart), \(istop), \(width))")
    }
    let n: Int
    if istep > 0 {
      n = try PyMath.floorDivide(try PyMath.add(width, istep - 1), istep)
    } else if istep < 0 {
      n = try PyMath.floorDivide(try PyMath.add(width, istep + 1), istep)
    } else {
      throw ExprError("zero step for randrange()")
    }
    if n <= 0 { throw ExprError("empty range for randrange()") }
    return try PyMath.add(istart, try PyMath.multiply(istep, randbelow(n, &r)))
  }

  /// Python's `triangular(low=0.0, high=1.0, mode=None)`, step by step with Python's operators.
  private static func triangular<R: RandomSource>(_ a: Arguments, _ r: inout R)
    throws(ExprError) -> ExprValue
  {
    var low = a.count > 0 ? a[0] : .float(0)
    var high = a.count > 1 ? a[1] : .float(1)
    let u0 = r.uniform()
    var c = ExprValue.float(0.5)
    if let mode = a.optional(2) {
      let span = try Semantics.binary(.subtract, high, low)
      if !span.isTruthy, span.numericValue != nil { return low }
      c = try Semantics.binary(.divide, try Semantics.binary(.subtract, mode, low), span)
    }
    var u = ExprValue.float(u0)
    if try Semantics.compare(.greater, u, c) {
      u = .float(1.0 - u0)
      c = try Semantics.binary(.subtract, .float(1.0), c)
      swap(&low, &high)
    }
    let product = try Functions.real(try Semantics.binary(.multiply, u, c))
    let root = ExprValue.float(
      try Functions.checked(product, product.squareRoot(), canOverflow: false))
    let width = try Semantics.binary(.subtract, high, low)
    return try Semantics.binary(.add, low, try Semantics.binary(.multiply, width, root))
  }
}
