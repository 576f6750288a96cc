import Constraints
import Formats
import Foundation
import PipelineKit
import Synchronization
import Transforms

/// Command-line settings of one `clipig render` call (spec §10), applied over the merged YAML.
public struct RenderOptions: Sendable {
  /// YAML files in merge order (`-` is standard input).
  public var configFiles: [String] = []
  /// `-o`: output file or directory.
  public var output: String?
  /// `-e`.
  public var epochs: Int?
  /// `-r W [H]`.
  public var resolution: [Int]?
  /// `--learnrate`.
  public var learnrate: Double?
  /// `--optimizer`.
  public var optimizer: OptimizerKind?
  /// `-s`: snapshot interval in seconds (0 disables).
  public var snapshotSeconds: Double?
  /// `--seed`: wins over the YAML's `seed:`; without either a seed is drawn.
  public var seed: UInt64?
  /// Which run of `--repeat N` this is (0 for the first): an explicit seed (flag or YAML) is
  /// offset by it, so repeated runs differ and each can be reproduced.
  public var repetition = 0
  /// `--model`.
  public var model: String?
  /// `--quality`: JPEG/WebP quality of the output image (`output_quality`).
  public var quality: Int?
  /// Transforms the experiment may name (extend with `.adding(MyStage.self)` for your own).
  public var transforms: StageRegistry = .transforms
  /// Constraints the experiment may name.
  public var constraints: StageRegistry = .constraints
  /// `-v` (2) / `-q` (0): how much to print; not written into the configuration. Without it
  /// the YAML's `verbose` applies, capped at 1 (progress line only).
  public var verbosity: Int?
  /// Creates empty options.
  public init() {}

  /// The seed of the run: `--seed`, else the configuration's `seed:`, else drawn from the
  /// system's random source (then printed and saved in the sidecar), offset by `repetition`.
  public func seed(for root: ConfigNode) throws(ConfigError) -> UInt64 {
    var base = seed
    if base == nil, let node = root["seed"], !node.isNull {
      guard case .int(let value) = node.value else {
        throw ConfigError(
          "seed must be an integer, got \(node.kindDescription)", at: node.location, path: "seed")
      }
      base = UInt64(bitPattern: Int64(value))
    }
    guard let base else { return UInt64.random(in: 0...UInt64(Int64.max)) }
    return base &+ UInt64(repetition)
  }

  /// The merged configuration with these overrides written over it (as configuration nodes
  /// located at `<command line>`, so the sidecar records them and errors name the flag).
  public func apply(to root: ConfigNode) -> ConfigNode {
    var node = root
    func set(_ key: String, _ value: ConfigValue) {
      let location = SourceLocation.synthetic("<command line>")
      var entries = node.entries ?? []
      let child = ConfigNode(value, at: location)
      if let i = entries.firstIndex(where: { $0.key == key }) {
        entries[i].node = child
      } else {
        entries.append(ConfigNode.Entry(key: key, keyLocation: location, node: child))
      }
      node = ConfigNode(.mapping(entries), at: node.location)
    }
    if let epochs { set("epochs", .int(epochs)) }
    if let resolution {
      let r = resolution.count == 1 ? [resolution[0], resolution[0]] : resolution
      set("resolution", .sequence(r.map { ConfigNode(.int($0), at: .synthetic("<command line>")) }))
    }
    if let learnrate { set("learnrate", .float(learnrate)) }
    if let optimizer { set("optimizer", .string(optimizer.configName)) }
    if let snapshotSeconds { set("snapshot_interval", .float(snapshotSeconds)) }
    if let seed { set("seed", .int(Int(bitPattern: UInt(seed &+ UInt64(repetition))))) }
    if let model { set("model", .string(model)) }
    if let quality { set("output_quality", .int(quality)) }
    return node
  }
}

/// How a render ended.
public enum RenderOutcome: Sendable, Equatable {
  /// All epochs ran.
  case finished
  /// Interrupted by a signal; the latest image was saved.
  case interrupted
}

/// Runs a trainer over all epochs with progress, snapshots and the final image + YAML sidecar.
public struct RenderSession {
  /// The trainer.
  public let trainer: Trainer
  /// Where the image goes (claimed, unique).
  public let imagePath: String
  /// The configuration as run (overrides and seed included), written as the sidecar.
  public let resolvedConfig: ConfigNode
  /// Checked between epochs.
  public let interrupt: InterruptFlag
  /// Receives progress text (stderr in the CLI).
  public let log: @Sendable (String) -> Void
  /// 0 silent, 1 progress line, 2 also statistics every few seconds.
  public var verbosity: Int
  /// Where an interrupted run writes its `Checkpoint` (removed when the run finishes); nil
  /// writes none.
  public var checkpointPath: String?
  /// The configuration's SHA-256 recorded in the checkpoint (`Checkpoint.digest`).
  public var configDigest = ""
  /// The first epoch to run: a restored checkpoint's `nextEpoch` (default: the start epoch).
  public var firstEpoch: Int?

  /// A session writing to `imagePath`.
  public init(
    trainer: Trainer, imagePath: String, resolvedConfig: ConfigNode, interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void
  ) {
    self.trainer = trainer
    self.imagePath = imagePath
    self.resolvedConfig = resolvedConfig
    self.interrupt = interrupt
    self.log = log
    self.verbosity = min(trainer.experiment.verbose, 1)
  }

  /// Trains, writing snapshots, the final image and the sidecar. A run-time error saves the
  /// last image and YAML, then rethrows; in the run's first epoch, which trained nothing, it
  /// saves nothing (the caller releases its claim, so a failed run leaves no file).
  public func run() throws -> RenderOutcome {
    let e = trainer.experiment
    let start = Date()
    var lastSnapshot = start
    let first = firstEpoch ?? e.startEpoch
    var lastSnapshotEpoch = first
    var last: EpochReport?
    var lastProgress = Date.distantPast
    var lastStatistics = start
    var statistics = Statistics(experiment: e)
    for epoch in first..<e.epochs {
      if interrupt.isSet {
        try save(last: last, start: start, note: "interrupted at epoch \(epoch)")
        if let checkpointPath {
          try trainer.checkpoint(nextEpoch: epoch, configDigest: configDigest)
            .write(to: checkpointPath)
        }
        if verbosity >= 1 {
          log(
            "\ninterrupted: saved \(imagePath)"
              + (checkpointPath.map { " and \($0) (run the same command to resume)" } ?? "")
              + "\n")
        }
        return .interrupted
      }
      do {
        last = try trainer.step(epoch: epoch)
      } catch {
        if last != nil {
          try? save(last: last, start: start, note: "stopped by an error at epoch \(epoch)")
        }
        throw error
      }
      let now = Date()
      let isLast = epoch == e.epochs - 1
      if let r = last { statistics.add(r) }
      if verbosity >= 2 && (isLast || now.timeIntervalSince(lastStatistics) >= 4) {
        lastStatistics = now
        log(
          "\n"
            + statistics.block(
              pixels: trainer.image, optimizer: e.optimizer, lr: last?.learningRate ?? 0))
      }
      var snapshot = epoch == first || isLast
      switch e.snapshotInterval {
      case .never: snapshot = false
      case .epochs(let n): snapshot = snapshot || epoch - lastSnapshotEpoch >= n
      case .seconds(let s): snapshot = snapshot || now.timeIntervalSince(lastSnapshot) >= s
      }
      if snapshot && !isLast {
        try ImageFile.write(trainer.image, to: imagePath, quality: e.outputQuality)
        // With the snapshot a checkpoint, so that even a SIGKILL loses only the epochs since.
        if let checkpointPath {
          try trainer.checkpoint(nextEpoch: epoch + 1, configDigest: configDigest)
            .write(to: checkpointPath)
        }
        lastSnapshot = now
        lastSnapshotEpoch = epoch
      }
      if verbosity >= 1, let r = last {
        // A live line on a terminal; otherwise a plain line every 10 s and at the end.
        let terminal = isatty(2) == 1
        if terminal && (isLast || now.timeIntervalSince(lastProgress) >= 0.25) {
          lastProgress = now
          log("\r" + progressLine(r, start: start, now: now) + (isLast ? "\n" : ""))
        } else if !terminal && (isLast || now.timeIntervalSince(lastProgress) >= 10) {
          lastProgress = now
          log(progressLine(r, start: start, now: now) + "\n")
        }
      }
    }
    try save(last: last, start: start, note: nil)
    if let checkpointPath { Checkpoint.remove(path: checkpointPath) }
    if verbosity >= 2 { log("saved \(imagePath)\n") }
    return .finished
  }

  func progressLine(_ r: EpochReport, start: Date, now: Date) -> String {
    let e = trainer.experiment
    let first = firstEpoch ?? e.startEpoch
    let done = r.epoch - first + 1
    let total = e.epochs - first
    let elapsed = now.timeIntervalSince(start)
    let rate = Double(done) / max(elapsed, 1e-9)
    let eta = Double(total - done) / max(rate, 1e-9)
    var sims: [String] = []
    for (ti, target) in e.targets.enumerated() {
      let values = r.similarities[ti].compactMap { $0 }
      if !values.isEmpty {
        sims.append(
          "\(target.name) " + values.map { String(format: "%.2f", $0) }.joined(separator: "/"))
      }
    }
    return String(
      format: "epoch %ld/%ld  %.2f it/s  ETA %@  %ldx%ld  loss %.4f  %@", r.epoch + 1, e.epochs,
      rate,
      Self.duration(eta), r.resolution.width, r.resolution.height, r.loss,
      sims.joined(separator: "  "))
  }

  static func duration(_ s: Double) -> String {
    let t = Int(s.rounded())
    return t >= 3600
      ? String(format: "%ld:%02ld:%02ld", t / 3600, t / 60 % 60, t % 60)
      : String(format: "%ld:%02ld", t / 60, t % 60)
  }

  func save(last: EpochReport?, start: Date, note: String?) throws {
    let e = trainer.experiment
    try ImageFile.write(trainer.image, to: imagePath, quality: e.outputQuality)
    let runtime = Date().timeIntervalSince(start)
    let epochsRun = (last?.epoch ?? e.startEpoch - 1) + 1 - e.startEpoch
    var header = [
      "clipig render, \(ISO8601DateFormatter().string(from: Date()))",
      "seed: \(trainer.seed)",
      "epochs: \(epochsRun) of \(e.epochs - e.startEpoch)",
      String(
        format: "runtime: %.1f seconds (%.3f s/epoch)", runtime, runtime / Double(max(1, epochsRun))
      ),
    ]
    if let note { header.append(note) }
    if let r = last {
      for (ti, target) in e.targets.enumerated() {
        for (fi, feature) in target.features.enumerated() {
          if let s = r.similarities[ti][fi] {
            header.append(
              String(
                format: "%@: %@ similarity %.2f", target.name, feature.text ?? feature.image ?? "",
                s))
          }
        }
      }
    }
    let yaml = resolvedConfig.yamlText(headerComment: header)
    try FileIO.writeAtomically(Array(yaml.utf8), to: OutputNaming.sidecarPath(imagePath))
  }
}
