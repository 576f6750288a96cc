import Foundation
import HTTPTypes
import HummingbirdWSClient
import Logging
import Synchronization
import Testing

/// Paths and helpers of the studio tests.
enum Fixture {
  /// This test directory.
  static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

  /// The repository root.
  static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

  /// The tiny random-initialised CLIP (32-pixel images) of the CLIP tests.
  static let tinyModel = repository.appendingPathComponent("Tests/CLIPTests/Fixtures/tiny-hf").path

  /// A fresh empty directory.
  static func temporaryDirectory() throws -> String {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-studio-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

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

  /// An executable found on PATH or at one of `also`.
  static func executable(_ name: String, also: [String] = []) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":").map(String.init) + also {
      let candidate = dir.hasSuffix("/" + name) ? dir : dir + "/" + name
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

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

  /// The built `clipig` executable of this test run (release preferred), if there is one.
  static let clipigBinary: String? = {
    let candidates = ["release", "debug"].map {
      repository.appendingPathComponent(".build/\($0)/clipig").path
    }
    return candidates.first { FileManager.default.isExecutableFile(atPath: $0) }
  }()
}

/// The studio suites run one after another: each starts a server that trains on the CPU.
@Suite("clipig studio", .serialized)
struct StudioSuite {}

/// `clipig studio` started by the test, as a user starts it: the release binary on an
/// ephemeral loopback port with the tiny CLIP; the URL and token are read from its output.
final class RunningStudio: Sendable {
  let process: Process
  let port: Int
  let token: String
  let output: String

  struct Unavailable: Error, CustomStringConvertible { var description: String }

  init(files: [String] = [], output: String? = nil) throws {
    guard let binary = Fixture.clipigBinary else {
      throw Unavailable(description: "the clipig executable is not built")
    }
    self.output = try output ?? Fixture.temporaryDirectory()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: binary)
    process.arguments =
      ["studio"] + files + [
        "--port", "0", "--host", "127.0.0.1", "--model", Fixture.tinyModel, "-o", self.output + "/",
      ]
    let stdout = Pipe()
    process.standardOutput = stdout
    process.standardError = FileHandle.nullDevice
    try process.run()
    self.process = process
    var line = Data()
    while !line.contains(10) {
      let chunk = stdout.fileHandleForReading.availableData
      if chunk.isEmpty { break }
      line += chunk
    }
    let text = String(decoding: line, as: UTF8.self)
    guard let match = text.firstMatch(of: /http:\/\/127\.0\.0\.1:(\d+)\/\?token=([0-9a-f]{64})/),
      let port = Int(match.1)
    else {
      process.terminate()
      throw Unavailable(description: "no URL printed: \(text)")
    }
    self.port = port
    token = String(match.2)
  }

  var authority: String { "127.0.0.1:\(port)" }

  /// SIGTERM (the running experiment is saved); returns the exit status.
  @discardableResult
  func stop() -> Int32 {
    if process.isRunning { kill(process.processIdentifier, SIGTERM) }
    process.waitUntilExit()
    return process.terminationStatus
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
    port: Int, method: String, path: String, headers: [String: String], body: Data = Data()
  ) throws -> HTTPReply {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    guard fd >= 0 else { throw Failure(description: "socket failed") }
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_port = in_port_t(UInt16(port).bigEndian)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    let connected = withUnsafePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) {
        connect(fd, $0, socklen_t(MemoryLayout<sockaddr_in>.size))
      }
    }
    guard connected == 0 else { throw Failure(description: "connect failed") }
    var timeout = timeval(tv_sec: 60, tv_usec: 0)
    setsockopt(fd, SOL_SOCKET, SO_RCVTIMEO, &timeout, socklen_t(MemoryLayout<timeval>.size))
    var head = "\(method) \(path) HTTP/1.1\r\n"
    for (k, v) in headers { head += "\(k): \(v)\r\n" }
    if !body.isEmpty { head += "Content-Type: application/json\r\n" }
    head += "Content-Length: \(body.count)\r\nConnection: close\r\n\r\n"
    let bytes = Array(head.utf8) + Array(body)
    var sent = 0
    while sent < bytes.count {
      let n = bytes[sent...].withUnsafeBytes { send(fd, $0.baseAddress, $0.count, 0) }
      guard n > 0 else { throw Failure(description: "send failed") }
      sent += n
    }
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

/// Messages pushed to one WebSocket client, collected in the background.
final class PushRecorder: Sendable {
  private let box = RecorderBox()
  private let task: Task<Void, Never>

  /// Connects to `url` with `headers`.
  init(url: String, headers: HTTPFields = [:]) {
    let box = self.box
    task = Task {
      var logger = Logger(label: "studio-test")
      logger.logLevel = .critical
      do {
        try await WebSocketClient.connect(
          url: url, configuration: .init(additionalHeaders: headers), logger: logger
        ) { inbound, _, _ in
          for try await message in inbound.messages(maxSize: 1 << 26) {
            if box.stop.load(ordering: .relaxed) { break }
            if case .text(let text) = message,
              let json = try? JSONSerialization.jsonObject(with: Data(text.utf8)) as? [String: Any]
            {
              box.append(json)
            }
          }
        }
      } catch {
        box.fail("\(error)")
      }
      box.closed.store(true, ordering: .relaxed)
    }
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

  /// Drops the connection (as a closed browser tab does).
  func drop() {
    box.stop.store(true, ordering: .relaxed)
    task.cancel()
  }
}

/// The recorder's shared state.
final class RecorderBox: @unchecked Sendable {
  private let lock = NSLock()
  private var messages: [[String: Any]] = []
  private var failure: String?
  let closed = Atomic<Bool>(false)
  let stop = Atomic<Bool>(false)

  func append(_ m: [String: Any]) { lock.withLock { messages.append(m) } }
  func fail(_ text: String) { lock.withLock { failure = text } }
  var all: [[String: Any]] { lock.withLock { messages } }
  var error: String? { lock.withLock { failure } }
}
