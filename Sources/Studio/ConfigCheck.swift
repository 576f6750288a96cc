import Formats
import Foundation
import PipelineKit
import Runner

/// A tab's YAML planned as `clipig render` plans a run (`RunPlan`): the same decoding, the same
/// seed rule.
struct CheckedConfig: Sendable {
  /// The run.
  var plan: RunPlan
  /// The parsed tree (with `--model` applied).
  var root: ConfigNode { plan.root }
  /// The decoded experiment.
  var experiment: Experiment { plan.experiment }
}

/// Parses and validates YAML text from the page; errors carry the line and column.
enum ConfigCheck {
  /// The run of the experiment in `text`, named `file` in messages, with `seed` (a running
  /// tab's, for an Update) or else the YAML's or a drawn one.
  static func check(
    _ text: String, file: String, baseDirectory: String, seed: UInt64? = nil,
    configuration: StudioConfiguration
  ) throws -> CheckedConfig {
    guard text.utf8.count <= configuration.maxYAMLBytes else {
      throw ConfigError(
        "the YAML is \(text.utf8.count) bytes; the studio accepts at most "
          + "\(configuration.maxYAMLBytes)",
        at: SourceLocation(file: file, line: 1, column: 1))
    }
    return try check(
      tree: try YAML.parse(text, file: file), file: file, baseDirectory: baseDirectory,
      seed: seed, configuration: configuration)
  }

  /// `check` of a parsed tree.
  static func check(
    tree: ConfigNode, file: String, baseDirectory: String, seed: UInt64?,
    configuration: StudioConfiguration
  ) throws -> CheckedConfig {
    try RunPlan.checkTopLevel(tree)
    try PluginGate.check(
      tree, baseDirectory: baseDirectory, loaded: configuration.registries.plugins)
    var overrides = RunOverrides()
    overrides.model = configuration.model
    let plan = try RunPlan(
      tree: tree, baseDirectory: baseDirectory, sourceName: file, overrides: overrides,
      seed: seed,
      registries: configuration.registries)
    // As render does before any work: an output name with no image format, or a resolution
    // schedule the format cannot hold, is refused at Start and Update rather than at Save.
    let output = plan.requestedOutput(commandLine: "./")
    let format: ImageFormat
    do {
      format = try ImageFormat.forOutput(path: output)
    } catch {
      throw ConfigError(error.message, at: plan.root["output"]?.location ?? plan.root.location)
    }
    try ImageLimits.check(plan.experiment, streams: plan.streams, format: format)
    return CheckedConfig(plan: plan)
  }

  /// Every error of the YAML `text`, starting with `first` (the one `check` threw): after each,
  /// the key it names is removed and the rest checked again, at most `limit` times. A YAML
  /// syntax error, or one that names no removable key, ends the list.
  static func allErrors(
    _ text: String, file: String, baseDirectory: String, seed: UInt64?,
    configuration: StudioConfiguration, first: any Error, limit: Int = 20
  ) -> [any Error] {
    var errors = [first]
    guard var tree = try? YAML.parse(text, file: file) else { return errors }
    var error = first
    while errors.count < limit {
      guard let pruned = removing(path(of: error), from: tree), pruned != tree else { break }
      tree = pruned
      do {
        _ = try check(
          tree: tree, file: file, baseDirectory: baseDirectory, seed: seed,
          configuration: configuration)
        break
      } catch let next {
        // The same message at the same place again: removing did not get past it.
        if "\(next)" == "\(error)" { break }
        errors.append(next)
        error = next
      }
    }
    return errors
  }

  /// The parameter path an error names (`targets[0].transforms[1].pad.size`), or "".
  static func path(of error: any Error) -> String {
    switch error {
    case let e as ConfigError: e.path
    case let e as StageError: e.parameter
    default: ""
    }
  }

  /// One step of a parameter path: a mapping key or a list index.
  enum Step: Equatable {
    case key(String)
    case index(Int)
  }

  /// `a.b[2].c` as steps.
  static func steps(_ path: String) -> [Step] {
    var out: [Step] = []
    for part in path.split(separator: ".") {
      var rest = Substring(part)
      if let bracket = rest.firstIndex(of: "[") {
        if bracket > rest.startIndex { out.append(.key(String(rest[..<bracket]))) }
        rest = rest[bracket...]
        while rest.hasPrefix("["), let close = rest.firstIndex(of: "]") {
          guard let i = Int(rest[rest.index(after: rest.startIndex)..<close]) else { break }
          out.append(.index(i))
          rest = rest[rest.index(after: close)...]
        }
      } else {
        out.append(.key(String(rest)))
      }
    }
    return out
  }

  /// `tree` without the node `path` names — or, when that is no node of the tree (an element
  /// of a list written as text), without the nearest enclosing one; nil when nothing is found.
  static func removing(_ path: String, from tree: ConfigNode) -> ConfigNode? {
    var parts = steps(path)
    while !parts.isEmpty {
      if let pruned = removing(parts[...], from: tree) { return pruned }
      parts.removeLast()
    }
    return nil
  }

  private static func removing(_ steps: ArraySlice<Step>, from node: ConfigNode) -> ConfigNode? {
    guard let step = steps.first else { return nil }
    let rest = steps.dropFirst()
    switch (step, node.value) {
    case (.key(let key), .mapping(var entries)):
      guard let i = entries.lastIndex(where: { $0.key == key }) else { return nil }
      if rest.isEmpty {
        entries.remove(at: i)
      } else {
        guard let child = removing(rest, from: entries[i].node) else { return nil }
        entries[i].node = child
      }
      return ConfigNode(.mapping(entries), at: node.location)
    case (.index(let i), .sequence(var elements)) where elements.indices.contains(i):
      if rest.isEmpty {
        elements.remove(at: i)
      } else {
        guard let child = removing(rest, from: elements[i]) else { return nil }
        elements[i] = child
      }
      return ConfigNode(.sequence(elements), at: node.location)
    default:
      return nil
    }
  }

  /// The page's view of every error of a configuration: the first by line leads, the others
  /// follow by line.
  static func info(_ errors: [any Error], file: String) -> ErrorInfo {
    var infos = errors.map { info($0, file: file) }
    infos.sort { ($0.line ?? Int.max, $0.column ?? 0) < ($1.line ?? Int.max, $1.column ?? 0) }
    guard var lead = infos.first else { return ErrorInfo(message: "") }
    if infos.count > 1 { lead.others = Array(infos.dropFirst()) }
    return lead
  }

  /// The page's view of any error: the CLI's text, plus the position when it is in `file`.
  static func info(_ error: any Error, file: String) -> ErrorInfo {
    let location: SourceLocation?
    switch error {
    case let e as ConfigError: location = e.location
    case let e as StageError: location = e.location
    default: location = nil
    }
    let placed = location.flatMap { $0.file == file && $0.line > 0 ? $0 : nil }
    return ErrorInfo(message: "\(error)", line: placed?.line, column: placed?.column)
  }
}
