/// Comma-separated values as RFC 4180 writes them.
public enum CSV {
  /// One field: quoted when it holds a comma, quote or line break.
  public static func field(_ s: String) -> String {
    guard s.contains(where: { $0 == "," || $0 == "\"" || $0 == "\n" || $0 == "\r" }) else {
      return s
    }
    var quoted = "\""
    for c in s { quoted += c == "\"" ? "\"\"" : String(c) }
    return quoted + "\""
  }

  /// One line with a trailing newline.
  public static func line(_ fields: [String]) -> String {
    fields.map(field).joined(separator: ",") + "\n"
  }
}
