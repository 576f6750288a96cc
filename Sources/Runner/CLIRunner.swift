import Formats
import Foundation
import PipelineKit

/// The `render` command's work, outside the argument parser so tests can drive it.
public enum CLIRunner {
  /// Loads and merges the YAML files (spec §2.1), `-` reading standard input.
  public static func loadConfig(files: [String]) throws -> ConfigNode {
    var merged: ConfigNode?
    for file in files {
      let node: ConfigNode
      if file == "-" {
        node = try YAML.loadStandardInput()
      } else {
        node = try YAML.load(path: file)
      }
      if !node.isNull && node.entries == nil {
        throw ConfigError(
          "expected a mapping of parameters at the top level, got \(node.kindDescription)",
          at: node.location)
      }
      merged = merged.map { $0.merged(with: node) } ?? node
    }
    return merged ?? ConfigNode(.mapping([]), at: .synthetic("<no file>"))
  }

  /// Runs one render: load, decode, load the model, claim the output name, train, save.
  public static func render(
    options: RenderOptions, interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void = standardError
  ) throws -> RenderOutcome {
    let root = options.apply(to: try loadConfig(files: options.configFiles))
    let seed = try options.seed(for: root)
    let experiment = try Experiment(
      root, transforms: options.transforms, constraints: options.constraints,
      random: SeededRandom(seed: seed))
    let requested = OutputNaming.requestedPath(
      configOutput: experiment.output, lastConfigFile: options.configFiles.last,
      commandLine: options.output)
    try OutputNaming.validate(requested: requested, commandLine: options.output)
    _ = try ImageFormat.forOutput(path: requested)  // refuse `-o x.tif` before any work
    let verbose = options.verbosity ?? min(experiment.verbose, 1)
    if verbose >= 1 { for warning in experiment.warnings { log("warning: \(warning)\n") } }
    if verbose >= 2 { log("loading CLIP \(experiment.model)\n") }
    let model = try ModelLoader.load(experiment.model, quiet: verbose == 0)
    let base =
      options.configFiles.last.map { $0 == "-" ? "." : ($0 as NSString).deletingLastPathComponent }
      ?? "."
    if verbose >= 2 { log("initializing pixels (seed \(seed))\n") }
    let trainer = try Trainer(
      experiment: experiment, model: model, seed: seed, baseDirectory: base.isEmpty ? "." : base)
    let path = try OutputNaming.claim(requested)
    // Whatever fails from here on, no empty placeholder stays behind.
    do {
      if verbose >= 1 { log("rendering \(path) (seed \(seed))\n") }
      var session = RenderSession(
        trainer: trainer, imagePath: path,
        resolvedConfig: ResolvedConfig.complete(
          root, experiment: experiment, seed: seed, output: path),
        interrupt: interrupt, log: log)
      session.verbosity = verbose
      let outcome = try session.run()
      OutputNaming.releaseClaim(path)
      return outcome
    } catch {
      OutputNaming.releaseClaim(path)
      throw error
    }
  }

  /// Writes to standard error without buffering.
  public static let standardError: @Sendable (String) -> Void = { text in
    FileHandle.standardError.write(Data(text.utf8))
  }
}
