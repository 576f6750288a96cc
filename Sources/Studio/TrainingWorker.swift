import ExprEval
import Formats
import Foundation
import PipelineKit
import Runner

/// The studio's training thread: takes queued tabs one at a time and trains each with Runner's
/// `Trainer`, applying Updates and Stops between epochs and pushing progress and snapshots.
struct TrainingWorker {
  let session: StudioSession
  /// Models loaded so far, by name (only this thread touches them).
  var models: [String: any FeatureModel] = [:]

  init(session: StudioSession) { self.session = session }

  /// What the thread does next between two epochs.
  enum Command {
    case proceed, stop, shutdown
    case update(PendingUpdate)
  }

  /// Waits for work until the session shuts down.
  mutating func loop() {
    while true {
      session.waitForWork()
      let next: Int?? = session.state.withLock { s in
        if s.shuttingDown { return .some(nil) }
        guard !s.queue.isEmpty else { return nil }
        let id = s.queue.removeFirst()
        s.running = id
        if let i = s.tabs.firstIndex(where: { $0.id == id }) { s.tabs[i].status = .running }
        return .some(id)
      }
      switch next {
      case .none: continue
      case .some(.none): return
      case .some(.some(let id)):
        session.pushTabStates()
        run(id)
        session.state.withLock { $0.running = nil }
        session.pushTabStates()
        if session.state.withLock({ $0.shuttingDown }) { return }
      }
    }
  }

  mutating func model(_ name: String, tab: Int) throws -> any FeatureModel {
    if let m = models[name] { return m }
    session.log(tab, "loading CLIP \(name)")
    let m = try ModelLoader.load(name, quiet: true)
    models[name] = m
    return m
  }

  /// Trains tab `id` until its last epoch, a Stop, an error or shutdown.
  mutating func run(_ id: Int) {
    guard
      let job = session.state.withLock({ s -> (Tab, Tensor?)? in
        guard let i = s.tabs.firstIndex(where: { $0.id == id }) else { return nil }
        var tab = s.tabs[i]
        var resume: Tensor?
        // A queued Update of a stopped run continues from its pixels.
        if let u = tab.pendingUpdate, let raw = s.rawPixels[id] {
          tab.pendingUpdate = nil
          tab.yaml = u.yaml
          tab.config = u.config
          tab.updates.append((tab.imageEpoch ?? -1) + 1)
          resume = raw
          s.tabs[i] = tab
        }
        return (tab, resume)
      }),
      var config = job.0.config, let seed = job.0.seed
    else { return }
    let tab = job.0
    let name = tab.name
    var trainer: Trainer?
    var epoch = config.experiment.startEpoch
    do {
      var experiment = config.experiment
      if job.1 != nil {
        epoch = (tab.imageEpoch ?? -1) + 1
        experiment.startEpoch = epoch
        session.log(id, "continuing at epoch \(epoch) with the edited YAML")
      }
      let m = try model(experiment.model, tab: id)
      let t = try Trainer(
        experiment: experiment, model: m, seed: seed, baseDirectory: tab.baseDirectory)
      if let raw = job.1 { t.resume(from: raw) }
      trainer = t
      session.state.withLock { s in
        if let i = s.tabs.firstIndex(where: { $0.id == id }) { s.tabs[i].imageSize = m.imageSize }
      }
      session.log(id, "training \(name): epochs \(epoch)–\(experiment.epochs - 1), seed \(seed)")
      var publisher = ProgressPublisher(
        session: session, tab: id, experiment: experiment, seed: seed, startEpoch: epoch)
      var current = t
      while epoch < experiment.epochs {
        switch command(id) {
        case .proceed: break
        case .stop:
          publisher.flush(trainer: current, force: true)
          finish(id, status: .stopped, pixels: current.pixels)
          session.log(id, "stopped at epoch \(epoch)")
          return
        case .shutdown:
          publisher.flush(trainer: current, force: true)
          finish(id, status: .stopped, pixels: current.pixels)
          if let path = try? session.save(id, note: "interrupted at epoch \(epoch)") {
            StandardStream.error.write("clipig studio: saved \(path)\n")
          }
          return
        case .update(let u):
          var e2 = u.config.experiment
          guard e2.epochs > epoch else {
            session.setError(
              id,
              ErrorInfo(
                message: "cannot update at epoch \(epoch): the edited YAML has epochs: \(e2.epochs)"
              ))
            break
          }
          e2.startEpoch = epoch
          let m2 = try model(e2.model, tab: id)
          let t2 = try Trainer(
            experiment: e2, model: m2, seed: seed, baseDirectory: tab.baseDirectory)
          t2.resume(from: current.pixels)
          session.state.withLock { s in
            if let i = s.tabs.firstIndex(where: { $0.id == id }) {
              s.tabs[i].imageSize = m2.imageSize
            }
          }
          current = t2
          trainer = t2
          experiment = e2
          config = u.config
          publisher = ProgressPublisher(
            session: session, tab: id, experiment: e2, seed: seed, startEpoch: epoch)
          session.log(id, "updated at epoch \(epoch)")
          session.pushTabStates()
        }
        let report = try current.step(epoch: epoch)
        publisher.add(report, trainer: current)
        epoch += 1
      }
      publisher.flush(trainer: current, force: true)
      finish(id, status: .finished, pixels: current.pixels)
      session.log(id, "finished \(experiment.epochs) epochs")
    } catch {
      let info = ConfigCheck.info(error, file: name)
      // The page learns the error no later than the status.
      session.setError(id, info)
      finish(id, status: .failed, pixels: trainer?.pixels)
      session.log(id, "error: \(info.message)")
    }
  }

  /// The next command for tab `id`, taking a pending Update.
  func command(_ id: Int) -> Command {
    session.state.withLock { s in
      if s.shuttingDown { return .shutdown }
      guard let i = s.tabs.firstIndex(where: { $0.id == id }) else { return .stop }
      if s.tabs[i].stopRequested { return .stop }
      if let u = s.tabs[i].pendingUpdate {
        s.tabs[i].pendingUpdate = nil
        s.tabs[i].yaml = u.yaml
        s.tabs[i].config = u.config
        s.tabs[i].updates.append((s.tabs[i].imageEpoch ?? -1) + 1)
        return .update(u)
      }
      return .proceed
    }
  }

  func finish(_ id: Int, status: TabStatus, pixels: Tensor?) {
    session.state.withLock { s in
      if let i = s.tabs.firstIndex(where: { $0.id == id }) {
        s.tabs[i].status = status
        s.tabs[i].stopRequested = false
      }
      if let pixels { s.rawPixels[id] = pixels }
    }
  }
}
