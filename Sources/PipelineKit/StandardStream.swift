#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Standard output or standard error, written with `write(2)` so that a closed or broken stream
/// is a result, never a trap: Foundation's `FileHandle.write` ends the process (SIGILL, exit
/// 132) on EPIPE, which `clipig render … 2>&1 | head -1` meets at its second progress line.
///
/// Every message clipig writes to these streams goes through here. A write to a stream that is
/// gone (EPIPE, EBADF, EIO, ENOSPC) drops the text and returns false; the caller decides: a
/// render ends as if by SIGTERM (see `CLIRunner.standardError(stopping:)`), other commands go
/// on silently.
public struct StandardStream: Sendable {
  /// The descriptor written to.
  public let fileDescriptor: Int32

  /// Standard output (descriptor 1).
  public static let output = StandardStream(fileDescriptor: 1)
  /// Standard error (descriptor 2).
  public static let error = StandardStream(fileDescriptor: 2)

  /// A stream writing to `fileDescriptor`.
  public init(fileDescriptor: Int32) { self.fileDescriptor = fileDescriptor }

  /// Writes all of `text`; false (the rest dropped) when the stream is closed or fails.
  @discardableResult
  public func write(_ text: String) -> Bool {
    var text = text
    return text.withUTF8 { write(bytes: UnsafeRawBufferPointer($0)) }
  }

  /// Writes all of `bytes`; false (the rest dropped) when the stream is closed or fails.
  @discardableResult
  public func write(bytes: UnsafeRawBufferPointer) -> Bool {
    guard let base = bytes.baseAddress else { return true }
    var offset = 0
    while offset < bytes.count {
      #if canImport(Darwin)
        let n = Darwin.write(fileDescriptor, base + offset, bytes.count - offset)
      #elseif canImport(Musl)
        let n = Musl.write(fileDescriptor, base + offset, bytes.count - offset)
      #else
        let n = Glibc.write(fileDescriptor, base + offset, bytes.count - offset)
      #endif
      if n > 0 {
        offset += n
      } else if n < 0 && errno == EINTR {
        continue
      } else if n < 0 && (errno == EAGAIN || errno == EWOULDBLOCK) {
        // A non-blocking descriptor (a terminal shared with such a program): wait until it
        // takes more, for at most 10 s, rather than spinning or dropping text.
        var ready = pollfd(fd: fileDescriptor, events: Int16(POLLOUT), revents: 0)
        guard poll(&ready, 1, 10_000) > 0 else { return false }
      } else {
        return false
      }
    }
    return true
  }
}
