import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// One `ffmpeg` process decoding a video once, from its first frame, into raw 8-bit RGB frames
/// (`rgb24`, `width × height × 3` bytes each, rows top to bottom) on a pipe that is read a
/// frame at a time, when the caller needs it. While nothing reads, ffmpeg waits on the full
/// pipe (no work, no memory beyond the pipe's). Each frame must arrive within `frameTimeLimit`
/// seconds, else ffmpeg is stopped; its standard error goes to a temporary file whose last line
/// explains a failure. The process ends (terminated if needed) when the stream goes.
final class VideoFrameStream {
  /// Why a frame could not be read.
  enum Failure: Error {
    /// ffmpeg ended before the frame: its exit status and last error line.
    case ended(status: Int32, lastErrorLine: String)
    /// The frame did not arrive in time; ffmpeg was stopped.
    case timedOut(seconds: Double, lastErrorLine: String)
  }

  /// Bytes of one frame.
  let frameBytes: Int
  /// Frames read so far: the next frame's index.
  private(set) var next = 0
  /// Seconds one frame may take to arrive.
  let frameTimeLimit: Double
  private let process: Process
  private let output: FileHandle
  private let errorFile: URL

  /// Starts `ffmpeg` (its path) with `arguments`, which must write raw frames of
  /// `frameBytes` bytes to standard output (`-f rawvideo pipe:1`).
  init(ffmpeg: String, arguments: [String], frameBytes: Int, frameTimeLimit: Double) throws {
    self.frameBytes = frameBytes
    self.frameTimeLimit = frameTimeLimit
    errorFile = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-ffmpeg-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    let errors = try FileHandle(forWritingTo: errorFile)
    defer { try? errors.close() }
    let pipe = Pipe()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: ffmpeg)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = pipe
    process.standardError = errors
    self.process = process
    output = pipe.fileHandleForReading
    do {
      try process.run()
    } catch {
      try? FileManager.default.removeItem(at: errorFile)
      throw error
    }
    try? pipe.fileHandleForWriting.close()
  }

  deinit {
    stop()
    try? output.close()
    try? FileManager.default.removeItem(at: errorFile)
  }

  /// The next frame's bytes.
  func nextFrame() throws -> [UInt8] {
    let fd = output.fileDescriptor
    var buffer = [UInt8](repeating: 0, count: frameBytes)
    var filled = 0
    let deadline = Date().addingTimeInterval(frameTimeLimit)
    while filled < frameBytes {
      let left = deadline.timeIntervalSinceNow
      guard left > 0 else {
        stop()
        throw Failure.timedOut(seconds: frameTimeLimit, lastErrorLine: lastErrorLine())
      }
      var poller = pollfd(fd: fd, events: Int16(POLLIN), revents: 0)
      let ready = poll(&poller, 1, Int32(min(left, 1) * 1000) + 1)
      if ready < 0 && errno == EINTR { continue }
      guard ready > 0 else { continue }
      let n = buffer.withUnsafeMutableBytes { raw in
        read(fd, raw.baseAddress! + filled, frameBytes - filled)
      }
      if n < 0 && errno == EINTR { continue }
      guard n > 0 else {
        process.waitUntilExit()
        throw Failure.ended(status: process.terminationStatus, lastErrorLine: lastErrorLine())
      }
      filled += n
    }
    next += 1
    return buffer
  }

  /// Ends ffmpeg: SIGTERM, then SIGKILL when it has not ended within 5 seconds.
  func stop() {
    guard process.isRunning else { return }
    process.terminate()
    let grace = Date().addingTimeInterval(5)
    while process.isRunning && Date() < grace { Thread.sleep(forTimeInterval: 0.02) }
    if process.isRunning { kill(process.processIdentifier, SIGKILL) }
    process.waitUntilExit()
  }

  /// The last non-empty line ffmpeg wrote to its standard error.
  func lastErrorLine() -> String {
    let text = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    return text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
      .last { !$0.allSatisfy(\.isWhitespace) }.map(String.init) ?? ""
  }
}
