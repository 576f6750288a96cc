import Foundation

/// The text clean-up CLIP's reference tokenizer applies before splitting words.
///
/// Reference order: ftfy's `fix_text`, Python's `html.unescape` twice, strip, collapse runs of
/// white space to one space, strip, lower-case. Of ftfy this implements the deterministic
/// character fixes (HTML entities, C1 controls as Windows-1252, Latin ligatures, full/half-width
/// forms, curly quotes, line breaks, terminal escapes, control characters, NFC), repeated to a
/// fixed point per line exactly as ftfy does. It does not implement ftfy's mojibake detection
/// (`fix_encoding`), so text that was decoded in the wrong encoding ("cafÃ©") tokenizes as
/// written instead of being repaired; see `docs`/tests for the listed differences.
public enum CLIPTextCleaner {
  typealias Scalars = [Unicode.Scalar]

  /// Cleans `text` the way the reference tokenizer does before it splits words.
  public static func clean(_ text: String) -> String {
    var s = fixText(Array(text.unicodeScalars))
    s = HTMLUnescape.lenient(HTMLUnescape.lenient(s))
    s = collapseWhitespace(strip(s))
    return string(lower(s))
  }

  // MARK: ftfy subset

  /// ftfy's `fix_text` without mojibake repair: line by line, each fixed to a fixed point.
  static func fixText(_ s: Scalars) -> Scalars {
    var out = Scalars()
    out.reserveCapacity(s.count)
    var unescape = true  // ftfy stops unescaping for good once a line contains '<'
    var start = 0
    while start < s.count {
      var end = start
      while end < s.count, s[end] != "\n" { end += 1 }
      if end < s.count { end += 1 }  // the line keeps its '\n'
      var segment = Array(s[start..<end])
      if segment.contains("<") { unescape = false }
      while true {
        let before = segment
        if unescape { segment = HTMLUnescape.strict(segment) }
        segment = fixCharacters(segment)
        segment = removeTerminalEscapes(segment)
        segment = segment.filter { !isRemovedControl($0) }
        segment = nfc(segment)
        if segment == before { break }
      }
      out += segment
      start = end
    }
    return out
  }

  /// C1 controls, ligatures, character width, curly quotes and line breaks (ftfy's order).
  static func fixCharacters(_ s: Scalars) -> Scalars {
    var out = Scalars()
    out.reserveCapacity(s.count)
    for c in s {
      if (0x80...0x9F).contains(c.value),
        let w = Unicode.Scalar(HTMLUnescape.windows1252[Int(c.value - 0x80)])
      {
        out.append(w)
      } else {
        out.append(c)
      }
    }
    out = out.flatMap { c -> Scalars in ligatureOrWidth[c.value] ?? [c] }
    out = out.map { c in
      switch c.value {
      case 0x2BC, 0x2018...0x201B: return "'"
      case 0x201C...0x201F: return "\""
      default: return c
      }
    }
    // Line breaks: \r\n, \r, U+2028, U+2029, U+0085 all become \n.
    var lines = Scalars()
    lines.reserveCapacity(out.count)
    var i = 0
    while i < out.count {
      let c = out[i]
      if c == "\r" {
        lines.append("\n")
        if i + 1 < out.count, out[i + 1] == "\n" { i += 1 }
      } else if c == "\u{2028}" || c == "\u{2029}" || c == "\u{85}" {
        lines.append("\n")
      } else {
        lines.append(c)
      }
      i += 1
    }
    return lines
  }

  /// Ligatures ftfy splits (their one-step compatibility decompositions) and the half- and
  /// full-width forms it narrows (their NFKC forms), keyed by code point.
  static let ligatureOrWidth: [UInt32: Scalars] = {
    let ligatures: [UInt32: String] = [
      0x132: "IJ", 0x133: "ij", 0x149: "\u{2BC}n", 0x1C4: "D\u{17D}", 0x1C5: "D\u{17E}",
      0x1C6: "d\u{17E}", 0x1C7: "LJ", 0x1C8: "Lj", 0x1C9: "lj", 0x1CA: "NJ", 0x1CB: "Nj",
      0x1CC: "nj",
      0x1F1: "DZ", 0x1F2: "Dz", 0x1F3: "dz", 0xFB00: "ff", 0xFB01: "fi", 0xFB02: "fl",
      0xFB03: "ffi",
      0xFB04: "ffl", 0xFB05: "\u{17F}t", 0xFB06: "st",
    ]
    var table = ligatures.mapValues { Array($0.unicodeScalars) }
    table[0x3000] = [" "]
    for v in UInt32(0xFF01)..<0xFFF0 {
      guard let c = Unicode.Scalar(v) else { continue }
      let k = Array(String(Character(c)).precomposedStringWithCompatibilityMapping.unicodeScalars)
      if k != [c] { table[v] = k }
    }
    return table
  }()

  /// Removes ANSI terminal escapes: ESC '[' (digits or ';')* letter.
  static func removeTerminalEscapes(_ s: Scalars) -> Scalars {
    guard s.contains("\u{1B}") else { return s }
    var out = Scalars()
    var i = 0
    while i < s.count {
      if s[i] == "\u{1B}", i + 1 < s.count, s[i + 1] == "[" {
        var j = i + 2
        while j < s.count, s[j] == ";" || ("0"..."9").contains(s[j]) { j += 1 }
        if j < s.count, ("a"..."z").contains(s[j]) || ("A"..."Z").contains(s[j]) {
          i = j + 1
          continue
        }
      }
      out.append(s[i])
      i += 1
    }
    return out
  }

  /// The control and format characters ftfy deletes.
  static func isRemovedControl(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x00...0x08, 0x0B, 0x0E...0x1F, 0x7F, 0x206A...0x206F, 0xFEFF, 0xFFF9...0xFFFC: return true
    default: return false
    }
  }

  static func nfc(_ s: Scalars) -> Scalars {
    if s.allSatisfy({ $0.value < 0x300 }) { return s }  // nothing to compose or decompose
    return Array(string(s).precomposedStringWithCanonicalMapping.unicodeScalars)
  }

  // MARK: Python string semantics

  /// Python's `str.isspace()`: White_Space plus the information separators U+001C–U+001F.
  static func isPythonSpace(_ c: Unicode.Scalar) -> Bool {
    c.properties.isWhitespace || (0x1C...0x1F).contains(c.value)
  }

  static func strip(_ s: Scalars) -> Scalars {
    guard let first = s.firstIndex(where: { !isPythonSpace($0) }),
      let last = s.lastIndex(where: { !isPythonSpace($0) })
    else { return [] }
    return Array(s[first...last])
  }

  /// Replaces each run of White_Space by one space, then strips.
  static func collapseWhitespace(_ s: Scalars) -> Scalars {
    var out = Scalars()
    out.reserveCapacity(s.count)
    var inSpace = false
    for c in s {
      if c.properties.isWhitespace {
        if !inSpace { out.append(" ") }
        inSpace = true
      } else {
        out.append(c)
        inSpace = false
      }
    }
    return strip(out)
  }

  /// Python's `str.lower()`: full lower-case mappings and the final-sigma rule.
  public static func lowercased(_ text: String) -> String {
    string(lower(Array(text.unicodeScalars)))
  }

  static func lower(_ s: Scalars) -> Scalars {
    var out = Scalars()
    out.reserveCapacity(s.count)
    for (i, c) in s.enumerated() {
      if c.value < 0x80 {
        out.append(("A"..."Z").contains(c) ? Unicode.Scalar(UInt8(c.value + 32)) : c)
      } else if c == "\u{3A3}" {
        out.append(isFinalSigma(s, at: i) ? "\u{3C2}" : "\u{3C3}")
      } else {
        out += c.properties.lowercaseMapping.unicodeScalars
      }
    }
    return out
  }

  /// Σ is final when a cased letter precedes it and none follows (ignoring case-ignorables).
  static func isFinalSigma(_ s: Scalars, at i: Int) -> Bool {
    var j = i - 1
    while j >= 0, s[j].properties.isCaseIgnorable { j -= 1 }
    guard j >= 0, s[j].properties.isCased else { return false }
    j = i + 1
    while j < s.count, s[j].properties.isCaseIgnorable { j += 1 }
    return j == s.count || !s[j].properties.isCased
  }

  static func string<S: Sequence<Unicode.Scalar>>(_ s: S) -> String {
    var v = String.UnicodeScalarView()
    v.append(contentsOf: s)
    return String(v)
  }
}
