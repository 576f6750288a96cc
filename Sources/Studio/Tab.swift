import CLIP
import PipelineKit
import Runner

/// The run state of one experiment tab.
enum TabStatus: String, Sendable {
  case idle, queued, running, stopped, finished, failed
}

/// An edit applied to a running experiment at its next epoch.
struct PendingUpdate: Sendable {
  /// The edited YAML.
  var yaml: String
  /// Its decoded form.
  var config: CheckedConfig
}

/// One experiment tab: its YAML, its run and what the page shows of it.
struct Tab: Sendable {
  /// Tab id.
  var id: Int
  /// File name (no directory): names errors and output files.
  var name: String
  /// Where relative image paths of the YAML are resolved.
  var baseDirectory: String
  /// The YAML last started, updated or loaded.
  var yaml: String
  /// Run state.
  var status: TabStatus = .idle
  /// The seed of the current or last run.
  var seed: UInt64?
  /// The configuration of the current or last run (what Save writes).
  var config: CheckedConfig?
  /// An Update waiting for the next epoch.
  var pendingUpdate: PendingUpdate?
  /// Stop asked for.
  var stopRequested = false
  /// Epochs at which Updates were applied.
  var updates: [Int] = []
  /// Input side of the CLIP model of the run (for the views CLIP sees).
  var imageSize: Int?
  /// The GEMM precision the run's CLIP computes in (what Save records).
  var precision: PrecisionChoice?
  /// The latest image `[3, H, W]` in [0, 1].
  var image: Tensor?
  /// Epoch of `image`.
  var imageEpoch: Int?
  /// The latest snapshot as a data URL.
  var snapshot: String?
  /// Plot points.
  var history: [EpochPoint] = []
  /// Latest statistics.
  var statistics: Statistics?
  /// Expression values now.
  var parameters: [ParameterValue] = []
  /// The last error.
  var error: ErrorInfo?
  /// Log lines.
  var log: [String] = []
  /// Files written by Save.
  var saved: [String] = []

  /// What the page gets; `history` only when asked (it can be long).
  func summary(queuePosition: Int?, withHistory: Bool) -> TabSummary {
    let e = config?.experiment
    return TabSummary(
      id: id, name: name, yaml: yaml, status: status.rawValue, queuePosition: queuePosition,
      seed: seed.map { String($0) }, targets: e?.targets.map(\.name) ?? [],
      features: e?.targets.map { $0.features.map { $0.text ?? $0.image ?? "" } } ?? [],
      statistics: statistics, history: withHistory ? history : [], parameters: parameters,
      snapshot: snapshot, error: error, log: Array(log.suffix(200)), saved: saved)
  }
}
