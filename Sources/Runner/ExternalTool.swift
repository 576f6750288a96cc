import Foundation

/// A program clipig runs for a job it does not do itself (`ffmpeg` encoding a video): found on
/// PATH, run with a time limit (then terminated, and killed if it does not end), its standard
/// output discarded and its standard error kept in a temporary file, so that a failure reports
/// its last line and a chatty program never blocks on a full pipe.
public struct ExternalTool: Sendable {
  /// The program's name (`ffmpeg`).
  public var name: String
  /// Its path.
  public var path: String

  /// How a run ended.
  public struct Outcome: Sendable {
    /// The exit status (or the signal's number when a signal ended it).
    public var status: Int32
    /// Whether the time limit ended it.
    public var timedOut: Bool
    /// The last non-empty line of its standard error.
    public var lastErrorLine: String
  }

  /// The program `name` on PATH (of `environment`), nil when there is none.
  public static func find(
    _ name: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> ExternalTool? {
    let path = environment["PATH"] ?? "/usr/bin:/bin"
    for directory in path.split(separator: ":") where !directory.isEmpty {
      let candidate = directory + "/" + name
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory),
        !isDirectory.boolValue, FileManager.default.isExecutableFile(atPath: candidate)
      {
        return ExternalTool(name: name, path: candidate)
      }
    }
    return nil
  }

  /// Runs the program with `arguments` for at most `seconds`.
  public func run(_ arguments: [String], timeLimit seconds: Double) throws -> Outcome {
    let errorFile = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-\(name)-\(UUID().uuidString).log")
    _ = FileManager.default.createFile(atPath: errorFile.path, contents: nil)
    defer { try? FileManager.default.removeItem(at: errorFile) }
    let errors = try FileHandle(forWritingTo: errorFile)
    defer { try? errors.close() }
    let process = Process()
    process.executableURL = URL(fileURLWithPath: path)
    process.arguments = arguments
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = FileHandle.nullDevice
    process.standardError = errors
    try process.run()
    let deadline = Date().addingTimeInterval(seconds)
    var timedOut = false
    while process.isRunning {
      if Date() >= deadline {
        timedOut = true
        process.terminate()
        let grace = Date().addingTimeInterval(5)
        while process.isRunning && Date() < grace { Thread.sleep(forTimeInterval: 0.05) }
        if process.isRunning { kill(process.processIdentifier, SIGKILL) }
        break
      }
      Thread.sleep(forTimeInterval: 0.02)
    }
    process.waitUntilExit()
    let text = (try? String(contentsOf: errorFile, encoding: .utf8)) ?? ""
    let last =
      text.split(whereSeparator: { $0 == "\n" || $0 == "\r" })
      .last { !$0.allSatisfy(\.isWhitespace) }.map(String.init) ?? ""
    return Outcome(status: process.terminationStatus, timedOut: timedOut, lastErrorLine: last)
  }
}
