import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// `<file>.sha256` next to a cached file: its SHA-256 in `sha256sum` format (so
/// `sha256sum -c` checks it), then `# key value` comment lines, which `sha256sum` skips:
/// the size and modification time the file had when it was verified (a changed file is
/// noticed without hashing it), where the hash came from, and the server's validators
/// (`ETag`, `Last-Modified`) for conditional revalidation.
public struct CacheRecord: Sendable, Equatable {
  /// Where a recorded hash comes from.
  public enum Provenance: String, Sendable {
    /// A hash in clipig's table of known files (published by the file's authors or pinned).
    case table
    /// The SHA-256 the server stated for the file (Hugging Face's `X-Linked-Etag`).
    case server
    /// No hash was known: the hash of what arrived (its size matched what was announced).
    case unverified
    /// Neither a hash nor a length was known (a close-delimited answer): the hash of what
    /// arrived, which may be a cut-off transfer; unverified until a known hash matches it.
    case unsized
  }

  /// The SHA-256 of the file (lowercase hex).
  public var sha256: String
  /// The file's size when it was recorded.
  public var size: Int64?
  /// The file's modification time (seconds) when it was recorded.
  public var modified: Int64?
  /// Where `sha256` comes from (nil in records written by older versions).
  public var provenance: Provenance?
  /// The server's `ETag` for the file.
  public var etag: String?
  /// The server's `Last-Modified` for the file.
  public var lastModified: String?

  /// A record of `sha256` with the given details.
  public init(
    sha256: String, size: Int64? = nil, modified: Int64? = nil, provenance: Provenance? = nil,
    etag: String? = nil, lastModified: String? = nil
  ) {
    self.sha256 = sha256
    self.size = size
    self.modified = modified
    self.provenance = provenance
    self.etag = etag
    self.lastModified = lastModified
  }

  /// The path of the record of `path`.
  static func path(for path: String) -> String { path + ".sha256" }

  /// The record next to `path`, if there is a readable one.
  public static func read(for path: String) -> CacheRecord? {
    guard let data = FileManager.default.contents(atPath: Self.path(for: path)),
      data.count <= 64 << 10
    else { return nil }
    let lines = String(decoding: data, as: UTF8.self).split(separator: "\n")
    guard let first = lines.first else { return nil }
    let word = String(first.prefix(64))
    guard ModelCache.isHexDigest(word) else { return nil }
    var record = CacheRecord(sha256: word)
    for line in lines.dropFirst() where line.hasPrefix("# ") {
      let body = line.dropFirst(2)
      guard let space = body.firstIndex(of: " ") else { continue }
      let key = body[..<space]
      let value = String(body[body.index(after: space)...])
      switch key {
      case "size": record.size = Int64(value)
      case "modified": record.modified = Int64(value)
      case "provenance": record.provenance = Provenance(rawValue: value)
      case "etag": record.etag = value
      case "last-modified": record.lastModified = value
      default: continue
      }
    }
    return record
  }

  /// Writes this record next to `path` (atomically), stamping the file's current size and time.
  public func write(for path: String) throws(ModelStoreError) {
    var record = self
    if let stamp = FileStamp(path) {
      record.size = stamp.size
      record.modified = stamp.modified
    }
    let name = path.split(separator: "/").last.map(String.init) ?? path
    try render(record, name: name, to: path)
  }

  private func render(_ record: CacheRecord, name: String, to path: String)
    throws(ModelStoreError)
  {
    var text = "\(record.sha256)  \(name)\n"
    if let size = record.size { text += "# size \(size)\n" }
    if let modified = record.modified { text += "# modified \(modified)\n" }
    if let provenance = record.provenance { text += "# provenance \(provenance.rawValue)\n" }
    // Header values cannot hold line breaks; drop any that would break the format.
    if let etag = record.etag, !etag.contains("\n") { text += "# etag \(etag)\n" }
    if let lm = record.lastModified, !lm.contains("\n") { text += "# last-modified \(lm)\n" }
    try ModelCache.writeSmallFile(Array(text.utf8), to: Self.path(for: path))
  }

  /// Writes this record as it is, without stamping the file (tests: a stale record).
  func writeRaw(for path: String) throws(ModelStoreError) {
    try render(self, name: path.split(separator: "/").last.map(String.init) ?? path, to: path)
  }

  /// Whether the file at `path` still has the recorded size and modification time (a record
  /// without them never matches, so the file is hashed again).
  public func stampMatches(_ path: String) -> Bool {
    guard let stamp = FileStamp(path), let size, let modified else { return false }
    return stamp.size == size && stamp.modified == modified
  }
}

/// The size and modification time of a regular file.
struct FileStamp: Equatable {
  var size: Int64
  var modified: Int64

  /// The stamp of the regular file at `path`, nil if there is none.
  init?(_ path: String) {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    size = Int64(info.st_size)
    #if canImport(Darwin)
      modified = Int64(info.st_mtimespec.tv_sec)
    #else
      modified = Int64(info.st_mtim.tv_sec)
    #endif
  }
}
