/// A problem with a user's configuration: what, where (file:line:column) and at which key.
///
/// Printed as `file:line:column: error: 'path': message`, the form editors and terminals link.
public struct ConfigError: Error, Sendable, Equatable, CustomStringConvertible {
  /// Where the offending value (or key) was written.
  public var location: SourceLocation
  /// The parameter path, e.g. `targets[0].transforms[1].pad.size`; empty for file-level errors.
  public var path: String
  /// One sentence saying what is wrong and, where possible, what would be right.
  public var message: String

  /// An error at `location` about `path`.
  public init(_ message: String, at location: SourceLocation, path: String = "") {
    self.message = message
    self.location = location
    self.path = path
  }

  /// `file:line:column: error: 'path': message`.
  public var description: String {
    "\(location): error: " + (path.isEmpty ? "" : "'\(path)': ") + message
  }
}
