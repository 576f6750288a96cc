import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// A tiny HTTP/1.1 server on 127.0.0.1 for the downloader tests: one thread accepting, one per
/// connection, every loop bounded (it stops by itself after `lifetime` seconds at the latest).
final class LoopbackServer: @unchecked Sendable {
  /// What a path answers.
  enum Behavior: Sendable {
    /// The bytes, honouring `Range: bytes=N-`.
    case file([UInt8])
    /// Like `file`, but the first `times` responses stop after `after` bytes and close.
    case cut([UInt8], after: Int, times: Int)
    /// Headers for the whole file, `after` bytes, then silence until the client gives up.
    case stall([UInt8], after: Int)
    /// The whole file with status 200 whatever the request's Range.
    case ignoreRange([UInt8])
    /// The file sent in small pieces with pauses (for overlapping concurrent clients).
    case slow([UInt8], pieces: Int, pause: Double)
    /// 302 to `location` (a path on this server), with optional extra headers.
    case redirect(location: String, headers: [String: String])
    /// An HTTP status with a short body.
    case status(Int)
    /// Headers for the whole file, then one byte every `interval` seconds (a trickle).
    case trickle([UInt8], interval: Double)
    /// Answers any request with 206 for bytes from `start`, whatever was asked.
    case wrongRange([UInt8], start: Int)
    /// The file gzip-compressed (stored blocks), `Content-Encoding: gzip`, ignoring Range.
    case gzip([UInt8])
    /// No Content-Length: the first `sent` bytes, then the connection closes.
    case noLength([UInt8], sent: Int)
    /// The file with `ETag: tag` and `Last-Modified`; 304 when the request's
    /// `If-None-Match` is `tag`.
    case conditional([UInt8], tag: String)
    /// The file with extra response headers (for the hub's `X-Linked-Etag`).
    case withHeaders([UInt8], headers: [String: String])
  }

  /// One request as the server saw it.
  struct Request: Sendable, Equatable {
    var path: String
    var range: String?
    /// Every header, names in lower case.
    var headers: [String: String] = [:]
  }

  let port: UInt16
  private let listener: Int32
  private let lock = NSLock()
  private var routes: [String: Behavior]
  private var served: [String: Int] = [:]
  private var log: [Request] = []
  private var stopped = false
  private let acceptDone = DispatchSemaphore(value: 0)
  private let lifetime: Double

  /// Starts a server with `routes`; stops by itself after `lifetime` seconds.
  init(routes: [String: Behavior], lifetime: Double = 30) throws {
    self.routes = routes
    self.lifetime = lifetime
    #if canImport(Glibc)
      let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    #else
      let fd = socket(AF_INET, SOCK_STREAM, 0)
    #endif
    guard fd >= 0 else { throw POSIXError(.EIO) }
    var yes: Int32 = 1
    setsockopt(fd, SOL_SOCKET, SO_REUSEADDR, &yes, socklen_t(MemoryLayout<Int32>.size))
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = 0
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let bound = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        bind(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard bound == 0, listen(fd, 16) == 0 else {
      close(fd)
      throw POSIXError(.EADDRINUSE)
    }
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    listener = fd
    port = UInt16(bigEndian: address.sin_port)
    let thread = Thread { [self] in acceptLoop() }
    thread.start()
  }

  deinit { stop() }

  /// `http://127.0.0.1:<port><path>`.
  func url(_ path: String) -> String { "http://127.0.0.1:\(port)\(path)" }

  /// The requests received so far.
  var requests: [Request] { lock.withLock { log } }

  /// Replaces what `path` answers.
  func setRoute(_ path: String, _ behavior: Behavior) {
    lock.withLock { routes[path] = behavior }
  }

  /// Stops accepting and ends stalled connections; waits for the accept loop to end.
  func stop() {
    let first: Bool = lock.withLock {
      defer { stopped = true }
      return !stopped
    }
    if first { _ = acceptDone.wait(timeout: .now() + 5) }
  }

  private var isStopped: Bool { lock.withLock { stopped } }

  private func acceptLoop() {
    let deadline = Date().addingTimeInterval(lifetime)
    while !isStopped && Date() < deadline {
      var p = pollfd(fd: listener, events: Int16(POLLIN), revents: 0)
      guard poll(&p, 1, 50) > 0 else { continue }
      let client = accept(listener, nil, nil)
      guard client >= 0 else { continue }
      let thread = Thread { [self] in
        handle(client)
        close(client)
      }
      thread.start()
    }
    lock.withLock { stopped = true }
    close(listener)
    acceptDone.signal()
  }

  // MARK: Connections

  private func handle(_ fd: Int32) {
    guard let (path, headers) = readRequest(fd) else { return }
    let range = headers["range"]
    let (behavior, count): (Behavior?, Int) = lock.withLock {
      log.append(Request(path: path, range: range, headers: headers))
      served[path, default: 0] += 1
      return (routes[path], served[path, default: 1])
    }
    let start = range.flatMap(Self.rangeStart) ?? 0
    switch behavior {
    case .file(let bytes):
      sendFile(fd, bytes, start: start)
    case .cut(let bytes, let after, let times):
      if count <= times {
        let header = responseHead(bytes, start: start)
        transmit(fd, header.head)
        transmit(fd, Array(bytes[min(bytes.count, start)..<min(bytes.count, start + after)]))
      } else {
        sendFile(fd, bytes, start: start)
      }
    case .stall(let bytes, let after):
      transmit(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8))
      transmit(fd, Array(bytes.prefix(after)))
      // Silence until the client closes or the server stops (at most 10 s).
      let until = Date().addingTimeInterval(10)
      while !isStopped && Date() < until {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, 50) > 0 {
          var scratch = [UInt8](repeating: 0, count: 256)
          if scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, 256, 0) }) <= 0 { break }
        }
      }
    case .ignoreRange(let bytes):
      transmit(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8) + bytes)
    case .slow(let bytes, let pieces, let pause):
      let header = responseHead(bytes, start: start)
      transmit(fd, header.head)
      let body = Array(bytes[min(bytes.count, start)...])
      let size = max(1, (body.count + pieces - 1) / pieces)
      var i = 0
      while i < body.count && !isStopped {
        transmit(fd, Array(body[i..<min(body.count, i + size)]))
        i += size
        usleep(useconds_t(pause * 1_000_000))
      }
    case .redirect(let location, let headers):
      var head = "HTTP/1.1 302 Found\r\nLocation: \(url(location))\r\nContent-Length: 0\r\n"
      for (k, v) in headers.sorted(by: { $0.key < $1.key }) { head += "\(k): \(v)\r\n" }
      transmit(fd, Array((head + "\r\n").utf8))
    case .status(let code):
      transmit(fd, Array("HTTP/1.1 \(code) Nope\r\nContent-Length: 4\r\n\r\nnope".utf8))
    case .trickle(let bytes, let interval):
      transmit(fd, Array("HTTP/1.1 200 OK\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8))
      var i = 0
      let until = Date().addingTimeInterval(lifetime)
      while i < bytes.count && !isStopped && Date() < until {
        var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
        if poll(&p, 1, Int32(interval * 1000)) > 0 {
          var scratch = [UInt8](repeating: 0, count: 256)
          if scratch.withUnsafeMutableBytes({ recv(fd, $0.baseAddress, 256, 0) }) <= 0 { break }
        }
        if !transmitChecked(fd, [bytes[i]]) { break }
        i += 1
      }
    case .wrongRange(let bytes, let start):
      let body = Array(bytes[min(bytes.count, start)...])
      transmit(
        fd,
        Array(
          ("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(start)-\(bytes.count - 1)/"
            + "\(bytes.count)\r\nContent-Length: \(body.count)\r\n\r\n").utf8) + body)
    case .gzip(let bytes):
      let body = Self.gzipStored(bytes)
      transmit(
        fd,
        Array(
          ("HTTP/1.1 200 OK\r\nContent-Encoding: gzip\r\nContent-Length: \(body.count)\r\n\r\n")
            .utf8) + body)
    case .noLength(let bytes, let sent):
      transmit(
        fd, Array("HTTP/1.1 200 OK\r\nConnection: close\r\n\r\n".utf8) + bytes.prefix(sent))
    case .conditional(let bytes, let tag):
      let validators = "ETag: \(tag)\r\nLast-Modified: Wed, 21 Oct 2015 07:28:00 GMT\r\n"
      if headers["if-none-match"] == tag {
        transmit(fd, Array("HTTP/1.1 304 Not Modified\r\n\(validators)\r\n".utf8))
      } else {
        transmit(
          fd,
          Array(
            "HTTP/1.1 200 OK\r\n\(validators)Content-Length: \(bytes.count)\r\n\r\n".utf8)
            + bytes)
      }
    case .withHeaders(let bytes, let extra):
      var head = responseHead(bytes, start: start).head
      head.removeLast(2)
      for (k, v) in extra.sorted(by: { $0.key < $1.key }) { head += Array("\(k): \(v)\r\n".utf8) }
      head += Array("\r\n".utf8)
      transmit(fd, head)
      if start < bytes.count { transmit(fd, Array(bytes[start...])) }
    case nil:
      transmit(fd, Array("HTTP/1.1 404 Not Found\r\nContent-Length: 0\r\n\r\n".utf8))
    }
    shutdown(fd, Int32(SHUT_RDWR))
  }

  private func responseHead(_ bytes: [UInt8], start: Int) -> (head: [UInt8], partial: Bool) {
    if start > 0 {
      if start >= bytes.count {
        return (
          Array(
            "HTTP/1.1 416 Range Not Satisfiable\r\nContent-Range: bytes */\(bytes.count)\r\nContent-Length: 0\r\n\r\n"
              .utf8), true
        )
      }
      return (
        Array(
          ("HTTP/1.1 206 Partial Content\r\nContent-Range: bytes \(start)-\(bytes.count - 1)/\(bytes.count)\r\n"
            + "Content-Length: \(bytes.count - start)\r\n\r\n").utf8), true
      )
    }
    return (Array("HTTP/1.1 200 OK\r\nContent-Length: \(bytes.count)\r\n\r\n".utf8), false)
  }

  private func sendFile(_ fd: Int32, _ bytes: [UInt8], start: Int) {
    let head = responseHead(bytes, start: start)
    transmit(fd, head.head)
    if start < bytes.count { transmit(fd, Array(bytes[start...])) }
  }

  /// gzip of `bytes` with stored (uncompressed) deflate blocks, as RFC 1952/1951 define them.
  static func gzipStored(_ bytes: [UInt8]) -> [UInt8] {
    var out: [UInt8] = [0x1F, 0x8B, 8, 0, 0, 0, 0, 0, 0, 255]
    var i = 0
    repeat {
      let n = min(65535, bytes.count - i)
      let final: UInt8 = i + n >= bytes.count ? 1 : 0
      out += [final, UInt8(n & 0xFF), UInt8(n >> 8), UInt8(~n & 0xFF), UInt8((~n >> 8) & 0xFF)]
      out += bytes[i..<(i + n)]
      i += n
    } while i < bytes.count
    var crc: UInt32 = 0xFFFF_FFFF
    for b in bytes {
      crc ^= UInt32(b)
      for _ in 0..<8 { crc = (crc >> 1) ^ (0xEDB8_8320 & (0 &- (crc & 1))) }
    }
    crc ^= 0xFFFF_FFFF
    let size = UInt32(truncatingIfNeeded: bytes.count)
    for v in [crc, size] {
      out += [UInt8(v & 0xFF), UInt8((v >> 8) & 0xFF), UInt8((v >> 16) & 0xFF), UInt8(v >> 24)]
    }
    return out
  }

  /// `transmit`, returning false when the peer is gone.
  private func transmitChecked(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    #if canImport(Glibc)
      let flags = Int32(MSG_NOSIGNAL)
    #else
      let flags: Int32 = 0
    #endif
    let n = bytes.withUnsafeBytes { send(fd, $0.baseAddress, bytes.count, flags) }
    return n == bytes.count
  }

  private func transmit(_ fd: Int32, _ bytes: [UInt8]) {
    var offset = 0
    while offset < bytes.count {
      #if canImport(Glibc)
        let flags = Int32(MSG_NOSIGNAL)
      #else
        let flags: Int32 = 0
      #endif
      let n = bytes.withUnsafeBytes {
        send(fd, $0.baseAddress.unsafelyUnwrapped + offset, bytes.count - offset, flags)
      }
      if n <= 0 { return }
      offset += n
    }
  }

  /// Reads the request head (at most 16 KiB, 5 s); returns the path and the headers (names in
  /// lower case).
  private func readRequest(_ fd: Int32) -> (String, [String: String])? {
    var data = [UInt8]()
    let until = Date().addingTimeInterval(5)
    while data.count < 16384 && Date() < until {
      var p = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      guard poll(&p, 1, 50) > 0 else { continue }
      var chunk = [UInt8](repeating: 0, count: 4096)
      let n = chunk.withUnsafeMutableBytes { recv(fd, $0.baseAddress, 4096, 0) }
      if n <= 0 { return nil }
      data += chunk[0..<n]
      if let text = String(bytes: data, encoding: .utf8), text.contains("\r\n\r\n") {
        let lines = text.components(separatedBy: "\r\n")
        let parts = lines[0].split(separator: " ")
        guard parts.count >= 2 else { return nil }
        var headers = [String: String]()
        for line in lines.dropFirst() {
          guard let colon = line.firstIndex(of: ":") else { continue }
          headers[line[..<colon].lowercased()] = String(line[line.index(after: colon)...])
            .trimmingCharacters(in: .whitespaces)
        }
        return (String(parts[1]), headers)
      }
    }
    return nil
  }

  private static func rangeStart(_ header: String) -> Int? {
    guard header.hasPrefix("bytes="), let dash = header.firstIndex(of: "-") else { return nil }
    return Int(header[header.index(header.startIndex, offsetBy: 6)..<dash])
  }
}
