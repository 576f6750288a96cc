import Formats
import Foundation
import PipelineKit
import Runner
import Synchronization
import Workflows

/// Paths, files and processes shared by the rank, batch and gallery tests.
enum Workflow {
  /// `clipig batch` options for `grid` into `output` with the tiny CLIP.
  static func batchOptions(grid: String, output: String, verbosity: Int = 1) -> BatchOptions {
    var o = BatchOptions()
    o.gridFile = grid
    o.outputDirectory = output
    o.model = tinyModel
    o.verbosity = verbosity
    return o
  }

  /// This test directory.
  static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

  /// The repository root.
  static let repository = testsDirectory.deletingLastPathComponent().deletingLastPathComponent()

  /// The tiny random-initialised CLIP (32-pixel images) of the CLIP tests.
  static let tinyModel =
    testsDirectory.deletingLastPathComponent()
    .appendingPathComponent("CLIPTests/Fixtures/tiny-hf").path

  /// One pool for all tests: the tiny model is read once.
  static let models = ModelPool()

  /// A fresh empty directory.
  static func temporaryDirectory(_ tag: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-\(tag)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Writes a text file.
  static func write(_ text: String, to path: String) throws {
    try FileIO.writeAtomically(Array(text.utf8), to: path)
  }

  /// Reads a text file.
  static func read(_ path: String) throws -> String {
    String(decoding: try FileIO.readBytes(path: path), as: UTF8.self)
  }

  /// A small, fast experiment template for the tiny CLIP (16-pixel images, 3 epochs).
  static let smallTemplate = """
    epochs: 3
    resolution: 16
    optimizer: adam
    learnrate: 3
    init: {mean: 0.5, std: 0.1}
    targets:
      - batch_size: 2
        features:
          - text: "a {{animal}} made of {{thing}}: the {{thing}}"
        transforms:
          - mul: 0.9
    """

  /// A 2 × 3 grid over `smallTemplate` (written as template.yaml beside it).
  static func smallGrid(in dir: String) throws -> String {
    try write(smallTemplate, to: dir + "/template.yaml")
    let grid = """
      template: template.yaml
      name: "{{animal}}-of-{{thing}}"
      seed: 5
      variables:
        animal: [cat, penguin]
        thing: [piano, coral reef, "rubik’s cube"]
      """
    try write(grid, to: dir + "/grid.yaml")
    return dir + "/grid.yaml"
  }

  /// The names of the 2 × 3 grid, in grid order.
  static let smallGridNames = [
    "cat-of-piano", "cat-of-coral-reef", "cat-of-rubik-s-cube", "penguin-of-piano",
    "penguin-of-coral-reef", "penguin-of-rubik-s-cube",
  ]

  /// An executable found on PATH (or at one of `also`).
  static func executable(_ name: String, also: [String] = []) -> String? {
    let path = ProcessInfo.processInfo.environment["PATH"] ?? "/usr/bin:/bin"
    for dir in path.split(separator: ":").map(String.init) + also {
      let candidate = dir.hasSuffix("/" + name) ? dir : dir + "/" + name
      if FileManager.default.isExecutableFile(atPath: candidate) { return candidate }
    }
    return nil
  }

  /// Output of a process, appended from the pipes' handlers.
  final class OutputSink: Sendable {
    private let data = Mutex<(out: Data, err: Data)>((Data(), Data()))
    func append(out: Data) { data.withLock { $0.out.append(out) } }
    func append(err: Data) { data.withLock { $0.err.append(err) } }
    var contents: (out: Data, err: Data) { data.withLock { $0 } }
  }

  /// A started process with captured output.
  final class Spawned {
    let process: Process
    private let stdout: Pipe
    private let stderr: Pipe
    private let sink = OutputSink()

    init(_ executable: String, _ arguments: [String], in directory: String? = nil) throws {
      process = Process()
      process.executableURL = URL(fileURLWithPath: executable)
      process.arguments = arguments
      if let directory { process.currentDirectoryURL = URL(fileURLWithPath: directory) }
      stdout = Pipe()
      stderr = Pipe()
      process.standardOutput = stdout
      process.standardError = stderr
      process.standardInput = FileHandle.nullDevice
      let sink = self.sink
      stdout.fileHandleForReading.readabilityHandler = { h in sink.append(out: h.availableData) }
      stderr.fileHandleForReading.readabilityHandler = { h in sink.append(err: h.availableData) }
      try process.run()
    }

    /// Waits for the exit; returns (status, stdout, stderr).
    func finish() -> (status: Int32, out: String, err: String) {
      process.waitUntilExit()
      stdout.fileHandleForReading.readabilityHandler = nil
      stderr.fileHandleForReading.readabilityHandler = nil
      let restOut = stdout.fileHandleForReading.readDataToEndOfFile()
      let restErr = stderr.fileHandleForReading.readDataToEndOfFile()
      let c = sink.contents
      return (
        process.terminationStatus, String(decoding: c.out + restOut, as: UTF8.self),
        String(decoding: c.err + restErr, as: UTF8.self)
      )
    }
  }

  /// Runs a process to the end.
  static func run(_ executable: String, _ arguments: [String], in directory: String? = nil) throws
    -> (status: Int32, out: String, err: String)
  {
    try Spawned(executable, arguments, in: directory).finish()
  }
}

/// Collects log text (the `log:` argument of the runners) for inspection.
final class LogRecorder: Sendable {
  private let text = Mutex("")
  /// What was logged.
  var contents: String { text.withLock { $0 } }
  /// The logging closure.
  var log: @Sendable (String) -> Void {
    { [self] s in text.withLock { $0 += s } }
  }
}
