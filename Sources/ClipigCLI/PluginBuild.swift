import Foundation
import PipelineKit
import Runner

/// Builds a plugin package's `clipig-NAME` executable in release mode, once: a stamp file in
/// the package's `.build` records the SHA-256 of the sources it was built from, and the build
/// is reused while they are unchanged. SwiftPM's progress goes to standard error; a failed
/// build is an error showing the compiler's first error, and nothing runs.
struct PluginBuild {
  /// The package folder.
  let directory: String
  /// The executable product, `clipig-NAME`.
  let product: String
  /// SHA-256 of the package's sources now.
  let sha256: String

  /// The plugin package at `directory`; refuses a folder that is no plugin package.
  init(directory: String) throws {
    self.directory = directory
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

  var stampPath: String {
    (directory as NSString).appendingPathComponent(".build/clipig-plugin.stamp")
  }
  var executablePath: String {
    (directory as NSString).appendingPathComponent(".build/release/" + product)
  }
  /// The plugin's name: the product without `clipig-`.
  var name: String { String(product.dropFirst("clipig-".count)) }

  /// What the stamp records: the sources' digest, the product, the plugin API and the running
  /// clipig executable (size and date), so a new clipig rebuilds the plugin too.
  var stamp: String {
    var clipig = "unknown"
    if let path = Bundle.main.executablePath,
      let attributes = try? FileManager.default.attributesOfItem(atPath: path)
    {
      let size = (attributes[.size] as? NSNumber)?.intValue ?? 0
      let date = (attributes[.modificationDate] as? Date)?.timeIntervalSince1970 ?? 0
      clipig = "\(path) \(size) \(date)"
    }
    return "\(sha256) \(product) api \(ClipigPlugin.currentAPIVersion) clipig \(clipig)\n"
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
        ("clipig: building plugin \(product) in \(directory) (swift build -c release; the "
          + "first build compiles clipig too, which takes minutes)\n").utf8))
    let process = Process()
    process.executableURL = URL(fileURLWithPath: "/usr/bin/env")
    process.arguments = [
      "swift", "build", "-c", "release", "--package-path", directory, "--product", product,
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
