import Formats
import Foundation
import PipelineKit
import Runner

/// A tab's YAML decoded by the same loader as `clipig render`.
struct CheckedConfig: Sendable {
  /// The parsed tree (with `--model` applied).
  var root: ConfigNode
  /// The decoded experiment.
  var experiment: Experiment
}

/// Parses and validates YAML text from the page; errors carry the line and column.
enum ConfigCheck {
  /// The experiment in `text`, named `file` in messages.
  static func check(_ text: String, file: String, configuration: StudioConfiguration) throws
    -> CheckedConfig
  {
    guard text.utf8.count <= configuration.maxYAMLBytes else {
      throw ConfigError(
        "the YAML is \(text.utf8.count) bytes; the studio accepts at most "
          + "\(configuration.maxYAMLBytes)",
        at: SourceLocation(file: file, line: 1, column: 1))
    }
    var root = try YAML.parse(text, file: file)
    if !root.isNull && root.entries == nil {
      throw ConfigError(
        "expected a mapping of parameters at the top level, got \(root.kindDescription)",
        at: root.location)
    }
    var options = RenderOptions()
    options.model = configuration.model
    options.transforms = configuration.transforms
    options.constraints = configuration.constraints
    root = options.apply(to: root)
    let experiment = try Experiment(
      root, transforms: configuration.transforms, constraints: configuration.constraints)
    // As render does before any work: an output name with no image format, or a resolution
    // schedule the format cannot hold, is refused at Start and Update rather than at Save.
    let output = OutputNaming.requestedPath(
      configOutput: experiment.output, lastConfigFile: file, commandLine: "./")
    let format: ImageFormat
    do {
      format = try ImageFormat.forOutput(path: output)
    } catch {
      throw ConfigError(error.message, at: root["output"]?.location ?? root.location)
    }
    try ImageLimits.check(
      experiment, streams: RandomStreams(seed: experiment.seed ?? 0), format: format)
    return CheckedConfig(root: root, experiment: experiment)
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
