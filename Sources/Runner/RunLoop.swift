import PipelineKit

/// How a run ended.
public enum RenderOutcome: Sendable, Equatable {
  /// All epochs ran.
  case finished
  /// Interrupted by a signal (or a shutdown); the latest image was kept.
  case interrupted
  /// Stopped on request (the studio's Stop) before its last epoch.
  case stopped
}

/// What the loop does before an epoch, as its observer decides.
public enum RunCommand {
  /// Train the epoch.
  case proceed
  /// End the run here (the studio's Stop).
  case stop
  /// Go on with another trainer from this epoch (the studio's Update: the edited YAML, the
  /// current pixels).
  case replace(Trainer)
}

/// How a run ended, as its observer learns it.
public enum RunEnd {
  /// Every epoch ran.
  case finished
  /// A signal (or shutdown) before epoch `nextEpoch`.
  case interrupted(nextEpoch: Int)
  /// The observer's `.stop` before epoch `nextEpoch`.
  case stopped(nextEpoch: Int)
  /// `error` in epoch `epoch`; `trained` says whether any epoch of this run finished before.
  case failed(epoch: Int, error: any Error, trained: Bool)
}

/// What watches a run: progress lines, snapshots and checkpoints (`RenderRecorder`), the
/// studio's pushes and its Stop and Update. Every hook has a default that does nothing.
public protocol RunObserver {
  /// Before epoch `epoch`: go on, stop, or go on with another trainer.
  mutating func command(before epoch: Int, trainer: Trainer) throws -> RunCommand
  /// After epoch `report.epoch` trained.
  mutating func epochFinished(_ report: EpochReport, trainer: Trainer) throws
  /// Once, when the run ends (before a failure is rethrown).
  mutating func runEnded(_ end: RunEnd, trainer: Trainer, last: EpochReport?) throws
}

extension RunObserver {
  /// Goes on.
  public mutating func command(before epoch: Int, trainer: Trainer) throws -> RunCommand {
    .proceed
  }
  /// Nothing.
  public mutating func epochFinished(_ report: EpochReport, trainer: Trainer) throws {}
  /// Nothing.
  public mutating func runEnded(_ end: RunEnd, trainer: Trainer, last: EpochReport?) throws {}
}

/// An observer that only lets the run go on (`preview --train`, benchmarks).
public struct SilentObserver: RunObserver {
  /// The observer.
  public init() {}
}

/// The one training loop of clipig: every command that trains — render, batch items, rank
/// runs, the studio, `preview --train` — runs its epochs here, and observes them.
///
/// Before each epoch the loop checks the interrupt flag (then the observer saves what it
/// keeps and the run ends `.interrupted`) and asks the observer what to do; then it trains
/// the epoch and reports it. A failing epoch is reported, then rethrown.
public struct RunLoop {
  /// The trainer of the first epoch (the observer may replace it).
  public var trainer: Trainer
  /// The first epoch to train (a checkpoint's next epoch, or the experiment's start).
  public var firstEpoch: Int
  /// The epoch to stop before; nil: the experiment's `epochs`.
  public var endEpoch: Int?
  /// Checked before every epoch.
  public var interrupt: InterruptFlag

  /// A loop from `firstEpoch` (default: the experiment's start epoch).
  public init(
    trainer: Trainer, firstEpoch: Int? = nil, endEpoch: Int? = nil,
    interrupt: InterruptFlag = InterruptFlag()
  ) {
    self.trainer = trainer
    self.firstEpoch = firstEpoch ?? trainer.experiment.startEpoch
    self.endEpoch = endEpoch
    self.interrupt = interrupt
  }

  /// Trains until the end, an interruption, a stop or an error; returns the trainer as it
  /// ended (the observer may have replaced the first).
  @discardableResult
  public func run(_ observer: inout some RunObserver) throws -> (
    outcome: RenderOutcome, trainer: Trainer
  ) {
    ProcessTuning.forLongComputations()
    var trainer = self.trainer
    var epoch = firstEpoch
    var last: EpochReport?
    while epoch < endEpoch ?? trainer.experiment.epochs {
      if interrupt.isSet {
        try observer.runEnded(.interrupted(nextEpoch: epoch), trainer: trainer, last: last)
        return (.interrupted, trainer)
      }
      switch try observer.command(before: epoch, trainer: trainer) {
      case .proceed: break
      case .stop:
        try observer.runEnded(.stopped(nextEpoch: epoch), trainer: trainer, last: last)
        return (.stopped, trainer)
      case .replace(let next):
        trainer = next
        continue
      }
      do {
        last = try trainer.step(epoch: epoch)
      } catch {
        try? observer.runEnded(
          .failed(epoch: epoch, error: error, trained: last != nil), trainer: trainer, last: last)
        throw error
      }
      if let last { try observer.epochFinished(last, trainer: trainer) }
      epoch += 1
    }
    try observer.runEnded(.finished, trainer: trainer, last: last)
    return (.finished, trainer)
  }
}
