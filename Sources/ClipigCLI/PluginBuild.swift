import Foundation
import PipelineKit
import Runner

/// Builds a plugin package's `clipig-NAME` executable in release mode, once: a stamp file next
/// to the build records the plugin's folder and the SHA-256 of the sources it was built from,
/// and the build is reused while they are unchanged. SwiftPM's progress goes to standard error;
/// a failed build is an error showing the compiler's first error, and nothing runs.
///
/// The build folder (SwiftPM's `--scratch-path`) is the package's own `.build`, or
/// `$CLIPIG_PLUGIN_BUILD_DIR` when set: plugins built in one such folder share clipig's compiled
/// modules (SwiftPM reuses a compile whose command is unchanged), so only the first plugin
/// compiles clipig and its dependencies.
struct PluginBuild {
  /// Names a build folder shared by every plugin built against this clipig.
  static let buildDirectoryVariable = "CLIPIG_PLUGIN_BUILD_DIR"
  /// The package folder.
  let directory: String
  /// The executable product, `clipig-NAME`.
  let product: String
  /// SHA-256 of the package's sources now.
  let sha256: String
  /// SwiftPM's scratch folder for the build (see the type's summary).
  let buildDirectory: String

  /// The plugin package at `directory`, built in `$CLIPIG_PLUGIN_BUILD_DIR` of `environment`
  /// or else in the package's `.build`; refuses a folder that is no plugin package.
  init(
    directory: String, environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws {
    self.directory = directory
    buildDirectory = Self.buildDirectory(of: directory, environment: environment)
    let manifest = (directory as NSString).appendingPathComponent("Package.swift")
    guard let text = try? String(contentsOfFile: manifest, encoding: .utf8) else {
      throw PluginError(
        "\(directory) is not a clipig plugin: it has no Package.swift (clipig plugin new NAME "
          + "makes a plugin package)")
    }
    guard let product = Self.productName(in: text) else {
      throw PluginError(
        "\(directory) is not a clipig plugin: its Package.swift has no executable named "
          + "clipig-NAME (clipig plugin new NAME makes a plugin package)")
    }
    self.product = product
    sha256 = try PluginSource.digest(ofPackage: directory)
  }

  /// The first quoted `"clipig-NAME"` of a manifest.
  static func productName(in manifest: String) -> String? {
    var rest = Substring(manifest)
    while let start = rest.range(of: "\"clipig-") {
      let tail = rest[start.upperBound...]
      let name = tail.prefix { $0.isLetter || $0.isNumber || $0 == "_" || $0 == "-" }
      if !name.isEmpty, tail.dropFirst(name.count).first == "\"" { return "clipig-" + name }
      rest = tail
    }
    return nil
  }

  /// `$CLIPIG_PLUGIN_BUILD_DIR` (absolute, `~` expanded) when set, else `directory/.build`.
  static func buildDirectory(of directory: String, environment: [String: String]) -> String {
    guard let shared = environment[buildDirectoryVariable], !shared.isEmpty else {
      return (directory as NSString).appendingPathComponent(".build")
    }
    let expanded = (shared as NSString).expandingTildeInPath
    return URL(fileURLWithPath: expanded).standardizedFileURL.path
  }

  /// The stamp of the last build of `product` in the build folder (one per product, so that in
  /// a shared folder each plugin has its own).
  var stampPath: String {
    (buildDirectory as NSString).appendingPathComponent("clipig-plugin-stamps/" + product)
  }
  var executablePath: String {
    (buildDirectory as NSString).appendingPathComponent("release/" + product)
  }
  /// The plugin's name: the product without `clipig-`.
  var name: String { String(product.dropFirst("clipig-".count)) }

  /// What the stamp records: the package folder, the sources' digest, the product, the plugin
  /// API and the running clipig executable (size and date), so a new clipig rebuilds the plugin
  /// too, and so does another plugin of the same name built in a shared build folder.
  var stamp: String {
    var clipig = "unknown"
    if let path = Bundle.main.executablePath,
      let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    {
      let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
      let date = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
      clipig = "\(path) \(size) \(date)"
    }
    return
      "\(directory)\n\(sha256) \(product) api \(ClipigPlugin.currentAPIVersion) clipig \(clipig)\n"
  }

  /// The built executable: reused when the stamp matches, else built now.
  func executable() throws -> String {
    if FileManager.default.isExecutableFile(atPath: executablePath),
      (try? String(contentsOfFile: stampPath, encoding: .utf8)) == stamp
    {
      return executablePath
    }
    FileHandle.standardError.write(
      Data(
        ("clipig: building plugin \(product) in \(directory) (swift build -c release "
          + "--scratch-path \(buildDirectory); the first build there compiles clipig too, which "
          + "takes minutes)\n").utf8))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "swift", "build", "-c", "release", "--package-path", directory, "--scratch-path",
      buildDirectory, "--product", product,
    ]
    let pipe = Pipe()
    process.standardOutput = pipe
    process.standardError = pipe
    try process.run()
    var output = ""
    var pending = Data()
    let handle = pipe.fileHandleForReading
    while true {
      let chunk = handle.availableData
      if chunk.isEmpty { break }
      pending.append(chunk)
      while let newline = pending.firstIndex(of: UInt8(ascii: "\n")) {
        let line = String(decoding: pending[pending.startIndex..<newline], as: UTF8.self)
        pending.removeSubrange(pending.startIndex...newline)
        output += line + "\n"
        if line.hasPrefix("[") || line.hasPrefix("Build") || line.hasPrefix("Compiling") {
          FileHandle.standardError.write(Data("  \(line)\n".utf8))
        }
      }
    }
    output += String(decoding: pending, as: UTF8.self)
    process.waitUntilExit()
    guard process.terminationStatus == 0,
      FileManager.default.isExecutableFile(atPath: executablePath)
    else {
      let first =
        output.split(separator: "\n").first { $0.contains("error:") }.map(String.init)
        ?? output.split(separator: "\n").suffix(3).joined(separator: "\n")
      throw PluginError(
        "building the plugin \(product) in \(directory) failed; nothing was run. The first "
          + "error: \(first)")
    }
    try FileManager.default.createDirectory(
      atPath: (stampPath as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
    try Data(stamp.utf8).write(to: URL(fileURLWithPath: stampPath), options: .atomic)
    return executablePath
  }
}
