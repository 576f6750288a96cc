import PipelineKit

extension ConfigNode {
  /// Block-style YAML for this tree that `YAML.parse` reads back to an equal tree (locations
  /// aside): mapping order is kept, strings that would otherwise be typed (`yes`, `10`, `null`,
  /// `1.5`) or that plain style cannot carry are quoted, and floats are written shortest
  /// round-trip with a `.` so they stay floats. `headerComment` lines come first, as `# line`.
  public func yamlText(headerComment: [String] = []) -> String {
    var out = ""
    for comment in headerComment {
      for line in comment.split(separator: "\n", omittingEmptySubsequences: false) {
        out += line.isEmpty ? "#\n" : "# \(line)\n"
      }
    }
    var writer = YAMLBlockWriter(out: out)
    writer.writeDocument(self)
    return writer.out
  }
}

/// Emits block-style YAML.
private struct YAMLBlockWriter {
  var out: String
  private let indentStep = 2

  mutating func writeDocument(_ node: ConfigNode) {
    switch node.value {
    case .mapping(let entries) where !entries.isEmpty:
      writeMapping(entries, indent: 0)
    case .sequence(let elements) where !elements.isEmpty:
      writeSequence(elements, indent: 0)
    default:
      out += Self.inline(node) + "\n"
    }
  }

  /// Writes `key: value` lines at `indent`.
  private mutating func writeMapping(_ entries: [ConfigNode.Entry], indent: Int) {
    let pad = String(repeating: " ", count: indent)
    for entry in entries {
      let key = Self.key(entry.key)
      // Long keys cannot be implicit (simple) keys: use the explicit `? key` form.
      let explicit = key.unicodeScalars.count > 1000
      let prefix = explicit ? pad + "? " + key + "\n" + pad + ":" : pad + key + ":"
      switch entry.node.value {
      case .mapping(let nested) where !nested.isEmpty:
        out += prefix + "\n"
        writeMapping(nested, indent: indent + indentStep)
      case .sequence(let elements) where !elements.isEmpty:
        out += prefix + "\n"
        writeSequence(elements, indent: indent + indentStep)
      default:
        out += prefix + " " + Self.inline(entry.node) + "\n"
      }
    }
  }

  /// Writes `- element` lines at `indent`.
  private mutating func writeSequence(_ elements: [ConfigNode], indent: Int) {
    let pad = String(repeating: " ", count: indent)
    for element in elements {
      switch element.value {
      case .mapping(let entries) where !entries.isEmpty:
        // `- key: value` with the following keys aligned under the first one.
        var nested = YAMLBlockWriter(out: "")
        nested.writeMapping(entries, indent: indent + indentStep)
        out += pad + "- " + nested.out.dropFirst(indent + indentStep)
      case .sequence(let inner) where !inner.isEmpty:
        var nested = YAMLBlockWriter(out: "")
        nested.writeSequence(inner, indent: indent + indentStep)
        out += pad + "- " + nested.out.dropFirst(indent + indentStep)
      default:
        out += pad + "- " + Self.inline(element) + "\n"
      }
    }
  }

  /// A scalar, or an empty collection, on one line.
  private static func inline(_ node: ConfigNode) -> String {
    switch node.value {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .float(let d): return float(d)
    case .string(let s): return scalar(s)
    case .sequence: return "[]"
    case .mapping: return "{}"
    }
  }

  /// A float PyYAML and `YAML.parse` read back as the same float.
  static func float(_ d: Double) -> String {
    if d.isNaN { return ".nan" }
    if d.isInfinite { return d < 0 ? "-.inf" : ".inf" }
    let text = d.description  // shortest round-trip, e.g. "0.5", "1e-05", "1.2e+20"
    guard let e = text.firstIndex(where: { $0 == "e" || $0 == "E" }) else {
      return text.contains(".") ? text : text + ".0"
    }
    // YAML 1.1 floats need a dot before the exponent and a signed exponent.
    var mantissa = String(text[..<e])
    var exponent = String(text[text.index(after: e)...])
    if !mantissa.contains(".") { mantissa += ".0" }
    if !exponent.hasPrefix("-") && !exponent.hasPrefix("+") { exponent = "+" + exponent }
    return mantissa + "e" + exponent
  }

  /// A mapping key: a plain scalar when that reads back as the same string, else quoted.
  private static func key(_ s: String) -> String {
    s == "<<" ? "'<<'" : scalar(s)
  }

  /// A string scalar: plain when safe, single-quoted when printable, double-quoted otherwise.
  static func scalar(_ s: String) -> String {
    if canBePlain(s) { return s }
    if s.unicodeScalars.allSatisfy({ isSafePrintable($0) && $0 != "\t" }) {
      return "'" + s.replacingAll("'", with: "''") + "'"
    }
    return doubleQuoted(s)
  }

  /// True when `s` written plain reads back as the string `s`.
  private static func canBePlain(_ s: String) -> Bool {
    guard let first = s.unicodeScalars.first, let last = s.unicodeScalars.last else {
      return false
    }
    // `=` and `<<` are strings here but PyYAML refuses them plain.
    guard case .success(.string) = ScalarTyping.resolve(s), s != "=", s != "<<" else {
      return false
    }
    if first == " " || last == " " || last == ":" { return false }
    if !s.unicodeScalars.allSatisfy({ isSafePrintable($0) && $0 != "\t" }) { return false }
    // Indicators that cannot start a plain scalar; `-`, `?`, `:` only when a blank follows.
    if "[]{},#&*!|>'\"%@`".unicodeScalars.contains(first) { return false }
    if "-?:".unicodeScalars.contains(first) {
      let scalars = Array(s.unicodeScalars)
      if scalars.count == 1 || scalars[1] == " " { return false }
    }
    if s.hasPrefix("---") || s.hasPrefix("...") { return false }
    // PyYAML reads `2001-12-14…` as a date: quote anything that starts like one.
    let head = Array(s.utf8.prefix(5))
    if head.count == 5, head[0..<4].allSatisfy({ $0 >= 0x30 && $0 <= 0x39 }), head[4] == 0x2D {
      return false
    }
    if s.contains(": ") || s.contains(" #") { return false }
    return true
  }

  /// Printable characters that need no escaping and are not line breaks in YAML.
  private static func isSafePrintable(_ c: Unicode.Scalar) -> Bool {
    switch c.value {
    case 0x09, 0x20...0x7E: return true
    case 0xA0...0xD7FF, 0xE000...0xFFFD:
      return c.value != 0x2028 && c.value != 0x2029 && c.value != 0xFEFF
    case 0x10000...0x10FFFF: return true
    default: return false
    }
  }

  /// A double-quoted scalar with escapes for everything outside safe printable text.
  private static func doubleQuoted(_ s: String) -> String {
    var out = "\""
    for c in s.unicodeScalars {
      switch c {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\t": out += "\\t"
      case "\r": out += "\\r"
      default:
        if isSafePrintable(c) {
          out.unicodeScalars.append(c)
        } else if c.value <= 0xFF {
          out += "\\x" + hex(c.value, digits: 2)
        } else if c.value <= 0xFFFF {
          out += "\\u" + hex(c.value, digits: 4)
        } else {
          out += "\\U" + hex(c.value, digits: 8)
        }
      }
    }
    return out + "\""
  }

  private static func hex(_ v: UInt32, digits: Int) -> String {
    let h = String(v, radix: 16, uppercase: true)
    return String(repeating: "0", count: max(0, digits - h.count)) + h
  }
}

extension String {
  /// Every occurrence of `target` replaced by `replacement`.
  fileprivate func replacingAll(_ target: Character, with replacement: String) -> String {
    var out = ""
    for c in self {
      if c == target { out += replacement } else { out.append(c) }
    }
    return out
  }
}
