import Formats
import Foundation
import PipelineKit

/// The observer of a run that renders into a file (`render`, batch items, rank runs): the
/// progress line, statistics, snapshots with a checkpoint beside them, and at the end the image
/// and its sidecar (`Sidecar`). An interrupted run keeps its latest image, its sidecar and a
/// checkpoint to resume from; a run that fails after training some epochs keeps its last image
/// and sidecar; a run that fails in its first epoch writes nothing (the caller releases its
/// claim, so it leaves no file).
public struct RenderRecorder: RunObserver {
  /// The run (its configuration goes into the sidecar).
  public var plan: RunPlan
  /// Where the image is written while the run goes (a claimed name, or a hidden partial file).
  public let imagePath: String
  /// The image's name the sidecar records (its final name once published); nil: `imagePath`.
  public var outputName: String?
  /// Where snapshots and interruptions write a `Checkpoint` (removed when the run finishes);
  /// nil writes none.
  public var checkpointPath: String?
  /// 0 silent, 1 progress line, 2 also statistics every few seconds.
  public var verbosity: Int
  /// Receives the progress text (standard error in the command-line tool).
  public let log: @Sendable (String) -> Void
  /// The first epoch of this process's part of the run (for rates and the time left).
  public let firstEpoch: Int

  private let start = Date()
  private var lastSnapshot: Date
  private var lastSnapshotEpoch: Int
  private var lastProgress = Date.distantPast
  private var lastStatistics: Date
  private var statistics: Statistics
  /// Characters of the live progress line last written (a shorter line pads over them).
  private var liveLineLength = 0

  /// A recorder writing `imagePath` for `plan`, whose run starts at `firstEpoch`.
  public init(
    plan: RunPlan, imagePath: String, firstEpoch: Int, verbosity: Int,
    log: @escaping @Sendable (String) -> Void
  ) {
    self.plan = plan
    self.imagePath = imagePath
    self.firstEpoch = firstEpoch
    self.verbosity = verbosity
    self.log = log
    lastSnapshot = start
    lastStatistics = start
    lastSnapshotEpoch = firstEpoch
    statistics = Statistics(experiment: plan.experiment)
  }

  /// Statistics, a snapshot when due (with a checkpoint, so that even a SIGKILL loses only the
  /// epochs since), and the progress line.
  public mutating func epochFinished(_ r: EpochReport, trainer: Trainer) throws {
    let e = trainer.experiment
    let now = Date()
    let isLast = r.epoch == e.epochs - 1
    statistics.add(r)
    if verbosity >= 2 && (isLast || now.timeIntervalSince(lastStatistics) >= 4) {
      lastStatistics = now
      liveLineLength = 0
      log(
        "\n"
          + statistics.block(pixels: trainer.image, optimizer: e.optimizer, lr: r.learningRate))
    }
    var snapshot = r.epoch == firstEpoch || isLast
    switch e.snapshotInterval {
    case .never: snapshot = false
    case .epochs(let n): snapshot = snapshot || r.epoch - lastSnapshotEpoch >= n
    case .seconds(let s): snapshot = snapshot || now.timeIntervalSince(lastSnapshot) >= s
    }
    if snapshot && !isLast {
      try ImageFile.write(trainer.image, to: imagePath, quality: e.outputQuality)
      if let checkpointPath {
        try trainer.checkpoint(nextEpoch: r.epoch + 1, configDigest: plan.checkpointDigest)
          .recordingImage(at: imagePath).write(to: checkpointPath)
      }
      lastSnapshot = now
      lastSnapshotEpoch = r.epoch
    }
    guard verbosity >= 1 else { return }
    // A live line on a terminal; otherwise a plain line every 10 s and at the end.
    let terminal = isatty(2) == 1
    if terminal && (isLast || now.timeIntervalSince(lastProgress) >= 0.25) {
      lastProgress = now
      let line = progressLine(r, experiment: e, now: now)
      log("\r" + Self.overwriting(liveLineLength, with: line) + (isLast ? "\n" : ""))
      liveLineLength = isLast ? 0 : line.count
    } else if !terminal && (isLast || now.timeIntervalSince(lastProgress) >= 10) {
      lastProgress = now
      log(progressLine(r, experiment: e, now: now) + "\n")
    }
  }

  /// The image and sidecar at the end; with an interruption also the checkpoint.
  public mutating func runEnded(_ end: RunEnd, trainer: Trainer, last: EpochReport?) throws {
    switch end {
    case .finished:
      try save(trainer, last: last, note: nil)
      if let checkpointPath { Checkpoint.remove(path: checkpointPath) }
      if verbosity >= 2 { log("saved \(imagePath)\n") }
    case .interrupted(let next), .stopped(let next):
      try save(trainer, last: last, note: "interrupted at epoch \(next + 1)")
      if let checkpointPath {
        try trainer.checkpoint(nextEpoch: next, configDigest: plan.checkpointDigest)
          .recordingImage(at: imagePath).write(to: checkpointPath)
      }
      if verbosity >= 1 {
        log(
          "\ninterrupted: saved \(imagePath)"
            + (checkpointPath.map { " and \($0) (run the same command to resume)" } ?? "")
            + "\n")
      }
    case .failed(let epoch, _, let trained):
      if trained {
        try save(trainer, last: last, note: "stopped by an error at epoch \(epoch + 1)")
      }
    }
  }

  func progressLine(_ r: EpochReport, experiment e: Experiment, now: Date) -> String {
    let done = r.epoch - firstEpoch + 1
    let total = e.epochs - firstEpoch
    let elapsed = now.timeIntervalSince(start)
    let rate = Double(done) / max(elapsed, 1e-9)
    let eta = Double(total - done) / max(rate, 1e-9)
    var sims: [String] = []
    let several = r.modelSimilarities.count > 1
    for (ti, target) in e.targets.enumerated() {
      // With several models, each model's similarities after its name.
      let rows = several ? r.modelSimilarities.map { $0[ti] } : [r.similarities[ti]]
      var parts: [String] = []
      for (m, row) in rows.enumerated() {
        let values = row.compactMap { $0 }
        guard !values.isEmpty else { continue }
        parts.append(
          (several ? e.models[m].label + " " : "")
            + values.map { String(format: "%.2f", $0) }.joined(separator: "/"))
      }
      if !parts.isEmpty { sims.append("\(target.name) " + parts.joined(separator: " ")) }
    }
    return "epoch \(r.epoch + 1)/\(e.epochs)  " + String(format: "%.2f it/s", rate)
      + "  ETA \(Self.duration(eta))  \(r.resolution.width)x\(r.resolution.height)  "
      + String(format: "loss %.4f", r.loss) + "  " + sims.joined(separator: "  ")
  }

  /// `line` padded with blanks over the rest of a previous line of `previous` characters, so
  /// nothing of it stays visible after a carriage return.
  static func overwriting(_ previous: Int, with line: String) -> String {
    line + String(repeating: " ", count: max(0, previous - line.count))
  }

  /// `m:ss` or `h:mm:ss`; a time too long to mean anything (or not finite) is `--:--`.
  static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds < 1e9 else { return "--:--" }
    let t = Int(seconds.rounded())
    let (h, m, s) = (t / 3600, t / 60 % 60, t % 60)
    let mm = m < 10 ? "0\(m)" : "\(m)"
    let ss = s < 10 ? "0\(s)" : "\(s)"
    return h > 0 ? "\(h):\(mm):\(ss)" : "\(t / 60):\(ss)"
  }

  /// Writes the image and its sidecar (and with `tiling: true` the 2 × 2 copy, `NAME-tiled`,
  /// named after the image's final name).
  func save(_ trainer: Trainer, last: EpochReport?, note: String?) throws {
    let e = trainer.experiment
    try ImageFile.write(trainer.image, to: imagePath, quality: e.outputQuality)
    if e.tiling {
      try TiledOutput.write(
        trainer.image, forImageAt: outputName ?? imagePath, quality: e.outputQuality)
    }
    let runtime = Date().timeIntervalSince(start)
    let epochsRun = (last?.epoch ?? e.startEpoch - 1) + 1 - e.startEpoch
    var header = Sidecar.Header(
      command: "clipig render", seed: trainer.seed,
      progress: "epochs: \(epochsRun) of \(e.epochs - e.startEpoch)")
    header.notes.append(
      String(
        format: "runtime: %.1f seconds (%.3f s/epoch)", runtime,
        runtime / Double(max(1, epochsRun))))
    if let note { header.notes.append(note) }
    header.precision = trainer.model.precision
    header.similarities = last?.similarities ?? []
    header.modelSimilarities = last?.modelSimilarities ?? []
    try Sidecar.write(for: plan, imagePath: imagePath, output: outputName, header: header)
  }
}
