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
    // A seed given by flag or YAML is part of the configuration; a drawn one is taken from the
    // checkpoint when an interrupted run of this command is continued.
    let seedNode = root["seed"]
    let chosenSeed =
      options.seed != nil || !(seedNode?.isNull ?? true) ? try options.seed(for: root) : nil
    let digest = Checkpoint.digest(root, seed: chosenSeed, repetition: options.repetition)
    let provisional = try Experiment(
      root, transforms: options.transforms, constraints: options.constraints,
      random: SeededRandom(seed: chosenSeed ?? 0))
    let requested = OutputNaming.requestedPath(
      configOutput: provisional.output, lastConfigFile: options.configFiles.last,
      commandLine: options.output)
    try OutputNaming.validate(requested: requested, commandLine: options.output)
    let resume = try Checkpoint.resumable(
      forRequested: requested, digest: digest,
      maxBytes: Checkpoint.sizeLimit(for: provisional, seed: chosenSeed ?? 0))
    let seed = try resume?.checkpoint.seed ?? chosenSeed ?? options.seed(for: root)
    let experiment =
      seed == (chosenSeed ?? 0)
      ? provisional
      : try Experiment(
        root, transforms: options.transforms, constraints: options.constraints,
        random: SeededRandom(seed: seed))
    // Refuse `-o x.tif`, and a size the output format cannot hold, before any work.
    let format = try ImageFormat.forOutput(path: requested)
    try ImageLimits.check(experiment, streams: RandomStreams(seed: seed), format: format)
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
    let path: String
    if let resume {
      try trainer.restore(resume.checkpoint, path: Checkpoint.path(forImage: resume.imagePath))
      path = resume.imagePath
      if verbose >= 1 {
        log("resuming \(path) at epoch \(resume.checkpoint.nextEpoch + 1) (seed \(seed))\n")
      }
    } else {
      path = try OutputNaming.claim(requested)
      if verbose >= 1 { log("rendering \(path) (seed \(seed))\n") }
    }
    // Whatever fails from here on, no empty placeholder stays behind.
    do {
      var session = RenderSession(
        trainer: trainer, imagePath: path,
        resolvedConfig: ResolvedConfig.complete(
          root, experiment: experiment, seed: seed, output: path),
        interrupt: interrupt, log: log)
      session.checkpointPath = Checkpoint.path(forImage: path)
      session.configDigest = digest
      session.firstEpoch = resume?.checkpoint.nextEpoch
      session.verbosity = verbose
      let outcome = try session.run()
      OutputNaming.releaseClaim(path)
      return outcome
    } catch {
      OutputNaming.releaseClaim(path)
      throw error
    }
  }

  /// Writes to standard error without buffering; a closed stream drops the text.
  public static let standardError: @Sendable (String) -> Void = { text in
    StandardStream.error.write(text)
  }

  /// Writes to standard error without buffering; once the stream is closed (`… 2>&1 | head -1`)
  /// sets `interrupt` as SIGPIPE would: the render stops like after SIGTERM, keeping its image,
  /// sidecar and checkpoint, and exits with 141.
  public static func standardError(stopping interrupt: InterruptFlag) -> @Sendable (String) -> Void
  {
    { text in if !StandardStream.error.write(text) { interrupt.set(signal: SIGPIPE) } }
  }
}
