import Foundation
import PipelineKit
import Runner

/// A YAML from the page cannot load new code: the studio's plugins are those loaded when it
/// started (`clipig studio --plugin PATH`, or `plugins:` in the files it opened then). A
/// `plugins:` entry of a tab's YAML must name one of them (its package folder, as sidecars
/// record it, or the running plugin executable); any other is refused with a sentence saying
/// how to load it.
enum PluginGate {
  /// Refuses the first `plugins:` entry of `tree` that names no plugin of `loaded`; relative
  /// paths resolve against `baseDirectory`, as `clipig render` resolves them against the
  /// YAML's folder.
  static func check(
    _ tree: ConfigNode, baseDirectory: String, loaded: [PluginRecord]
  ) throws(ConfigError) {
    guard let list = tree["plugins"]?.elements else { return }
    let known = Set(loaded.map { resolved($0.path, base: "/") })
    let running = Bundle.main.executablePath.map { resolved($0, base: "/") }
    for (i, element) in list.enumerated() {
      let written: String
      if case .string(let path) = element.value {
        written = path
      } else if case .string(let path) = element["path"]?.value {
        written = path
      } else {
        continue  // The shape is RunPlan's to refuse.
      }
      let path = resolved(written, base: baseDirectory)
      if known.contains(path) || path == running { continue }
      let names =
        loaded.isEmpty
        ? "none" : loaded.map { "'\($0.name)' (\($0.path))" }.joined(separator: ", ")
      throw ConfigError(
        "plugin \(written) is not loaded in this studio, and a YAML sent from the page cannot "
          + "load new code; the studio's plugins are those named when it started (clipig studio "
          + "--plugin PATH, or plugins: in a file it opens): \(names)",
        at: element.location, path: "plugins[\(i)]")
    }
  }

  /// `path` (with `~`) made absolute against `base`, standardized, symbolic links resolved.
  static func resolved(_ path: String, base: String) -> String {
    let expanded = (path as NSString).expandingTildeInPath
    let absolute =
      expanded.hasPrefix("/")
      ? expanded
      : URL(fileURLWithPath: base.isEmpty ? "." : base).appendingPathComponent(expanded).path
    return URL(fileURLWithPath: absolute).standardizedFileURL.resolvingSymlinksInPath().path
  }
}
