/// Python's text conversions: `repr` of floats and strings, `int(str, base)` and `float(str)`.
enum PythonFormat {
  /// `repr(x)` for a float: shortest round-trip digits, exponent form when the decimal point
  /// position is ≤ -4 or > 16 (`1e-05`, `1e+16`), otherwise fixed with at least one decimal.
  static func floatRepr(_ value: Double) -> String {
    if value.isNaN { return "nan" }
    if value.isInfinite { return value < 0 ? "-inf" : "inf" }
    if value == 0 { return value.sign == .minus ? "-0.0" : "0.0" }
    // Swift's description gives the same shortest round-trip digits; only the layout differs.
    // Works on ASCII bytes (the text is digits, '.', 'e' and a sign), which is several times
    // faster than on Characters (str() of a long list of floats formats each of them).
    let text = Array(value.magnitude.description.utf8)
    let zero = UInt8(ascii: "0")
    var mantissaEnd = text.count
    var exponent = 0
    if let e = text.firstIndex(where: { $0 == UInt8(ascii: "e") || $0 == UInt8(ascii: "E") }) {
      mantissaEnd = e
      exponent = Int(String(decoding: text[(e + 1)...], as: UTF8.self)) ?? 0
    }
    var digits: [UInt8] = []
    digits.reserveCapacity(mantissaEnd)
    var pointPosition = 0
    var seenPoint = false
    for c in text[..<mantissaEnd] {
      if c == UInt8(ascii: ".") {
        seenPoint = true
      } else {
        digits.append(c)
        if !seenPoint { pointPosition += 1 }
      }
    }
    var decpt = pointPosition + exponent
    var first = 0
    while first < digits.count && digits[first] == zero {
      first += 1
      decpt -= 1
    }
    var last = digits.count
    while last > first && digits[last - 1] == zero { last -= 1 }
    if first == last { return value.sign == .minus ? "-0.0" : "0.0" }
    let d = digits[first..<last]
    var out: [UInt8] = []
    out.reserveCapacity(d.count + 8)
    if value.sign == .minus { out.append(UInt8(ascii: "-")) }
    if decpt <= -4 || decpt > 16 {
      out.append(d[d.startIndex])
      if d.count > 1 {
        out.append(UInt8(ascii: "."))
        out.append(contentsOf: d.dropFirst())
      }
      let e = decpt - 1
      out.append(UInt8(ascii: "e"))
      out.append(UInt8(ascii: e < 0 ? "-" : "+"))
      let magnitude = Array(String(e.magnitude).utf8)
      if magnitude.count < 2 { out.append(zero) }
      out.append(contentsOf: magnitude)
    } else if decpt <= 0 {
      out.append(zero)
      out.append(UInt8(ascii: "."))
      out.append(contentsOf: repeatElement(zero, count: -decpt))
      out.append(contentsOf: d)
    } else if decpt >= d.count {
      out.append(contentsOf: d)
      out.append(contentsOf: repeatElement(zero, count: decpt - d.count))
      out.append(UInt8(ascii: "."))
      out.append(zero)
    } else {
      out.append(contentsOf: d.prefix(decpt))
      out.append(UInt8(ascii: "."))
      out.append(contentsOf: d.dropFirst(decpt))
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// `repr(s)` for a string: single quotes unless the text holds `'` but no `"`.
  static func stringRepr(_ s: String) -> String {
    let quote: Unicode.Scalar = (s.contains("'") && !s.contains("\"")) ? "\"" : "'"
    var out = String.UnicodeScalarView()
    out.append(quote)
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\\": out.append(contentsOf: "\\\\".unicodeScalars)
      case "\n": out.append(contentsOf: "\\n".unicodeScalars)
      case "\r": out.append(contentsOf: "\\r".unicodeScalars)
      case "\t": out.append(contentsOf: "\\t".unicodeScalars)
      case quote:
        out.append("\\")
        out.append(quote)
      default:
        if isPrintable(scalar) {
          out.append(scalar)
        } else {
          out.append(contentsOf: escape(scalar).unicodeScalars)
        }
      }
    }
    out.append(quote)
    return String(out)
  }

  private static func escape(_ scalar: Unicode.Scalar) -> String {
    let v = scalar.value
    let hex = String(v, radix: 16)
    if v < 0x100 { return "\\x" + String(repeating: "0", count: 2 - hex.count) + hex }
    if v < 0x10000 { return "\\u" + String(repeating: "0", count: 4 - hex.count) + hex }
    return "\\U" + String(repeating: "0", count: 8 - hex.count) + hex
  }

  /// Python's `str.isprintable` for one character.
  private static func isPrintable(_ scalar: Unicode.Scalar) -> Bool {
    if scalar == " " { return true }
    switch scalar.properties.generalCategory {
    case .control, .format, .surrogate, .privateUse, .unassigned, .lineSeparator,
      .paragraphSeparator, .spaceSeparator:
      return false
    default:
      return true
    }
  }

  /// The text without Python's leading and trailing whitespace.
  static func stripped(_ s: String) -> [Unicode.Scalar] {
    var scalars = Array(s.unicodeScalars)
    while let last = scalars.last, last.properties.isWhitespace { scalars.removeLast() }
    var start = 0
    while start < scalars.count && scalars[start].properties.isWhitespace { start += 1 }
    return Array(scalars[start...])
  }

  /// The value of an ASCII digit or letter as a digit in bases up to 36.
  static func digitValue(_ scalar: Unicode.Scalar) -> Int? {
    switch scalar.value {
    case 48...57: return Int(scalar.value) - 48
    case 97...122: return Int(scalar.value) - 97 + 10
    case 65...90: return Int(scalar.value) - 65 + 10
    default: return nil
    }
  }

  /// Python's `int(s, base)`: nil when `s` is not a valid literal; throws when it overflows.
  ///
  /// `base` is 0 (prefix decides; like a source literal) or 2…36.
  static func parseInt(_ s: String, base: Int) throws(ExprError) -> Int? {
    var text = stripped(s)[...]
    var negative = false
    if let first = text.first, first == "+" || first == "-" {
      negative = first == "-"
      text = text.dropFirst()
    }
    var radix = base
    var prefixed = false
    if text.count >= 2, text[text.startIndex] == "0" {
      let p = text[text.startIndex + 1]
      let prefixBase: Int? =
        switch p {
        case "x", "X": 16
        case "o", "O": 8
        case "b", "B": 2
        default: nil
        }
      if let prefixBase, base == 0 || base == prefixBase {
        radix = prefixBase
        text = text.dropFirst(2)
        prefixed = true
      }
    }
    if radix == 0 { radix = 10 }
    guard !text.isEmpty else { return nil }
    var magnitude: UInt64 = 0
    var previousUnderscore = !prefixed  // an underscore may directly follow a base prefix
    var allZero = true
    var digitCount = 0
    for scalar in text {
      if scalar == "_" {
        if previousUnderscore { return nil }
        previousUnderscore = true
        continue
      }
      previousUnderscore = false
      guard let d = digitValue(scalar), d < radix else { return nil }
      if d != 0 { allZero = false }
      digitCount += 1
      let (m, o1) = magnitude.multipliedReportingOverflow(by: UInt64(radix))
      let (a, o2) = m.addingReportingOverflow(UInt64(d))
      if o1 || o2 { throw PyMath.overflowError }
      magnitude = a
    }
    if previousUnderscore || digitCount == 0 { return nil }
    // Like a source literal, base 0 rejects leading zeros in a non-zero decimal number.
    if base == 0 && !prefixed && !allZero && text.first == "0" { return nil }
    if negative {
      guard magnitude <= UInt64(Int.max) + 1 else { throw PyMath.overflowError }
      return magnitude == UInt64(Int.max) + 1 ? Int.min : -Int(magnitude)
    }
    guard magnitude <= UInt64(Int.max) else { throw PyMath.overflowError }
    return Int(magnitude)
  }

  /// Python's `float(s)`: a decimal number (underscores between digits allowed), `inf`,
  /// `infinity` or `nan` in any case, with optional sign and surrounding whitespace.
  static func parseFloat(_ s: String) -> Double? {
    let scalars = stripped(s)
    var i = 0
    var cleaned = ""
    if i < scalars.count, scalars[i] == "+" || scalars[i] == "-" {
      cleaned.unicodeScalars.append(scalars[i])
      i += 1
    }
    let rest = String(String.UnicodeScalarView(scalars[i...])).lowercased()
    switch rest {
    case "inf", "infinity": return cleaned == "-" ? -.infinity : .infinity
    case "nan": return cleaned == "-" ? -.nan : .nan
    default: break
    }
    // digits: [0-9](_?[0-9])*
    func digitRun() -> Bool {
      var any = false
      while i < scalars.count {
        let c = scalars[i]
        if c.value >= 48 && c.value <= 57 {
          cleaned.unicodeScalars.append(c)
          any = true
          i += 1
        } else if c == "_" && any && i + 1 < scalars.count && scalars[i + 1].value >= 48
          && scalars[i + 1].value <= 57
        {
          i += 1
        } else {
          break
        }
      }
      return any
    }
    let intDigits = digitRun()
    var fracDigits = false
    if i < scalars.count && scalars[i] == "." {
      cleaned += "."
      i += 1
      fracDigits = digitRun()
    }
    guard intDigits || fracDigits else { return nil }
    if i < scalars.count && (scalars[i] == "e" || scalars[i] == "E") {
      cleaned += "e"
      i += 1
      if i < scalars.count, scalars[i] == "+" || scalars[i] == "-" {
        cleaned.unicodeScalars.append(scalars[i])
        i += 1
      }
      guard digitRun() else { return nil }
    }
    guard i == scalars.count else { return nil }
    return Double(cleaned)
  }
}
