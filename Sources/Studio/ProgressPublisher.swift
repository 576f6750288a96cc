import ExprEval
import Formats
import Foundation
import PipelineKit
import Runner

/// Records each epoch of a run into its tab and pushes progress (about 4 times a second) and
/// snapshots (every `snapshotSeconds`) to the pages, so fast runs do not flood the socket.
struct ProgressPublisher {
  let session: StudioSession
  let tab: Int
  let experiment: Experiment
  let seed: UInt64
  let startEpoch: Int
  let expressions: [Schedule.Entry]
  let started = Date()
  var lastProgress = Date.distantPast
  var lastSnapshot = Date.distantPast
  var pending: [EpochPoint] = []
  var statistics: Statistics?
  var lastEpoch: Int?
  var snapshotEpoch: Int?

  init(session: StudioSession, tab: Int, experiment: Experiment, seed: UInt64, startEpoch: Int) {
    self.session = session
    self.tab = tab
    self.experiment = experiment
    self.seed = seed
    self.startEpoch = startEpoch
    self.expressions = Schedule.expressions(of: experiment)
  }

  /// Records one epoch and pushes when due.
  mutating func add(_ r: EpochReport, trainer: Trainer) {
    let point = EpochPoint(
      epoch: r.epoch, loss: r.loss,
      similarities: r.similarities.map { sims in
        let v = sims.compactMap { $0 }
        return v.isEmpty ? nil : v.reduce(0, +) / Double(v.count)
      })
    pending.append(point)
    lastEpoch = r.epoch
    let elapsed = Date().timeIntervalSince(started)
    statistics = Statistics(
      epoch: r.epoch, epochs: experiment.epochs, startEpoch: startEpoch,
      epochsPerSecond: Double(r.epoch - startEpoch + 1) / max(elapsed, 1e-9), seconds: r.seconds,
      clipSeconds: r.clipSeconds, width: r.resolution.width, height: r.resolution.height,
      learningRate: r.learningRate, views: r.views, loss: r.loss, similarities: r.similarities)
    let image = trainer.image
    session.state.withLock { s in
      guard let i = s.tabs.firstIndex(where: { $0.id == tab }) else { return }
      s.tabs[i].image = image
      s.tabs[i].imageEpoch = r.epoch
      s.tabs[i].history.append(point)
      if s.tabs[i].history.count > 20_000 {
        // Keep long runs' plots bounded: every other old point.
        s.tabs[i].history = s.tabs[i].history.enumerated().compactMap {
          $0.offset % 2 == 0 ? $0.element : nil
        }
      }
      s.tabs[i].statistics = statistics
    }
    flush(trainer: trainer, force: r.epoch == experiment.epochs - 1)
  }

  /// Pushes progress and a snapshot if due (or now when `force`).
  mutating func flush(trainer: Trainer, force: Bool) {
    let now = Date()
    if force || now.timeIntervalSince(lastProgress) >= 0.25, let statistics {
      lastProgress = now
      let parameters = values(at: statistics.epoch)
      session.state.withLock { s in
        if let i = s.tabs.firstIndex(where: { $0.id == tab }) { s.tabs[i].parameters = parameters }
      }
      var p = Push(type: "progress")
      p.tab = tab
      p.points = pending
      p.statistics = statistics
      p.parameters = parameters
      pending = []
      session.broadcaster.send(p)
    }
    if (force && snapshotEpoch != lastEpoch)
      || now.timeIntervalSince(lastSnapshot) >= session.configuration.snapshotSeconds
    {
      lastSnapshot = now
      snapshotEpoch = lastEpoch
      guard let url = try? StudioSession.dataURL(trainer.image) else { return }
      session.state.withLock { s in
        if let i = s.tabs.firstIndex(where: { $0.id == tab }) { s.tabs[i].snapshot = url }
      }
      var p = Push(type: "snapshot")
      p.tab = tab
      p.image = url
      p.epoch = lastEpoch
      session.broadcaster.send(p)
    }
  }

  /// Every expression-valued parameter at `epoch` (what `clipig schedule` prints).
  func values(at epoch: Int) -> [ParameterValue] {
    var random = SeededRandom(seed: seed)
    var rows: [ParameterValue] = []
    let context: ExprContext
    do {
      context = try experiment.variables(atEpoch: epoch, random: &random)
    } catch {
      return [ParameterValue(path: "resolution", expression: "", value: "error: \(error.message)")]
    }
    rows.append(ParameterValue(path: "t", expression: "", value: Self.format(context.t)))
    rows.append(
      ParameterValue(
        path: "learnrate (effective)", expression: "", value: Self.format(context.learnrate)))
    for entry in expressions {
      let value: String
      do {
        value = Self.format(try entry.expression.evaluateDouble(in: context, random: &random))
      } catch {
        value = "error: \(error.message)"
      }
      rows.append(ParameterValue(path: entry.path, expression: "\(entry.expression)", value: value))
    }
    return rows
  }

  static func format(_ x: Double) -> String {
    if x == x.rounded() && abs(x) < 1e15 { return String(Int(x)) }
    return String(format: "%.6g", x)
  }
}
