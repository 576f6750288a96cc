import CLIP
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

  /// Trains tab `id` in `RunLoop` until its last epoch, a Stop, an error or shutdown.
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
      let plan = job.0.config?.plan
    else { return }
    let tab = job.0
    var observer = TabRun(worker: self, tab: id)
    var trainer: Trainer?
    do {
      var first = plan.experiment.startEpoch
      if job.1 != nil {
        first = (tab.imageEpoch ?? -1) + 1
        session.log(id, "continuing at epoch \(first + 1) with the edited YAML")
      }
      let t = try observer.trainer(plan, startEpoch: first)
      if let raw = job.1 { t.resume(from: raw) }
      trainer = t
      session.log(
        id,
        "training \(tab.name): epochs \(first + 1)–\(plan.experiment.epochs), seed \(plan.seed)")
      observer.publisher = ProgressPublisher(
        session: session, tab: id, experiment: t.experiment, seed: plan.seed, startEpoch: first)
      try RunLoop(trainer: t, firstEpoch: first).run(&observer)
    } catch {
      let info = ConfigCheck.info(error, file: tab.name)
      // The page learns the error no later than the status.
      session.setError(id, info)
      finish(id, status: .failed, pixels: observer.failedPixels ?? trainer?.pixels)
      session.log(id, "error: \(info.message)")
    }
    models = observer.worker.models
  }

  /// A model by name and precision, loading it on first use.
  mutating func model(_ name: String, precision: CLIPPrecision, tab: Int) throws
    -> any FeatureModel
  {
    let key = "\(precision.rawValue) \(name)"
    if let m = models[key] { return m }
    session.log(tab, "loading CLIP \(name)")
    let m = try ModelLoader.load(name, quiet: true, precision: precision)
    models[key] = m
    return m
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
