import Formats
import Foundation
import PipelineKit
import Runner

/// A grid file (docs/batch.md): an experiment template and the variables whose every
/// combination `clipig batch` renders.
///
/// ```yaml
/// template: method1.yaml              # file(s) relative to the grid file, or an inline mapping
/// name: "{{animal}}-of-{{thing}}"     # output stem; values' non-letters become "-"
/// seed: 0                             # base seed; each output's seed derives from its name
/// rows: {file: prompts.json, key: prompts}   # a list of variable sets (inline or from a file)
/// variables:                          # lists; the grid is rows × their cross product
///   animal: [cat, penguin]
///   thing: {file: things.txt}
/// ```
public struct Grid: Sendable {
  /// One combination of variable values.
  public struct Item: Sendable, Equatable {
    /// Position in grid order (rows outermost, then the variables in their order).
    public var index: Int
    /// The output file stem, e.g. `penguin-of-piano`.
    public var name: String
    /// The value of every variable, in the grid's variable order.
    public var values: [Variable]
    /// The seed of this output.
    public var seed: UInt64

    /// The value of the variable `name`.
    public subscript(name: String) -> ConfigNode? {
      values.first { $0.name == name }?.value
    }
  }

  /// A variable's value in one combination.
  public struct Variable: Sendable, Equatable {
    /// The variable's name.
    public var name: String
    /// Its value, typed as the YAML or JSON it came from.
    public var value: ConfigNode
  }

  /// The grid file.
  public var path: String
  /// The template's YAML files (empty for an inline template).
  public var templateFiles: [String]
  /// The merged template.
  public var template: ConfigNode
  /// Relative paths inside the template are resolved against this directory.
  public var templateBaseDirectory: String
  /// A short name of the rendering method (`label:`, else the template file's stem).
  public var label: String
  /// The output name template.
  public var nameTemplate: String
  /// All variable names: row keys first, then `variables` in order.
  public var variableNames: [String]
  /// The base seed.
  public var seed: UInt64
  /// Every combination in grid order.
  public var items: [Item]

  /// The variables the name template uses, in order of first use.
  public var keyVariables: [String] {
    var names: [String] = []
    for p in TemplateText.placeholders(in: nameTemplate) where !names.contains(p.name) {
      names.append(p.name)
    }
    return names
  }

  /// The grid file's keys as one reader reads them (unknown keys are refused with the closest
  /// valid one at file:line:column).
  struct Sections {
    /// `template`: experiment file(s) relative to the grid file, or an inline mapping.
    var template: ConfigNode?
    /// `name`: the output-name template with `{{variable}}` placeholders.
    var name: ConfigNode?
    /// `seed`: the base seed each output's seed derives from.
    var seed: ConfigNode?
    /// `rows`: a list of variable sets, inline or from a file.
    var rows: ConfigNode?
    /// `variables`: lists whose cross product (after the rows) makes the grid.
    var variables: ConfigNode?
    /// `label`: a short name of the rendering method.
    var label: ConfigNode?

    /// Reads the sections of the grid mapping `root`.
    init(_ root: ConfigNode) throws(ConfigError) {
      var r = ParameterReader(node: root, path: "", groups: [])
      template = try r.section(
        "template", doc: "experiment file(s) relative to the grid file, or an inline mapping")
      name = try r.section("name", doc: "output stem such as \"{{animal}}-of-{{thing}}\"")
      seed = try r.section("seed", doc: "base seed; each output's seed derives from its name")
      rows = try r.section("rows", doc: "a list of variable sets (inline or {file:, key:})")
      variables = try r.section("variables", doc: "variable lists whose cross product is rendered")
      label = try r.section("label", doc: "short name of the rendering method")
      try r.finish(noun: "grid key")
    }
  }

  /// One variable's values (`variables:` entry) and where they were written.
  typealias ValueList = (name: String, values: [ConfigNode], location: SourceLocation)

  /// Reads and checks a grid file: every combination is built, named and substituted into the
  /// template, so unknown `{{names}}`, colliding output names and type errors surface here.
  ///
  /// - Parameters:
  ///   - templateFiles: replaces the grid's `template` (paths as given on the command line).
  ///   - seed: replaces the grid's `seed`.
  public static func load(path: String, templateFiles override: [String] = [], seed: UInt64? = nil)
    throws -> Grid
  {
    let root = try YAML.load(path: path)
    guard root.entries != nil else {
      throw ConfigError(
        "a grid file is a mapping with 'template' and 'rows' or 'variables', got "
          + root.kindDescription, at: root.location)
    }
    let sections = try Sections(root)
    let directory = directoryOf(path)
    let (templateFiles, template, templateBase) = try loadTemplate(
      sections.template, override: override, directory: directory, root: root)
    let baseSeed = try seed ?? readSeed(sections.seed)
    let label = try readLabel(sections.label) ?? stem(templateFiles.last ?? path)

    var rows: [[Variable]] = [[]]
    var rowNames: [String] = []
    if let node = sections.rows {
      (rows, rowNames) = try readRows(node, directory: directory)
    }
    var lists: [ValueList] = []
    if let node = sections.variables {
      lists = try readVariables(node, rowNames: rowNames, directory: directory)
    }
    if sections.rows == nil && sections.variables == nil {
      throw ConfigError("the grid has neither 'rows' nor 'variables'", at: root.location)
    }
    let variableNames = rowNames + lists.map(\.name)
    let (nameTemplate, nameLocation) = try readNameTemplate(
      sections.name, variableNames: variableNames, root: root)
    let items = try combinations(
      rows: rows, lists: lists, variableNames: variableNames, nameTemplate: nameTemplate,
      nameLocation: nameLocation, baseSeed: baseSeed, root: root)
    let grid = Grid(
      path: path, templateFiles: templateFiles, template: template,
      templateBaseDirectory: templateBase, label: label, nameTemplate: nameTemplate,
      variableNames: variableNames, seed: baseSeed, items: items)
    for item in items { _ = try grid.configuration(for: item) }
    return grid
  }

  /// `template:` (or the command line's files): the template's files, the merged template and
  /// the directory its relative paths are resolved against.
  static func loadTemplate(
    _ node: ConfigNode?, override: [String], directory: String, root: ConfigNode
  ) throws -> (files: [String], template: ConfigNode, base: String) {
    var files: [String] = []
    let template: ConfigNode
    var base = directory
    if !override.isEmpty {
      files = override
      template = try RunPlan.loadTree(files: override)
      base = directoryOf(override[override.count - 1])
    } else {
      guard let node else {
        throw ConfigError(
          "the grid has no 'template' (an experiment file or an inline mapping)",
          at: root.location)
      }
      switch node.value {
      case .string(let file):
        files = [resolve(file, in: directory)]
      case .sequence(let elements):
        for element in elements {
          guard case .string(let file) = element.value else {
            throw ConfigError(
              "expected a file name, got \(element.kindDescription)", at: element.location,
              path: "template")
          }
          files.append(resolve(file, in: directory))
        }
      case .mapping:
        break
      default:
        throw ConfigError(
          "expected a file name, a list of files or a mapping, got \(node.kindDescription)",
          at: node.location, path: "template")
      }
      if files.isEmpty {
        template = node
      } else {
        template = try RunPlan.loadTree(files: files)
        base = directoryOf(files[files.count - 1])
      }
    }
    if template.entries == nil {
      throw ConfigError("the template is not a mapping of parameters", at: template.location)
    }
    return (files, template, base)
  }

  /// `seed:`: a non-negative integer (0 when absent).
  static func readSeed(_ node: ConfigNode?) throws(ConfigError) -> UInt64 {
    guard let node else { return 0 }
    guard case .int(let s) = node.value, s >= 0 else {
      throw ConfigError(
        "expected a non-negative integer, got \(node.kindDescription)", at: node.location,
        path: "seed")
    }
    return UInt64(s)
  }

  /// `label:`: a non-empty text (nil when absent).
  static func readLabel(_ node: ConfigNode?) throws(ConfigError) -> String? {
    guard let node else { return nil }
    guard case .string(let s) = node.value, !s.isEmpty else {
      throw ConfigError("expected a non-empty text", at: node.location, path: "label")
    }
    return s
  }

  /// `variables:`: each name's list of values, names checked and not repeating a row key.
  static func readVariables(_ node: ConfigNode, rowNames: [String], directory: String) throws
    -> [ValueList]
  {
    guard let entries = node.entries else {
      throw ConfigError(
        "expected a mapping of variable names to lists, got \(node.kindDescription)",
        at: node.location, path: "variables")
    }
    var lists: [ValueList] = []
    for entry in entries {
      try checkName(entry.key, at: entry.keyLocation)
      if rowNames.contains(entry.key) || lists.contains(where: { $0.name == entry.key }) {
        throw ConfigError(
          "the variable '\(entry.key)' is defined twice (in 'rows' and 'variables')",
          at: entry.keyLocation)
      }
      let values = try readList(entry.node, path: "variables.\(entry.key)", directory: directory)
      lists.append((entry.key, values, entry.node.location))
    }
    return lists
  }

  /// `name:`: the output-name template (every variable joined by `-` when absent) and where it
  /// was written.
  static func readNameTemplate(_ node: ConfigNode?, variableNames: [String], root: ConfigNode)
    throws(ConfigError) -> (String, SourceLocation)
  {
    var nameTemplate = variableNames.map { "{{\($0)}}" }.joined(separator: "-")
    var nameLocation = root.location
    if let node {
      guard case .string(let s) = node.value, !s.isEmpty else {
        throw ConfigError("expected a text such as \"{{a}}-of-{{b}}\"", at: node.location)
      }
      nameTemplate = s
      nameLocation = node.location
    }
    if nameTemplate.contains("/") || nameTemplate.hasPrefix(".") {
      throw ConfigError(
        "an output name must not contain '/' or start with '.'", at: nameLocation, path: "name")
    }
    return (nameTemplate, nameLocation)
  }

  /// Every combination in grid order (rows outermost, then the variables in order), named and
  /// seeded; missing row values, bad or colliding names are refused.
  static func combinations(
    rows: [[Variable]], lists: [ValueList], variableNames: [String], nameTemplate: String,
    nameLocation: SourceLocation, baseSeed: UInt64, root: ConfigNode
  ) throws(ConfigError) -> [Item] {
    var items: [Item] = []
    var byName: [String: Int] = [:]
    for row in rows {
      var combination = [row]
      for list in lists {
        combination = combination.flatMap { partial in
          list.values.map { partial + [Variable(name: list.name, value: $0)] }
        }
      }
      for values in combination {
        let lookup = Dictionary(values.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
        for name in variableNames where lookup[name] == nil {
          throw ConfigError(
            "a row has no value for '\(name)' (every row needs the same keys)",
            at: values.first?.value.location ?? root.location, path: "rows")
        }
        let name = try TemplateText.substitute(
          nameTemplate, values: lookup, location: nameLocation, path: "name",
          transform: TemplateText.fileNamePart)
        if name.isEmpty || name.utf8.count > 200 {
          throw ConfigError(
            "the output name of \(describe(values)) is "
              + (name.isEmpty ? "empty" : "longer than 200 bytes")
              + ": choose a 'name' template that gives short, non-empty names", at: nameLocation,
            path: "name")
        }
        if let other = byName[name] {
          throw ConfigError(
            "two combinations get the output name '\(name)' (\(describe(items[other].values)) "
              + "and \(describe(values))): put more variables into 'name'", at: nameLocation,
            path: "name")
        }
        byName[name] = items.count
        items.append(
          Item(
            index: items.count, name: name, values: values,
            seed: itemSeed(base: baseSeed, name: name)))
      }
    }
    if items.isEmpty {
      throw ConfigError("the grid has no combinations (an empty list?)", at: root.location)
    }
    return items
  }

  /// The template with this item's values substituted into its string values.
  public func configuration(for item: Item) throws(ConfigError) -> ConfigNode {
    let lookup = Dictionary(
      item.values.map { ($0.name, $0.value) }, uniquingKeysWith: { a, _ in a })
    return try TemplateText.substitute(in: template, values: lookup, path: "")
  }

  /// The items of shard `shard` (all items without one).
  public func items(in shard: Shard?) -> [Item] {
    guard let shard else { return items }
    return items.filter { shard.contains($0.index) }
  }

  /// The seed of the output `name`: a hash of the name mixed with the base seed, so it does
  /// not depend on the grid's order or on sharding (63 bits, so YAML shows it unsigned).
  public static func itemSeed(base: UInt64, name: String) -> UInt64 {
    var z = base &+ Fingerprint.hash(name) &+ 0x9e37_79b9_7f4a_7c15
    z = (z ^ (z >> 30)) &* 0xbf58_476d_1ce4_e5b9
    z = (z ^ (z >> 27)) &* 0x94d0_49bb_1331_11eb
    return (z ^ (z >> 31)) & 0x7fff_ffff_ffff_ffff
  }

  static func describe(_ values: [Variable]) -> String {
    values.map { "\($0.name)=\(TemplateText.text(of: $0.value.value) ?? "…")" }.joined(
      separator: ", ")
  }

  static func checkName(_ name: String, at location: SourceLocation) throws(ConfigError) {
    guard TemplateText.isIdentifier(Substring(name)) else {
      throw ConfigError(
        "'\(name)' is not a valid variable name (letters, digits and _, not starting with a digit)",
        at: location)
    }
  }

  static func directoryOf(_ path: String) -> String {
    let d = (path as NSString).deletingLastPathComponent
    return d.isEmpty ? "." : d
  }

  static func resolve(_ file: String, in directory: String) -> String {
    file.hasPrefix("/") || directory == "." ? file : directory + "/" + file
  }

  static func stem(_ path: String) -> String {
    ((path as NSString).lastPathComponent as NSString).deletingPathExtension
  }

  /// `rows:` — an inline list of mappings, or `{file: …, key: …}` naming one.
  static func readRows(_ node: ConfigNode, directory: String) throws -> ([[Variable]], [String]) {
    let list = try readList(node, path: "rows", directory: directory, allowSingle: false)
    var rows: [[Variable]] = []
    var names: [String] = []
    for element in list {
      guard let entries = element.entries else {
        throw ConfigError(
          "a row is a mapping of variable names to values, got \(element.kindDescription)",
          at: element.location, path: "rows")
      }
      var row: [Variable] = []
      for entry in entries {
        try checkName(entry.key, at: entry.keyLocation)
        switch entry.node.value {
        case .mapping, .sequence:
          throw ConfigError(
            "a row's values must be single values, got \(entry.node.kindDescription)",
            at: entry.node.location, path: "rows")
        default: break
        }
        if !names.contains(entry.key) { names.append(entry.key) }
        row.append(Variable(name: entry.key, value: entry.node))
      }
      rows.append(row)
    }
    // Every row in the same variable order.
    let ordered = rows.map { row in
      names.compactMap { name in row.first { $0.name == name } }
    }
    return (ordered, names)
  }

  /// A list of values: inline, a single value, or `{file: path, key: dotted.path}` (a JSON or
  /// YAML file, or a `.txt` file with one value per line).
  static func readList(
    _ node: ConfigNode, path: String, directory: String, allowSingle: Bool = true
  ) throws -> [ConfigNode] {
    switch node.value {
    case .sequence(let elements):
      return elements
    case .mapping:
      var r = ParameterReader(node: node, path: path, groups: [])
      let fileNode = try r.section("file", doc: "a JSON, YAML or .txt file")
      let keyNode = try r.section("key", doc: "dotted path of the list inside a JSON or YAML file")
      try r.finish(noun: "file-list key")
      guard let fileNode, case .string(let file) = fileNode.value else {
        throw ConfigError(
          "expected a list, or a mapping with 'file' (and 'key')", at: node.location, path: path)
      }
      let resolved = resolve(file, in: directory)
      if resolved.hasSuffix(".txt") {
        let bytes: [UInt8]
        do {
          bytes = try FileIO.readBytes(path: resolved, maxBytes: 64 << 20)
        } catch {
          throw ConfigError("cannot read \(error)", at: fileNode.location, path: path)
        }
        var values: [ConfigNode] = []
        for (i, line) in String(decoding: bytes, as: UTF8.self).split(
          separator: "\n", omittingEmptySubsequences: false
        ).enumerated() {
          let text = line.trimmingCharacters(in: .whitespacesAndNewlines)
          if !text.isEmpty {
            values.append(
              ConfigNode(.string(text), at: SourceLocation(file: resolved, line: i + 1, column: 1)))
          }
        }
        return values
      }
      var target = try YAML.load(path: resolved)
      var where_ = resolved
      if let keyNode {
        guard case .string(let key) = keyNode.value else {
          throw ConfigError("expected a key such as 'prompts'", at: keyNode.location, path: path)
        }
        for part in key.split(separator: ".") {
          guard let next = target[String(part)] else {
            let available = target.entries?.map(\.key) ?? []
            throw ConfigError(
              "\(where_) has no key '\(part)'"
                + Suggestions.didYouMean(String(part), among: available),
              at: keyNode.location, path: path)
          }
          target = next
          where_ += "." + part
        }
      }
      guard let elements = target.elements else {
        throw ConfigError(
          "\(where_) is \(target.kindDescription), not a list", at: target.location, path: path)
      }
      return elements
    default:
      if allowSingle { return [node] }
      throw ConfigError(
        "expected a list, or a mapping with 'file' (and 'key')", at: node.location, path: path)
    }
  }
}

/// Which slice of a grid one process renders: `--shard I/N` takes every item whose grid
/// index is I−1 modulo N, so N shards are disjoint, together complete, and balanced.
public struct Shard: Sendable, Equatable, CustomStringConvertible {
  /// 1…count.
  public var index: Int
  /// Number of shards.
  public var count: Int

  /// Shard `index` (1-based) of `count`.
  public init(index: Int, count: Int) throws {
    guard count >= 1, (1...count).contains(index) else {
      throw WorkflowError("a shard is I/N with 1 ≤ I ≤ N, got \(index)/\(count)")
    }
    self.index = index
    self.count = count
  }

  /// Parses `I/N`.
  public init(parsing text: String) throws {
    let parts = text.split(separator: "/", omittingEmptySubsequences: false)
    guard parts.count == 2, let i = Int(parts[0]), let n = Int(parts[1]) else {
      throw WorkflowError("--shard expects I/N such as 2/10, got '\(text)'")
    }
    try self.init(index: i, count: n)
  }

  /// Whether the item at grid index `itemIndex` belongs to this shard.
  public func contains(_ itemIndex: Int) -> Bool {
    itemIndex % count == index - 1
  }

  /// `I/N`.
  public var description: String { "\(index)/\(count)" }
}

/// `{{name}}` placeholders in strings: the YAML-safe substitution of `clipig batch`. Values go
/// into parsed string values (never into the YAML text), so a value containing `: `, quotes or
/// `#` cannot change the structure of the configuration.
public enum TemplateText {
  /// The tree with placeholders in every string value replaced. A string that is exactly one
  /// placeholder takes the value with its type (`epochs: "{{epochs}}"` with 20 gives an
  /// integer); inside longer text the value's text is inserted. Keys are left alone.
  public static func substitute(
    in node: ConfigNode, values: [String: ConfigNode], path: String
  ) throws(ConfigError) -> ConfigNode {
    switch node.value {
    case .string(let s):
      guard s.contains("{{") else { return node }
      let trimmed = s.trimmingCharacters(in: .whitespaces)
      if trimmed.hasPrefix("{{"), trimmed.hasSuffix("}}"),
        let name = placeholders(in: trimmed).first,
        name.range == trimmed.startIndex..<trimmed.endIndex
      {
        guard let value = values[name.name] else {
          throw unknown(name.name, values: values, location: node.location, path: path)
        }
        return value
      }
      return ConfigNode(
        .string(
          try substitute(s, values: values, location: node.location, path: path, transform: { $0 })),
        at: node.location)
    case .sequence(let elements):
      var out: [ConfigNode] = []
      for (i, element) in elements.enumerated() {
        out.append(try substitute(in: element, values: values, path: path + "[\(i)]"))
      }
      return ConfigNode(.sequence(out), at: node.location)
    case .mapping(let entries):
      var out = entries
      for i in out.indices {
        let p = path.isEmpty ? out[i].key : path + "." + out[i].key
        out[i].node = try substitute(in: out[i].node, values: values, path: p)
      }
      return ConfigNode(.mapping(out), at: node.location)
    default:
      return node
    }
  }

  /// `text` with every `{{name}}` replaced by `transform(value text)`.
  public static func substitute(
    _ text: String, values: [String: ConfigNode], location: SourceLocation, path: String,
    transform: (String) -> String
  ) throws(ConfigError) -> String {
    var out = ""
    var rest = text[...]
    for p in placeholders(in: text) {
      out += text[rest.startIndex..<p.range.lowerBound]
      guard let value = values[p.name] else {
        throw unknown(p.name, values: values, location: location, path: path)
      }
      guard let inserted = self.text(of: value.value) else {
        throw ConfigError(
          "the variable '\(p.name)' is \(value.kindDescription); a list or mapping can only be "
            + "the whole value (\"{{\(p.name)}}\")", at: location, path: path)
      }
      out += transform(inserted)
      rest = text[p.range.upperBound...]
    }
    return out + rest
  }

  /// The text of a scalar value (nil for lists and mappings).
  public static func text(of value: ConfigValue) -> String? {
    switch value {
    case .null: ""
    case .bool(let b): b ? "true" : "false"
    case .int(let i): String(i)
    case .float(let d): d.description
    case .string(let s): s
    case .sequence, .mapping: nil
    }
  }

  /// A value as part of a file name (CLIPig's animal-transfer scripts's keys): every character other than an ASCII
  /// letter or digit becomes `-` ("coral reef" → `coral-reef`, "rubik’s cube" →
  /// `rubik-s-cube`).
  public static func fileNamePart(_ value: String) -> String {
    String(
      value.unicodeScalars.map { s -> Character in
        s.isASCII && (s.properties.isAlphabetic || ("0"..."9").contains(s)) ? Character(s) : "-"
      })
  }

  /// `{{ name }}` occurrences (spaces inside the braces allowed); other `{{…}}` text, such as
  /// a Python dict in an expression, is not a placeholder.
  static func placeholders(in text: String) -> [(name: String, range: Range<String.Index>)] {
    var found: [(String, Range<String.Index>)] = []
    var i = text.startIndex
    while let open = text[i...].range(of: "{{") {
      guard let close = text[open.upperBound...].range(of: "}}") else { break }
      let inner = text[open.upperBound..<close.lowerBound].trimmingCharacters(in: .whitespaces)
      if isIdentifier(Substring(inner)) {
        found.append((inner, open.lowerBound..<close.upperBound))
        i = close.upperBound
      } else {
        i = text.index(after: open.lowerBound)
      }
    }
    return found
  }

  static func isIdentifier(_ s: Substring) -> Bool {
    guard let first = s.unicodeScalars.first,
      first == "_" || (first.isASCII && first.properties.isAlphabetic)
    else { return false }
    return s.unicodeScalars.allSatisfy {
      $0 == "_" || ($0.isASCII && ($0.properties.isAlphabetic || ("0"..."9").contains($0)))
    }
  }

  static func unknown(
    _ name: String, values: [String: ConfigNode], location: SourceLocation, path: String
  ) -> ConfigError {
    ConfigError(
      "unknown grid variable '{{\(name)}}'" + Suggestions.didYouMean(name, among: values.keys)
        + " (the grid defines " + values.keys.sorted().joined(separator: ", ") + ")",
      at: location, path: path)
  }
}
