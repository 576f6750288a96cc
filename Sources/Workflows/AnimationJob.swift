import Formats
import Foundation
import PipelineKit
import Runner

/// One animation of a batch (a grid item whose configuration has an `animation:` section),
/// rendered as `RenderJob` renders an image: into hidden partial files, `partial.video` with
/// its frames in `partial.frameDirectory`, continuing the checkpoint an interrupted run left
/// there, and published under the final names only when every frame is done.
///
/// Publishing moves the frame folder, the MP4 (when ffmpeg made one) and the sidecar, then the
/// WebP last: a final `NAME.webp` always means a finished animation (`Batch.isDone`).
struct AnimationJob {
  /// The run.
  var plan: RunPlan
  /// The final files, `DIR/NAME.mp4` and the rest beside it.
  var final: AnimationOutput
  /// The files while it renders, in `.clipig/partial/`.
  var partial: AnimationOutput
  /// 0 silent, 1 progress line, 2 more.
  var verbosity: Int

  /// Renders (or continues) the animation and, when finished, publishes it; the result's
  /// image is the last frame as saved.
  func run(
    models: [any FeatureModel], interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void
  ) throws -> RenderJob.Result {
    let input = try AnimationRender.prepare(plan)
    let resume = try Checkpoint.load(
      path: partial.checkpoint, expecting: plan.checkpointDigest,
      maxBytes: Checkpoint.sizeLimit(for: plan.experiment, seed: plan.seed))
    if resume == nil {
      // Frames of an earlier configuration under this name are not this run's.
      try? FileManager.default.removeItem(atPath: partial.frameDirectory)
    }
    try FileManager.default.createDirectory(
      atPath: partial.frameDirectory, withIntermediateDirectories: true)
    let start = Date()
    // The closing lines (what was saved; how to make the MP4 without ffmpeg) name the files
    // where they will be once published, not their partial names.
    let (partialStem, finalStem) = (partial.stem, final.stem)
    let shown: @Sendable (String) -> Void = { text in
      let closing = text.contains("saved ") || text.contains("clipig encode ")
      log(closing ? text.replacingOccurrences(of: partialStem, with: finalStem) : text)
    }
    let outcome = try AnimationRender.run(
      plan: plan, output: partial, resume: resume, input: input, models: models,
      verbosity: verbosity, interrupt: interrupt, log: shown)
    let seconds = Date().timeIntervalSince(start)
    guard outcome == .finished, let frames = plan.experiment.animation?.frames else {
      return RenderJob.Result(outcome: outcome, seconds: seconds, image: nil)
    }
    let last = try ImageFile.read(path: partial.frame(frames - 1))
    try publish()
    return RenderJob.Result(outcome: outcome, seconds: seconds, image: last)
  }

  /// Moves the finished files to their final names, the WebP last.
  func publish() throws {
    try OutputFiles.createParent(of: final.video)
    // A frame folder without its WebP is what a publish cut short left: this item's own.
    if FileManager.default.fileExists(atPath: final.frameDirectory) {
      try FileManager.default.removeItem(atPath: final.frameDirectory)
    }
    if rename(partial.frameDirectory, final.frameDirectory) != 0 {
      throw OutputFiles.fileError(
        final.frameDirectory, "cannot move \(partial.frameDirectory) here")
    }
    if FileManager.default.fileExists(atPath: partial.video) {
      try OutputFiles.move(partial.video, to: final.video, replacing: true)
    }
    try OutputFiles.publish(partial: partial.webp, final: final.webp, replacingExisting: false)
  }
}
