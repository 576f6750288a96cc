import PipelineKit

/// Errors of the model manager: unknown names, missing or damaged files, failed downloads.
///
/// Each `description` is one sentence a user can act on; no error wraps another.
public enum ModelStoreError: Error, Equatable, CustomStringConvertible {
  /// The name is neither a known model nor an existing path.
  case unknownModel(String, known: [String])
  /// The model is known but clipig cannot run it (e.g. ResNet CLIPs).
  case unsupportedModel(String, reason: String)
  /// The model's files are not in the cache and downloading was not allowed.
  case notDownloaded(String)
  /// The server could not be reached (offline, DNS, refused, TLS).
  case unreachable(url: String, reason: String)
  /// The server answered with an HTTP error status.
  case http(url: String, status: Int)
  /// The server sent nothing for `seconds` seconds.
  case timedOut(url: String, seconds: Double)
  /// The connection ended before the whole file arrived (what arrived is kept for resuming).
  case incomplete(url: String, received: Int64, expected: Int64)
  /// A file's SHA-256 differs from the expected one; the file was discarded.
  case checksumMismatch(file: String, expected: String, actual: String)
  /// The disk is full.
  case diskFull(path: String)
  /// A file or directory could not be read, written or created.
  case io(path: String, reason: String)
  /// A checkpoint (zip, pickle, tensor records) is malformed or unsupported.
  case checkpoint(path: String, reason: String)
  /// A download option has a value that cannot be used (`--timeout nan`).
  case invalidOption(name: String, reason: String)
  /// The transfer was too slow: below the minimum speed, or past the overall deadline.
  case tooSlow(url: String, reason: String)
  /// The file is larger than the allowed maximum; nothing was kept.
  case tooLarge(url: String, limit: Int64)
  /// A signal (Ctrl-C, SIGTERM, SIGHUP) or the caller stopped the download.
  case interrupted(url: String)
  /// The server's answer does not make sense (wrong range, more bytes than announced, …).
  case badResponse(url: String, reason: String)
  /// The file's size differs from the announced one; nothing was kept under its name.
  case sizeMismatch(file: String, expected: Int64, actual: Int64)
  /// Every source of a model failed; `failures` says how each one did.
  case allSourcesFailed(model: String, failures: [String])

  /// A one-sentence, user-facing description.
  public var description: String {
    switch self {
    case .unknownModel(let name, let known):
      let guess = Suggestions.closest(to: name, among: known)
      let hint =
        !guess.isEmpty
        ? "did you mean " + guess.map { "'\($0)'" }.joined(separator: " or ") + "? "
        : known.count <= 3 ? known.joined(separator: ", ") + "; " : ""
      return "'\(name)' is neither a known CLIP model (\(hint)see `clipig model list`) "
        + "nor an existing file or directory"
    case .unsupportedModel(let name, let reason):
      return "model '\(name)' is not supported: \(reason)"
    case .notDownloaded(let name):
      return "model '\(name)' is not downloaded yet; run `clipig model download \(name)`"
    case .unreachable(let url, let reason):
      return "cannot reach \(Self.host(url)) to download \(Self.fileName(url)) (\(reason)); "
        + "check the internet connection"
    case .http(let url, let status):
      return "the server answered HTTP \(status) for \(url)"
    case .timedOut(let url, let seconds):
      return "no data from \(Self.host(url)) for \(Self.seconds(seconds)) while downloading "
        + "\(Self.fileName(url)); the part received is kept and the next run resumes it"
    case .incomplete(let url, let received, let expected):
      return "the connection to \(Self.host(url)) ended after \(received) of \(expected) bytes of "
        + "\(Self.fileName(url)); the part received is kept and the next run resumes it"
    case .checksumMismatch(let file, let expected, let actual):
      return "\(file) has SHA-256 \(actual) instead of \(expected); the file was discarded"
    case .diskFull(let path):
      return "the disk is full while writing \(path); free some space and run again"
    case .io(let path, let reason):
      return "\(path): \(reason)"
    case .checkpoint(let path, let reason):
      return "\(path): cannot read this PyTorch checkpoint: \(reason)"
    case .invalidOption(let name, let reason):
      return "\(name) \(reason)"
    case .tooSlow(let url, let reason):
      return "the download of \(Self.fileName(url)) from \(Self.host(url)) was abandoned: "
        + "\(reason); the part received is kept and the next run resumes it"
    case .tooLarge(let url, let limit):
      return "\(url) is larger than the limit of \(limit) bytes; nothing was kept"
    case .interrupted(let url):
      return "the download of \(Self.fileName(url)) was interrupted; the part received is kept "
        + "and the next run resumes it"
    case .badResponse(let url, let reason):
      return "the server's answer for \(url) is not usable: \(reason)"
    case .sizeMismatch(let file, let expected, let actual):
      return "\(file) has \(actual) bytes instead of the \(expected) announced; it was not used"
    case .allSourcesFailed(let model, let failures):
      return "no source of \(model) could be downloaded:\n"
        + failures.map { "  \($0)\n" }.joined()
        + "Without internet: give a local copy where the model name goes (a model folder, or a "
        + ".safetensors or .pt file), set HF_ENDPOINT to a reachable mirror, or put the files "
        + "into the cache folders `clipig model list` shows."
    }
  }

  /// One short line for a source that failed (what `allSourcesFailed` lists): the description
  /// without advice that the list's closing sentence gives once.
  public var brief: String {
    switch self {
    case .unreachable(let url, let reason): return "cannot reach \(Self.host(url)) (\(reason))"
    default: return description
    }
  }

  /// The host part of a URL, for messages.
  static func host(_ url: String) -> String {
    var rest = Substring(url)
    if let scheme = rest.range(of: "://") { rest = rest[scheme.upperBound...] }
    return String(rest.prefix { $0 != "/" && $0 != "?" })
  }

  /// The last path component of a URL, for messages.
  static func fileName(_ url: String) -> String {
    let path = url.split(separator: "?", maxSplits: 1).first.map(String.init) ?? url
    return path.split(separator: "/").last.map(String.init) ?? url
  }

  private static func seconds(_ s: Double) -> String {
    s == s.rounded() ? "\(Int(s)) s" : "\(s) s"
  }
}
