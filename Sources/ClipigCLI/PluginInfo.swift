import Foundation
import PipelineKit
import Runner

/// What an executable says about itself for `--plugin-info` (a hidden flag): its plugin API
/// version, the Swift compiler it was built with and its plugins. clipig asks an already built
/// plugin executable before running it, and refuses one built against another API or compiler.
struct PluginInfo: Codable, Equatable {
  /// The hidden flag.
  static let flag = "--plugin-info"

  /// One compiled-in plugin.
  struct Entry: Codable, Equatable {
    /// Its name.
    var name: String
    /// Its package folder, or its source file when no package folder is found.
    var path: String
  }

  /// `ClipigPlugin.currentAPIVersion` of the clipig the executable was built from.
  var clipigPluginAPI: Int
  /// The Swift compiler the executable was built with (`SwiftCompiler.version`).
  var swiftCompiler: String
  /// The compiled-in plugins.
  var plugins: [Entry]

  /// This executable's information.
  init(plugins: [ClipigPlugin]) {
    clipigPluginAPI = ClipigPlugin.currentAPIVersion
    swiftCompiler = SwiftCompiler.version
    self.plugins = plugins.map {
      Entry(
        name: $0.name, path: PluginSource.packageDirectory(ofSource: $0.sourceFile) ?? $0.sourceFile
      )
    }
  }

  /// The information as one line of JSON.
  var json: String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    return String(decoding: (try? encoder.encode(self)) ?? Data(), as: UTF8.self)
  }
}

/// The Swift compiler this code was compiled with, to the minor version.
enum SwiftCompiler {
  /// `6.1`, `6.2` … (`6.5+` past the newest this file knows).
  static let version: String = {
    #if compiler(>=6.5)
      "6.5+"
    #elseif compiler(>=6.4)
      "6.4"
    #elseif compiler(>=6.3)
      "6.3"
    #elseif compiler(>=6.2)
      "6.2"
    #elseif compiler(>=6.1)
      "6.1"
    #else
      "6.0"
    #endif
  }()
}
