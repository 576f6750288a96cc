import ExprEval

/// What a stage (or any configuration section) declares about one of its parameters; collected
/// while the stage reads its parameters, for generated documentation.
public struct ParameterSpec: Sendable, Equatable {
  /// The key (`nil` for a stage that takes its value directly: `noise: 0.1`).
  public var key: String?
  /// Element type in words ("a number", "an integer" …).
  public var type: String
  /// Allowed list lengths (empty for a scalar).
  public var lengths: [Int]
  /// The default as YAML text, `nil` when required, `"null"` when it may be absent.
  public var defaultText: String?
  /// One line on what it does.
  public var doc: String
}

/// Reads a stage's (or section's) parameters from its configuration node with CLIPig's
/// conversion rules (a literal of the type, a constant expression folded at load, or an
/// expression over the key's variable groups kept for run time), remembering which keys were
/// used so unknown keys can be reported with the closest valid name, and recording every
/// expression kept for run time (`expressions`).
///
/// One reader serves a whole node: a key whose expressions may use other variables than the
/// reader's default says so with its `groups:` argument.
public struct ParameterReader {
  /// The node holding the parameters: a scalar or list for one-value stages, else a mapping.
  public let node: ConfigNode
  /// The configuration path of `node`, e.g. `targets[0].transforms[1].pad`.
  public let path: String
  /// Expression variable groups the parameters may use unless a key declares its own.
  public let groups: VariableGroups
  /// Draws for constant expressions that call random functions in parameters without variables.
  public var random: SeededRandom
  /// Parameters asked for so far.
  public private(set) var specs: [ParameterSpec] = []
  /// Every parameter read so far whose value is an expression kept for run time, with the
  /// records of nested readers added by `record(contentsOf:)`.
  public private(set) var expressions: [RecordedExpression] = []
  private var consumed: Set<String> = []
  private var directUsed = false

  /// A reader over `node` at `path`, allowing expressions with `groups`.
  public init(
    node: ConfigNode, path: String, groups: VariableGroups,
    random: SeededRandom = SeededRandom(seed: 0)
  ) {
    self.node = node
    self.path = path
    self.groups = groups
    self.random = random
  }

  // MARK: - Mapping keys

  /// A scalar parameter under `key`; `default` nil means required; `groups` (the reader's when
  /// nil) are the variables its expressions may use.
  public mutating func scalar<T: ParamScalar>(
    _ key: String, _ type: T.Type = T.self, default defaultValue: T? = nil,
    groups keyGroups: VariableGroups? = nil, doc: String
  ) throws(ConfigError) -> Param<T> {
    record(
      key: key, type: T.typeDescription, lengths: [], default: defaultValue.map { "\($0)" },
      doc: doc)
    guard let child = try child(key) else {
      if let d = defaultValue { return Param(d, path: join(key), location: node.location) }
      throw ConfigError("missing required parameter '\(key)'", at: node.location, path: path)
    }
    let g = keyGroups ?? groups
    let p = try Self.convertScalar(child, T.self, path: join(key), groups: g, random: &random)
    note([p], groups: g, listPath: nil)
    return p
  }

  /// An optional scalar parameter under `key` (absent or null → nil); `groups` as in `scalar`.
  public mutating func optionalScalar<T: ParamScalar>(
    _ key: String, _ type: T.Type = T.self, groups keyGroups: VariableGroups? = nil, doc: String
  )
    throws(ConfigError) -> Param<T>?
  {
    record(key: key, type: T.typeDescription, lengths: [], default: "null", doc: doc)
    guard let child = try child(key) else { return nil }
    let g = keyGroups ?? groups
    let p = try Self.convertScalar(child, T.self, path: join(key), groups: g, random: &random)
    note([p], groups: g, listPath: nil)
    return p
  }

  /// A list parameter under `key` with one of `lengths` elements (one value is broadcast to the
  /// smallest length); `default` nil means required; `groups` as in `scalar`.
  public mutating func list<T: ParamScalar>(
    _ key: String, _ type: T.Type = T.self, lengths: [Int], default defaultValue: [T]? = nil,
    groups keyGroups: VariableGroups? = nil, doc: String
  ) throws(ConfigError) -> [Param<T>] {
    record(
      key: key, type: T.typeDescription, lengths: lengths, default: defaultValue.map(Self.listText),
      doc: doc)
    guard let child = try child(key) else {
      if let d = defaultValue {
        return d.map { Param($0, path: join(key), location: node.location) }
      }
      throw ConfigError("missing required parameter '\(key)'", at: node.location, path: path)
    }
    return try readList(child, T.self, lengths: lengths, path: join(key), groups: keyGroups)
  }

  /// An optional list parameter under `key` (absent or null → nil); `groups` as in `scalar`.
  public mutating func optionalList<T: ParamScalar>(
    _ key: String, _ type: T.Type = T.self, lengths: [Int],
    groups keyGroups: VariableGroups? = nil, doc: String
  ) throws(ConfigError) -> [Param<T>]? {
    record(key: key, type: T.typeDescription, lengths: lengths, default: "null", doc: doc)
    guard let child = try child(key) else { return nil }
    return try readList(child, T.self, lengths: lengths, path: join(key), groups: keyGroups)
  }

  /// A start/end time under `key` (CLIPig's start/end rule): an int is an epoch, a float or `N%` a fraction.
  public mutating func frameTime(_ key: String, default defaultValue: FrameTime, doc: String)
    throws(ConfigError)
    -> FrameTime
  {
    record(
      key: key, type: "an epoch (integer) or a fraction (float or N%)", lengths: [],
      default: "\(defaultValue)", doc: doc)
    guard let child = try child(key) else { return defaultValue }
    return try FrameTime.convert(child, path: join(key), random: &random)
  }

  /// The raw node under `key` (absent or null → nil), for sections the caller decodes itself.
  public mutating func section(_ key: String, doc: String) throws(ConfigError) -> ConfigNode? {
    record(key: key, type: "section", lengths: [], default: "null", doc: doc)
    return try child(key)
  }

  /// Marks `key` as known without reading it (it is handled elsewhere).
  public mutating func skip(_ key: String) {
    consumed.insert(key)
  }

  /// Adds the expressions a nested reader (a section's, a stage's) recorded.
  public mutating func record(contentsOf nested: [RecordedExpression]) {
    expressions += nested
  }

  // MARK: - One-value stages

  /// The stage's value itself (`resize: 224`), as a list of one of `lengths` elements.
  public mutating func directList<T: ParamScalar>(
    _ type: T.Type = T.self, lengths: [Int], default defaultValue: [T]? = nil, doc: String
  ) throws(ConfigError) -> [Param<T>] {
    record(
      key: nil, type: T.typeDescription, lengths: lengths, default: defaultValue.map(Self.listText),
      doc: doc)
    directUsed = true
    if node.isNull, let d = defaultValue {
      return d.map { Param($0, path: path, location: node.location) }
    }
    try requireDirect()
    return try readList(node, T.self, lengths: lengths, path: path, groups: nil)
  }

  /// The stage's value itself (`bwnoise: 0.1`), as one scalar.
  public mutating func directScalar<T: ParamScalar>(
    _ type: T.Type = T.self, default defaultValue: T? = nil, doc: String
  ) throws(ConfigError) -> Param<T> {
    record(
      key: nil, type: T.typeDescription, lengths: [], default: defaultValue.map { "\($0)" },
      doc: doc)
    directUsed = true
    if node.isNull, let d = defaultValue { return Param(d, path: path, location: node.location) }
    try requireDirect()
    let p = try Self.convertScalar(node, T.self, path: path, groups: groups, random: &random)
    note([p], groups: groups, listPath: nil)
    return p
  }

  /// Fails when the mapping holds keys nobody asked for, naming the closest valid key;
  /// `noun` says what a key is in the message ("unknown grid key 'templte'").
  public func finish(noun: String = "parameter") throws(ConfigError) {
    guard let entries = node.entries, !directUsed else { return }
    var known = specs.compactMap(\.key)
    for key in consumed.sorted() where !known.contains(key) { known.append(key) }
    for entry in entries where !consumed.contains(entry.key) {
      let suggestion = Suggestions.didYouMean(entry.key, among: known)
      throw ConfigError(
        "unknown \(noun) '\(entry.key)'"
          + (suggestion.isEmpty && !known.isEmpty
            ? "; valid: " + known.joined(separator: ", ") : suggestion),
        at: entry.keyLocation, path: join(entry.key))
    }
  }

  // MARK: - Helpers

  private mutating func record(
    key: String?, type: String, lengths: [Int], default d: String?, doc: String
  ) {
    specs.append(ParameterSpec(key: key, type: type, lengths: lengths, defaultText: d, doc: doc))
  }

  private func join(_ key: String) -> String { path.isEmpty ? key : path + "." + key }

  /// Converts a list node with `keyGroups` (the reader's when nil) and records its
  /// expressions; a list written as one value that was broadcast is recorded once, at `path`.
  private mutating func readList<T: ParamScalar>(
    _ node: ConfigNode, _ type: T.Type, lengths: [Int], path: String,
    groups keyGroups: VariableGroups?
  ) throws(ConfigError) -> [Param<T>] {
    let g = keyGroups ?? groups
    let params = try Self.convertList(
      node, T.self, lengths: lengths, path: path, groups: g, random: &random)
    let written: Int
    var sequence = false
    switch node.value {
    case .sequence(let elements): (written, sequence) = (elements.count, true)
    case .string(let s) where T.self != String.self: written = Self.splitListText(s).count
    default: written = 1
    }
    if written == 1 && params.count > 1 {
      note([params[0]], groups: g, listPath: sequence ? nil : path)
    } else {
      note(params, groups: g, listPath: nil)
    }
    return params
  }

  /// Records the expressions among `params` (at `listPath` instead of their own paths when
  /// given).
  private mutating func note<T: ParamScalar>(
    _ params: [Param<T>], groups g: VariableGroups, listPath: String?
  ) {
    for p in params {
      guard case .expression(let e) = p.source else { continue }
      expressions.append(
        RecordedExpression(path: listPath ?? p.path, location: p.location, groups: g, expression: e)
      )
    }
  }

  private mutating func child(_ key: String) throws(ConfigError) -> ConfigNode? {
    consumed.insert(key)
    switch node.value {
    case .null: return nil
    case .mapping(let entries):
      guard let n = entries.last(where: { $0.key == key })?.node, !n.isNull else { return nil }
      return n
    default:
      let keys = specs.compactMap(\.key)
      throw ConfigError(
        "expected a mapping of parameters (\(keys.joined(separator: ", "))…), got \(node.kindDescription)",
        at: node.location, path: path)
    }
  }

  private func requireDirect() throws(ConfigError) {
    if node.entries != nil {
      let name = path.split(separator: ".").last.map(String.init) ?? path
      throw ConfigError(
        "'\(name)' takes its value directly (for example '\(name): 0.5'), not a mapping",
        at: node.location, path: path)
    }
  }

  static func listText<T>(_ values: [T]) -> String {
    "[" + values.map { "\($0)" }.joined(separator: ", ") + "]"
  }

  // MARK: - Conversion (CLIPig's value conversion)

  /// Converts one scalar node: a literal of the type, a constant expression folded now, or an
  /// expression kept for run time.
  public static func convertScalar<T: ParamScalar>(
    _ node: ConfigNode, _ type: T.Type, path: String, groups: VariableGroups,
    random: inout SeededRandom
  ) throws(ConfigError) -> Param<T> {
    switch node.value {
    case .sequence, .mapping:
      throw ConfigError(
        "expected \(T.typeDescription), got \(node.kindDescription)", at: node.location, path: path)
    case .null:
      throw ConfigError("expected \(T.typeDescription), got null", at: node.location, path: path)
    default: break
    }
    if let v = T.fromConfig(node.value) {
      guard v.isFiniteValue else {
        throw ConfigError(
          "expected a finite number, got \(v) (NaN and infinities are refused)",
          at: node.location, path: path)
      }
      return Param(v, path: path, location: node.location)
    }
    guard case .string(let text) = node.value, T.self != String.self else {
      throw ConfigError(
        "expected \(T.typeDescription), got \(node.kindDescription)", at: node.location, path: path)
    }
    return try convertExpression(
      text, node: node, T.self, path: path, groups: groups, random: &random)
  }

  static func convertExpression<T: ParamScalar>(
    _ text: String, node: ConfigNode, _ type: T.Type, path: String, groups: VariableGroups,
    random: inout SeededRandom
  ) throws(ConfigError) -> Param<T> {
    let expression: Expression
    do {
      expression = try Expression(text, groups: groups)
    } catch {
      let prefix = groups.isEmpty ? "expected \(T.typeDescription) or a constant expression; " : ""
      throw ConfigError(prefix + error.rendered(), at: node.location, path: path)
    }
    if expression.usesVariables || expression.usesRandom && !groups.isEmpty {
      return Param(expression: expression, path: path, location: node.location)
    }
    let result: ExprValue
    do {
      result = try expression.evaluate(in: ExprContext(), random: &random)
    } catch {
      throw ConfigError(error.rendered(), at: node.location, path: path)
    }
    guard let v = T.fromExpression(result) else {
      throw ConfigError(
        "expected \(T.typeDescription), '\(text)' gives \(result)", at: node.location, path: path)
    }
    guard v.isFiniteValue else {
      throw ConfigError(
        "expected a finite number, '\(text)' gives \(result) (NaN and infinities are refused)",
        at: node.location, path: path)
    }
    return Param(v, path: path, location: node.location)
  }

  /// Converts a list node (YAML sequence, `"a, b"`, `"a b"` or one value) with allowed lengths.
  public static func convertList<T: ParamScalar>(
    _ node: ConfigNode, _ type: T.Type, lengths: [Int], path: String, groups: VariableGroups,
    random: inout SeededRandom
  ) throws(ConfigError) -> [Param<T>] {
    var items: [ConfigNode]
    // Text split at blanks into several values: a failure says so and how to keep it whole.
    var splitNote = ""
    switch node.value {
    case .sequence(let elements): items = elements
    case .string(let s) where T.self != String.self:
      let parts = splitListText(s)
      items = parts.map { ConfigNode(.string($0), at: node.location) }
      if parts.count > 1 && !hasTopLevelComma(s) {
        splitNote = blankSplitNote(s, parts: parts)
      }
    case .mapping:
      throw ConfigError(
        "expected a list of \(T.typeDescription), got a mapping", at: node.location, path: path)
    default: items = [node]
    }
    let smallest = lengths.min() ?? 1
    if items.count == 1 && smallest > 1 {
      items = Array(repeating: items[0], count: smallest)
    } else if !lengths.contains(items.count) {
      let allowed = Set(lengths + [1]).sorted().map(String.init).joined(separator: " or ")
      throw ConfigError(
        "expected a list of length \(allowed), got \(items.count) values" + splitNote,
        at: node.location, path: path)
    }
    var result: [Param<T>] = []
    for (i, item) in items.enumerated() {
      do {
        result.append(
          try convertScalar(item, T.self, path: "\(path)[\(i)]", groups: groups, random: &random))
      } catch {
        guard !splitNote.isEmpty else { throw error }
        // The note ends the message's first line, before an expression's caret lines.
        let message = error.message
        let firstLineEnd = message.firstIndex(of: "\n") ?? message.endIndex
        throw ConfigError(
          message[..<firstLineEnd] + splitNote + message[firstLineEnd...], at: error.location,
          path: error.path)
      }
    }
    return result
  }

  /// Whether `text` has a comma outside brackets and quotes (then it is split at commas).
  static func hasTopLevelComma(_ text: String) -> Bool {
    var depth = 0
    var quote: Character?
    for ch in text {
      if let q = quote {
        if ch == q { quote = nil }
      } else if ch == "'" || ch == "\"" {
        quote = ch
      } else if "([{".contains(ch) {
        depth += 1
      } else if ")]}".contains(ch) {
        depth -= 1
      } else if ch == "," && depth == 0 {
        return true
      }
    }
    return false
  }

  /// "; the value 'TEXT' was split at blanks into N values ('a', 'b', …): write one
  /// expression in parentheses, '(TEXT)', or separate values with commas".
  static func blankSplitNote(_ text: String, parts: [String]) -> String {
    let shown = parts.prefix(6).map { "'\($0)'" }.joined(separator: ", ")
    let more = parts.count > 6 ? ", …" : ""
    return
      "; the value '\(text)' was split at blanks into \(parts.count) values (\(shown)\(more)): "
      + "write one expression in parentheses, '(\(text))', or separate values with commas"
  }

  /// Splits list text: at top-level commas when there is one (so `pow(2, 3), 4` is two values),
  /// else at runs of blanks outside brackets and quotes.
  public static func splitListText(_ text: String) -> [String] {
    let hasTopComma = hasTopLevelComma(text)
    var parts: [String] = []
    var current = ""
    var depth = 0
    var quote: Character?
    for ch in text {
      let separator = hasTopComma ? ch == "," : ch.isWhitespace
      if let q = quote {
        if ch == q { quote = nil }
      } else if ch == "'" || ch == "\"" {
        quote = ch
      } else if "([{".contains(ch) {
        depth += 1
      } else if ")]}".contains(ch) {
        depth -= 1
      } else if separator && depth == 0 {
        if hasTopComma || !current.isEmpty { parts.append(current) }
        current = ""
        continue
      }
      current.append(ch)
    }
    if hasTopComma || !current.isEmpty { parts.append(current) }
    return hasTopComma ? parts.map { $0.trimmingBlanks() } : parts
  }
}
