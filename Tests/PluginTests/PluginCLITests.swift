import Foundation
import TestSupport
import Testing

/// A plugin made by `clipig plugin new`, built once and used by the stock `clipig` in every
/// command that reads experiments (issue 22). The scaffold lives in `.build/plugin-tests/demo`
/// of the repository, so its build (which compiles clipig as a dependency) is reused by later
/// test runs while nothing changed. With CI=true a missing executable fails instead of skipping.
@Suite("Plugins through the clipig binary", .serialized)
struct PluginCLITests {
  /// The scaffold's folder.
  static let scaffold = ClipigExecutable.repository.appendingPathComponent(
    ".build/plugin-tests/demo"
  ).path

  /// The tiny random CLIP of the CLIP tests.
  static let tinyModel = ClipigExecutable.repository.appendingPathComponent(
    "Tests/CLIPTests/Fixtures/tiny-hf"
  ).path

  /// Writes the scaffold anew (keeping its `.build`) and builds its executable through the
  /// stock clipig (`docs --plugin`), once per test process; the docs' output.
  static let prepared: Result<CLI.Output, CLI.Failure> = {
    do {
      let fm = FileManager.default
      if let entries = try? fm.contentsOfDirectory(atPath: scaffold) {
        for entry in entries where entry != ".build" {
          try fm.removeItem(atPath: scaffold + "/" + entry)
        }
      }
      let made = try CLI.clipig(["plugin", "new", "demo", scaffold])
      guard made.status == 0 else { return .failure(CLI.Failure("plugin new: \(made.all)")) }
      let docs = try CLI.clipig(["docs", "--plugin", scaffold])
      guard docs.status == 0 else { return .failure(CLI.Failure("docs --plugin: \(docs.all)")) }
      return .success(docs)
    } catch {
      return .failure(CLI.Failure("\(error)"))
    }
  }()

  /// The docs output once the plugin is built; throws (fails) when it could not be.
  func ready() throws -> CLI.Output {
    _ = try ClipigExecutable.require()
    return try Self.prepared.get()
  }

  /// A fresh temporary folder.
  func temporary(_ tag: String) throws -> String {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-plugin-\(tag)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  /// An experiment for the tiny CLIP using the plugin's transform and constraint.
  static let experiment = """
    epochs: 3
    resolution: 16
    seed: 11
    learnrate: 3
    snapshot_interval: 0
    init: {mean: 0.5, std: 0.1}
    targets:
      - batch_size: 2
        features:
          - text: a red lighthouse
        transforms:
          - vignette: 0.8 * (1 - t)
        constraints:
          - warmth: {target: 0.2, weight: 4}
    """

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func docsListThePluginStages() throws {
    let docs = try ready()
    #expect(docs.out.contains("vignette"))
    #expect(docs.out.contains("Darkens the corners"))
    #expect(docs.out.contains("warmth"))
    #expect(docs.out.contains("Pulls mean red − mean blue towards a target"))
    let stock = try CLI.clipig(["docs"])
    #expect(stock.status == 0)
    #expect(!stock.out.contains("Darkens the corners"))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func renderUsesThePluginAndItsSidecarRendersTheSameImage() throws {
    _ = try ready()
    let dir = try temporary("render")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Self.experiment.write(toFile: dir + "/exp.yaml", atomically: true, encoding: .utf8)
    let first = try CLI.clipig([
      "render", dir + "/exp.yaml", "--plugin", Self.scaffold, "-m", Self.tinyModel, "-o",
      dir + "/a/out.png", "-q",
    ])
    #expect(first.status == 0, "\(first.all)")
    let sidecar = try String(contentsOfFile: dir + "/a/out.yaml", encoding: .utf8)
    #expect(sidecar.contains("plugins:"))
    #expect(sidecar.contains("path: " + Self.scaffold) || sidecar.contains(Self.scaffold))
    #expect(sidecar.contains("sha256: "))
    // The sidecar alone (its plugins: key) loads the plugin again: the same image, byte for byte.
    let again = try CLI.clipig(["render", dir + "/a/out.yaml", "-o", dir + "/b/out.png", "-q"])
    #expect(again.status == 0, "\(again.all)")
    let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a/out.png"))
    let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b/out.png"))
    #expect(!a.isEmpty && a == b)
    // Without the plugin the stock binary does not know the stage.
    let without = try CLI.clipig([
      "render", dir + "/exp.yaml", "-m", Self.tinyModel, "-o", dir + "/c/", "-q",
    ])
    #expect(without.status != 0)
    #expect(without.err.contains("unknown transform 'vignette'"))
    // A sidecar whose plugin changed since: a warning naming it and both hashes.
    let recorded = try #require(
      sidecar.split(separator: "\n").first { $0.contains("sha256:") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces))
    let changed = sidecar.replacingOccurrences(
      of: recorded, with: String(repeating: "ab", count: 32))
    try changed.write(toFile: dir + "/changed.yaml", atomically: true, encoding: .utf8)
    let warned = try CLI.clipig([
      "render", dir + "/changed.yaml", "-o", dir + "/d/out.png", "-e", "1", "-q",
    ])
    #expect(warned.status == 0, "\(warned.all)")
    #expect(warned.err.contains("warning: plugin 'demo'"))
    #expect(warned.err.contains(String(repeating: "ab", count: 32)))
    #expect(warned.err.contains(recorded))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func theExampleYAMLLoadsThePluginByItsRelativePath() throws {
    _ = try ready()
    let dir = try temporary("example")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try CLI.clipig([
      "render", Self.scaffold + "/example.yaml", "-m", Self.tinyModel, "-e", "2", "-r", "16",
      "-o", dir + "/example.png", "-q",
    ])
    #expect(run.status == 0, "\(run.all)")
    #expect(FileManager.default.fileExists(atPath: dir + "/example.png"))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func batchScheduleAndBenchUseThePlugin() throws {
    _ = try ready()
    let dir = try temporary("batch")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Self.experiment.replacingOccurrences(of: "a red lighthouse", with: "\"a {{thing}}\"")
      .write(toFile: dir + "/template.yaml", atomically: true, encoding: .utf8)
    try """
    template: template.yaml
    name: "{{thing}}"
    seed: 5
    variables:
      thing: [cat, boat]
    """.write(toFile: dir + "/grid.yaml", atomically: true, encoding: .utf8)
    let batch = try CLI.clipig([
      "batch", dir + "/grid.yaml", "-o", dir + "/out", "--plugin", Self.scaffold, "-m",
      Self.tinyModel, "-q",
    ])
    #expect(batch.status == 0, "\(batch.all)")
    for name in ["cat", "boat"] {
      #expect(FileManager.default.fileExists(atPath: dir + "/out/\(name).png"), "\(name).png")
    }

    try Self.experiment.write(toFile: dir + "/exp.yaml", atomically: true, encoding: .utf8)
    let schedule = try CLI.clipig([
      "schedule", dir + "/exp.yaml", "--plugin", Self.scaffold, "--epoch", "0", "2",
    ])
    #expect(schedule.status == 0, "\(schedule.all)")
    let lines = schedule.out.split(separator: "\n").map {
      $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
    // 0.8 · (1 − t): t = 0 at epoch 0, 1 at the last epoch.
    let column = try #require(lines.first?.firstIndex { $0.hasSuffix("vignette") })
    #expect(lines.count == 3)
    #expect(lines[1][column] == "0.8")
    #expect(lines[2][column] == "0")

    let bench = try CLI.clipig([
      "bench", "stages", "--plugin", Self.scaffold, "--views", "1", "--size", "32",
      "--iterations", "1",
    ])
    #expect(bench.status == 0, "\(bench.all)")
    #expect(bench.out.contains("plugin transform vignette"))
    #expect(bench.out.contains("method 1"))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func badPluginsAreRefusedWithASentence() throws {
    _ = try ready()
    let dir = try temporary("bad")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try Self.experiment.write(toFile: dir + "/exp.yaml", atomically: true, encoding: .utf8)
    func refused(_ plugin: String) throws -> String {
      let run = try CLI.clipig(["schedule", dir + "/exp.yaml", "--plugin", plugin])
      #expect(run.status == 1, "\(run.all)")
      return run.err
    }
    #expect(try refused(dir + "/nowhere").contains("does not exist"))
    try FileManager.default.createDirectory(
      atPath: dir + "/empty", withIntermediateDirectories: true)
    #expect(try refused(dir + "/empty").contains("is not a clipig plugin"))
    // An executable built against another plugin API, or by another compiler.
    for (api, swift, sentence) in [
      (999, "6.3", "was built against clipig plugin API 999"),
      (1, "5.9", "was built by Swift 5.9"),
    ] {
      let fake = dir + "/clipig-fake-\(api)"
      try """
      #!/bin/sh
      echo '{"clipigPluginAPI":\(api),"plugins":[],"swiftCompiler":"\(swift)"}'
      """.write(toFile: fake, atomically: true, encoding: .utf8)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
      let err = try refused(fake)
      if api == 1 && !err.contains("Swift") {
        // This compiler may be 5.9's: then the API check is the one that applies.
        continue
      }
      #expect(err.contains(sentence), "\(err)")
      #expect(err.contains("rebuild it"), "\(err)")
    }
  }

  /// Last: the scaffold's own `swift test` passes, and fails with the harness's message once
  /// the transform's pullback is made wrong (then the sources are restored).
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func aWrongPullbackFailsTheScaffoldsOwnTests() throws {
    _ = try ready()
    let file = Self.scaffold + "/Sources/demo/Vignette.swift"
    let good = try String(contentsOfFile: file, encoding: .utf8)
    defer {
      try? good.write(toFile: file, atomically: true, encoding: .utf8)
      // The release executable may have been relinked with the wrong pullback: build it again.
      try? FileManager.default.removeItem(atPath: Self.scaffold + "/.build/clipig-plugin.stamp")
    }
    let wrong = good.replacingOccurrences(
      of: "return (apply(x), apply)", with: "return (apply(x), { apply(apply($0)) })")
    #expect(wrong != good)
    try wrong.write(toFile: file, atomically: true, encoding: .utf8)
    let test = try CLI.run(
      "/usr/bin/env",
      [
        "swift", "test", "-c", "release", "--disable-testable-imports", "--package-path",
        Self.scaffold,
      ])
    #expect(test.status != 0)
    #expect(test.all.contains("vignette[example"), "\(test.all.suffix(3000))")
  }
}

/// Processes of these tests.
enum CLI {
  /// What a process printed and how it ended.
  struct Output {
    /// The exit status.
    var status: Int32
    /// Standard output.
    var out: String
    /// Standard error.
    var err: String
    /// Both, for messages.
    var all: String { out + err }
  }

  /// A step that could not be done.
  struct Failure: Error, CustomStringConvertible {
    /// What happened.
    var description: String
    init(_ description: String) { self.description = description }
  }

  /// Runs the stock clipig.
  static func clipig(_ arguments: [String]) throws -> Output {
    try run(try ClipigExecutable.require(), arguments)
  }

  /// Runs `executable` with `arguments` to its end; output goes through files, so neither
  /// stream can fill a pipe and block the process.
  static func run(_ executable: String, _ arguments: [String]) throws -> Output {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-plugin-run-\(UUID().uuidString)")
    try FileManager.default.createDirectory(at: dir, withIntermediateDirectories: true)
    defer { try? FileManager.default.removeItem(at: dir) }
    let outURL = dir.appendingPathComponent("out")
    let errURL = dir.appendingPathComponent("err")
    FileManager.default.createFile(atPath: outURL.path, contents: nil)
    FileManager.default.createFile(atPath: errURL.path, contents: nil)
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = arguments
    var environment = ProcessInfo.processInfo.environment
    environment["CLIPIG_DERIVED"] = nil
    process.environment = environment
    process.standardInput = FileHandle.nullDevice
    process.standardOutput = try FileHandle(forWritingTo: outURL)
    process.standardError = try FileHandle(forWritingTo: errURL)
    try process.run()
    process.waitUntilExit()
    return Output(
      status: process.terminationStatus,
      out: String(decoding: try Data(contentsOf: outURL), as: UTF8.self),
      err: String(decoding: try Data(contentsOf: errURL), as: UTF8.self))
  }
}
