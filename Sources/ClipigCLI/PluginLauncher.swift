import Formats
import Foundation
import PipelineKit
import Runner

#if canImport(Glibc)
  import Glibc
#endif

/// Finds the plugins a command line asks for and makes this process one that has them: it
/// returns the registries when every requested plugin is compiled in, and otherwise builds the
/// plugin's executable (`PluginBuild`) and runs the same command there (`execv`, so the plugin
/// executable takes this process's place). The environment variable `CLIPIG_DERIVED` marks a
/// plugin executable started this way, so it never starts another.
enum PluginLauncher {
  /// Marks a process started by clipig for a plugin; its value is JSON mapping each plugin
  /// folder to the SHA-256 of the sources it was built from.
  static let derivedVariable = "CLIPIG_DERIVED"

  /// One plugin asked for, and where.
  struct Request {
    /// The path as resolved (absolute, symbolic links resolved when it exists).
    var path: String
    /// The path as written.
    var written: String
    /// Where it was asked for (`--plugin`, or `plugins: in FILE`).
    var origin: String
    /// The SHA-256 a sidecar recorded, if any.
    var recordedSHA256: String?
  }

  /// The registries of this process for `arguments`; never returns when the command must run
  /// in a plugin's executable instead.
  static func prepare(arguments: [String], embedded plugins: [ClipigPlugin]) throws
    -> StageRegistries
  {
    let environment = ProcessInfo.processInfo.environment
    let derived = environment[derivedVariable]
    let builtFrom: [String: String] =
      derived.flatMap { try? JSONDecoder().decode([String: String].self, from: Data($0.utf8)) }
      ?? [:]
    var records: [PluginRecord] = []
    for plugin in plugins {
      let directory = PluginSource.packageDirectory(ofSource: plugin.sourceFile).map(resolved)
      let sha =
        directory.flatMap { builtFrom[$0] }
        ?? directory.flatMap { try? PluginSource.digest(ofPackage: $0) } ?? "unknown"
      records.append(
        PluginRecord(name: plugin.name, path: directory ?? plugin.sourceFile, sha256: sha))
      if plugin.apiVersion != ClipigPlugin.currentAPIVersion {
        throw PluginError(
          "plugin '\(plugin.name)' was written for clipig plugin API \(plugin.apiVersion), this "
            + "clipig has API \(ClipigPlugin.currentAPIVersion); update the plugin and rebuild it")
      }
    }
    for path in builtFrom.keys where !records.contains(where: { $0.path == path }) {
      throw PluginError(
        "this executable was started for the plugin at \(path) but holds "
          + (records.isEmpty ? "no plugin" : records.map(\.path).joined(separator: ", "))
          + "; run the stock clipig with --plugin \(path)")
    }
    let registries = try StageRegistries(plugins: plugins, records: records)
    let requests = try scan(arguments)
    let ownExecutable = resolved(
      Bundle.main.executablePath ?? CommandLine.arguments.first ?? "")
    var foreign: [Request] = []
    for request in requests {
      var isDirectory: ObjCBool = false
      guard FileManager.default.fileExists(atPath: request.path, isDirectory: &isDirectory) else {
        throw PluginError(
          "plugin \(request.written) (\(request.origin)) does not exist; give the folder of a "
            + "plugin package (clipig plugin new NAME makes one) or its built clipig-NAME executable"
        )
      }
      if let record = records.first(where: { $0.path == request.path }) {
        if derived == nil, let recorded = request.recordedSHA256, recorded != record.sha256 {
          warn(record: record, recorded: recorded)
        }
        continue
      }
      if !isDirectory.boolValue && request.path == ownExecutable { continue }
      if !foreign.contains(where: { $0.path == request.path }) { foreign.append(request) }
    }
    guard let request = foreign.first else { return registries }
    if derived != nil || !plugins.isEmpty {
      throw PluginError(
        "this clipig holds the plugins "
          + (records.isEmpty ? "(none)" : records.map { "'\($0.name)'" }.joined(separator: ", "))
          + " and cannot load \(request.written) (\(request.origin)); run the stock clipig "
          + "with every plugin the command needs")
    }
    if foreign.count > 1 {
      throw PluginError(
        "one plugin package per run: \(foreign.map(\.written).joined(separator: " and ")) were "
          + "asked for; make one plugin package that holds all their stages")
    }
    var isDirectory: ObjCBool = false
    _ = FileManager.default.fileExists(atPath: request.path, isDirectory: &isDirectory)
    var sources: [String: String] = [:]
    let executable: String
    if isDirectory.boolValue {
      let build = try PluginBuild(directory: request.path)
      if let recorded = request.recordedSHA256, recorded != build.sha256 {
        warn(
          record: PluginRecord(name: build.name, path: request.path, sha256: build.sha256),
          recorded: recorded)
      }
      executable = try build.executable()
      sources[request.path] = build.sha256
    } else {
      executable = request.path
    }
    try check(executable: executable, plugin: request)
    try exec(executable, arguments: arguments, sources: sources)
  }

  /// The requests of `arguments`: each `--plugin PATH` (or `--plugin=PATH`), then each YAML
  /// file argument's top-level `plugins:` (paths relative to that file).
  static func scan(_ arguments: [String]) throws -> [Request] {
    var requests: [Request] = []
    var i = 0
    while i < arguments.count {
      let argument = arguments[i]
      if argument == "--plugin", i + 1 < arguments.count {
        requests.append(request(arguments[i + 1], base: nil, origin: "--plugin", sha: nil))
        i += 2
        continue
      }
      if argument.hasPrefix("--plugin=") {
        let path = String(argument.dropFirst("--plugin=".count))
        requests.append(request(path, base: nil, origin: "--plugin", sha: nil))
      } else if argument.hasSuffix(".yaml") || argument.hasSuffix(".yml"),
        FileManager.default.isReadableFile(atPath: argument)
      {
        requests += try yamlRequests(argument)
      }
      i += 1
    }
    return requests
  }

  /// The `plugins:` of one YAML file; a file that does not parse is left to the command.
  static func yamlRequests(_ file: String) throws -> [Request] {
    guard let root = try? YAML.load(path: file), let list = root["plugins"]?.elements else {
      return []
    }
    let base = (file as NSString).deletingLastPathComponent
    return list.compactMap { element in
      let origin = "plugins: in \(element.location)"
      if case .string(let path) = element.value {
        return request(path, base: base, origin: origin, sha: nil)
      }
      guard case .string(let path) = element["path"]?.value else { return nil }
      var sha: String?
      if case .string(let s) = element["sha256"]?.value { sha = s }
      return request(path, base: base, origin: origin, sha: sha)
    }
  }

  static func request(_ written: String, base: String?, origin: String, sha: String?) -> Request {
    let expanded = (written as NSString).expandingTildeInPath
    let absolute =
      expanded.hasPrefix("/")
      ? expanded
      : ((base.map { $0.isEmpty ? "." : $0 } ?? ".") as NSString).appendingPathComponent(expanded)
    return Request(
      path: resolved(absolute), written: written, origin: origin, recordedSHA256: sha)
  }

  /// `path` absolute, standardized, with symbolic links resolved when it exists.
  static func resolved(_ path: String) -> String {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    return url.resolvingSymlinksInPath().path
  }

  static func warn(record: PluginRecord, recorded: String) {
    FileHandle.standardError.write(
      Data(
        ("warning: plugin '\(record.name)' at \(record.path) changed since the configuration "
          + "was written: sha256 \(recorded) then, \(record.sha256) now\n").utf8))
  }

  /// Refuses an executable that is no plugin, or was built against another plugin API or by
  /// another Swift compiler, with a sentence saying how to rebuild it.
  static func check(executable: String, plugin request: Request) throws {
    let process = Process()
    process.executableURL = URL(fileURLWithPath: executable)
    process.arguments = [PluginInfo.flag]
    var environment = ProcessInfo.processInfo.environment
    environment[derivedVariable] = "{}"
    process.environment = environment
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = FileHandle.nullDevice
    let notAPlugin = PluginError(
      "\(request.written) (\(request.origin)) is not a clipig plugin: give the folder of a "
        + "plugin package (clipig plugin new NAME makes one) or its built clipig-NAME executable")
    do { try process.run() } catch { throw notAPlugin }
    let data = pipe.fileHandleForReading.readDataToEndOfFile()
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      let info = try? JSONDecoder().decode(PluginInfo.self, from: data)
    else { throw notAPlugin }
    let rebuild =
      "rebuild it against this clipig (swift build -c release in its package, whose Package.swift "
      + "names this clipig's source), or give --plugin its package folder and clipig rebuilds it"
    if info.clipigPluginAPI != ClipigPlugin.currentAPIVersion {
      throw PluginError(
        "plugin \(request.written) was built against clipig plugin API \(info.clipigPluginAPI), "
          + "this clipig has API \(ClipigPlugin.currentAPIVersion); \(rebuild)")
    }
    if info.swiftCompiler != SwiftCompiler.version {
      throw PluginError(
        "plugin \(request.written) was built by Swift \(info.swiftCompiler), this clipig by "
          + "Swift \(SwiftCompiler.version); \(rebuild)")
    }
  }

  /// Replaces this process with `executable` run with `arguments`, marked as derived.
  static func exec(_ executable: String, arguments: [String], sources: [String: String]) throws
    -> Never
  {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let marker = String(decoding: (try? encoder.encode(sources)) ?? Data("{}".utf8), as: UTF8.self)
    setenv(derivedVariable, marker, 1)
    let argv = ([executable] + arguments).map { strdup($0) } + [nil]
    execv(executable, argv)
    let reason = String(cString: strerror(errno))
    throw PluginError("cannot run the plugin executable \(executable): \(reason)")
  }
}
