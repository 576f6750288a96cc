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
    let tree = try YAML.parse(text, file: file)
    try RunPlan.checkTopLevel(tree)
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
