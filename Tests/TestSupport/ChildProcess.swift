import Foundation
import Testing

/// A program a test starts and drives: the one way the test suites run a subprocess, whether
/// the `clipig` executable (`ClipigExecutable.run`/`start`) or a tool (`mount`, `python3`).
///
/// Standard output and standard error are each read to their end by a thread of their own from
/// the moment the process starts, so nothing the child writes is lost however loaded the machine
/// is and a child filling a pipe never blocks; `wait` returns only once both pipes reached their
/// end and the process was reaped. A deadline (`wait(timeout:)`) guards against hangs: a child
/// still running then is killed (SIGKILL) and the result says so. No timing is asserted.
public final class ChildProcess: @unchecked Sendable {
  /// Where the child's standard input comes from.
  public enum Input: Sendable {
    /// `/dev/null`: the child reads end-of-file at once.
    case none
    /// The file (or device, e.g. `/dev/zero`) at a path.
    case file(String)
    /// These bytes, then end-of-file.
    case text(String)
  }

  /// How a child ended, with everything it wrote.
  public struct Result: Sendable {
    /// The exit status, or the number of the signal that ended it (see `exited`).
    public var status: Int32
    /// True when it exited (`status` is the exit status), false when a signal ended it.
    public var exited: Bool
    /// True when it was still running at the deadline and was killed.
    public var timedOut: Bool
    /// Its standard output (with `mergingErrors`, its standard error too, interleaved).
    public var out: String
    /// Its standard error (empty with `mergingErrors`).
    public var err: String
    /// Standard output followed by standard error.
    public var output: String { out + err }
  }

  /// The running process.
  private let process = Process()
  /// What the reader threads collected, guarded by `condition`.
  private let condition = NSCondition()
  private var collected: [Data] = [Data(), Data()]
  private var open = 0
  private var killedAtDeadline = false

  /// Starts `executable` with `arguments` in `directory` (default: this process's), standard
  /// input from `input`. The environment is this process's changed by `environment` (a nil
  /// value unsets a variable), or only `environment` when `inheritingEnvironment` is false.
  /// With `mergingErrors` standard error goes to the same pipe as standard output.
  public init(
    _ executable: String, _ arguments: [String], environment: [String: String?] = [:],
    inheritingEnvironment: Bool = true, directory: String? = nil, input: Input = .none,
    mergingErrors: Bool = false
  ) throws {
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var variables = inheritingEnvironment ? ProcessInfo.processInfo.environment : [:]
    for (name, value) in environment { variables[name] = value }
    process.environment = variables
    if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
    process.standardInput = try Self.handle(for: input)
    let out = Pipe()
    process.standardOutput = out
    var pipes = [out]
    if mergingErrors {
      process.standardError = out
    } else {
      let err = Pipe()
      process.standardError = err
      pipes.append(err)
    }
    try process.run()
    // `run` closed this process's copies of the write ends: each pipe ends when the child (and
    // anything it started) has closed it.
    open = pipes.count
    for (index, pipe) in pipes.enumerated() {
      let fd = pipe.fileHandleForReading.fileDescriptor
      let thread = Thread { [self] in
        drain(fd, into: index)
        withExtendedLifetime(pipe) {}
      }
      thread.name = "child process output \(index)"
      thread.start()
    }
  }

  /// A descriptor for the child's standard input.
  private static func handle(for input: Input) throws -> FileHandle {
    switch input {
    case .none:
      return FileHandle.nullDevice
    case .file(let path):
      guard let handle = FileHandle(forReadingAtPath: path) else {
        throw CocoaError(.fileReadNoSuchFile, userInfo: [NSFilePathErrorKey: path])
      }
      return handle
    case .text(let text):
      // A file, not a pipe: no writer to feed, and no SIGPIPE when the child stops reading.
      let path = FileManager.default.temporaryDirectory
        .appendingPathComponent("clipig-stdin-\(UUID().uuidString)").path
      try Data(text.utf8).write(to: URL(fileURLWithPath: path))
      defer { unlink(path) }
      guard let handle = FileHandle(forReadingAtPath: path) else {
        throw CocoaError(.fileReadUnknown, userInfo: [NSFilePathErrorKey: path])
      }
      return handle
    }
  }

  /// Reads `fd` until its end (retrying interrupted reads), appending to `collected[index]`.
  private func drain(_ fd: Int32, into index: Int) {
    var buffer = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, $0.count) }
      if n < 0 && errno == EINTR { continue }
      if n <= 0 { break }
      condition.withLock {
        collected[index].append(contentsOf: buffer[0..<n])
        condition.broadcast()
      }
    }
    condition.withLock {
      open -= 1
      condition.broadcast()
    }
  }

  /// The child's process id (for signals).
  public var processIdentifier: Int32 { process.processIdentifier }

  /// Whether the child is still running.
  public var isRunning: Bool { process.isRunning }

  /// Sends `signal` (e.g. SIGINT, SIGTERM) to the child if it still runs.
  public func send(_ signal: Int32) {
    if process.isRunning { kill(process.processIdentifier, signal) }
  }

  /// Standard output so far.
  public var outputSoFar: String {
    condition.withLock { String(decoding: collected[0], as: UTF8.self) }
  }

  /// Waits until `condition` holds for the standard output so far, the output ended, or
  /// `seconds` passed (a guard against hangs, not a measurement); returns the output then.
  public func waitForOutput(timeout seconds: Double = 600, until satisfied: (String) -> Bool)
    -> String
  {
    let deadline = Date().addingTimeInterval(seconds)
    return condition.withLock {
      while true {
        let text = String(decoding: collected[0], as: UTF8.self)
        if satisfied(text) || open == 0 || !condition.wait(until: deadline) { return text }
      }
    }
  }

  /// Waits for both pipes to end and the child to exit, at most `seconds` (a guard against
  /// hangs: a child still running then is killed with SIGKILL, `timedOut` is set and the test
  /// records an issue).
  public func wait(timeout seconds: Double = 600) -> Result {
    let deadline = Date().addingTimeInterval(seconds)
    if !waitForEnd(until: deadline) {
      condition.withLock { killedAtDeadline = true }
      Issue.record(
        "\(process.executableURL?.lastPathComponent ?? "the child") did not end within \(seconds) s: killed"
      )
      if process.isRunning { kill(process.processIdentifier, SIGKILL) }
      // The pipes end once the child is gone, unless something it started holds them open:
      // then what arrived so far is the result.
      _ = waitForEnd(until: Date().addingTimeInterval(30))
    }
    process.waitUntilExit()
    return condition.withLock {
      Result(
        status: process.terminationStatus, exited: process.terminationReason == .exit,
        timedOut: killedAtDeadline, out: String(decoding: collected[0], as: UTF8.self),
        err: String(decoding: collected[1], as: UTF8.self))
    }
  }

  /// Waits until both pipes ended or `deadline` passed; true when they ended.
  private func waitForEnd(until deadline: Date) -> Bool {
    condition.withLock {
      while open > 0 { if !condition.wait(until: deadline) { break } }
      return open == 0
    }
  }

  /// Runs `executable` to its end (see `init` and `wait`).
  public static func run(
    _ executable: String, _ arguments: [String], environment: [String: String?] = [:],
    inheritingEnvironment: Bool = true, directory: String? = nil, input: Input = .none,
    mergingErrors: Bool = false, timeout: Double = 600
  ) throws -> Result {
    try ChildProcess(
      executable, arguments, environment: environment,
      inheritingEnvironment: inheritingEnvironment, directory: directory, input: input,
      mergingErrors: mergingErrors
    ).wait(timeout: timeout)
  }

  /// An executable found on PATH or at one of `also` (full paths of the executable, or folders).
  public static func find(_ name: String, also: [String] = []) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":").map(String.init) + also {
      let candidate = dir.hasSuffix("/" + name) ? dir : dir + "/" + name
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }
}
