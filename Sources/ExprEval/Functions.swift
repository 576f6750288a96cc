#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The implementations of the builtin, math and random functions, with CPython's results and
/// error messages. Errors carry no column; the evaluator adds the call's.
enum Functions {
  static let domainError = ExprError("math domain error")
  static let rangeError = ExprError("math range error")

  // MARK: Argument conversion

  /// A real number argument of a math function.
  static func real(_ v: ExprValue) throws(ExprError) -> Double {
    switch v {
    case .float(let d): return d
    case .int(let i): return Double(i)
    case .bool(let b): return b ? 1 : 0
    default: throw ExprError("must be real number, not \(v.typeName)")
    }
  }

  /// An integer argument (an int or a bool; floats are refused like Python's `__index__`).
  static func integer(_ v: ExprValue) throws(ExprError) -> Int {
    if let i = Semantics.intValue(v) { return i }
    throw ExprError("'\(v.typeName)' object cannot be interpreted as an integer")
  }

  /// CPython's `math_1`: NaN from a non-NaN is a domain error, infinity from a finite argument
  /// is a range error (or a domain error for a singularity).
  @inline(__always) static func checked(_ x: Double, _ r: Double, canOverflow: Bool)
    throws(ExprError) -> Double
  {
    if r.isNaN && !x.isNaN { throw domainError }
    if r.isInfinite && x.isFinite { throw canOverflow ? rangeError : domainError }
    return r
  }

  /// CPython's `math_2` for two-argument functions.
  static func checked2(_ x: Double, _ y: Double, _ r: Double) throws(ExprError) -> Double {
    if r.isNaN && !x.isNaN && !y.isNaN { throw domainError }
    if r.isInfinite && x.isFinite && y.isFinite { throw rangeError }
    return r
  }

  private static func isNonPositiveInteger(_ x: Double) -> Bool {
    x <= 0 && x == x.rounded(.down)
  }

  private static func logarithm(_ v: ExprValue, _ f: (Double) -> Double) throws(ExprError)
    -> Double
  {
    let x = try real(v)
    if x.isNaN || x == .infinity { return x }
    if x <= 0 { throw domainError }
    return f(x)
  }

  /// `floor`, `ceil`, `trunc`: an int stays an int, a float becomes an int.
  private static func toInteger(_ v: ExprValue, _ name: String, _ f: (Double) -> Double)
    throws(ExprError) -> ExprValue
  {
    switch v {
    case .int: return v
    case .bool(let b): return .int(b ? 1 : 0)
    case .float(let d): return .int(try PyMath.intFromDouble(f(d)))
    default:
      if name == "trunc" { throw ExprError("type \(v.typeName) doesn't define __trunc__ method") }
      throw ExprError("must be real number, not \(v.typeName)")
    }
  }

  // MARK: Dispatch

  /// A call with one argument: the common conversions inline, the rest through `apply`.
  @inline(__always)
  static func apply1<R: RandomSource>(
    _ f: Builtin, _ x: ExprValue, _ c: ExprContext, _ r: inout R,
    _ w: inout Budget
  ) throws(ExprError) -> ExprValue {
    switch (f, x) {
    case (.int, .float(let d)): return .int(try PyMath.intFromDouble(d))
    case (.int, .int), (.float, .float): return x
    case (.float, .int(let i)): return .float(Double(i))
    case (.sqrt, .float(let d)) where d >= 0: return .float(d.squareRoot())
    default:
      var a = Arguments()
      a.append(x)
      return try apply(f, a, c, &r, &w)
    }
  }

  static func apply<R: RandomSource>(
    _ f: Builtin, _ a: Arguments, _ c: ExprContext, _ r: inout R,
    _ w: inout Budget
  ) throws(ExprError) -> ExprValue {
    switch f {
    // Builtins.
    case .abs:
      switch a[0] {
      case .int(let i):
        if i == Int.min { throw PyMath.overflowError }
        return .int(Swift.abs(i))
      case .float(let d): return .float(d.magnitude)
      case .bool(let b): return .int(b ? 1 : 0)
      default: throw ExprError("bad operand type for abs(): '\(a[0].typeName)'")
      }
    case .all: return .bool(try Semantics.iterate(a[0]).allSatisfy(\.isTruthy))
    case .any: return .bool(try Semantics.iterate(a[0]).contains(where: \.isTruthy))
    case .bool: return .bool(a.count > 0 && a[0].isTruthy)
    case .divmod: return try divmod(a[0], a[1])
    case .float: return a.count == 0 ? .float(0) : .float(try a[0].castToDouble())
    case .int: return try int(a)
    case .len: return .int(try length(a[0]))
    case .list: return .list(a.count == 0 ? [] : try Semantics.iterate(a[0]))
    case .tuple: return .tuple(a.count == 0 ? [] : try Semantics.iterate(a[0]))
    case .str: return .string(a.count == 0 ? "" : a[0].str)
    case .max, .min:
      return try minMax(isMax: f == .max, a, otherwise: nil)
    case .round: return try round(a[0], a.optional(1))
    case .sorted: return try sorted(a)
    case .sum: return try sum(a, &w)

    // Math, one argument.
    case .acos: return .float(try checked(try real(a[0]), acos, false))
    case .acosh: return .float(try checked(try real(a[0]), acosh, false))
    case .asin: return .float(try checked(try real(a[0]), asin, false))
    case .asinh: return .float(try checked(try real(a[0]), asinh, false))
    case .atan: return .float(try checked(try real(a[0]), atan, false))
    case .atanh: return .float(try checked(try real(a[0]), atanh, false))
    case .cbrt: return .float(try checked(try real(a[0]), cbrt, false))
    case .cos: return .float(try checked(try real(a[0]), cos, false))
    case .cosh: return .float(try checked(try real(a[0]), cosh, true))
    case .erf: return .float(try checked(try real(a[0]), erf, false))
    case .erfc: return .float(try checked(try real(a[0]), erfc, false))
    case .exp: return .float(try checked(try real(a[0]), exp, true))
    case .exp2: return .float(try checked(try real(a[0]), exp2, true))
    case .expm1: return .float(try checked(try real(a[0]), expm1, true))
    case .fabs: return .float(try real(a[0]).magnitude)
    case .sin: return .float(try checked(try real(a[0]), sin, false))
    case .sinh: return .float(try checked(try real(a[0]), sinh, true))
    case .sqrt: return .float(try checked(try real(a[0]), sqrt, false))
    case .tan: return .float(try checked(try real(a[0]), tan, false))
    case .tanh: return .float(try checked(try real(a[0]), tanh, false))
    case .log1p: return .float(try checked(try real(a[0]), log1p, false))
    case .degrees: return .float(try real(a[0]) * (180.0 / M.pi))
    case .radians: return .float(try real(a[0]) * (M.pi / 180.0))
    case .gamma:
      let x = try real(a[0])
      if x.isNaN { return .float(x) }
      if x == -.infinity || isNonPositiveInteger(x) { throw domainError }
      return .float(try checked(x, tgamma(x), canOverflow: true))
    case .lgamma:
      let x = try real(a[0])
      if x.isNaN || x.isInfinite { return .float(x.isNaN ? x : .infinity) }
      if isNonPositiveInteger(x) { throw domainError }
      var sign: Int32 = 0
      return .float(try checked(x, lgamma_r(x, &sign), canOverflow: true))
    case .ceil: return try toInteger(a[0], "ceil", ceil)
    case .floor: return try toInteger(a[0], "floor", floor)
    case .trunc: return try toInteger(a[0], "trunc", trunc)
    case .isfinite: return .bool(try real(a[0]).isFinite)
    case .isinf: return .bool(try real(a[0]).isInfinite)
    case .isnan: return .bool(try real(a[0]).isNaN)
    case .log:
      let x = try logarithm(a[0], log)
      guard a.count > 1 else { return .float(x) }
      let base = try logarithm(a[1], log)
      if base == 0 { throw ExprError("float division by zero") }
      return .float(x / base)
    case .log2: return .float(try logarithm(a[0], log2))
    case .log10: return .float(try logarithm(a[0], log10))
    case .frexp:
      let x = try real(a[0])
      if x.isNaN || x.isInfinite || x == 0 { return .tuple([.float(x), .int(0)]) }
      var e: Int32 = 0
      let m = frexp(x, &e)
      return .tuple([.float(m), .int(Int(e))])
    case .modf:
      let x = try real(a[0])
      if x.isInfinite { return .tuple([.float(copysign(0.0, x)), .float(x)]) }
      var integral = 0.0
      let fraction = modf(x, &integral)
      return .tuple([.float(fraction), .float(integral)])
    case .ulp:
      let x = try real(a[0]).magnitude
      if x.isNaN || x.isInfinite { return .float(x) }
      if x == .greatestFiniteMagnitude { return .float(x - x.nextDown) }
      return .float(x.nextUp - x)
    case .factorial:
      let n = try integer(a[0])
      if n < 0 { throw ExprError("factorial() not defined for negative values") }
      var result = 1
      if n > 1 { for k in 2...n { result = try PyMath.multiply(result, k) } }
      return .int(result)
    case .isqrt:
      let n = try integer(a[0])
      if n < 0 { throw ExprError("isqrt() argument must be nonnegative") }
      var s = Int(Double(n).squareRoot())
      while s > 0 && s.multipliedReportingOverflow(by: s).overflow { s -= 1 }
      while s * s > n { s -= 1 }
      while true {
        let (sq, o) = (s + 1).multipliedReportingOverflow(by: s + 1)
        if o || sq > n { break }
        s += 1
      }
      return .int(s)
    case .fsum: return .float(try fsum(try Semantics.iterate(a[0])))

    // Math, two or more arguments.
    case .atan2:
      let (y, x) = (try real(a[0]), try real(a[1]))
      return .float(try checked2(y, x, atan2(y, x)))
    case .copysign: return .float(copysign(try real(a[0]), try real(a[1])))
    case .fmod:
      let (x, y) = (try real(a[0]), try real(a[1]))
      if y.isInfinite && x.isFinite { return .float(x) }
      return .float(try checked2(x, y, fmod(x, y)))
    case .remainder:
      let (x, y) = (try real(a[0]), try real(a[1]))
      return .float(try checked2(x, y, remainder(x, y)))
    case .nextafter: return .float(nextafter(try real(a[0]), try real(a[1])))
    case .pow:
      let (x, y) = (try real(a[0]), try real(a[1]))
      let result = pow(x, y)
      if x.isFinite && y.isFinite {
        if result.isNaN { throw domainError }
        if result.isInfinite { throw x == 0 ? domainError : rangeError }
      }
      return .float(result)
    case .ldexp:
      let x = try real(a[0])
      guard let i = Semantics.intValue(a[1]) else {
        throw ExprError("Expected an int as second argument to ldexp.")
      }
      if x == 0 || !x.isFinite { return .float(x) }
      let e = Int32(clamping: i)
      let result = ldexp(x, e)
      if result.isInfinite { throw rangeError }
      return .float(result)
    case .hypot:
      var values: [Double] = []
      for i in 0..<a.count { values.append(try real(a[i])) }
      return .float(norm(values))
    case .dist:
      let p = try Semantics.iterate(a[0])
      let q = try Semantics.iterate(a[1])
      guard p.count == q.count else {
        throw ExprError("both points must have the same number of dimensions")
      }
      var values: [Double] = []
      for (u, v) in zip(p, q) { values.append(try real(u) - (try real(v))) }
      return .float(norm(values))
    case .isclose:
      let (x, y) = (try real(a[0]), try real(a[1]))
      let relTol = a.count > 2 ? try real(a[2]) : 1e-9
      let absTol = a.count > 3 ? try real(a[3]) : 0
      if relTol < 0 || absTol < 0 { throw ExprError("tolerances must be non-negative") }
      if x == y { return .bool(true) }
      if x.isInfinite || y.isInfinite { return .bool(false) }
      let diff = (y - x).magnitude
      return .bool(
        diff <= (relTol * y).magnitude || diff <= (relTol * x).magnitude || diff <= absTol)
    case .comb: return .int(try comb(try integer(a[0]), try integer(a[1])))
    case .perm:
      let n = try integer(a[0])
      guard let kv = a.optional(1) else {
        return try apply(.factorial, Arguments([.int(n)]), c, &r, &w)
      }
      let k = try integer(kv)
      if n < 0 { throw ExprError("n must be a non-negative integer") }
      if k < 0 { throw ExprError("k must be a non-negative integer") }
      if k > n { return .int(0) }
      var result = 1
      var i = 0
      while i < k {
        result = try PyMath.multiply(result, n - i)
        i += 1
      }
      return .int(result)
    case .gcd:
      var g = 0
      for i in 0..<a.count { g = try gcd(g, try integer(a[i])) }
      return .int(g)
    case .lcm:
      var l = 1
      for i in 0..<a.count {
        let v = try integer(a[i])
        if l == 0 || v == 0 {
          l = 0
          continue
        }
        let g = try gcd(l, v)
        l = try PyMath.multiply(l / g, v)
        if l < 0 { l = try PyMath.negate(l) }
      }
      return .int(l)
    case .prod:
      var result = a.count > 1 ? a[1] : .int(1)
      for v in try Semantics.iterate(a[0]) {
        result = try Semantics.binary(.multiply, result, v)
        try w.charge(result, at: 0)
      }
      return result

    // Random.
    case .random, .uniform, .gauss, .normalvariate, .lognormvariate, .expovariate, .randint,
      .randrange, .choice, .triangular:
      return try RandomFunctions.apply(f, a, &r)

    case .timeStep:
      return .float(timeStep(try real(a[0]), try real(a[1]), t: c.t))
    }
  }

  /// CLIPig's `ts(a, b)` (CLIPig's variable groups): 0 before `a`, 1 after `b`, linear in between; reversed
  /// (falling) when `b < a`.
  static func timeStep(_ a0: Double, _ b0: Double, t: Double) -> Double {
    var a = a0
    var b = b0
    var inverted = false
    if b < a {
      swap(&a, &b)
      inverted = true
    }
    let s: Double
    if t < a {
      s = 0
    } else if t > b || a == b {
      s = 1
    } else {
      s = (t - a) / (b - a)
    }
    return inverted ? 1 - s : s
  }

  private static func checked(_ x: Double, _ f: (Double) -> Double, _ canOverflow: Bool)
    throws(ExprError) -> Double
  {
    try checked(x, f(x), canOverflow: canOverflow)
  }

  // MARK: Helpers

  static func length(_ v: ExprValue) throws(ExprError) -> Int {
    switch v {
    case .list(let a), .tuple(let a): return a.count
    case .dict(let d): return d.count
    case .string(let s): return s.unicodeScalars.count
    default: throw ExprError("object of type '\(v.typeName)' has no len()")
    }
  }

  private static func int(_ a: Arguments) throws(ExprError) -> ExprValue {
    if a.count == 0 { return .int(0) }
    guard a.count > 1 else { return .int(try a[0].castToInt()) }
    let base = try integer(a[1])
    guard case .string(let s) = a[0] else {
      throw ExprError("int() can't convert non-string with explicit base")
    }
    guard base == 0 || (2...36).contains(base) else {
      throw ExprError("int() base must be >= 2 and <= 36, or 0")
    }
    guard let value = try PythonFormat.parseInt(s, base: base) else {
      throw ExprError(
        "invalid literal for int() with base \(base): \(PythonFormat.stringRepr(s))")
    }
    return .int(value)
  }

  private static func divmod(_ x: ExprValue, _ y: ExprValue) throws(ExprError) -> ExprValue {
    if let i = Semantics.intValue(x), let j = Semantics.intValue(y) {
      let q = try PyMath.floorDivide(i, j)
      let m = try PyMath.modulo(i, j, message: "integer division or modulo by zero")
      return .tuple([.int(q), .int(m)])
    }
    guard let u = x.numericValue, let v = y.numericValue else {
      throw ExprError(
        "unsupported operand type(s) for divmod(): '\(x.typeName)' and '\(y.typeName)'")
    }
    if v == 0 { throw ExprError("float divmod()") }
    let (q, m) = PyMath.divmod(u, v)
    return .tuple([.float(q), .float(m)])
  }

  private static func round(_ x: ExprValue, _ digits: ExprValue?) throws(ExprError) -> ExprValue {
    let n: Int? = try digits.map { v throws(ExprError) in try integer(v) }
    switch x {
    case .int(let i):
      return .int(try n.map { d throws(ExprError) in try PyMath.round(i, digits: d) } ?? i)
    case .bool(let b):
      let i = b ? 1 : 0
      return .int(try n.map { d throws(ExprError) in try PyMath.round(i, digits: d) } ?? i)
    case .float(let d):
      guard let n else { return .int(try PyMath.roundToInt(d)) }
      return .float(try PyMath.round(d, digits: n))
    default:
      throw ExprError("type \(x.typeName) doesn't define __round__ method")
    }
  }

  /// `sum(iterable, start)`; each partial sum of sequences is charged to `b` (summing lists is
  /// quadratic).
  private static func sum(_ a: Arguments, _ w: inout Budget) throws(ExprError) -> ExprValue {
    var total = a.count > 1 ? a[1] : .int(0)
    if case .string = total {
      throw ExprError("sum() can't sum strings [use ''.join(seq) instead]")
    }
    for v in try Semantics.iterate(a[0]) {
      total = try Semantics.binary(.add, total, v)
      try w.charge(total, at: 0)
    }
    return total
  }

  /// `min`/`max` of several arguments, or of the items of one iterable argument.
  static func minMax(isMax: Bool, _ a: Arguments, otherwise: ExprValue?) throws(ExprError)
    -> ExprValue
  {
    let name = isMax ? "max" : "min"
    var items: [ExprValue]
    if a.count == 1 {
      items = try Semantics.iterate(a[0])
    } else {
      if otherwise != nil {
        throw ExprError(
          "Cannot specify a default for \(name)() with multiple positional arguments")
      }
      items = a.values
    }
    guard var best = items.first else {
      if let otherwise { return otherwise }
      throw ExprError("\(name)() arg is an empty sequence")
    }
    for v in items.dropFirst() {
      if try Semantics.compare(isMax ? .greater : .less, v, best) { best = v }
    }
    return best
  }

  private static func sorted(_ a: Arguments) throws(ExprError) -> ExprValue {
    if a.optional(1) != nil { throw ExprError("sorted() key functions are not supported") }
    let reverse = a.count > 2 && a[2].isTruthy
    var items = try Semantics.iterate(a[0])
    if reverse { items.reverse() }
    items = try mergeSort(items)
    if reverse { items.reverse() }
    return .list(items)
  }

  /// A stable merge sort using Python's `<` (which may throw for mixed types).
  private static func mergeSort(_ items: [ExprValue]) throws(ExprError) -> [ExprValue] {
    if items.count < 2 { return items }
    var source = items
    var target = items
    var width = 1
    while width < source.count {
      var start = 0
      while start < source.count {
        let mid = min(start + width, source.count)
        let end = min(start + 2 * width, source.count)
        var i = start
        var j = mid
        var k = start
        while i < mid && j < end {
          if try Semantics.compare(.less, source[j], source[i]) {
            target[k] = source[j]
            j += 1
          } else {
            target[k] = source[i]
            i += 1
          }
          k += 1
        }
        while i < mid {
          target[k] = source[i]
          i += 1
          k += 1
        }
        while j < end {
          target[k] = source[j]
          j += 1
          k += 1
        }
        start = end
      }
      swap(&source, &target)
      width *= 2
    }
    return source
  }

  private static func gcd(_ x: Int, _ y: Int) throws(ExprError) -> Int {
    var u = x.magnitude
    var v = y.magnitude
    while v != 0 { (u, v) = (v, u % v) }
    guard u <= UInt(Int.max) else { throw PyMath.overflowError }
    return Int(u)
  }

  private static func comb(_ n: Int, _ k0: Int) throws(ExprError) -> Int {
    if n < 0 { throw ExprError("n must be a non-negative integer") }
    if k0 < 0 { throw ExprError("k must be a non-negative integer") }
    if k0 > n { return 0 }
    let k = min(k0, n - k0)
    var result: UInt = 1
    var i = 0
    while i < k {
      // result * (n - i) / (i + 1) is exact; compute it in 128 bits.
      let product = result.multipliedFullWidth(by: UInt(n - i))
      guard product.high < UInt(i + 1) else { throw PyMath.overflowError }
      result = UInt(i + 1).dividingFullWidth(product).quotient
      i += 1
    }
    guard result <= UInt(Int.max) else { throw PyMath.overflowError }
    return Int(result)
  }

  /// The Euclidean norm, scaled to avoid overflow (Python's `hypot` and `dist`).
  private static func norm(_ values: [Double]) -> Double {
    var maxValue = 0.0
    var sawNaN = false
    for v in values {
      if v.isInfinite { return .infinity }
      if v.isNaN { sawNaN = true }
      maxValue = Swift.max(maxValue, v.magnitude)
    }
    if sawNaN { return .nan }
    if maxValue == 0 || values.count == 1 { return maxValue }
    var sum = 0.0
    var compensation = 0.0
    for v in values {
      let x = v / maxValue
      let y = x * x - compensation
      let t = sum + y
      compensation = (t - sum) - y
      sum = t
    }
    return maxValue * sum.squareRoot()
  }

  /// An exactly rounded sum (Shewchuk's partials, as `math.fsum`).
  private static func fsum(_ items: [ExprValue]) throws(ExprError) -> Double {
    var partials: [Double] = []
    var specialSum = 0.0
    var infSum = 0.0
    for item in items {
      var x = try real(item)
      let original = x
      var kept = 0
      for j in partials.indices {
        var y = partials[j]
        if x.magnitude < y.magnitude { swap(&x, &y) }
        let hi = x + y
        let lo = y - (hi - x)
        if lo != 0 {
          partials[kept] = lo
          kept += 1
        }
        x = hi
      }
      partials.removeSubrange(kept...)
      if x != 0 {
        if !x.isFinite {
          if original.isFinite { throw ExprError("intermediate overflow in fsum") }
          if original.isInfinite { infSum += original }
          specialSum += original
          partials.removeAll()
        } else {
          partials.append(x)
        }
      }
    }
    if specialSum != 0 {
      if infSum.isNaN { throw ExprError("-inf + inf in fsum") }
      return specialSum
    }
    guard var n = partials.indices.last.map({ $0 + 1 }) else { return 0 }
    n -= 1
    var hi = partials[n]
    var lo = 0.0
    while n > 0 {
      let x = hi
      n -= 1
      let y = partials[n]
      hi = x + y
      let yr = hi - x
      lo = y - yr
      if lo != 0 { break }
    }
    if n > 0 && ((lo < 0 && partials[n - 1] < 0) || (lo > 0 && partials[n - 1] > 0)) {
      let y = lo * 2
      let x = hi + y
      let yr = x - hi
      if y == yr { hi = x }
    }
    return hi
  }
}
