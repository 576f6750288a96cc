/// A parameter whose value is one of a few names — optimizer, select, feature loss, pad mode,
/// interpolation … — read by `ParameterReader.choice`, which refuses other names with the
/// closest valid one.
public protocol ConfigChoice: Sendable {
  /// Every accepted spelling (aliases included) with its value; the order is the one errors
  /// list them in.
  static var names: [(name: String, value: Self)] { get }
  /// Whether names match regardless of case (false unless a choice says so).
  static var ignoresCase: Bool { get }
  /// What the choice is, for errors ("pad mode"); the parameter's key by default.
  static var kind: String? { get }
}

extension ConfigChoice {
  /// Names match exactly by default.
  public static var ignoresCase: Bool { false }
  /// Errors name the parameter's key.
  public static var kind: String? { nil }

  /// The value named `name`, or nil.
  public static func named(_ name: String) -> Self? {
    let key = ignoresCase ? name.lowercased() : name
    return names.first { (ignoresCase ? $0.name.lowercased() : $0.name) == key }?.value
  }
}

extension ParameterReader {
  /// The choice under `key` (a constant string naming one of `T.names`), `default` when absent;
  /// another name fails with file:line:column, the closest valid names and the full list.
  public mutating func choice<T: ConfigChoice>(
    _ key: String, _ type: T.Type = T.self, default defaultName: String, doc: String
  ) throws(ConfigError) -> T {
    let valid = T.names.map(\.name)
    let param = try scalar(
      key, String.self, default: defaultName, doc: doc + " (" + valid.joined(separator: ", ") + ")")
    return try Self.resolve(param, T.self)
  }

  /// The choice a constant string parameter names (used for a stage's direct value too).
  public static func resolve<T: ConfigChoice>(_ param: Param<String>, _ type: T.Type = T.self)
    throws(ConfigError) -> T
  {
    guard let name = param.constantValue else {
      throw ConfigError(
        "\(param.path.split(separator: ".").last.map(String.init) ?? param.path) must be one of "
          + T.names.map(\.name).joined(separator: ", ") + ", not an expression",
        at: param.location, path: param.path)
    }
    if let value = T.named(name) { return value }
    let valid = T.names.map(\.name)
    let key = T.kind ?? param.path.split(separator: ".").last.map(String.init) ?? param.path
    throw ConfigError(
      "unknown \(key) '\(name)'"
        + Suggestions.didYouMean(T.ignoresCase ? name.lowercased() : name, among: valid)
        + "; valid: " + valid.joined(separator: ", "),
      at: param.location, path: param.path)
  }
}
