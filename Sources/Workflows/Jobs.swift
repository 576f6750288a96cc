import CLIP
import Formats
import Foundation
import PipelineKit
import Runner
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Loads each CLIP model once per precision and hands out independent instances, one per
/// worker thread: the weights are shared, every instance has its own image workspace.
public final class ModelPool: Sendable {
  /// Loads the model `name` in a precision and returns a maker of independent instances of it.
  public typealias Loader =
    @Sendable (String, CLIPPrecision) throws -> @Sendable () throws -> any FeatureModel

  private let loader: Loader
  private let makers = Mutex<[String: @Sendable () throws -> any FeatureModel]>([:])

  /// A pool loading models with `loader` (CLIP models from paths by default).
  public init(loader: @escaping Loader = ModelPool.clipLoader) {
    self.loader = loader
  }

  /// A new instance of the model `name` with its matrix products in `precision`, loading it
  /// on first use.
  public func instance(_ name: String, precision: CLIPPrecision = .fp32) throws
    -> any FeatureModel
  {
    let key = Self.key(name, precision)
    let make = try makers.withLock { cache throws -> @Sendable () throws -> any FeatureModel in
      if let make = cache[key] { return make }
      let make = try loader(name, precision)
      cache[key] = make
      return make
    }
    return try make()
  }

  /// Instances of every model of `experiment` (in `models:` order), taken from `loaded` (one
  /// worker's instances, by `key`) or made and added there.
  public func instances(
    of experiment: Experiment, reusing loaded: inout [String: any FeatureModel]
  ) throws -> [any FeatureModel] {
    try experiment.loadModels { name, precision in
      let key = Self.key(name, precision)
      if let model = loaded[key] { return model }
      let model = try instance(name, precision: precision)
      loaded[key] = model
      return model
    }
  }

  /// The name under which a model in a precision is kept (by the pool and its users).
  public static func key(_ name: String, _ precision: CLIPPrecision) -> String {
    "\(precision.rawValue) \(name)"
  }

  /// Loads a CLIP model with `ModelLoader` and shares its weights between instances.
  public static let clipLoader: Loader = { name, precision in
    let first = try ModelLoader.load(name, precision: precision)
    guard let clip = first as? CLIPFeatureModel else {
      return { try ModelLoader.load(name, precision: precision) }
    }
    let model = clip.model
    let tokenizer = clip.tokenizer
    let reported = clip.reported
    let warn = clip.warn
    return {
      let instance = CLIPFeatureModel(model: model, tokenizer: tokenizer, reported: reported)
      instance.warn = warn
      return instance
    }
  }
}

/// One render into a hidden partial file that is moved to its final name only when every epoch
/// ran, so a final name always means a finished image and an interrupted run leaves nothing a
/// later run would mistake for a result.
struct RenderJob {
  /// The run.
  var plan: RunPlan
  /// Where the finished image goes (its sidecar beside it).
  var imagePath: String
  /// Where the image is written while it renders (snapshots, interrupted state).
  var partialPath: String
  /// 0 silent, 1 progress line, 2 statistics.
  var verbosity: Int
  /// Replace an existing final image (only for files this program made, e.g. in a rank
  /// directory); otherwise an existing final image is an error and stays untouched.
  var replacesExisting: Bool

  /// How it went.
  struct Result {
    /// Finished or interrupted.
    var outcome: RenderOutcome
    /// Wall time of the training in seconds.
    var seconds: Double
    /// The final image as saved (8-bit), nil when interrupted.
    var image: Tensor?
  }

  /// Trains in `RunLoop` (continuing the checkpoint an interrupted run of this job left beside
  /// its partial image) and, when finished, publishes image and sidecar.
  func run(
    models: [any FeatureModel], interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void
  ) throws -> Result {
    let trainer = try Trainer(plan: plan, models: models)
    let checkpointPath = Checkpoint.path(forImage: partialPath)
    let resume = try Checkpoint.load(
      path: checkpointPath, expecting: plan.checkpointDigest,
      maxBytes: Checkpoint.sizeLimit(for: plan.experiment, seed: plan.seed))
    if let resume {
      try trainer.restore(resume, path: checkpointPath)
      if verbosity >= 1 {
        log("resuming \(imagePath) at epoch \(resume.nextEpoch + 1)\n")
      }
    }
    let first = resume?.nextEpoch ?? plan.experiment.startEpoch
    var recorder = RenderRecorder(
      plan: plan, imagePath: partialPath, firstEpoch: first, verbosity: verbosity, log: log)
    recorder.outputName = URL(fileURLWithPath: imagePath).standardizedFileURL.path
    recorder.checkpointPath = checkpointPath
    let start = Date()
    let outcome = try RunLoop(trainer: trainer, firstEpoch: first, interrupt: interrupt)
      .run(&recorder).outcome
    let seconds = Date().timeIntervalSince(start)
    guard outcome == .finished else {
      return Result(outcome: outcome, seconds: seconds, image: nil)
    }
    let saved = try ImageFile.read(path: partialPath)
    try OutputFiles.publish(
      partial: partialPath, final: imagePath, replacingExisting: replacesExisting)
    return Result(outcome: outcome, seconds: seconds, image: saved)
  }
}

/// File moves and locks of the batch commands.
enum OutputFiles {
  /// Moves a finished image and its YAML sidecar from their partial names to the final ones.
  /// The sidecar goes first and the image last, so a final image always has its sidecar. An
  /// existing final image is replaced only when `replacingExisting`; otherwise it is kept and
  /// the move fails.
  static func publish(partial: String, final: String, replacingExisting: Bool) throws {
    try createParent(of: final)
    let partialSidecar = OutputNaming.sidecarPath(partial)
    if FileManager.default.fileExists(atPath: partialSidecar) {
      try move(partialSidecar, to: OutputNaming.sidecarPath(final), replacing: true)
    }
    try move(partial, to: final, replacing: replacingExisting)
  }

  /// Renames `from` to `to`; without `replacing` the rename fails if `to` exists (a hard link
  /// then an unlink, which is atomic and never replaces anything).
  static func move(_ from: String, to: String, replacing: Bool) throws {
    if replacing {
      if rename(from, to) != 0 { throw fileError(to, "cannot move \(from) here") }
      return
    }
    if link(from, to) != 0 {
      let code = errno
      if code == EEXIST {
        throw WorkflowError("\(to) exists already and was left as it is")
      }
      guard code == EPERM || code == ENOTSUP || code == EOPNOTSUPP || code == EXDEV else {
        throw fileError(to, "cannot move \(from) here")
      }
      // A file system without hard links: check, then rename (not atomic, the best there is).
      if FileManager.default.fileExists(atPath: to) {
        throw WorkflowError("\(to) exists already and was left as it is")
      }
      if rename(from, to) != 0 { throw fileError(to, "cannot move \(from) here") }
      return
    }
    _ = unlink(from)
  }

  /// Creates the directory that will hold `path`.
  static func createParent(of path: String) throws {
    try FileIO.createParentDirectory(of: path)
  }

  /// Writes `text` to `path` atomically.
  static func write(_ text: String, to path: String) throws {
    try FileIO.writeAtomically(Array(text.utf8), to: path)
  }

  static func fileError(_ path: String, _ what: String) -> FileIOError {
    FileIOError(path: path, message: "\(what): \(String(cString: strerror(errno)))")
  }
}

/// Small number formats shared by the manifests and the gallery.
enum TextFormat {
  /// A number with two decimals, or an empty string.
  static func fixed2(_ x: Double?) -> String {
    x.map { String(format: "%.2f", $0) } ?? ""
  }

  /// `x` rounded to 4 decimals (so JSON files stay short and readable): for times only; a
  /// similarity is stored whole, so that every display rounds it once (a value rounded to 4
  /// decimals and then to 2 can differ from the value rounded to 2: -0.96499 → -0.9650 → -0.97).
  static func rounded(_ x: Double) -> Double {
    (x * 10_000).rounded() / 10_000
  }
}
