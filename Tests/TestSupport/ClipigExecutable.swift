import Foundation

/// The built `clipig` executable that the tests drive as a user would: the one next to the
/// test bundle (built in the same configuration, so `swift test -c release` uses the release
/// binary), else `.build/release/clipig`, else `.build/debug/clipig`. With `CI=true` a missing
/// executable fails the test that needs it instead of skipping it.
public enum ClipigExecutable {
  /// The repository's root directory, found from this file.
  public static let repository = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent()

  /// Whether a missing executable is a failure (`CI=true`) rather than a reason to skip.
  public static let isRequired = ProcessInfo.processInfo.environment["CI"] == "true"

  /// The executable's path, nil when none is built.
  public static let path: String? = {
    var directories: [URL] = []
    if let executable = Bundle.main.executableURL {
      directories.append(executable.deletingLastPathComponent())
    }
    directories.append(Bundle.main.bundleURL.deletingLastPathComponent())
    directories += ["release", "debug"].map {
      repository.appendingPathComponent(".build/" + $0)
    }
    for directory in directories {
      let candidate = directory.appendingPathComponent("clipig").path
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: candidate, isDirectory: &isDirectory),
        !isDirectory.boolValue, FileManager.default.isExecutableFile(atPath: candidate)
      {
        return candidate
      }
    }
    return nil
  }()

  /// Whether a test needing the executable runs: it is built, or CI requires it (the test then
  /// fails at `require()`). For `@Test(.enabled(if: ClipigExecutable.shouldTest))`.
  public static var shouldTest: Bool { path != nil || isRequired }

  /// Why a test cannot run its executable.
  public struct NotBuilt: Error, CustomStringConvertible {
    /// One sentence naming what to build.
    public var description: String {
      "the clipig executable is not built (swift build -c release, as scripts/test does)"
    }
  }

  /// The executable's path; throws `NotBuilt` when there is none.
  public static func require() throws -> String {
    guard let path else { throw NotBuilt() }
    return path
  }

  /// Runs the executable with `arguments` to its end (see `ChildProcess`): this process's
  /// environment changed by `environment` (a nil value unsets the variable); returns its exit
  /// status and its standard output and error together, interleaved as written.
  public static func run(
    _ arguments: [String], environment: [String: String?] = [:], timeout: Double = 600
  ) throws -> (status: Int32, output: String) {
    let result = try ChildProcess.run(
      try require(), arguments, environment: environment, mergingErrors: true, timeout: timeout)
    return (result.status, result.out)
  }

  /// Runs the executable with `arguments` in `directory` to its end, standard output and error
  /// apart (see `ChildProcess` for the other options).
  public static func run(
    _ arguments: [String], in directory: String?, environment: [String: String?] = [:],
    input: ChildProcess.Input = .none, timeout: Double = 600
  ) throws -> ChildProcess.Result {
    try ChildProcess.run(
      try require(), arguments, environment: environment, directory: directory, input: input,
      timeout: timeout)
  }

  /// Starts the executable with `arguments` (see `ChildProcess.init`); the caller waits.
  public static func start(
    _ arguments: [String], environment: [String: String?] = [:],
    inheritingEnvironment: Bool = true, directory: String? = nil, mergingErrors: Bool = false
  ) throws -> ChildProcess {
    try ChildProcess(
      try require(), arguments, environment: environment,
      inheritingEnvironment: inheritingEnvironment, directory: directory,
      mergingErrors: mergingErrors)
  }

  /// The executable's path; nil when there is none and CI does not require it (the caller
  /// skips), throws `NotBuilt` when CI requires it.
  public static func found() throws -> String? {
    if let path { return path }
    if isRequired { throw NotBuilt() }
    return nil
  }
}
