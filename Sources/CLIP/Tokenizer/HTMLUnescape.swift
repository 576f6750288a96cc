/// HTML character-reference decoding as the reference CLIP text clean-up performs it.
///
/// Two flavours are needed: the lenient HTML5 rules of Python's `html.unescape` (entities without
/// a semicolon, longest-prefix matching, the numeric-reference repair table), and the strict
/// form ftfy applies first (only `&name;` / `&#…;` with a semicolon, plus all-caps variants of
/// lower-case entity names).
enum HTMLUnescape {
  typealias Scalars = [Unicode.Scalar]

  /// Named references of HTML5 (names include the trailing `;` where the standard has one).
  static let entities: [String: Scalars] = {
    var table = [String: Scalars]()
    for line in entityList.split(separator: "\n") {
      let parts = line.split(separator: " ")
      guard parts.count >= 2 else { continue }
      let value = parts.dropFirst().compactMap {
        UInt32($0, radix: 16).flatMap(Unicode.Scalar.init)
      }
      table[String(parts[0])] = value
    }
    return table
  }()

  /// ftfy's table: every `name;` of HTML5, plus `NAME;` for lower-case names whose all-caps
  /// spelling is not itself decodable, mapping to the upper-cased character.
  static let strictEntities: [String: Scalars] = {
    var table = [String: Scalars]()
    for (name, value) in entities where name.hasSuffix(";") {
      table[name] = value
    }
    for (name, value) in entities where name.hasSuffix(";") && name == name.lowercased() {
      let upper = name.uppercased()
      let reference = Array(("&" + upper).unicodeScalars)
      if lenient(reference) == reference {
        table[upper] = Array(String(String.UnicodeScalarView(value)).uppercased().unicodeScalars)
      }
    }
    return table
  }()

  /// Windows-1252 meaning of the C1 range 0x80–0x9F (undefined bytes keep their code point).
  static let windows1252: [UInt32] = [
    0x20AC, 0x81, 0x201A, 0x192, 0x201E, 0x2026, 0x2020, 0x2021, 0x2C6, 0x2030, 0x160, 0x2039,
    0x152, 0x8D, 0x17D, 0x8F, 0x90, 0x2018, 0x2019, 0x201C, 0x201D, 0x2022, 0x2013, 0x2014,
    0x2DC, 0x2122, 0x161, 0x203A, 0x153, 0x9D, 0x17E, 0x178,
  ]

  /// The character a numeric reference `&#num;` stands for under HTML5's repair rules.
  static func numericReference(_ num: UInt64) -> Scalars {
    if num == 0 || num == 0xD { return num == 0 ? ["\u{FFFD}"] : ["\r"] }
    if (0x80...0x9F).contains(num) {
      return [Unicode.Scalar(windows1252[Int(num - 0x80)]).map { $0 } ?? "\u{FFFD}"]
    }
    if (0xD800...0xDFFF).contains(num) || num > 0x10FFFF { return ["\u{FFFD}"] }
    let isInvalid =
      (0x1...0x8).contains(num) || num == 0xB || (0xE...0x1F).contains(num)
      || (0x7F...0x9F).contains(num) || (0xFDD0...0xFDEF).contains(num)
      || (num & 0xFFFE) == 0xFFFE
    if isInvalid { return [] }
    return Unicode.Scalar(UInt32(num)).map { [$0] } ?? ["\u{FFFD}"]
  }

  /// Parses a run of digits in `radix` starting at `i`; saturates instead of overflowing.
  private static func digits(_ s: Scalars, from i: Int, radix: UInt64) -> (value: UInt64, end: Int)
  {
    var value: UInt64 = 0
    var j = i
    while j < s.count, let d = digitValue(s[j], radix: radix) {
      value = value > 0xFFFF_FFFF ? value : value * radix + d
      j += 1
    }
    return (value, j)
  }

  private static func digitValue(_ c: Unicode.Scalar, radix: UInt64) -> UInt64? {
    switch c.value {
    case 0x30...0x39: return UInt64(c.value - 0x30)
    case 0x41...0x46 where radix == 16: return UInt64(c.value - 0x41 + 10)
    case 0x61...0x66 where radix == 16: return UInt64(c.value - 0x61 + 10)
    default: return nil
    }
  }

  /// Python's `html.unescape`: decodes every reference the HTML5 tokenizer would.
  static func lenient(_ s: Scalars) -> Scalars {
    guard s.contains("&") else { return s }
    var out = Scalars()
    out.reserveCapacity(s.count)
    var i = 0
    while i < s.count {
      guard s[i] == "&", i + 1 < s.count else {
        out.append(s[i])
        i += 1
        continue
      }
      let j = i + 1
      if s[j] == "#" {
        // &#123;  or  &#x1F;  (semicolon optional)
        let hex = j + 1 < s.count && (s[j + 1] == "x" || s[j + 1] == "X")
        let start = hex ? j + 2 : j + 1
        let (num, end) = digits(s, from: start, radix: hex ? 16 : 10)
        if end > start {
          out += numericReference(num)
          i = end < s.count && s[end] == ";" ? end + 1 : end
          continue
        }
        out.append(s[i])
        i += 1
        continue
      }
      // Named: up to 32 characters other than \t \n \f space < & # ;, then an optional ';'.
      var end = j
      while end < s.count, end - j < 32, !isNameStop(s[end]) { end += 1 }
      if end == j {
        out.append(s[i])
        i += 1
        continue
      }
      if end < s.count, s[end] == ";" { end += 1 }
      let name = Array(s[j..<end])
      i = end
      if let value = entities[string(name)] {
        out += value
        continue
      }
      // Longest prefix (at least two characters) that is an entity, the rest kept verbatim.
      var matched = false
      var x = name.count - 1
      while x >= 2 {
        if let value = entities[string(name[0..<x])] {
          out += value
          out += name[x...]
          matched = true
          break
        }
        x -= 1
      }
      if !matched {
        out.append("&")
        out += name
      }
    }
    return out
  }

  private static func isNameStop(_ c: Unicode.Scalar) -> Bool {
    switch c {
    case "\t", "\n", "\u{0C}", " ", "<", "&", "#", ";": return true
    default: return false
    }
  }

  private static func isASCIIAlphanumeric(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x30...0x39, 0x41...0x5A, 0x61...0x7A: return true
    default: return false
    }
  }

  /// ftfy's `unescape_html`: only references of the form `&#?[0-9A-Za-z]{1,24};`.
  static func strict(_ s: Scalars) -> Scalars {
    guard s.contains("&") else { return s }
    var out = Scalars()
    out.reserveCapacity(s.count)
    var i = 0
    while i < s.count {
      guard s[i] == "&" else {
        out.append(s[i])
        i += 1
        continue
      }
      var j = i + 1
      let numeric = j < s.count && s[j] == "#"
      if numeric { j += 1 }
      var end = j
      while end < s.count, isASCIIAlphanumeric(s[end]) { end += 1 }
      let length = end - j
      guard length >= 1, length <= 24, end < s.count, s[end] == ";" else {
        out.append(s[i])
        i += 1
        continue
      }
      let reference = Array(s[i...end])  // "&…;"
      i = end + 1
      if !numeric, let value = strictEntities[string(reference.dropFirst())] {
        out += value
      } else if numeric {
        let decoded = lenient(reference)
        out += decoded.contains(";") ? reference : decoded
      } else {
        out += reference
      }
    }
    return out
  }

  private static func string<S: Sequence<Unicode.Scalar>>(_ s: S) -> String {
    var v = String.UnicodeScalarView()
    v.append(contentsOf: s)
    return String(v)
  }
}
