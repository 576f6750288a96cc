/// Where a configuration value was written: file, 1-based line and column.
public struct SourceLocation: Sendable, Hashable, CustomStringConvertible {
  /// The file name as given by the user (`<stdin>` for standard input, `<text>` for strings).
  public var file: String
  /// 1-based line.
  public var line: Int
  /// 1-based column.
  public var column: Int

  /// A location in `file` at `line`:`column`.
  public init(file: String, line: Int, column: Int) {
    self.file = file
    self.line = line
    self.column = column
  }

  /// A location for values that were not read from a file (defaults, command-line overrides).
  public static func synthetic(_ what: String) -> SourceLocation {
    SourceLocation(file: what, line: 0, column: 0)
  }

  /// `file:line:column`.
  public var description: String { line > 0 ? "\(file):\(line):\(column)" : file }
}

/// One node of a configuration tree, typed as a YAML 1.1 (PyYAML) loader types it, with the
/// location it came from. Mappings keep the order of their keys.
public struct ConfigNode: Sendable, Equatable {
  /// The node's value.
  public var value: ConfigValue
  /// Where the value starts.
  public var location: SourceLocation

}

/// The value of a configuration node.
public indirect enum ConfigValue: Sendable, Equatable {
  /// `~`, `null`, or an empty value.
  case null
  /// `true/false/yes/no/on/off` (YAML 1.1).
  case bool(Bool)
  /// Decimal, `0x`, `0o`/`0`-octal and `_`-separated integers.
  case int(Int)
  /// Floats as YAML 1.1 types them (`.5`, `1.0e-3`, `.inf`, `.nan`).
  case float(Double)
  /// Everything else, including `1/2`, `-30 30`, `10%`, `1e-3`.
  case string(String)
  /// A YAML sequence.
  case sequence([ConfigNode])
  /// A YAML mapping in source order.
  case mapping([ConfigNode.Entry])
}

extension ConfigNode {
  /// One key/value pair of a mapping, with the key's own location.
  public struct Entry: Sendable, Equatable {
    /// The key text.
    public var key: String
    /// Where the key was written (what error messages about unknown keys point at).
    public var keyLocation: SourceLocation
    /// The value.
    public var node: ConfigNode

    /// A mapping entry.
    public init(key: String, keyLocation: SourceLocation, node: ConfigNode) {
      self.key = key
      self.keyLocation = keyLocation
      self.node = node
    }
  }

  /// A node with the given value and location.
  public init(_ value: ConfigValue, at location: SourceLocation = .synthetic("<default>")) {
    self.value = value
    self.location = location
  }

  /// The entries of a mapping, or nil.
  public var entries: [Entry]? {
    if case .mapping(let e) = value { return e }
    return nil
  }

  /// The elements of a sequence, or nil.
  public var elements: [ConfigNode]? {
    if case .sequence(let e) = value { return e }
    return nil
  }

  /// The value under `key` of a mapping (the last one if a key repeats), or nil.
  public subscript(key: String) -> ConfigNode? {
    entries?.last(where: { $0.key == key })?.node
  }

  /// True for `.null`.
  public var isNull: Bool { value == .null }

  /// A short name of the value's kind for error messages ("a mapping", "a string" …).
  public var kindDescription: String {
    switch value {
    case .null: "null"
    case .bool: "a boolean"
    case .int: "an integer"
    case .float: "a float"
    case .string: "a string"
    case .sequence: "a list"
    case .mapping: "a mapping"
    }
  }
}

extension ConfigNode: ExpressibleByStringLiteral, ExpressibleByIntegerLiteral,
  ExpressibleByFloatLiteral, ExpressibleByBooleanLiteral, ExpressibleByArrayLiteral,
  ExpressibleByDictionaryLiteral, ExpressibleByNilLiteral
{
  /// Mapping keys are strings.
  public typealias Key = String
  /// Mapping values are nodes.
  public typealias Value = ConfigNode

  /// A string node (typed as a string, whatever it looks like).
  public init(stringLiteral value: String) { self.init(.string(value)) }
  /// An integer node.
  public init(integerLiteral value: Int) { self.init(.int(value)) }
  /// A float node.
  public init(floatLiteral value: Double) { self.init(.float(value)) }
  /// A boolean node.
  public init(booleanLiteral value: Bool) { self.init(.bool(value)) }
  /// A sequence node.
  public init(arrayLiteral elements: ConfigNode...) { self.init(.sequence(elements)) }
  /// A mapping node; keys keep the literal's order.
  public init(dictionaryLiteral elements: (String, ConfigNode)...) {
    self.init(
      .mapping(
        elements.map { Entry(key: $0.0, keyLocation: .synthetic("<default>"), node: $0.1) }))
  }
  /// A null node.
  public init(nilLiteral: ()) { self.init(.null) }
}
