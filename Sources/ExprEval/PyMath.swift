#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Python's numeric semantics on 64-bit ints and doubles: floor division and modulo signs,
/// `**`, exact int/float comparison, and the error messages CPython gives.
enum PyMath {
  /// Thrown when an int result does not fit in 64 bits (Python would grow a big int).
  static let overflowError = ExprError(
    "integer overflow: the result does not fit in a 64-bit integer")

  /// The longest list, tuple or string an expression may build (guards memory and time).
  static let maxSequenceLength = 1_000_000

  /// `int(d)`: truncation toward zero, with Python's errors for inf and NaN.
  static func intFromDouble(_ d: Double) throws(ExprError) -> Int {
    if d.isNaN { throw ExprError("cannot convert float NaN to integer") }
    if d.isInfinite { throw ExprError("cannot convert float infinity to integer") }
    let t = d.rounded(.towardZero)
    guard t >= -9_223_372_036_854_775_808.0 && t < 9_223_372_036_854_775_808.0 else {
      throw overflowError
    }
    return Int(t)
  }

  /// Three-way comparison of an int and a float without rounding (nil when `d` is NaN).
  static func compare(_ i: Int, _ d: Double) -> Int? {
    if d.isNaN { return nil }
    if d >= 9_223_372_036_854_775_808.0 { return -1 }
    if d < -9_223_372_036_854_775_808.0 { return 1 }
    let t = d.rounded(.towardZero)
    let ti = Int(t)
    if i < ti { return -1 }
    if i > ti { return 1 }
    let fraction = d - t
    return fraction > 0 ? -1 : (fraction < 0 ? 1 : 0)
  }

  static func add(_ a: Int, _ b: Int) throws(ExprError) -> Int {
    let (r, o) = a.addingReportingOverflow(b)
    if o { throw overflowError }
    return r
  }

  static func subtract(_ a: Int, _ b: Int) throws(ExprError) -> Int {
    let (r, o) = a.subtractingReportingOverflow(b)
    if o { throw overflowError }
    return r
  }

  static func multiply(_ a: Int, _ b: Int) throws(ExprError) -> Int {
    let (r, o) = a.multipliedReportingOverflow(by: b)
    if o { throw overflowError }
    return r
  }

  static func negate(_ a: Int) throws(ExprError) -> Int {
    if a == Int.min { throw overflowError }
    return -a
  }

  /// `a // b` for ints: rounds toward negative infinity.
  static func floorDivide(_ a: Int, _ b: Int) throws(ExprError) -> Int {
    if b == 0 { throw ExprError("integer division or modulo by zero") }
    if a == Int.min && b == -1 { throw overflowError }
    let q = a / b
    return (a % b != 0 && ((a < 0) != (b < 0))) ? q - 1 : q
  }

  /// `a % b` for ints: the result has the sign of `b`.
  static func modulo(_ a: Int, _ b: Int, message: String = "integer modulo by zero")
    throws(ExprError) -> Int
  {
    if b == 0 { throw ExprError(message) }
    if b == -1 { return 0 }
    let r = a % b
    return (r != 0 && ((r < 0) != (b < 0))) ? r + b : r
  }

  /// CPython's float `divmod`: `(floor(a / b), a mod b)` with the sign of `b` on the remainder.
  static func divmod(_ vx: Double, _ wx: Double) -> (div: Double, mod: Double) {
    var mod = fmod(vx, wx)
    var div = (vx - mod) / wx
    if mod != 0 {
      if (wx < 0) != (mod < 0) {
        mod += wx
        div -= 1.0
      }
    } else {
      mod = copysign(0.0, wx)
    }
    var floordiv: Double
    if div != 0 {
      floordiv = floor(div)
      if div - floordiv > 0.5 { floordiv += 1.0 }
    } else {
      floordiv = copysign(0.0, vx / wx)
    }
    return (floordiv, mod)
  }

  /// `a // b` for floats.
  static func floorDivide(_ a: Double, _ b: Double) throws(ExprError) -> Double {
    if b == 0 { throw ExprError("float floor division by zero") }
    return divmod(a, b).div
  }

  /// `a % b` for floats.
  static func modulo(_ a: Double, _ b: Double) throws(ExprError) -> Double {
    if b == 0 { throw ExprError("float modulo") }
    return divmod(a, b).mod
  }

  /// `a ** b` for ints with `b >= 0` (exponentiation by squaring; at most 64 rounds).
  static func power(_ base: Int, _ exponent: Int) throws(ExprError) -> Int {
    var result = 1
    var b = base
    var e = exponent
    if base == 0 { return exponent == 0 ? 1 : 0 }
    if base == 1 { return 1 }
    if base == -1 { return exponent & 1 == 0 ? 1 : -1 }
    while e > 0 {
      if e & 1 == 1 { result = try multiply(result, b) }
      e >>= 1
      if e > 0 { b = try multiply(b, b) }
    }
    return result
  }

  private static func isOddInteger(_ d: Double) -> Bool {
    d.isFinite && fmod(d.magnitude, 2.0) == 1.0
  }

  /// CPython's float `**` with its special cases and errors.
  static func power(_ v: Double, _ w: Double) throws(ExprError) -> Double {
    var iv = v
    let iw = w
    if iw == 0 { return 1.0 }
    if iv.isNaN { return iv }
    if iw.isNaN { return iv == 1.0 ? 1.0 : iw }
    if iw.isInfinite {
      iv = iv.magnitude
      if iv == 1.0 { return 1.0 }
      return ((iw > 0) == (iv > 1.0)) ? iw.magnitude : 0.0
    }
    if iv.isInfinite {
      let odd = isOddInteger(iw)
      if iw > 0 { return odd ? iv : iv.magnitude }
      return odd ? copysign(0.0, iv) : 0.0
    }
    if iv == 0 {
      if iw < 0 { throw ExprError("0.0 cannot be raised to a negative power") }
      return isOddInteger(iw) ? iv : 0.0
    }
    var negate = false
    if iv < 0 {
      if iw != floor(iw) {
        throw ExprError(
          "a negative number cannot be raised to a fractional power (the result would be complex)")
      }
      iv = -iv
      negate = isOddInteger(iw)
    }
    if iv == 1.0 { return negate ? -1.0 : 1.0 }
    var r = pow(iv, iw)
    if r.isInfinite { throw ExprError("float power overflow: numerical result out of range") }
    if negate { r = -r }
    return r
  }

  /// `a << n` for ints.
  static func shiftLeft(_ a: Int, _ n: Int) throws(ExprError) -> Int {
    if n < 0 { throw ExprError("negative shift count") }
    if a == 0 { return 0 }
    if n >= 64 { throw overflowError }
    let r = a << n
    if r >> n != a { throw overflowError }
    return r
  }

  /// `a >> n` for ints (floor semantics).
  static func shiftRight(_ a: Int, _ n: Int) throws(ExprError) -> Int {
    if n < 0 { throw ExprError("negative shift count") }
    if n >= 64 { return a < 0 ? -1 : 0 }
    return a >> n
  }

  /// Python's `round(x)` for a float: nearest int, ties to even.
  static func roundToInt(_ x: Double) throws(ExprError) -> Int {
    try intFromDouble(x.rounded(.toNearestOrEven))
  }

  /// Python's `round(x, n)` for a float: correctly rounded to `n` decimals, ties to even.
  static func round(_ x: Double, digits n: Int) throws(ExprError) -> Double {
    if !x.isFinite || x == 0 { return x }
    if n > 323 { return x }
    if n < -308 { return 0.0 * x }
    if n >= 0 {
      // glibc/Darwin printf round the exact binary value, ties to even, like CPython's dtoa.
      var buffer = [CChar](repeating: 0, count: 360 + n)
      let written = buffer.withUnsafeMutableBufferPointer { p -> Int32 in
        withVaList([Int32(n), x]) { vsnprintf(p.baseAddress, p.count, "%.*f", $0) }
      }
      guard written > 0 else { return x }
      let text = String(
        decoding: buffer.prefix(Int(written)).map { UInt8(bitPattern: $0) },
        as: UTF8.self)
      guard let r = Double(text) else { return x }
      if r.isInfinite { throw ExprError("rounded value too large to represent") }
      return r
    }
    // n < 0: round to a multiple of 10^-n using exact integer digits.
    let k = -n
    if x.rounded(.towardZero) != x {
      // Not integral (so |x| < 2^52): no ties are possible, and x rounds up iff the integral
      // remainder alone reaches half of 10^k.
      guard k <= 16 else { return copysign(0.0, x) }
      var p: UInt = 1
      for _ in 0..<k { p *= 10 }
      let m = UInt(x.magnitude.rounded(.towardZero))
      let q = m / p + (m % p >= p / 2 ? 1 : 0)
      return copysign(Double(q * p), x)
    }
    // Integral: round its exact decimal digits, ties to even.
    var digits = Array(String(format0f(x.magnitude)).utf8).map { Int($0) - 48 }
    if k > digits.count { return copysign(0.0, x) }
    let cut = digits.count - k
    let first = digits[cut]
    let restZero = digits[(cut + 1)...].allSatisfy { $0 == 0 }
    let previousOdd = cut > 0 && digits[cut - 1] % 2 == 1
    let up = first > 5 || (first == 5 && (!restZero || previousOdd))
    for j in cut..<digits.count { digits[j] = 0 }
    var carryIndex = cut - 1
    if up {
      while carryIndex >= 0 && digits[carryIndex] == 9 {
        digits[carryIndex] = 0
        carryIndex -= 1
      }
      if carryIndex >= 0 { digits[carryIndex] += 1 } else { digits.insert(1, at: 0) }
    }
    let text = String(decoding: digits.map { UInt8($0 + 48) }, as: UTF8.self)
    guard let r = Double(text) else { return x }
    if r.isInfinite { throw ExprError("rounded value too large to represent") }
    return r == 0 ? copysign(0.0, x) : copysign(r, x)
  }

  /// The exact decimal digits of an integral, non-negative double.
  private static func format0f(_ x: Double) -> String {
    var buffer = [CChar](repeating: 0, count: 400)
    let written = buffer.withUnsafeMutableBufferPointer { p -> Int32 in
      withVaList([x]) { vsnprintf(p.baseAddress, p.count, "%.0f", $0) }
    }
    return String(
      decoding: buffer.prefix(Int(max(written, 0))).map { UInt8(bitPattern: $0) }, as: UTF8.self)
  }

  /// Python's `round(i, n)` for an int with `n < 0`: ties to even.
  static func round(_ i: Int, digits n: Int) throws(ExprError) -> Int {
    if n >= 0 { return i }
    let k = -n
    if k > 19 { return 0 }
    var p: UInt = 1
    for _ in 0..<k { p *= 10 }
    let m = i.magnitude
    let q = m / p
    let r = m % p
    let half = p / 2
    var rq = q
    if r > half || (r == half && q % 2 == 1) { rq += 1 }
    let (product, o) = rq.multipliedReportingOverflow(by: p)
    if o { throw overflowError }
    if i < 0 {
      guard product <= UInt(Int.max) + 1 else { throw overflowError }
      return product == UInt(Int.max) + 1 ? Int.min : -Int(product)
    }
    guard product <= UInt(Int.max) else { throw overflowError }
    return Int(product)
  }
}
