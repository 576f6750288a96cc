import Foundation
import PipelineKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A file that could not be read or written: which file and what went wrong.
public struct FileIOError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The path as given.
  public var path: String
  /// What went wrong, e.g. "No such file or directory".
  public var message: String

  /// An error about `path`.
  public init(path: String, message: String) {
    self.path = path
    self.message = message
  }

  /// `path: message`.
  public var description: String { "\(path): \(message)" }
}

/// Whole-file reads and atomic whole-file writes.
public enum FileIO {
  /// The bytes of the regular file at `path` (a symbolic link is followed); fails for missing,
  /// unreadable or larger-than-`maxBytes` files, and, before reading anything, for what is not
  /// a regular file: a FIFO would block the read (and the open) until a writer comes, a device
  /// such as `/dev/zero` never ends. The size is checked before the first read.
  public static func readBytes(path: String, maxBytes: Int = 1 << 30) throws(FileIOError) -> [UInt8]
  {
    // O_NONBLOCK: opening a FIFO for reading does not wait for a writer; cleared below.
    let fd = open(path, O_RDONLY | O_CLOEXEC | O_NONBLOCK)
    if fd < 0 { throw FileIOError(path: path, message: lastErrorMessage()) }
    defer { _ = close(fd) }
    var info = stat()
    if fstat(fd, &info) != 0 { throw FileIOError(path: path, message: lastErrorMessage()) }
    if let kind = nonRegularKind(info.st_mode) {
      throw FileIOError(path: path, message: "is \(kind), not a regular file")
    }
    let flags = fcntl(fd, F_GETFL)
    if flags >= 0 { _ = fcntl(fd, F_SETFL, flags & ~O_NONBLOCK) }
    return try readBytes(fileDescriptor: fd, name: path, maxBytes: maxBytes)
  }

  /// The longest file name (one path component) in bytes that common file systems take.
  public static let maxNameBytes = 255

  /// A folder path as printed and joined with names: repeated slashes collapsed and a trailing
  /// one removed (`out//` → `out`, `/` stays), so `folder + "/" + name` has no `//`.
  public static func folder(_ path: String) -> String {
    var out = ""
    for ch in path where !(ch == "/" && out.hasSuffix("/")) { out.append(ch) }
    if out.count > 1 && out.hasSuffix("/") { out.removeLast() }
    return out
  }

  /// `name` inside `folder`, with one slash between (`out/` + `x.png` → `out/x.png`).
  public static func path(_ name: String, in folder: String) -> String {
    let f = Self.folder(folder)
    return (f == "/" ? "" : f) + "/" + name
  }

  /// `path` with its last component shortened to `maxNameBytes` when longer: the start of the
  /// name, `~`, a 16-digit hash of the whole name, and its last extension (at most 32 bytes) —
  /// so a name derived from a legal one (a sidecar, a hidden checkpoint beside the image)
  /// always fits, stays the same for the same name, and differs between different names.
  public static func fittingName(_ path: String) -> String {
    let slash = path.lastIndex(of: "/")
    let name = slash.map { path[path.index(after: $0)...] } ?? path[...]
    guard name.utf8.count > maxNameBytes else { return path }
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325  // FNV-1a, 64 bits
    for byte in name.utf8 {
      hash = (hash ^ UInt64(byte)) &* 0x100_0000_01b3
    }
    let digits = String(hash, radix: 16)
    let tag = "~" + String(repeating: "0", count: 16 - digits.count) + digits
    var suffix = Substring("")
    if let dot = name.lastIndex(of: "."), dot != name.startIndex,
      name[dot...].utf8.count <= 32
    {
      suffix = name[dot...]
    }
    var head = name[..<(suffix.isEmpty ? name.endIndex : suffix.startIndex)]
    while head.utf8.count + tag.utf8.count + suffix.utf8.count > maxNameBytes {
      head = head.dropLast()
    }
    let directory = slash.map { String(path[...$0]) } ?? ""
    return directory + head + tag + suffix
  }

  /// What a file of `mode` is when it is not a regular file ("a FIFO (named pipe)"), else nil.
  public static func nonRegularKind(_ mode: mode_t) -> String? {
    switch mode & S_IFMT {
    case S_IFREG: return nil
    case S_IFDIR: return "a directory"
    case S_IFIFO: return "a FIFO (named pipe)"
    case S_IFCHR, S_IFBLK: return "a device"
    case S_IFSOCK: return "a socket"
    default: return "not a regular file"
    }
  }

  /// The bytes readable from the open descriptor `fd` up to its end (a file, a pipe, a
  /// terminal), failing once more than `maxBytes` arrive; errors name `name`.
  public static func readBytes(fileDescriptor fd: Int32, name path: String, maxBytes: Int)
    throws(FileIOError) -> [UInt8]
  {
    var info = stat()
    if fstat(fd, &info) != 0 { throw FileIOError(path: path, message: lastErrorMessage()) }
    if (info.st_mode & S_IFMT) == S_IFDIR {
      throw FileIOError(path: path, message: "is a directory, not a file")
    }
    if Int(info.st_size) > maxBytes {
      throw FileIOError(
        path: path, message: "file is \(info.st_size) bytes, more than the limit of \(maxBytes)")
    }
    var bytes = [UInt8]()
    bytes.reserveCapacity(max(Int(info.st_size), 0))
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 {
        if errno == EINTR { continue }
        throw FileIOError(path: path, message: lastErrorMessage())
      }
      if n == 0 { break }
      if bytes.count + n > maxBytes {
        throw FileIOError(path: path, message: "file is larger than the limit of \(maxBytes) bytes")
      }
      bytes.append(contentsOf: chunk[0..<n])
    }
    return bytes
  }

  /// Writes `bytes` to `path` atomically: a unique temporary file in the same directory is
  /// written, flushed and renamed over `path`, so readers see the old or the new file, never a
  /// partial one. Missing parent directories are created.
  public static func writeAtomically(_ bytes: [UInt8], to path: String) throws(FileIOError) {
    let same: (FileIOError) -> FileIOError = { $0 }
    try writeAtomically(to: path, failure: same) { fd throws(FileIOError) in
      try writeAll(bytes, to: fd, path: path)
    }
  }

  /// Creates or replaces `path` atomically with what `fill` writes to the descriptor of a new,
  /// unique temporary file in the same directory (`.NAME.PID-RANDOM.tmp`), which is flushed to
  /// disk when `syncing` and then renamed over `path`: readers see the old or the new file, never
  /// a partial one. On any failure the temporary is removed and `path` is left as it was.
  /// Missing parent directories are created, and temporaries of this naming left by writers
  /// that died are removed. Errors of `fill` are rethrown; the file system's are `failure`'s.
  public static func writeAtomically<Failure: Error>(
    to path: String, syncing: Bool = true, failure: (FileIOError) -> Failure,
    _ fill: (Int32) throws(Failure) -> Void
  ) throws(Failure) {
    guard !path.isEmpty, !path.hasSuffix("/") else {
      throw failure(FileIOError(path: path, message: "not a file name"))
    }
    let directory: String
    let base: String
    if let slash = path.lastIndex(of: "/") {
      directory = slash == path.startIndex ? "/" : String(path[..<slash])
      base = String(path[path.index(after: slash)...])
    } else {
      directory = "."
      base = path
    }
    do {
      try createDirectory(directory, for: path)
    } catch {
      throw failure(error)
    }

    let prefix = temporaryPrefix(base)
    let folder = directory == "/" ? "" : directory
    removeStaleTemporaries(prefix: prefix, in: directory)
    var generator = SystemRandomNumberGenerator()
    var temporary = ""
    var fd: Int32 = -1
    for _ in 0..<100 {
      let suffix = "\(getpid())-" + String(generator.next() as UInt64, radix: 36)
      temporary = folder + "/" + prefix + suffix + ".tmp"
      fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if fd >= 0 || errno != EEXIST { break }
    }
    if fd < 0 {
      throw failure(
        FileIOError(path: path, message: "cannot create a temporary file: \(lastErrorMessage())"))
    }
    var filled: Failure?
    do throws(Failure) {
      try fill(fd)
    } catch {
      filled = error
    }
    var message: String?
    if filled == nil, syncing, fsync(fd) != 0 { message = lastErrorMessage() }
    if close(fd) != 0, filled == nil, message == nil { message = lastErrorMessage() }
    if filled == nil, message == nil, rename(temporary, path) != 0 { message = lastErrorMessage() }
    if filled != nil || message != nil { _ = unlink(temporary) }
    if let filled { throw filled }
    if let message { throw failure(FileIOError(path: path, message: "cannot write: \(message)")) }
  }

  /// Writes all of `bytes` to the descriptor `fd` (retrying interrupted and partial writes);
  /// errors name `path`.
  static func writeAll(_ bytes: [UInt8], to fd: Int32, path: String) throws(FileIOError) {
    var failure: String?
    bytes.withUnsafeBytes { buffer in
      var offset = 0
      while offset < buffer.count {
        let n = write(fd, buffer.baseAddress.map { $0 + offset }, buffer.count - offset)
        if n < 0 {
          if errno == EINTR { continue }
          failure = lastErrorMessage()
          return
        }
        offset += n
      }
    }
    if let failure { throw FileIOError(path: path, message: "cannot write: \(failure)") }
  }

  /// The start of the temporary names of `base`: `.` + `base` (cut to at most 200 bytes, so
  /// that the temporary name fits the 255-byte limit of a name even for the longest `base`)
  /// + `.`; the writer's process id, a random part and `.tmp` follow.
  static func temporaryPrefix(_ base: String) -> String {
    var cut = Substring(base)
    while cut.utf8.count > 200 { cut = cut.dropLast() }
    return "." + cut + "."
  }

  /// How old a temporary of our naming must be to be removed although its writer still runs.
  static let staleAge: Double = 3600

  /// Removes temporaries of our naming (`prefix` + `PID-RANDOM.tmp`) left in `directory` by a
  /// writer that was killed mid-write: those whose process is gone, or older than an hour.
  static func removeStaleTemporaries(prefix: String, in directory: String) {
    guard let entries = try? FileManager.default.contentsOfDirectory(atPath: directory) else {
      return
    }
    let now = Date().timeIntervalSince1970
    for entry in entries where entry.hasPrefix(prefix) && entry.hasSuffix(".tmp") {
      let middle = entry.dropFirst(prefix.count).dropLast(4)
      let parts = middle.split(separator: "-")
      guard parts.count == 2, let pid = Int32(parts[0]), pid > 0,
        parts[1].allSatisfy({ $0.isASCII && ($0.isNumber || $0.isLowercase) })
      else { continue }
      let path = (directory == "/" ? "" : directory) + "/" + entry
      var info = stat()
      guard lstat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { continue }
      let gone = kill(pid, 0) != 0 && errno == ESRCH
      let old = now - Double(info.st_mtim.tv_sec) > staleAge
      if gone || old { _ = unlink(path) }
    }
  }

  /// Creates the directory that will hold `path` (and its parents) if missing.
  public static func createParentDirectory(of path: String) throws(FileIOError) {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
    try createDirectory(String(path[..<slash]), for: path)
  }

  /// Creates `directory` (and its parents) if missing; errors name `path` and give the system's
  /// reason (a parent that is a file, a read-only file system, a name too long).
  /// Creates the folder `directory` and its missing parents; an error names the part that is
  /// a file or cannot be made.
  public static func createFolder(_ directory: String) throws(FileIOError) {
    try createDirectory(directory, for: directory)
  }

  static func createDirectory(_ directory: String, for path: String) throws(FileIOError) {
    var info = stat()
    if stat(directory, &info) == 0 {
      guard (info.st_mode & S_IFMT) == S_IFDIR else {
        throw FileIOError(path: path, message: "'\(directory)' exists and is not a folder")
      }
      return
    }
    var prefix = directory.hasPrefix("/") ? "" : "."
    for component in directory.split(separator: "/", omittingEmptySubsequences: true) {
      prefix += "/" + component
      if mkdir(prefix, 0o777) == 0 || errno == EEXIST {
        if stat(prefix, &info) == 0, (info.st_mode & S_IFMT) == S_IFDIR { continue }
        throw FileIOError(path: path, message: "'\(prefix)' exists and is not a folder")
      }
      throw FileIOError(
        path: path, message: "cannot create the folder '\(prefix)': \(lastErrorMessage())")
    }
  }

  /// One short sentence for a Foundation or POSIX error (never a raw error dump).
  public static func reason(_ error: any Error) -> String {
    let ns = error as NSError
    if let posix = ns.userInfo[NSUnderlyingErrorKey] as? NSError, posix.domain == NSPOSIXErrorDomain
    {
      return String(cString: strerror(Int32(posix.code)))
    }
    if ns.domain == NSPOSIXErrorDomain { return String(cString: strerror(Int32(ns.code))) }
    if let e = error as? FileIOError { return e.message }
    switch CocoaError.Code(rawValue: ns.code) {
    case .fileNoSuchFile, .fileReadNoSuchFile: return "no such file or folder"
    case .fileWriteNoPermission, .fileReadNoPermission: return "permission denied"
    case .fileWriteVolumeReadOnly: return "the file system is read-only"
    case .fileWriteOutOfSpace: return "no space left on the device"
    case .fileWriteInvalidFileName, .fileReadInvalidFileName: return "the name is not valid here"
    default: return ns.localizedFailureReason ?? ns.localizedDescription
    }
  }

  /// The text of the current `errno`.
  private static func lastErrorMessage() -> String {
    String(cString: strerror(errno))
  }
}
