import Formats
import Foundation
import PipelineKit

/// How far an animation is, across its frames: what its progress line and time left are
/// computed from.
public struct AnimationProgress: Sendable {
  /// The number of frames.
  public var frames: Int
  /// Epochs this process still has to train, over all remaining frames.
  public var remainingEpochs: Int
  /// Epochs this process trained so far.
  public var trainedEpochs = 0
  /// Their seconds (`EpochReport.seconds`).
  public var trainingSeconds = 0.0
  /// When this process started training.
  public let start = Date()
  /// When the last progress line was printed.
  var lastLine = Date.distantPast
}

/// The observer of one animation frame's run (`AnimationRender`): the progress line (frame
/// k/N, epoch, time left for the whole animation), checkpoints when a snapshot is due, the
/// frame's PNG when it finishes (then a checkpoint naming the next frame, so that even a
/// SIGKILL loses only the epochs since), and the checkpoint of the frame when interrupted.
struct FrameRecorder: RunObserver {
  /// The frame's plan.
  let plan: RunPlan
  /// The animation's files.
  let output: AnimationOutput
  /// 0 silent, 1 progress line, 2 more.
  let verbosity: Int
  /// Receives the progress text.
  let log: @Sendable (String) -> Void
  /// Shared across frames.
  var progress: AnimationProgress
  /// Epochs of this frame (the loop's end).
  let epochs: Int

  private var lastSnapshot = Date()
  private var lastSnapshotEpoch: Int

  init(
    plan: RunPlan, output: AnimationOutput, firstEpoch: Int, epochs: Int,
    progress: AnimationProgress, verbosity: Int, log: @escaping @Sendable (String) -> Void
  ) {
    self.plan = plan
    self.output = output
    self.epochs = epochs
    self.progress = progress
    self.verbosity = verbosity
    self.log = log
    lastSnapshotEpoch = firstEpoch
  }

  var frame: Int { plan.experiment.frameIndex }

  mutating func epochFinished(_ r: EpochReport, trainer: Trainer) throws {
    progress.trainedEpochs += 1
    progress.trainingSeconds += r.seconds
    progress.remainingEpochs -= 1
    let now = Date()
    let isLast = r.epoch == epochs - 1
    var snapshot = false
    switch trainer.experiment.snapshotInterval {
    case .never: break
    case .epochs(let n): snapshot = r.epoch - lastSnapshotEpoch >= n
    case .seconds(let s): snapshot = now.timeIntervalSince(lastSnapshot) >= s
    }
    if snapshot && !isLast {
      try trainer.checkpoint(nextEpoch: r.epoch + 1, configDigest: plan.checkpointDigest)
        .write(to: output.checkpoint)
      lastSnapshot = now
      lastSnapshotEpoch = r.epoch
    }
    guard verbosity >= 1 else { return }
    let terminal = isatty(2) == 1
    if now.timeIntervalSince(progress.lastLine) >= (terminal ? 0.25 : 10) {
      progress.lastLine = now
      log((terminal ? "\r" : "") + line(r, now: now) + (terminal ? "" : "\n"))
    }
  }

  /// `frame 3/6  epoch 4/10  5.1 it/s  ETA 0:42  loss 0.8123`.
  func line(_ r: EpochReport, now: Date) -> String {
    let elapsed = now.timeIntervalSince(progress.start)
    let rate = Double(progress.trainedEpochs) / max(elapsed, 1e-9)
    let eta = Double(progress.remainingEpochs) / max(rate, 1e-9)
    return "frame \(frame + 1)/\(progress.frames)  epoch \(r.epoch + 1)/\(epochs)  "
      + String(format: "%.2f it/s", rate) + "  ETA \(RenderRecorder.duration(eta))  "
      + String(format: "loss %.4f", r.loss)
  }

  mutating func runEnded(_ end: RunEnd, trainer: Trainer, last: EpochReport?) throws {
    switch end {
    case .finished:
      try ImageFile.write(trainer.image, to: output.frame(frame))
      var next = trainer.checkpoint(nextEpoch: 0, configDigest: plan.checkpointDigest)
      next.frame = frame + 1
      try next.write(to: output.checkpoint)
      if verbosity >= 2 {
        log(
          (isatty(2) == 1 ? "\r" : "")
            + "frame \(frame + 1)/\(progress.frames): \(output.frame(frame))\n")
      }
    case .interrupted(let next), .stopped(let next):
      try trainer.checkpoint(nextEpoch: next, configDigest: plan.checkpointDigest)
        .write(to: output.checkpoint)
    case .failed:
      break
    }
  }
}
