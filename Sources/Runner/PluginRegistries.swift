import Foundation
import ModelStore
import PipelineKit

/// A plugin a run used, as the sidecar records it: its name, its package folder and the SHA-256
/// of its sources (`PluginSource.digest`), so that re-rendering the sidecar loads it again and
/// says when it changed since.
public struct PluginRecord: Sendable, Equatable {
  /// The plugin's name.
  public var name: String
  /// Its package folder (absolute).
  public var path: String
  /// SHA-256 of its sources, hex.
  public var sha256: String

  /// A record.
  public init(name: String, path: String, sha256: String) {
    self.name = name
    self.path = path
    self.sha256 = sha256
  }
}

/// A plugin that cannot join a run: two stages of one name, or a name that is no YAML key.
public struct PluginError: Error, CustomStringConvertible, Sendable {
  /// One sentence naming the plugin(s) and stage(s).
  public var description: String

  /// An error saying `description`.
  public init(_ description: String) { self.description = "error: " + description }
}

extension StageRegistries {
  /// The built-in stages plus those of `plugins`; a stage whose name is not a YAML key, or
  /// clashes with a built-in stage or another plugin's, is an error naming both.
  public init(plugins: [ClipigPlugin], records: [PluginRecord] = []) throws(PluginError) {
    self.init()
    self.plugins = records
    for (kind, builtin) in [
      ("transform", StageRegistry.transforms), ("constraint", StageRegistry.constraints),
    ] {
      var registry = builtin
      var owner: [String: String] = [:]
      for plugin in plugins {
        for stage in kind == "transform" ? plugin.transforms : plugin.constraints {
          let name = stage.name
          guard ClipigPlugin.isValidStageName(name) else {
            throw PluginError(
              "plugin '\(plugin.name)' names a \(kind) '\(name)', which is not a YAML key "
                + "(a letter or '_', then letters, digits or '_')")
          }
          if builtin[name] != nil {
            throw PluginError(
              "plugin '\(plugin.name)' \(kind) '\(name)' clashes with the built-in \(kind) "
                + "'\(name)'; rename the plugin's stage")
          }
          if let other = owner[name] {
            throw PluginError(
              "plugin '\(plugin.name)' \(kind) '\(name)' clashes with plugin '\(other)' \(kind) "
                + "'\(name)'; rename one of them")
          }
          owner[name] = plugin.name
          registry.add(stage)
        }
      }
      if kind == "transform" { transforms = registry } else { constraints = registry }
    }
  }
}

/// Where a plugin's sources are and their digest.
public enum PluginSource {
  /// The package folder of a source file: its nearest ancestor holding `Package.swift`.
  public static func packageDirectory(ofSource file: String) -> String? {
    var url = URL(fileURLWithPath: file).deletingLastPathComponent()
    while url.path != "/" && !url.path.isEmpty {
      if FileManager.default.fileExists(atPath: url.appendingPathComponent("Package.swift").path) {
        return url.standardizedFileURL.path
      }
      url = url.deletingLastPathComponent()
    }
    return nil
  }

  /// SHA-256 over `Package.swift` and every file under `Sources/` of the package at
  /// `directory`, in path order, each as its relative path, a NUL, its size and its bytes.
  public static func digest(ofPackage directory: String) throws -> String {
    let root = URL(fileURLWithPath: directory)
    var files = ["Package.swift"]
    let sources = root.appendingPathComponent("Sources")
    if let walker = FileManager.default.enumerator(atPath: sources.path) {
      while let relative = walker.nextObject() as? String {
        var isDirectory: ObjCBool = false
        let full = sources.appendingPathComponent(relative).path
        if FileManager.default.fileExists(atPath: full, isDirectory: &isDirectory),
          !isDirectory.boolValue
        {
          files.append("Sources/" + relative)
        }
      }
    }
    var hash = SHA256()
    for relative in files.sorted() {
      let data = try Data(contentsOf: root.appendingPathComponent(relative))
      hash.update(Array(relative.utf8) + [0])
      hash.update(Array("\(data.count)\n".utf8))
      hash.update(data)
    }
    return hash.hexDigest()
  }
}
