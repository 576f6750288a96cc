import Foundation
import TestSupport
import Testing

/// A plugin made by `clipig plugin new`, built once and used by the stock `clipig` in every
/// command that reads experiments (issue 22), as a user drives it: the release binary, the
/// scaffold's own `swift build` and `swift test`.
///
/// The scaffold is written anew in a temporary folder by each test process. It is built in a
/// shared plugin build folder (`CLIPIG_PLUGIN_BUILD_DIR`, SwiftPM's `--scratch-path`) in the
/// user's cache folder, outside the repository's `.build` (which `swift test` holds while the
/// tests run): the first run on a machine compiles clipig's libraries and dependencies there
/// once; later runs, whose scaffold is in another folder, reuse them and compile the plugin
/// only. With CI=true a missing clipig executable or `swift` fails instead of skipping.
@Suite("Plugins through the clipig binary", .serialized)
struct PluginCLITests {
  /// The scaffold's folder: a fresh temporary one (symbolic links resolved, as sidecars record
  /// it).
  static let scaffold: String = {
    let dir = (try? TestFiles.temporaryDirectory("plugin-scaffold")) ?? NSTemporaryDirectory()
    return URL(fileURLWithPath: dir + "/demo").resolvingSymlinksInPath().path
  }()

  /// The plugin build folder shared by the test runs of this clone: `$CLIPIG_PLUGIN_BUILD_DIR`
  /// when the developer set one, else one in the user's cache folder (`$XDG_CACHE_HOME`, else
  /// `~/.cache`) per repository path, so that two clones do not take turns rebuilding clipig
  /// there.
  static let buildDirectory: String = {
    let environment = ProcessInfo.processInfo.environment
    if let own = environment["CLIPIG_PLUGIN_BUILD_DIR"], own.hasPrefix("/") { return own }
    let cache =
      environment["XDG_CACHE_HOME"].flatMap { $0.hasPrefix("/") ? $0 : nil }
      ?? NSHomeDirectory() + "/.cache"
    let clone = ClipigExecutable.repository.standardizedFileURL.path.map {
      $0.isLetter || $0.isNumber ? $0 : "-"
    }
    return cache + "/clipig-tests/plugin-build/" + String(clone)
  }()

  /// The environment of every command the tests run: the shared plugin build folder, and no
  /// marker of a plugin executable inherited from elsewhere.
  static let environment: [String: String?] = [
    "CLIPIG_DERIVED": nil, "CLIPIG_PLUGIN_BUILD_DIR": buildDirectory,
  ]

  /// A guard against hangs for steps that build (minutes on a loaded 2-core machine), never a
  /// measurement.
  static let buildTimeout = 3600.0

  /// Writes the scaffold, builds it with `swift build` as its README says (in the shared build
  /// folder), then builds its executable through the stock clipig (`docs --plugin`), once per
  /// test process; the docs' output. Prints how long each step took (a record, no assertion).
  static let prepared: Result<ChildProcess.Result, Failure> = {
    do {
      var clock = Date()
      func took(_ step: String) {
        print("plugin tests: \(step) took \(Int(Date().timeIntervalSince(clock))) s")
        clock = Date()
      }
      let made = try clipig(["plugin", "new", "demo", scaffold])
      guard made.status == 0 else { return .failure(Failure("plugin new: \(made.output)")) }
      let build = try swift(["build", "-c", "release"])
      guard build.status == 0 else {
        return .failure(Failure("swift build in the scaffold: \(build.output.suffix(3000))"))
      }
      took("swift build -c release in the scaffold (\(buildDirectory))")
      let docs = try clipig(["docs", "--plugin", scaffold], timeout: buildTimeout)
      guard docs.status == 0 else { return .failure(Failure("docs --plugin: \(docs.output)")) }
      took("clipig docs --plugin (its build of clipig-demo)")
      return .success(docs)
    } catch {
      return .failure(Failure("\(error)"))
    }
  }()

  /// A step that could not be done.
  struct Failure: Error, CustomStringConvertible {
    /// What happened.
    var description: String
    init(_ description: String) { self.description = description }
  }

  /// Runs the stock clipig with `arguments`, standard output and error apart.
  static func clipig(_ arguments: [String], timeout: Double = 600) throws -> ChildProcess.Result {
    try ClipigExecutable.run(arguments, in: nil, environment: environment, timeout: timeout)
  }

  /// Runs `swift` with `arguments` in the scaffold and the shared build folder; fails (never
  /// skips) when there is no `swift` on PATH.
  static func swift(_ arguments: [String]) throws -> ChildProcess.Result {
    guard let swift = ChildProcess.find("swift") else {
      throw Failure("no swift on PATH: the plugin scaffold cannot be built")
    }
    return try ChildProcess.run(
      swift, arguments + ["--package-path", scaffold, "--scratch-path", buildDirectory],
      mergingErrors: true, timeout: buildTimeout)
  }

  /// The docs output once the plugin is built; throws (fails) when it could not be.
  func ready() throws -> ChildProcess.Result {
    _ = try ClipigExecutable.require()
    return try Self.prepared.get()
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

  /// Changes a scaffold source file while `body` runs — `old` replaced by `new` in it, or,
  /// with `old` nil, a new file holding `new` — then restores it and drops the build stamp
  /// (the executable may have been rebuilt from the changed file).
  func withScaffoldFile(
    _ relative: String, replacing old: String?, with new: String, _ body: () throws -> Void
  ) throws {
    let file = Self.scaffold + "/" + relative
    let original = try? String(contentsOfFile: file, encoding: .utf8)
    defer {
      if let original {
        try? original.write(toFile: file, atomically: true, encoding: .utf8)
      } else {
        try? FileManager.default.removeItem(atPath: file)
      }
      try? FileManager.default.removeItem(
        atPath: Self.buildDirectory + "/clipig-plugin-stamps/clipig-demo")
    }
    var changed = new
    if let old {
      let text = try #require(original, "\(file) is missing")
      changed = text.replacingOccurrences(of: old, with: new)
      try #require(changed != text, "\(old) is not in \(file)")
    }
    try changed.write(toFile: file, atomically: true, encoding: .utf8)
    try body()
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func docsListThePluginStages() throws {
    let docs = try ready()
    #expect(docs.out.contains("vignette"))
    #expect(docs.out.contains("Darkens the corners"))
    #expect(docs.out.contains("darkening at the corners (0 = none)"))
    #expect(docs.out.contains("warmth"))
    #expect(docs.out.contains("Pulls mean red − mean blue towards a target"))
    #expect(docs.out.contains("mean red − mean blue to reach"))
    let stock = try Self.clipig(["docs"])
    #expect(stock.status == 0)
    #expect(!stock.out.contains("Darkens the corners"))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func renderUsesThePluginAndItsSidecarRendersTheSameImage() throws {
    _ = try ready()
    let dir = try TestFiles.temporaryDirectory("plugin-render")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    let first = try Self.clipig([
      "render", dir + "/exp.yaml", "--plugin", Self.scaffold, "-m", TestFiles.tinyModel, "-o",
      dir + "/a/out.png", "-q",
    ])
    #expect(first.status == 0, "\(first.output)")
    let sidecar = try TestFiles.read(dir + "/a/out.yaml")
    #expect(sidecar.contains("plugins:"), "\(sidecar)")
    #expect(sidecar.contains("path: " + Self.scaffold), "\(sidecar)")
    let recorded = try #require(
      sidecar.split(separator: "\n").first { $0.contains("sha256:") }?
        .split(separator: ":").last?.trimmingCharacters(in: .whitespaces))
    #expect(recorded.count == 64 && recorded.allSatisfy(\.isHexDigit), "\(recorded)")
    // The sidecar alone (its plugins: key) loads the plugin again: the same image, byte for byte.
    let again = try Self.clipig(["render", dir + "/a/out.yaml", "-o", dir + "/b/out.png", "-q"])
    #expect(again.status == 0, "\(again.output)")
    #expect(!again.err.contains("warning"), "\(again.err)")
    let a = try Data(contentsOf: URL(fileURLWithPath: dir + "/a/out.png"))
    let b = try Data(contentsOf: URL(fileURLWithPath: dir + "/b/out.png"))
    #expect(!a.isEmpty && a == b)
    // Without the plugin the stock binary does not know the stage.
    let without = try Self.clipig([
      "render", dir + "/exp.yaml", "-m", TestFiles.tinyModel, "-o", dir + "/c/", "-q",
    ])
    #expect(without.status != 0)
    #expect(without.err.contains("unknown transform 'vignette'"), "\(without.err)")
    // A sidecar whose plugin changed since: a warning naming it and both hashes.
    let other = String(repeating: "ab", count: 32)
    try TestFiles.write(
      sidecar.replacingOccurrences(of: recorded, with: other), to: dir + "/changed.yaml")
    let warned = try Self.clipig([
      "render", dir + "/changed.yaml", "-o", dir + "/d/out.png", "-e", "1", "-q",
    ])
    #expect(warned.status == 0, "\(warned.output)")
    #expect(warned.err.contains("warning: plugin 'demo'"), "\(warned.err)")
    #expect(warned.err.contains(other) && warned.err.contains(recorded), "\(warned.err)")
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func theExampleYAMLLoadsThePluginByItsRelativePath() throws {
    _ = try ready()
    let dir = try TestFiles.temporaryDirectory("plugin-example")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let run = try Self.clipig([
      "render", Self.scaffold + "/example.yaml", "-m", TestFiles.tinyModel, "-e", "2", "-r",
      "16", "-o", dir + "/example.png", "-q",
    ])
    #expect(run.status == 0, "\(run.output)")
    #expect(FileManager.default.fileExists(atPath: dir + "/example.png"))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func batchRankPreviewScheduleAndBenchUseThePlugin() throws {
    _ = try ready()
    let dir = try TestFiles.temporaryDirectory("plugin-commands")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Block style: a flow mapping cannot hold {{…}}.
    try TestFiles.write(
      Self.experiment.replacingOccurrences(of: "a red lighthouse", with: "\"a {{thing}}\""),
      to: dir + "/template.yaml")
    try TestFiles.write(
      """
      template: template.yaml
      name: "{{thing}}"
      seed: 5
      variables:
        thing: [cat, boat]
      """, to: dir + "/grid.yaml")
    let batch = try Self.clipig([
      "batch", dir + "/grid.yaml", "-o", dir + "/out", "--plugin", Self.scaffold, "-m",
      TestFiles.tinyModel, "-q",
    ])
    #expect(batch.status == 0, "\(batch.output)")
    for name in ["cat", "boat"] {
      #expect(FileManager.default.fileExists(atPath: dir + "/out/\(name).png"), "\(name).png")
      let sidecar = (try? TestFiles.read(dir + "/out/\(name).yaml")) ?? ""
      #expect(sidecar.contains("path: " + Self.scaffold), "\(name).yaml: \(sidecar)")
    }

    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    let rank = try Self.clipig([
      "rank", dir + "/exp.yaml", "--plugin", Self.scaffold, "-m", TestFiles.tinyModel, "--runs",
      "2", "--epochs", "1", "--keep", "1", "--continue", "1", "--seed", "3", "-o",
      dir + "/rank", "-q",
    ])
    #expect(rank.status == 0, "\(rank.output)")
    let ranked = (FileManager.default.subpaths(atPath: dir + "/rank") ?? []).filter {
      $0.hasSuffix(".png")
    }
    #expect(ranked.contains { $0.hasPrefix("short/") }, "\(ranked)")
    #expect(ranked.contains { $0.hasPrefix("continued/") }, "\(ranked)")

    let preview = try Self.clipig([
      "preview", dir + "/exp.yaml", "--plugin", Self.scaffold, "-m", TestFiles.tinyModel,
      "--epoch", "1", "-o", dir + "/views",
    ])
    #expect(preview.status == 0, "\(preview.output)")
    let views = (try? FileManager.default.contentsOfDirectory(atPath: dir + "/views")) ?? []
    #expect(views.contains { $0.hasSuffix(".png") }, "\(views)")

    let schedule = try Self.clipig([
      "schedule", dir + "/exp.yaml", "--plugin", Self.scaffold, "--epoch", "1", "3",
    ])
    #expect(schedule.status == 0, "\(schedule.output)")
    let lines = schedule.out.split(separator: "\n").map {
      $0.split(separator: " ", omittingEmptySubsequences: true).map(String.init)
    }
    // 0.8 · (1 − t): t = 0 at the first epoch, 1 at the last (3 of 3; epochs count from 1).
    let column = try #require(lines.first?.firstIndex { $0.hasSuffix("vignette") })
    #expect(lines.count == 3, "\(schedule.out)")
    #expect(lines.count == 3 && lines[1][column] == "0.8", "\(schedule.out)")
    #expect(lines.count == 3 && lines[2][column] == "0", "\(schedule.out)")

    let bench = try Self.clipig([
      "bench", "stages", "--plugin", Self.scaffold, "--views", "1", "--size", "32",
      "--iterations", "1",
    ])
    #expect(bench.status == 0, "\(bench.output)")
    #expect(bench.out.contains("plugin transform vignette"), "\(bench.out)")
    #expect(bench.out.contains("method 1"), "\(bench.out)")
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func missingAndForeignPluginsAreRefusedWithASentence() throws {
    _ = try ready()
    let dir = try TestFiles.temporaryDirectory("plugin-bad")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    func refused(_ plugin: String) throws -> String {
      let run = try Self.clipig(["schedule", dir + "/exp.yaml", "--plugin", plugin])
      #expect(run.status == 1, "\(run.output)")
      return run.err
    }
    let missing = try refused(dir + "/nowhere")
    #expect(missing.contains("plugin \(dir)/nowhere (--plugin) does not exist"), "\(missing)")
    try FileManager.default.createDirectory(
      atPath: dir + "/empty", withIntermediateDirectories: true)
    let empty = try refused(dir + "/empty")
    #expect(empty.contains("is not a clipig plugin: it has no Package.swift"), "\(empty)")
    // A YAML naming a missing plugin says where.
    try TestFiles.write("plugins: [gone]\n" + Self.experiment, to: dir + "/named.yaml")
    let named = try Self.clipig(["schedule", dir + "/named.yaml"])
    #expect(named.status == 1)
    #expect(named.err.contains("plugin gone (plugins: in \(dir)/named.yaml:1:"), "\(named.err)")
    // An executable that is no plugin.
    let script = dir + "/clipig-script"
    try TestFiles.write("#!/bin/sh\necho hello\n", to: script)
    try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: script)
    #expect(try refused(script).contains("is not a clipig plugin"))
    // An executable built against another plugin API, or by another compiler.
    for (api, swift, sentence) in [
      (999, "6.3", "was built against clipig plugin API 999, this clipig has API 1"),
      (1, "5.9", "was built by Swift 5.9, this clipig by Swift"),
    ] {
      let fake = dir + "/clipig-fake-\(api)"
      try TestFiles.write(
        """
        #!/bin/sh
        echo '{"clipigPluginAPI":\(api),"plugins":[],"swiftCompiler":"\(swift)"}'
        """, to: fake)
      try FileManager.default.setAttributes([.posixPermissions: 0o755], ofItemAtPath: fake)
      let err = try refused(fake)
      #expect(err.contains(sentence), "\(err)")
      #expect(err.contains("rebuild it against this clipig"), "\(err)")
    }
  }

  /// A stage name that clashes with a built-in one, and a plugin that does not compile: both
  /// refused through the stock binary with a sentence, nothing run.
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func aClashingStageNameAndABrokenBuildAreRefused() throws {
    _ = try ready()
    let dir = try TestFiles.temporaryDirectory("plugin-broken")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    try withScaffoldFile(
      "Sources/demo/Vignette.swift", replacing: "name = \"vignette\"", with: "name = \"blur\""
    ) {
      let run = try Self.clipig(
        ["schedule", dir + "/exp.yaml", "--plugin", Self.scaffold], timeout: Self.buildTimeout)
      #expect(run.status == 1, "\(run.output)")
      #expect(
        run.err.contains(
          "plugin 'demo' transform 'blur' clashes with the built-in transform 'blur'"),
        "\(run.err)")
    }
    try withScaffoldFile(
      "Sources/demo/Broken.swift", replacing: nil, with: "let broken: Int = \"text\"\n"
    ) {
      let run = try Self.clipig(
        ["render", dir + "/exp.yaml", "--plugin", Self.scaffold, "-o", dir + "/out.png"],
        timeout: Self.buildTimeout)
      #expect(run.status == 1, "\(run.output)")
      #expect(run.err.contains("building the plugin clipig-demo"), "\(run.err)")
      #expect(run.err.contains("failed; nothing was run"), "\(run.err)")
      #expect(run.err.contains("Broken.swift:1:"), "\(run.err)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/out.png"))
    }
  }

  /// The scaffold's own `swift test` passes, and fails with the harness's message once the
  /// transform's pullback is made wrong (then the sources are restored).
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func theScaffoldsOwnTestsProveItsPullbacks() throws {
    _ = try ready()
    let passing = try Self.swift(["test", "-c", "release", "--disable-testable-imports"])
    #expect(passing.status == 0, "\(passing.output.suffix(3000))")
    #expect(passing.output.contains("everyStagePassesTheGradientHarness"), "\(passing.output)")
    try withScaffoldFile(
      "Sources/demo/Vignette.swift", replacing: "return (apply(x), apply)",
      with: "return (apply(x), { apply(apply($0)) })"
    ) {
      let failing = try Self.swift(["test", "-c", "release", "--disable-testable-imports"])
      #expect(failing.status != 0)
      #expect(failing.output.contains("vignette[example"), "\(failing.output.suffix(3000))")
    }
  }
}
