import Foundation
import Synchronization
import TestSupport
import Testing

/// Paths and helpers of the studio tests.
enum Fixture {
  /// This test directory.
  static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

  /// The repository root.
  static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

  /// A fresh empty directory.
  static func temporaryDirectory() throws -> String { try TestFiles.temporaryDirectory("studio") }

  /// A long experiment for the tiny CLIP: 16-pixel images, many epochs.
  static func experiment(epochs: Int = 100_000, learnrate: String = "2") -> String {
    """
    epochs: \(epochs)
    resolution: 16
    learnrate: \(learnrate)
    init: {mean: 0.5, std: 0.2}
    targets:
      - name: cat
        batch_size: 2
        features:
          - text: a cat
        transforms:
          - noise: 0.1*(1-t)
    """
  }

  /// Whether tests must not skip for a missing tool (CI).
  static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

  /// Polls `condition` every 20 ms for up to `seconds`, without blocking a thread.
  static func waitFor(_ seconds: Double = 60, _ condition: () throws -> Bool) async rethrows
    -> Bool
  {
    let deadline = Date().addingTimeInterval(seconds)
    while Date() < deadline {
      if try condition() { return true }
      try? await Task.sleep(for: .milliseconds(20))
    }
    return try condition()
  }

  /// The built `clipig` executable of this test run, if there is one.
  static let clipigBinary = ClipigExecutable.path
}

/// The studio suites run one after another: each starts a server that trains on the CPU.
@Suite("clipig studio", .serialized)
struct StudioSuite {}

/// `clipig studio` started by the test, as a user starts it: the release binary on an
/// ephemeral loopback port with the tiny CLIP; the URL and token are read from its output.
final class RunningStudio: Sendable {
  let process: ChildProcess
  let port: Int
  let token: String
  let output: String

  struct Unavailable: Error, CustomStringConvertible { var description: String }

  /// Starts the studio; with `softFileLimit` under that soft limit on open files (as a shell's
  /// `ulimit -Sn` sets it).
  init(
    files: [String] = [], output: String? = nil, host: String = "127.0.0.1",
    softFileLimit: Int? = nil
  ) throws {
    guard let binary = Fixture.clipigBinary else {
      throw Unavailable(description: "the clipig executable is not built")
    }
    self.output = try output ?? Fixture.temporaryDirectory()
    let arguments =
      ["studio"] + files + [
        "--port", "0", "--host", host, "--model", TestFiles.tinyModel, "-o", self.output + "/",
      ]
    let process =
      try softFileLimit.map {
        try ChildProcess(
          "/bin/sh", ["-c", "ulimit -Sn \($0) && exec \"$0\" \"$@\"", binary] + arguments)
      } ?? ClipigExecutable.start(arguments)
    self.process = process
    // The first line names the URL with the token.
    let text = process.waitForOutput { $0.contains("\n") }
    guard let match = text.firstMatch(of: /http:\/\/[^\/]+:(\d+)\/\?token=([0-9a-f]{64})/),
      let port = Int(match.1)
    else {
      process.send(SIGKILL)
      throw Unavailable(description: "no URL printed: \(text) \(process.wait().err)")
    }
    self.port = port
    token = String(match.2)
  }

  var authority: String { "127.0.0.1:\(port)" }

  /// SIGTERM (the running experiment is saved); returns the exit status.
  @discardableResult
  func stop() -> Int32 {
    process.send(SIGTERM)
    return process.wait().status
  }

  /// A request with the right token, Host and Origin.
  func call(_ action: String, _ body: [String: Any]) throws -> HTTPReply {
    try RawHTTP.request(
      port: port, method: "POST", path: "/api/\(action)?token=\(token)",
      headers: ["Host": authority, "Origin": "http://\(authority)"],
      body: try JSONSerialization.data(withJSONObject: body))
  }

  /// The JSON state of every tab.
  func tabs() throws -> [[String: Any]] {
    let r = try RawHTTP.request(
      port: port, method: "GET", path: "/api/state?token=\(token)", headers: ["Host": authority])
    let json = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
    return json?["tabs"] as? [[String: Any]] ?? []
  }

  /// One tab's status.
  func status(_ tab: Int) throws -> String? {
    try tabs().first { $0["id"] as? Int == tab }?["status"] as? String
  }
}

/// A status and body.
struct HTTPReply {
  var status: Int
  var head: String
  var body: Data
  var text: String { String(decoding: body, as: UTF8.self) }
  var json: [String: Any] {
    (try? JSONSerialization.jsonObject(with: body)) as? [String: Any] ?? [:]
  }
}

/// HTTP/1.1 over a plain socket, so a test can send any Host and Origin it likes.
enum RawHTTP {
  struct Failure: Error, CustomStringConvertible { var description: String }

  static func request(
    address: String = "127.0.0.1", port: Int, method: String, path: String,
    headers: [String: String], body: Data = Data()
  ) throws -> HTTPReply {
    let fd = try connect(address: address, port: port)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var head = "\(method) \(path) HTTP/1.1\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    if !body.isEmpty { head += "Content-Type: application/json\r\n" }
    head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    try send(fd, Array(head.utf8) + Array(body))
    var reply = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { break }
      reply += buffer[0..<n]
    }
    guard let split = findHeaderEnd(reply) else {
      throw Failure(description: "no HTTP reply: \(String(decoding: reply, as: UTF8.self))")
    }
    let headText = String(decoding: reply[0..<split], as: UTF8.self)
    let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
    var payload = Array(reply[(split + 4)...])
    if headText.lowercased().contains("transfer-encoding: chunked") { payload = dechunk(payload) }
    return HTTPReply(status: status, head: headText, body: Data(payload))
  }

  /// Sends `bytes` as they are (any request line, any headers) and returns the reply, nil
  /// when the server closed the connection without one.
  static func exchange(port: Int, _ bytes: [UInt8]) throws -> HTTPReply? {
    let fd = try connect(port: port)
    defer { close(fd) }
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    // The server may answer and close before all is sent (a refused head).
    sendQuietly(fd, bytes)
    var reply = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = recv(fd, &buffer, buffer.count, 0)
      if n <= 0 { break }
      reply += buffer[0..<n]
    }
    guard let split = findHeaderEnd(reply) else { return nil }
    let headText = String(decoding: reply[0..<split], as: UTF8.self)
    let status = Int(headText.split(separator: " ").dropFirst().first ?? "") ?? 0
    return HTTPReply(status: status, head: headText, body: Data(reply[(split + 4)...]))
  }

  /// Sends what the peer takes of `bytes`; a closed connection ends it without SIGPIPE.
  @discardableResult
  static func sendQuietly(_ fd: Int32, _ bytes: [UInt8]) -> Bool {
    var sent = 0
    while sent < bytes.count {
      let n = bytes[sent...].withUnsafeBytes {
        Glibc.send(fd, $0.baseAddress, $0.count, Int32(MSG_NOSIGNAL))
      }
      guard n > 0 else { return false }
      sent += n
    }
    return true
  }

  /// A connected TCP socket to `address` (IPv4):`port`.
  static func connect(address ip: String = "127.0.0.1", port: Int) throws -> Int32 {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Failure(description: "socket failed") }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr(ip)
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        Glibc.connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else {
      close(fd)
      throw Failure(description: "connect failed")
    }
    return fd
  }

  /// Sends all of `bytes`.
  static func send(_ fd: Int32, _ bytes: [UInt8]) throws {
    var sent = 0
    while sent < bytes.count {
      let n = bytes[sent...].withUnsafeBytes { Glibc.send(fd, $0.baseAddress, $0.count, 0) }
      guard n > 0 else { throw Failure(description: "send failed") }
      sent += n
    }
  }

  static func findHeaderEnd(_ b: [UInt8]) -> Int? {
    guard b.count >= 4 else { return nil }
    for i in 0...(b.count - 4)
    where b[i] == 13 && b[i + 1] == 10 && b[i + 2] == 13 && b[i + 3] == 10 {
      return i
    }
    return nil
  }

  static func dechunk(_ b: [UInt8]) -> [UInt8] {
    var out = [UInt8]()
    var i = 0
    while i < b.count {
      var j = i
      while j + 1 < b.count && !(b[j] == 13 && b[j + 1] == 10) { j += 1 }
      let size =
        Int(String(decoding: b[i..<j], as: UTF8.self).split(separator: ";")[0], radix: 16) ?? 0
      if size == 0 { break }
      let start = j + 2
      out += b[start..<min(start + size, b.count)]
      i = start + size + 2
    }
    return out
  }
}

/// Messages pushed to one WebSocket client, collected by a blocking socket on a thread of its
/// own: the parallel test suite keeps Swift's cooperative pool (two threads here) busy with
/// blocking work, and a recorder waiting for a turn there would miss pushes the server sent.
final class PushRecorder: Sendable {
  private let box = RecorderBox()

  /// Connects to `url` (`ws://127.0.0.1:PORT/PATH?QUERY`) with extra handshake `headers`.
  init(url: String, headers: [String: String] = [:]) {
    let box = self.box
    let thread = Thread {
      do {
        try WebSocketReader.run(url: url, headers: headers, box: box)
      } catch {
        box.fail("\(error)")
      }
      box.closed.store(true, ordering: .relaxed)
    }
    thread.name = "studio test websocket"
    thread.start()
  }

  /// Everything received so far.
  var received: [[String: Any]] { box.all }
  /// The connection error, if any.
  var error: String? { box.error }
  /// Whether the connection ended.
  var isClosed: Bool { box.closed.load(ordering: .relaxed) }

  /// Received messages of `type` for `tab`.
  func of(_ type: String, tab: Int? = nil) -> [[String: Any]] {
    received.filter { $0["type"] as? String == type && (tab == nil || $0["tab"] as? Int == tab) }
  }

  /// Drops the connection (as a closed browser tab does): the socket is shut down, the server
  /// sees the connection end.
  func drop() { box.drop() }
}

/// The recorder's shared state.
final class RecorderBox: @unchecked Sendable {
  private let lock = NSLock()
  private var messages: [[String: Any]] = []
  private var failure: String?
  private var socket: Int32 = -1
  private var dropped = false
  let closed = Atomic<Bool>(false)

  func append(_ m: [String: Any]) { lock.withLock { if !dropped { messages.append(m) } } }
  func fail(_ text: String) { lock.withLock { if !dropped { failure = text } } }
  var all: [[String: Any]] { lock.withLock { messages } }
  var error: String? { lock.withLock { failure } }

  /// Records the open socket; false when the recorder was dropped already.
  func attach(_ fd: Int32) -> Bool {
    lock.withLock {
      socket = fd
      return !dropped
    }
  }

  func drop() {
    lock.withLock {
      dropped = true
      if socket >= 0 { shutdown(socket, Int32(SHUT_RDWR)) }
    }
  }
}

/// A minimal RFC 6455 client over a blocking socket: the opening handshake, then server frames
/// (text messages are recorded; pings answered; a close frame ends it).
enum WebSocketReader {
  struct Failure: Error, CustomStringConvertible { var description: String }

  static func run(url: String, headers: [String: String], box: RecorderBox) throws {
    guard let parts = URLComponents(string: url), parts.scheme == "ws", let port = parts.port
    else { throw Failure(description: "not a ws://host:port URL: \(url)") }
    let fd = try RawHTTP.connect(port: port)
    defer { close(fd) }
    guard box.attach(fd) else { return }
    let key = Data((0..<16).map { _ in UInt8.random(in: 0...255) }).base64EncodedString()
    var head = "GET \(parts.percentEncodedPath)"
    if let query = parts.percentEncodedQuery { head += "?" + query }
    head += " HTTP/1.1\r\nHost: \(parts.host ?? "127.0.0.1"):\(port)\r\n"
    head += "Upgrade: websocket\r\nConnection: Upgrade\r\nSec-WebSocket-Version: 13\r\n"
    head += "Sec-WebSocket-Key: \(key)\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    try RawHTTP.send(fd, Array((head + "\r\n").utf8))

    var input = SocketInput(fd: fd)
    var reply = [UInt8]()
    while !reply.suffix(4).elementsEqual([13, 10, 13, 10]) {
      guard let byte = input.read(1), reply.count < 1 << 16 else {
        throw Failure(description: "no handshake reply")
      }
      reply += byte
    }
    let status = String(decoding: reply, as: UTF8.self).split(separator: " ").dropFirst().first
    guard status == "101" else {
      throw Failure(description: "handshake refused: HTTP \(status ?? "?")")
    }
    var message = [UInt8]()
    while let header = input.read(2) {
      let opcode = header[0] & 0x0F
      var length = Int(header[1] & 0x7F)
      if length == 126 {
        guard let b = input.read(2) else { break }
        length = Int(b[0]) << 8 | Int(b[1])
      } else if length == 127 {
        guard let b = input.read(8) else { break }
        length = b.reduce(0) { $0 << 8 | Int($1) }
      }
      guard length <= 1 << 26 else { throw Failure(description: "frame of \(length) bytes") }
      var mask: [UInt8]?
      if header[1] & 0x80 != 0 {
        guard let m = input.read(4) else { break }
        mask = m
      }
      guard var payload = input.read(length) else { break }
      if let mask { for i in payload.indices { payload[i] ^= mask[i % 4] } }
      switch opcode {
      case 0, 1, 2:
        message += payload
        guard header[0] & 0x80 != 0 else { continue }
        if let json = try? JSONSerialization.jsonObject(with: Data(message)) as? [String: Any] {
          box.append(json)
        }
        message = []
      case 8:
        try? RawHTTP.send(fd, frame(opcode: 8, payload: Array(payload.prefix(2))))
        return
      case 9:
        try RawHTTP.send(fd, frame(opcode: 10, payload: payload))
      default:
        break
      }
    }
  }

  /// One final client frame, masked as RFC 6455 requires of clients.
  static func frame(opcode: UInt8, payload: [UInt8]) -> [UInt8] {
    precondition(payload.count < 126, "control frames only")
    let mask = (0..<4).map { _ in UInt8.random(in: 0...255) }
    return [0x80 | opcode, 0x80 | UInt8(payload.count)] + mask
      + payload.enumerated().map { $0.element ^ mask[$0.offset % 4] }
  }

  /// Buffered exact reads from a socket.
  struct SocketInput {
    let fd: Int32
    var buffer = [UInt8]()
    var start = 0
    var chunk = [UInt8](repeating: 0, count: 1 << 16)

    /// Exactly `count` bytes, or nil at the end of the stream.
    mutating func read(_ count: Int) -> [UInt8]? {
      while buffer.count - start < count {
        let n = recv(fd, &chunk, chunk.count, 0)
        if n <= 0 { return nil }
        buffer.removeFirst(start)
        start = 0
        buffer += chunk[0..<n]
      }
      defer { start += count }
      return Array(buffer[start..<(start + count)])
    }
  }
}
