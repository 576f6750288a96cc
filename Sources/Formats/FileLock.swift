import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An exclusive advisory lock on a file (`flock`), released by `unlock`, when the lock is
/// dropped, or when the process ends (also when it is killed), so a crashed worker never leaves
/// a stale lock behind.
public final class FileLock {
  private var fd: Int32
  /// The lock file's path.
  public let path: String

  private init(fd: Int32, path: String) {
    self.fd = fd
    self.path = path
  }

  /// Takes the lock on `path` (created, with its parent folders, if missing) if no other
  /// process holds it; nil if one does.
  public static func tryLock(path: String) throws(FileIOError) -> FileLock? {
    let fd = try open(path)
    while flock(fd, LOCK_EX | LOCK_NB) != 0 {
      let e = errno
      if e == EINTR { continue }
      close(fd)
      if e == EWOULDBLOCK { return nil }
      throw FileIOError(path: path, message: "cannot lock: \(String(cString: strerror(e)))")
    }
    return FileLock(fd: fd, path: path)
  }

  /// Takes the lock on `path`, waiting while another process holds it: calls `waiting` once,
  /// then polls every `interval` seconds for at most `timeout` seconds.
  public static func lock(
    path: String, timeout: Double, interval: Double = 0.1, waiting: () -> Void = {}
  ) throws(FileIOError) -> FileLock {
    let deadline = Date().addingTimeInterval(timeout)
    var told = false
    while true {
      if let lock = try tryLock(path: path) { return lock }
      if !told {
        waiting()
        told = true
      }
      guard Date() < deadline else {
        throw FileIOError(
          path: path, message: "another clipig process has held this lock for too long")
      }
      usleep(useconds_t(max(0, min(interval, 10)) * 1_000_000))
    }
  }

  private static func open(_ path: String) throws(FileIOError) -> Int32 {
    try FileIO.createParentDirectory(of: path)
    let fd = Glibc.open(path, O_CREAT | O_RDWR | O_CLOEXEC, 0o644)
    if fd < 0 {
      throw FileIOError(
        path: path, message: "cannot open the lock file: \(String(cString: strerror(errno)))")
    }
    return fd
  }

  /// Releases the lock.
  public func unlock() {
    if fd >= 0 {
      flock(fd, LOCK_UN)
      close(fd)
      fd = -1
    }
  }

  /// Removes the lock file, then releases the lock.
  public func releaseAndRemove() {
    unlink(path)
    unlock()
  }

  deinit { unlock() }
}
