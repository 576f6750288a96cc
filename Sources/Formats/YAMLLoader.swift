internal import CYAML
import PipelineKit

/// Loads YAML text into a ``ConfigNode`` tree with libyaml, typing scalars exactly as PyYAML's
/// `SafeLoader` (YAML 1.1) does, so that CLIPig configurations mean the same thing.
///
/// - Every node and mapping key keeps its 1-based file:line:column; mappings keep key order.
/// - Scalars: `~`/`null`/empty → null; `yes/no/true/false/on/off` (lower, Capitalised, UPPER) →
///   bool; decimal, `0b…`, `0x…`, leading-`0` octal and sexagesimal (`1:30` = 90) → int (with
///   `_` separators); `.5`, `1.0`, `1.0e-3`, `1:30.5`, `.inf`, `.nan` → float (`1e3`, `1e-3` and
///   `1.0e3` stay strings, as in PyYAML); everything else, and every quoted scalar, → string.
///   Timestamps (`2001-12-14`), which PyYAML turns into dates, stay strings.
/// - Tags `!!str`, `!!int`, `!!float`, `!!bool`, `!!null`, `!!seq`, `!!map` and the
///   non-specific `!` are honoured; any other tag is an error.
/// - Anchors and aliases are resolved (alias expansion is capped against "billion laughs"),
///   merge keys (`<<: *base`) are applied as PyYAML applies them.
/// - A key given twice: the later value wins and keeps the first key's position — PyYAML's
///   (dict) behaviour, so CLIPig files mean the same.
/// - Keys are kept as their source text (`1: x` has the key "1"); keys must be scalars.
/// - A stream holding more than one document is rejected; an empty stream is a null node.
public enum YAML {
  /// Largest number of nodes aliases may add to a document (each alias adds its subtree's size).
  public static let maxAliasExpansion = 1_000_000
  /// Deepest nesting of sequences and mappings accepted.
  public static let maxDepth = 256
  /// Largest configuration file `load` reads.
  public static let maxFileBytes = 64 << 20

  /// Parses one YAML document; `file` names it in locations and errors.
  public static func parse(_ text: String, file: String) throws(ConfigError) -> ConfigNode {
    try parse(bytes: Array(text.utf8), file: file)
  }

  /// Reads and parses the YAML file at `path`.
  public static func load(path: String) throws(ConfigError) -> ConfigNode {
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(path: path, maxBytes: maxFileBytes)
    } catch {
      throw ConfigError(
        "cannot read configuration: \(error.message)",
        at: SourceLocation(file: path, line: 0, column: 0))
    }
    return try parse(bytes: bytes, file: path)
  }

  /// Reads and parses standard input (named `<stdin>`), with the size cap of files.
  public static func loadStandardInput() throws(ConfigError) -> ConfigNode {
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(fileDescriptor: 0, name: "<stdin>", maxBytes: maxFileBytes)
    } catch {
      throw ConfigError(
        "cannot read configuration: \(error.message)",
        at: SourceLocation(file: "<stdin>", line: 0, column: 0))
    }
    return try parse(bytes: bytes, file: "<stdin>")
  }

  /// Parses YAML given as bytes (UTF-8, or UTF-16 with a byte order mark).
  static func parse(bytes: [UInt8], file: String) throws(ConfigError) -> ConfigNode {
    let result: Result<ConfigNode, ConfigError> = bytes.withUnsafeBufferPointer { buffer in
      let composer = Composer(input: buffer, file: file)
      defer { composer.close() }
      do throws(ConfigError) {
        return .success(try composer.composeStream())
      } catch {
        return .failure(error)
      }
    }
    return try result.get()
  }
}

// MARK: - Events

/// A libyaml event copied into Swift values (the C event is freed right away).
private enum Event {
  case streamStart
  case streamEnd
  case documentStart
  case documentEnd
  case alias(anchor: String)
  case scalar(Scalar)
  case sequenceStart(anchor: String?, tag: String?)
  case sequenceEnd
  case mappingStart(anchor: String?, tag: String?)
  case mappingEnd
}

/// The payload of a scalar event.
private struct Scalar {
  var text: String
  var anchor: String?
  var tag: String?
  /// True when the scalar may be typed implicitly (plain and untagged, or tagged `!`).
  var plainImplicit: Bool
  /// True for plain (unquoted, non-block) style.
  var isPlain: Bool
}

/// A composed node with what aliases and keys need to know about it.
private struct Composed {
  var node: ConfigNode
  /// Nodes in the subtree (for the alias expansion cap).
  var size: Int
  /// The source text for scalars (used when the node is a mapping key).
  var keyText: String?
  /// True for a plain, untagged `<<` (a merge key when used as a key).
  var isMergeKey: Bool
}

private let yamlTagPrefix = "tag:yaml.org,2002:"

/// Builds nodes from libyaml's event stream.
private final class Composer {
  private let parser: UnsafeMutablePointer<yaml_parser_t>
  private let input: UnsafeBufferPointer<UInt8>
  private let file: String
  private var anchors: [String: Composed] = [:]
  private var openAnchors: Set<String> = []
  private var expanded = 0
  private var lastMark: SourceLocation

  init(input: UnsafeBufferPointer<UInt8>, file: String) {
    self.input = input
    self.file = file
    lastMark = SourceLocation(file: file, line: 1, column: 1)
    parser = UnsafeMutablePointer<yaml_parser_t>.allocate(capacity: 1)
    parser.initialize(to: yaml_parser_t())
    _ = yaml_parser_initialize(parser)
    if let base = input.baseAddress, input.count > 0 {
      yaml_parser_set_input_string(parser, base, input.count)
    } else {
      // An empty document: give libyaml a valid empty buffer.
      yaml_parser_set_input_string(parser, emptyInput, 0)
    }
  }

  /// A one-byte buffer libyaml can point at for empty input.
  private let emptyInput: UnsafeMutablePointer<UInt8> = {
    let p = UnsafeMutablePointer<UInt8>.allocate(capacity: 1)
    p.initialize(to: 0)
    return p
  }()

  func close() {
    yaml_parser_delete(parser)
    parser.deallocate()
    emptyInput.deallocate()
  }

  // MARK: Stream and documents

  func composeStream() throws(ConfigError) -> ConfigNode {
    let (first, _) = try next()
    guard case .streamStart = first else { throw error("expected the start of a YAML stream") }
    let (event, mark) = try next()
    switch event {
    case .streamEnd:
      return ConfigNode(.null, at: SourceLocation(file: file, line: 1, column: 1))
    case .documentStart:
      break
    default:
      throw ConfigError("unexpected YAML event at the start of the stream", at: mark)
    }
    let (rootEvent, rootMark) = try next()
    let root = try compose(rootEvent, at: rootMark, depth: 0)
    let (end, endMark) = try next()
    guard case .documentEnd = end else {
      throw ConfigError("expected the end of the document", at: endMark)
    }
    let (after, afterMark) = try next()
    switch after {
    case .streamEnd:
      return root.node
    case .documentStart:
      throw ConfigError(
        "a second YAML document starts here; a configuration file must hold exactly one "
          + "document (remove the '---' separator or split the file)", at: afterMark)
    default:
      throw ConfigError("unexpected content after the document", at: afterMark)
    }
  }

  // MARK: Nodes

  private func compose(_ event: Event, at mark: SourceLocation, depth: Int) throws(ConfigError)
    -> Composed
  {
    switch event {
    case .alias(let anchor):
      guard let target = anchors[anchor] else {
        if openAnchors.contains(anchor) {
          throw ConfigError(
            "alias '*\(anchor)' refers to a node that contains it (recursive structures are not "
              + "supported)", at: mark)
        }
        throw ConfigError(
          "alias '*\(anchor)' refers to an anchor that is not defined before it", at: mark)
      }
      try expand(by: target.size, at: mark)
      var copy = target
      copy.isMergeKey = false
      return copy

    case .scalar(let scalar):
      let value = try typedValue(scalar, at: mark)
      let composed = Composed(
        node: ConfigNode(value, at: mark), size: 1, keyText: scalar.text,
        isMergeKey: scalar.isPlain && scalar.tag == nil && scalar.text == "<<")
      try register(scalar.anchor, composed, at: mark)
      return composed

    case .sequenceStart(let anchor, let tag):
      try checkCollectionTag(tag, expected: "seq", at: mark)
      try checkDepth(depth, at: mark)
      if let anchor { try open(anchor, at: mark) }
      var elements: [ConfigNode] = []
      var size = 1
      while true {
        let (child, childMark) = try next()
        if case .sequenceEnd = child { break }
        let element = try compose(child, at: childMark, depth: depth + 1)
        elements.append(element.node)
        size += element.size
      }
      let composed = Composed(
        node: ConfigNode(.sequence(elements), at: mark), size: size, keyText: nil,
        isMergeKey: false)
      if let anchor { openAnchors.remove(anchor) }
      try register(anchor, composed, at: mark)
      return composed

    case .mappingStart(let anchor, let tag):
      try checkCollectionTag(tag, expected: "map", at: mark)
      try checkDepth(depth, at: mark)
      if let anchor { try open(anchor, at: mark) }
      var merged: [ConfigNode.Entry] = []
      var explicit: [ConfigNode.Entry] = []
      var size = 1
      while true {
        let (keyEvent, keyMark) = try next()
        if case .mappingEnd = keyEvent { break }
        let key = try compose(keyEvent, at: keyMark, depth: depth + 1)
        let (valueEvent, valueMark) = try next()
        let value = try compose(valueEvent, at: valueMark, depth: depth + 1)
        size += value.size
        if key.isMergeKey {
          merged.append(contentsOf: try mergeEntries(value.node, at: valueMark))
          continue
        }
        guard let keyText = key.keyText else {
          throw ConfigError(
            "mapping keys must be plain values, not \(key.node.kindDescription)", at: keyMark)
        }
        explicit.append(ConfigNode.Entry(key: keyText, keyLocation: keyMark, node: value.node))
      }
      let composed = Composed(
        node: ConfigNode(.mapping(Self.deduplicated(merged + explicit)), at: mark), size: size,
        keyText: nil, isMergeKey: false)
      if let anchor { openAnchors.remove(anchor) }
      try register(anchor, composed, at: mark)
      return composed

    default:
      throw ConfigError("unexpected YAML structure", at: mark)
    }
  }

  /// The entries a merge key (`<<`) brings in, in PyYAML's order (later sources first, so
  /// that earlier ones win when duplicates are resolved).
  private func mergeEntries(_ value: ConfigNode, at mark: SourceLocation) throws(ConfigError)
    -> [ConfigNode.Entry]
  {
    switch value.value {
    case .mapping(let entries):
      return entries
    case .sequence(let elements):
      var result: [ConfigNode.Entry] = []
      for element in elements.reversed() {
        guard case .mapping(let entries) = element.value else {
          throw ConfigError(
            "a merge key ('<<') takes a mapping or a list of mappings, found \(element.kindDescription)",
            at: element.location)
        }
        result.append(contentsOf: entries)
      }
      return result
    default:
      throw ConfigError(
        "a merge key ('<<') takes a mapping or a list of mappings, found \(value.kindDescription)",
        at: mark)
    }
  }

  /// Entries with repeated keys collapsed: the last value wins, at the first key's position.
  static func deduplicated(_ entries: [ConfigNode.Entry]) -> [ConfigNode.Entry] {
    var index: [String: Int] = [:]
    var result: [ConfigNode.Entry] = []
    result.reserveCapacity(entries.count)
    for entry in entries {
      if let i = index[entry.key] {
        result[i] = entry
      } else {
        index[entry.key] = result.count
        result.append(entry)
      }
    }
    return result
  }

  private func checkDepth(_ depth: Int, at mark: SourceLocation) throws(ConfigError) {
    if depth >= YAML.maxDepth {
      throw ConfigError("nesting is deeper than \(YAML.maxDepth) levels", at: mark)
    }
  }

  private func checkCollectionTag(_ tag: String?, expected: String, at mark: SourceLocation)
    throws(ConfigError)
  {
    guard let tag, tag != "!", tag != yamlTagPrefix + expected else { return }
    let scalarTags = ["str", "int", "float", "bool", "null"].map { yamlTagPrefix + $0 }
    if scalarTags.contains(tag) || tag == yamlTagPrefix + "seq" || tag == yamlTagPrefix + "map" {
      let kind = expected == "seq" ? "a list" : "a mapping"
      throw ConfigError("the tag '\(Self.shortTag(tag))' cannot be used on \(kind)", at: mark)
    }
    throw ConfigError(
      "unsupported tag '\(Self.shortTag(tag))' (only !!str, !!int, !!float, !!bool, !!null, "
        + "!!seq and !!map are allowed)", at: mark)
  }

  private func open(_ anchor: String, at mark: SourceLocation) throws(ConfigError) {
    if anchors[anchor] != nil || openAnchors.contains(anchor) {
      throw ConfigError("anchor '&\(anchor)' is defined twice", at: mark)
    }
    openAnchors.insert(anchor)
  }

  private func register(_ anchor: String?, _ node: Composed, at mark: SourceLocation)
    throws(ConfigError)
  {
    guard let anchor else { return }
    if anchors[anchor] != nil {
      throw ConfigError("anchor '&\(anchor)' is defined twice", at: mark)
    }
    anchors[anchor] = node
  }

  private func expand(by size: Int, at mark: SourceLocation) throws(ConfigError) {
    expanded += size
    if expanded > YAML.maxAliasExpansion {
      throw ConfigError(
        "aliases expand the document to more than \(YAML.maxAliasExpansion) nodes "
          + "(an alias bomb?)", at: mark)
    }
  }

  static func shortTag(_ tag: String) -> String {
    tag.hasPrefix(yamlTagPrefix) ? "!!" + tag.dropFirst(yamlTagPrefix.count) : tag
  }

  // MARK: Scalars

  private func typedValue(_ scalar: Scalar, at mark: SourceLocation) throws(ConfigError)
    -> ConfigValue
  {
    let text = scalar.text
    guard let tag = scalar.tag, tag != "!" else {
      // PyYAML resolves implicitly when the scalar is plain and untagged, or tagged `!`.
      if scalar.plainImplicit || scalar.tag == "!" {
        switch ScalarTyping.resolve(text) {
        case .success(let value): return value
        case .failure(let problem): throw ConfigError(problem.message, at: mark)
        }
      }
      return .string(text)
    }
    let result: Result<ConfigValue, ScalarTyping.Problem>
    switch tag {
    case yamlTagPrefix + "str": return .string(text)
    case yamlTagPrefix + "null": return .null
    case yamlTagPrefix + "int": result = ScalarTyping.constructInt(text)
    case yamlTagPrefix + "float": result = ScalarTyping.constructFloat(text)
    case yamlTagPrefix + "bool": result = ScalarTyping.constructBool(text)
    default:
      throw ConfigError(
        "unsupported tag '\(Self.shortTag(tag))' (only !!str, !!int, !!float, !!bool, !!null, "
          + "!!seq and !!map are allowed)", at: mark)
    }
    switch result {
    case .success(let value): return value
    case .failure(let problem): throw ConfigError(problem.message, at: mark)
    }
  }

  // MARK: libyaml

  private func location(_ mark: yaml_mark_t) -> SourceLocation {
    SourceLocation(file: file, line: Int(mark.line) + 1, column: Int(mark.column) + 1)
  }

  private func error(_ message: String) -> ConfigError {
    ConfigError(message, at: lastMark)
  }

  /// The next event and where it starts.
  private func next() throws(ConfigError) -> (Event, SourceLocation) {
    var event = yaml_event_t()
    guard yaml_parser_parse(parser, &event) != 0 else { throw parserError() }
    defer { yaml_event_delete(&event) }
    let mark = location(event.start_mark)
    lastMark = mark
    func string(_ p: UnsafeMutablePointer<yaml_char_t>?) -> String? {
      guard let p else { return nil }
      return String(cString: p)
    }
    let result: Event
    switch event.type {
    case YAML_STREAM_START_EVENT: result = .streamStart
    case YAML_STREAM_END_EVENT: result = .streamEnd
    case YAML_DOCUMENT_START_EVENT: result = .documentStart
    case YAML_DOCUMENT_END_EVENT: result = .documentEnd
    case YAML_ALIAS_EVENT: result = .alias(anchor: string(event.data.alias.anchor) ?? "")
    case YAML_SCALAR_EVENT:
      let s = event.data.scalar
      let text: String
      if let value = s.value, s.length > 0 {
        text = String(decoding: UnsafeBufferPointer(start: value, count: s.length), as: UTF8.self)
      } else {
        text = ""
      }
      result = .scalar(
        Scalar(
          text: text, anchor: string(s.anchor), tag: string(s.tag),
          plainImplicit: s.plain_implicit != 0, isPlain: s.style == YAML_PLAIN_SCALAR_STYLE))
    case YAML_SEQUENCE_START_EVENT:
      let s = event.data.sequence_start
      result = .sequenceStart(anchor: string(s.anchor), tag: string(s.tag))
    case YAML_SEQUENCE_END_EVENT: result = .sequenceEnd
    case YAML_MAPPING_START_EVENT:
      let m = event.data.mapping_start
      result = .mappingStart(anchor: string(m.anchor), tag: string(m.tag))
    case YAML_MAPPING_END_EVENT: result = .mappingEnd
    default:
      throw ConfigError("libyaml produced an unknown event", at: mark)
    }
    return (result, mark)
  }

  /// The parser's error as a ConfigError at the problem's location.
  private func parserError() -> ConfigError {
    let p = parser.pointee
    let problem = p.problem.map { String(cString: $0) } ?? "unknown error"
    switch p.error {
    case YAML_READER_ERROR:
      let at = location(byteOffset: Int(p.problem_offset))
      let what: String
      if p.problem_value >= 0 {
        let hex = String(p.problem_value, radix: 16, uppercase: true)
        what = " (#x\(hex))"
      } else {
        what = ""
      }
      return ConfigError("invalid text: \(problem)\(what)", at: at)
    case YAML_MEMORY_ERROR:
      return ConfigError("out of memory while parsing YAML", at: lastMark)
    default:
      var message = problem
      if let context = p.context.map({ String(cString: $0) }) {
        let contextAt = location(p.context_mark)
        message += " (\(context) at \(contextAt.line):\(contextAt.column))"
      }
      let at = location(p.problem_mark)
      if character(at: at) == "\t" {
        message += "; a tab cannot indent YAML or start a value, use spaces"
      }
      return ConfigError("invalid YAML: " + message, at: at)
    }
  }

  /// The character at a 1-based line and column of the input, if there is one.
  private func character(at location: SourceLocation) -> Character? {
    let text = String(decoding: input, as: UTF8.self)
    let lines = text.split(separator: "\n", omittingEmptySubsequences: false)
    guard location.line >= 1, location.line <= lines.count else { return nil }
    let line = lines[location.line - 1]
    guard location.column >= 1, location.column <= line.unicodeScalars.count else { return nil }
    let index = line.unicodeScalars.index(
      line.unicodeScalars.startIndex, offsetBy: location.column - 1)
    return Character(line.unicodeScalars[index])
  }

  /// Line and column (in characters) of a byte offset into the input.
  private func location(byteOffset: Int) -> SourceLocation {
    var line = 1
    var column = 1
    let end = min(max(byteOffset, 0), input.count)
    for i in 0..<end {
      let byte = input[i]
      if byte == UInt8(ascii: "\n") {
        line += 1
        column = 1
      } else if byte & 0xC0 != 0x80 {
        column += 1
      }
    }
    return SourceLocation(file: file, line: line, column: column)
  }
}

// MARK: - PyYAML scalar typing

/// PyYAML's YAML 1.1 implicit resolver and constructors for plain scalars and `!!` tags.
enum ScalarTyping {
  /// Why a scalar that looks typed cannot be constructed.
  struct Problem: Error {
    var message: String
  }

  /// The value PyYAML's `SafeLoader` gives a plain, untagged scalar.
  static func resolve(_ text: String) -> Result<ConfigValue, Problem> {
    switch text {
    case "", "~", "null", "Null", "NULL": return .success(.null)
    case "yes", "Yes", "YES", "true", "True", "TRUE", "on", "On", "ON": return .success(.bool(true))
    case "no", "No", "NO", "false", "False", "FALSE", "off", "Off", "OFF":
      return .success(.bool(false))
    default: break
    }
    let bytes = Array(text.utf8)
    if matchesFloat(bytes) { return constructFloat(text) }
    if matchesInt(bytes) { return constructInt(text) }
    return .success(.string(text))
  }

  /// PyYAML's `construct_yaml_int` (also used for `!!int`).
  static func constructInt(_ text: String) -> Result<ConfigValue, Problem> {
    var value = text.filter { $0 != "_" }
    var negative = false
    if value.first == "-" { negative = true }
    if value.first == "-" || value.first == "+" { value.removeFirst() }
    let sign = negative ? "-" : ""
    let bad = Problem(message: "'\(text)' is not a valid integer")
    let tooLarge = Problem(
      message: "the integer '\(text)' is out of range (\(Int.min) ... \(Int.max))")
    func parse(_ digits: Substring, radix: Int) -> Result<ConfigValue, Problem> {
      guard !digits.isEmpty, digits.allSatisfy({ $0.isASCII && $0.isHexDigit }) else {
        return .failure(bad)
      }
      guard let n = Int(sign + digits, radix: radix) else {
        return .failure(
          digits.allSatisfy({ $0.hexDigitValue.map { $0 < radix } ?? false }) ? tooLarge : bad)
      }
      return .success(.int(n))
    }
    if value == "0" { return .success(.int(0)) }
    if value.hasPrefix("0b") { return parse(value.dropFirst(2), radix: 2) }
    if value.hasPrefix("0x") { return parse(value.dropFirst(2), radix: 16) }
    if value.hasPrefix("0") { return parse(value[...], radix: 8) }
    if value.contains(":") {
      var total = 0
      for part in value.split(separator: ":", omittingEmptySubsequences: false) {
        guard !part.isEmpty, part.allSatisfy({ $0.isASCII && $0.isNumber }), let digit = Int(part)
        else { return .failure(bad) }
        let (scaled, o1) = total.multipliedReportingOverflow(by: 60)
        let (sum, o2) = scaled.addingReportingOverflow(digit)
        if o1 || o2 { return .failure(tooLarge) }
        total = sum
      }
      return .success(.int(negative ? -total : total))
    }
    let trimmed = value.trimmingASCIIWhitespace()
    guard !trimmed.isEmpty, trimmed.allSatisfy({ $0.isASCII && $0.isNumber }) else {
      return .failure(bad)
    }
    guard let n = Int(sign + trimmed) else { return .failure(tooLarge) }
    return .success(.int(n))
  }

  /// PyYAML's `construct_yaml_float` (also used for `!!float`).
  static func constructFloat(_ text: String) -> Result<ConfigValue, Problem> {
    var value = text.filter { $0 != "_" }.lowercased()
    var sign = 1.0
    if value.first == "-" { sign = -1 }
    if value.first == "-" || value.first == "+" { value.removeFirst() }
    let bad = Problem(message: "'\(text)' is not a valid float")
    if value == ".inf" { return .success(.float(sign * .infinity)) }
    if value == ".nan" { return .success(.float(.nan)) }
    func number(_ s: Substring) -> Double? {
      let t = s.trimmingASCIIWhitespace()
      // Python's float() accepts decimal forms, inf/infinity and nan; no hexadecimal.
      guard !t.isEmpty, !t.contains("x") else { return nil }
      return Double(t)
    }
    if value.contains(":") {
      var total = 0.0
      for part in value.split(separator: ":", omittingEmptySubsequences: false) {
        guard let digit = number(part) else { return .failure(bad) }
        total = total * 60 + digit
      }
      return .success(.float(sign * total))
    }
    guard let n = number(value[...]) else { return .failure(bad) }
    return .success(.float(sign * n))
  }

  /// PyYAML's `construct_yaml_bool` (for `!!bool`).
  static func constructBool(_ text: String) -> Result<ConfigValue, Problem> {
    switch text.lowercased() {
    case "yes", "true", "on": return .success(.bool(true))
    case "no", "false", "off": return .success(.bool(false))
    default: return .failure(Problem(message: "'\(text)' is not a valid boolean"))
    }
  }

  // The resolver's regular expressions, matched by hand on ASCII bytes.

  private static func isDigit(_ b: UInt8) -> Bool { b >= 0x30 && b <= 0x39 }
  private static func isUnderscore(_ b: UInt8) -> Bool { b == UInt8(ascii: "_") }

  /// A small cursor over the scalar's bytes.
  private struct Cursor {
    let bytes: [UInt8]
    var i = 0
    var atEnd: Bool { i == bytes.count }
    var peek: UInt8? { i < bytes.count ? bytes[i] : nil }
    func peek(_ offset: Int) -> UInt8? { i + offset < bytes.count ? bytes[i + offset] : nil }

    mutating func take(_ c: Character) -> Bool {
      if let p = peek, let a = c.asciiValue, p == a {
        i += 1
        return true
      }
      return false
    }
    mutating func takeSign() { _ = take("-") || take("+") }
    /// Consumes bytes while `f` holds; returns how many.
    @discardableResult mutating func takeWhile(_ f: (UInt8) -> Bool) -> Int {
      let start = i
      while let p = peek, f(p) { i += 1 }
      return i - start
    }
    /// `(?:[eE][-+][0-9]+)?`
    mutating func takeOptionalExponent() {
      guard let e = peek, e == UInt8(ascii: "e") || e == UInt8(ascii: "E"),
        let s = peek(1), s == UInt8(ascii: "-") || s == UInt8(ascii: "+"),
        let d = peek(2), ScalarTyping.isDigit(d)
      else { return }
      i += 2
      takeWhile(ScalarTyping.isDigit)
    }
    /// `(?::[0-5]?[0-9])+`; false if there is no such group.
    mutating func takeSexagesimalGroups() -> Bool {
      var groups = 0
      while peek == UInt8(ascii: ":") {
        guard let d1 = peek(1), ScalarTyping.isDigit(d1) else { break }
        if let d2 = peek(2), ScalarTyping.isDigit(d2), d1 <= UInt8(ascii: "5") {
          i += 3
        } else {
          i += 2
        }
        groups += 1
      }
      return groups > 0
    }
  }

  /// PyYAML's float resolver regular expression.
  static func matchesFloat(_ bytes: [UInt8]) -> Bool {
    func anyMatch(_ alternatives: [(inout Cursor) -> Bool]) -> Bool {
      alternatives.contains { alternative in
        var c = Cursor(bytes: bytes)
        return alternative(&c) && c.atEnd
      }
    }
    let digitOrUnderscore: (UInt8) -> Bool = { isDigit($0) || isUnderscore($0) }
    return anyMatch([
      // [-+]?(?:[0-9][0-9_]*)\.[0-9_]*(?:[eE][-+][0-9]+)?
      { c in
        c.takeSign()
        guard let d = c.peek, isDigit(d) else { return false }
        c.takeWhile(digitOrUnderscore)
        guard c.take(".") else { return false }
        c.takeWhile(digitOrUnderscore)
        c.takeOptionalExponent()
        return true
      },
      // \.[0-9][0-9_]*(?:[eE][-+][0-9]+)?
      { c in
        guard c.take("."), let d = c.peek, isDigit(d) else { return false }
        c.takeWhile(digitOrUnderscore)
        c.takeOptionalExponent()
        return true
      },
      // [-+]?[0-9][0-9_]*(?::[0-5]?[0-9])+\.[0-9_]*
      { c in
        c.takeSign()
        guard let d = c.peek, isDigit(d) else { return false }
        c.takeWhile(digitOrUnderscore)
        guard c.takeSexagesimalGroups(), c.take(".") else { return false }
        c.takeWhile(digitOrUnderscore)
        return true
      },
      // [-+]?\.(?:inf|Inf|INF) and \.(?:nan|NaN|NAN)
      { c in
        let s = String(decoding: bytes, as: UTF8.self)
        c.i = bytes.count
        return [".inf", ".Inf", ".INF", "-.inf", "-.Inf", "-.INF", "+.inf", "+.Inf", "+.INF"]
          .contains(s) || [".nan", ".NaN", ".NAN"].contains(s)
      },
    ])
  }

  /// PyYAML's int resolver regular expression.
  static func matchesInt(_ bytes: [UInt8]) -> Bool {
    func anyMatch(_ alternatives: [(inout Cursor) -> Bool]) -> Bool {
      alternatives.contains { alternative in
        var c = Cursor(bytes: bytes)
        return alternative(&c) && c.atEnd
      }
    }
    return anyMatch([
      // [-+]?0b[0-1_]+
      { c in
        c.takeSign()
        guard c.take("0"), c.take("b") else { return false }
        return c.takeWhile {
          $0 == UInt8(ascii: "0") || $0 == UInt8(ascii: "1") || isUnderscore($0)
        }
          > 0
      },
      // [-+]?0[0-7_]+
      { c in
        c.takeSign()
        guard c.take("0") else { return false }
        return c.takeWhile {
          ($0 >= UInt8(ascii: "0") && $0 <= UInt8(ascii: "7")) || isUnderscore($0)
        }
          > 0
      },
      // [-+]?(?:0|[1-9][0-9_]*)
      { c in
        c.takeSign()
        if c.take("0") { return true }
        guard let d = c.peek, d >= UInt8(ascii: "1"), d <= UInt8(ascii: "9") else { return false }
        c.takeWhile { isDigit($0) || isUnderscore($0) }
        return true
      },
      // [-+]?0x[0-9a-fA-F_]+
      { c in
        c.takeSign()
        guard c.take("0"), c.take("x") else { return false }
        return c.takeWhile { Character(Unicode.Scalar($0)).isHexDigit || isUnderscore($0) } > 0
      },
      // [-+]?[1-9][0-9_]*(?::[0-5]?[0-9])+
      { c in
        c.takeSign()
        guard let d = c.peek, d >= UInt8(ascii: "1"), d <= UInt8(ascii: "9") else { return false }
        c.takeWhile { isDigit($0) || isUnderscore($0) }
        return c.takeSexagesimalGroups()
      },
    ])
  }
}

extension StringProtocol {
  /// The text without leading and trailing ASCII blanks (what Python's int()/float() tolerate).
  fileprivate func trimmingASCIIWhitespace() -> Substring {
    let blank: (Character) -> Bool = { $0 == " " || $0 == "\t" || $0 == "\n" || $0 == "\r" }
    let s = Substring(self)
    guard let first = s.firstIndex(where: { !blank($0) }),
      let last = s.lastIndex(where: { !blank($0) })
    else { return "" }
    return s[first...last]
  }
}
