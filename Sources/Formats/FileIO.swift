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
  /// The bytes of the file at `path`; fails for missing, unreadable or larger-than-`maxBytes` files.
  public static func readBytes(path: String, maxBytes: Int = 1 << 30) throws(FileIOError) -> [UInt8]
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    if fd < 0 { throw FileIOError(path: path, message: lastErrorMessage()) }
    defer { _ = close(fd) }
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
    guard !path.isEmpty, !path.hasSuffix("/") else {
      throw FileIOError(path: path, message: "not a file name")
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
    try createDirectory(directory, for: path)

    var generator = SystemRandomNumberGenerator()
    var temporary = ""
    var fd: Int32 = -1
    for _ in 0..<100 {
      let suffix = String(generator.next() as UInt64, radix: 36)
      temporary = (directory == "/" ? "" : directory) + "/." + base + "." + suffix + ".tmp"
      fd = open(temporary, O_WRONLY | O_CREAT | O_EXCL | O_CLOEXEC, 0o666)
      if fd >= 0 || errno != EEXIST { break }
    }
    if fd < 0 {
      throw FileIOError(
        path: path, message: "cannot create a temporary file: \(lastErrorMessage())")
    }
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
    if failure == nil, fsync(fd) != 0 { failure = lastErrorMessage() }
    if close(fd) != 0, failure == nil { failure = lastErrorMessage() }
    if failure == nil, rename(temporary, path) != 0 { failure = lastErrorMessage() }
    if let failure {
      _ = unlink(temporary)
      throw FileIOError(path: path, message: "cannot write: \(failure)")
    }
  }

  /// Creates the directory that will hold `path` (and its parents) if missing.
  public static func createParentDirectory(of path: String) throws(FileIOError) {
    guard let slash = path.lastIndex(of: "/"), slash != path.startIndex else { return }
    try createDirectory(String(path[..<slash]), for: path)
  }

  /// Creates `directory` (and its parents) if missing; errors name `path`.
  static func createDirectory(_ directory: String, for path: String) throws(FileIOError) {
    var isDirectory: ObjCBool = false
    if !FileManager.default.fileExists(atPath: directory, isDirectory: &isDirectory) {
      do {
        try FileManager.default.createDirectory(
          atPath: directory, withIntermediateDirectories: true)
      } catch {
        throw FileIOError(
          path: path, message: "cannot create the folder '\(directory)': \(reason(error))")
      }
    } else if !isDirectory.boolValue {
      throw FileIOError(path: path, message: "'\(directory)' exists and is not a folder")
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
