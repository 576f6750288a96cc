import Foundation
import PipelineKit
import Runner

/// The studio's observer of one tab's run in `RunLoop`: records and pushes every epoch
/// (`ProgressPublisher`), and between epochs applies the page's Stop and Update and the
/// server's shutdown (which saves the image and YAML, as `render` does on Ctrl-C).
struct TabRun: RunObserver {
  /// The training thread (its loaded models travel with the run and back).
  var worker: TrainingWorker
  /// The tab's id.
  let tab: Int
  /// Pushes the run's progress; made when the run starts, again after an Update.
  var publisher: ProgressPublisher?
  /// The run ended because the server shuts down.
  private(set) var shuttingDown = false
  /// The pixels of a run that failed, for an Update to continue from.
  private(set) var failedPixels: Tensor?

  var session: StudioSession { worker.session }

  init(worker: TrainingWorker, tab: Int) {
    self.worker = worker
    self.tab = tab
  }

  /// A trainer of `plan` starting at `startEpoch`, with the model loaded once per thread.
  mutating func trainer(_ plan: RunPlan, startEpoch: Int) throws -> Trainer {
    let models = try plan.experiment.loadModels { name, precision in
      try worker.model(name, precision: precision, tab: tab)
    }
    let model = models[0]
    let trainer = try Trainer(plan: plan, models: models, startEpoch: startEpoch)
    session.state.withLock { s in
      if let i = s.tabs.firstIndex(where: { $0.id == tab }) {
        s.tabs[i].imageSize = model.imageSize
        s.tabs[i].precision = model.precision
      }
    }
    return trainer
  }

  /// Stop, shutdown, or an Update: the edited YAML from the current pixels at this epoch.
  mutating func command(before epoch: Int, trainer current: Trainer) throws -> RunCommand {
    switch worker.command(tab) {
    case .proceed: return .proceed
    case .stop: return .stop
    case .shutdown:
      shuttingDown = true
      return .stop
    case .update(let update):
      let plan = update.config.plan
      guard plan.experiment.epochs > epoch else {
        session.setError(
          tab,
          ErrorInfo(
            message: "cannot update at epoch \(epoch + 1): the edited YAML has epochs: "
              + "\(plan.experiment.epochs)"))
        return .proceed
      }
      let next = try trainer(plan, startEpoch: epoch)
      next.resume(from: current.pixels)
      publisher = ProgressPublisher(
        session: session, tab: tab, experiment: next.experiment, seed: plan.seed,
        startEpoch: epoch)
      session.log(tab, "updated at epoch \(epoch + 1)")
      session.pushTabStates()
      return .replace(next)
    }
  }

  mutating func epochFinished(_ report: EpochReport, trainer: Trainer) throws {
    publisher?.add(report, trainer: trainer)
  }

  mutating func runEnded(_ end: RunEnd, trainer: Trainer, last: EpochReport?) throws {
    switch end {
    case .finished:
      publisher?.flush(trainer: trainer, force: true)
      worker.finish(tab, status: .finished, pixels: trainer.pixels)
      session.log(tab, "finished \(trainer.experiment.epochs) epochs")
    case .stopped(let next), .interrupted(let next):
      publisher?.flush(trainer: trainer, force: true)
      worker.finish(tab, status: .stopped, pixels: trainer.pixels)
      if shuttingDown {
        if let path = try? session.save(tab, note: "interrupted at epoch \(next + 1)") {
          // As render leaves one: rendering the saved YAML into the saved image continues.
          let resumable =
            (try? Checkpoint.writeForSidecar(of: path, trainer: trainer, nextEpoch: next)) != nil
          CLIRunner.standardError(
            "clipig studio: saved \(path)"
              + (resumable
                ? " (to continue: clipig render \(Sidecar.path(forImage: path)) -o \(path))" : "")
              + "\n")
        }
      } else {
        session.log(tab, "stopped at epoch \(next + 1)")
      }
    case .failed:
      failedPixels = trainer.pixels
    }
  }
}
