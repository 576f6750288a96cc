import Formats
import Foundation
import PipelineKit

/// Settings of one `clipig render` call: the files, the output, the overrides and the seed.
public struct RenderOptions: Sendable {
  /// YAML files in merge order (`-` is standard input).
  public var configFiles: [String] = []
  /// `-o`: output file or directory.
  public var output: String?
  /// Values that replace the YAML's (`-e`, `-r`, `--lr`, `--optimizer`, `-s`, `--model`,
  /// `--quality`).
  public var overrides = RunOverrides()
  /// `--seed`: wins over the YAML's `seed:`; without either a seed is drawn.
  public var seed: UInt64?
  /// Which run of `--repeat N` this is (0 for the first): an explicit seed (flag or YAML) is
  /// offset by it, so repeated runs differ and each can be reproduced.
  public var repetition = 0
  /// The stages the experiment may name (add your own with `StageRegistry.adding`).
  public var registries = StageRegistries.builtin
  /// `-v` (2) / `-q` (0): how much to print; not written into the configuration. Without it
  /// the YAML's `verbose` applies, capped at 1 (progress line only).
  public var verbosity: Int?

  /// Creates empty options.
  public init() {}

  /// The run these options describe.
  public func plan() throws -> RunPlan {
    try RunPlan(
      files: configFiles, overrides: overrides, seed: seed, repetition: repetition,
      registries: registries)
  }
}

/// The `render` command's work, outside the argument parser so tests and library users can
/// drive it.
public enum CLIRunner {
  /// Runs one render: plan, output claim (or the interrupted run to continue), model, the run
  /// loop with a `RenderRecorder`.
  public static func render(
    options: RenderOptions, interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void = standardError
  ) throws -> RenderOutcome {
    var plan = try options.plan()
    if plan.experiment.animation != nil {
      return try AnimationRender.render(
        plan: plan, options: options, interrupt: interrupt, log: log)
    }
    let requested = plan.requestedOutput(commandLine: options.output)
    try OutputNaming.validate(requested: requested, commandLine: options.output)
    let resume = try Checkpoint.resumable(
      forRequested: requested, digest: plan.checkpointDigest,
      seed: plan.seedWasDrawn ? nil : plan.seed,
      drawnDigest: plan.seedWasDrawn ? nil : plan.drawnSeedDigest,
      maxBytes: Checkpoint.sizeLimit(for: plan.experiment, seed: plan.seed))
    if let resume { plan = try plan.reseeded(resume.checkpoint.seed) }
    // Refuse `-o x.tif`, and a size the output format cannot hold, before any work.
    let format = try ImageFormat.forOutput(path: requested)
    try ImageLimits.check(plan.experiment, streams: plan.streams, format: format)
    let experiment = plan.experiment
    let verbose = options.verbosity ?? min(experiment.verbose, 1)
    if verbose >= 1 {
      for warning in experiment.warnings { log("warning: \(warning)\n") }
      if options.overrides.quality != nil && format == .png {
        log(
          "warning: --quality sets the JPEG and WebP quality; a PNG is lossless and ignores it "
            + "(name the output .jpg or .webp to use it)\n")
      }
    }
    let models = try experiment.loadModels { name, precision in
      if verbose >= 2 { log("loading CLIP \(name)\n") }
      return try ModelLoader.load(name, quiet: verbose == 0, precision: precision)
    }
    if verbose >= 2 { log("initializing pixels (seed \(plan.seed))\n") }
    let trainer = try Trainer(plan: plan, models: models)
    let path: String
    if let resume {
      let checkpointPath = Checkpoint.path(forImage: resume.imagePath)
      try trainer.restore(resume.checkpoint, path: checkpointPath)
      if resume.checkpoint.holdsItsImage(resume.imagePath) {
        path = resume.imagePath
      } else {
        // Another file took the image's place (or it is gone): never write over it; the run
        // continues under a newly claimed name, its checkpoint moved beside it.
        path = try OutputNaming.claim(requested)
        _ = rename(checkpointPath, Checkpoint.path(forImage: path))
        if verbose >= 1 {
          log(
            "\(resume.imagePath) is no longer the image this run saved; continuing into \(path)\n")
        }
      }
      if verbose >= 1 {
        log("resuming \(path) at epoch \(resume.checkpoint.nextEpoch + 1) (seed \(plan.seed))\n")
      }
    } else {
      path = try OutputNaming.claim(requested)
      if verbose >= 1 { log("rendering \(path) (seed \(plan.seed))\n") }
    }
    // Whatever fails from here on, no empty placeholder stays behind.
    defer { OutputNaming.releaseClaim(path) }
    let first = resume?.checkpoint.nextEpoch ?? experiment.startEpoch
    var recorder = RenderRecorder(
      plan: plan, imagePath: path, firstEpoch: first, verbosity: verbose, log: log)
    recorder.checkpointPath = Checkpoint.path(forImage: path)
    let loop = RunLoop(trainer: trainer, firstEpoch: first, interrupt: interrupt)
    return try loop.run(&recorder).outcome
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
