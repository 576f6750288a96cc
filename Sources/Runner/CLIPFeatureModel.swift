import CLIP
import PipelineKit
import Synchronization

/// The prompts whose truncation was already reported, shared by the feature models of one
/// process's runs (every `rank` run, every `render --repeat`), so the warning comes once per
/// prompt, not once per run.
public final class ReportedPrompts: Sendable {
  private let prompts = Mutex<Set<String>>([])

  /// An empty record.
  public init() {}

  /// True the first time `prompt` is passed, false after.
  public func isNew(_ prompt: String) -> Bool {
    prompts.withLock { $0.insert(prompt).inserted }
  }
}

/// The real CLIP behind the trainer: text features through the BPE tokenizer and the text
/// tower, image features with their pullback through image-encoder workspaces.
///
/// A workspace (the activation arena of one batch shape) is lent to each `encodeImages` and
/// returns to the pool when its pullback is released, so training allocates nothing per step
/// while every pullback stays valid on its own. Not thread-safe: one instance per task (many
/// instances may share one `CLIPModel`).
public final class CLIPFeatureModel: FeatureModel {
  /// The weights.
  public let model: CLIPModel
  /// The prompt tokenizer.
  public let tokenizer: CLIPTokenizer
  private let pool: WorkspacePool
  /// Where warnings (a truncated prompt) go; stderr by default.
  public var warn: @Sendable (String) -> Void = CLIRunner.standardError

  /// The prompts whose truncation was reported (shared between instances of one model).
  public let reported: ReportedPrompts

  /// Wraps a loaded model and its tokenizer; `reported` is shared by the instances of one model
  /// so a truncated prompt is reported once.
  public init(model: CLIPModel, tokenizer: CLIPTokenizer, reported: ReportedPrompts = .init()) {
    self.model = model
    self.tokenizer = tokenizer
    self.reported = reported
    pool = WorkspacePool(model: model)
  }

  /// The towers' GEMM precision as loaded.
  public var precision: PrecisionChoice { model.precision }

  /// The image tower's input side.
  public var imageSize: Int { model.config.imageSize }
  /// The joint embedding's length.
  public var featureCount: Int { model.config.embedDimension }

  /// Text features of `text`, truncated to the model's context (with a warning on stderr, the
  /// first time for each prompt).
  ///
  /// Models with a vocabulary smaller than CLIP's BPE (the tiny test models) get the token ids
  /// folded into their range, start and end tokens mapped to their two last ids.
  public func encodeText(_ text: String) throws -> [Float] {
    let context = model.config.text.contextLength
    let tokens = tokenizer.tokenize(text, contextLength: context)
    if tokens.truncated && reported.isNew(text) {
      warn(
        "warning: the prompt is longer than \(context) tokens and was truncated: \(text)\n")
    }
    var ids = tokens.ids
    let vocabulary = Int32(model.config.text.vocabularySize)
    if vocabulary < Int32(tokenizer.vocabularySize) {
      ids = ids.enumerated().map { i, id in
        if i >= tokens.count { return 0 }
        if id == tokenizer.startToken { return vocabulary - 2 }
        if id == tokenizer.endToken { return vocabulary - 1 }
        return id % (vocabulary - 2)
      }
    }
    return try model.encodeText(ids)
  }

  /// Bytes of the image tower's activation arena per image (measured on a one-image workspace,
  /// which then stays in the pool).
  public var activationBytesPerImage: Double {
    guard let lease = try? pool.lease(capacity: 1) else { return 0 }
    return Double(lease.encoder.arenaBytes)
  }

  /// Features `[N, D]` of images `[N, 3, S, S]` in [0, 1] (the encoder normalises them) and
  /// their pullback to the images.
  public func encodeImages(_ images: Tensor) throws -> (value: Tensor, pullback: Pullback) {
    let lease = try pool.lease(capacity: images.shape[0])
    let features = lease.encoder.forward(images)
    return (features, { dFeatures in lease.encoder.backward(dFeatures) })
  }
}

/// Image-encoder workspaces waiting to be lent, the largest batch first.
private final class WorkspacePool {
  let model: CLIPModel
  var idle: [any ImageEncoding] = []

  init(model: CLIPModel) { self.model = model }

  /// A workspace holding at least `capacity` images, reused when one is idle.
  func lease(capacity: Int) throws -> Lease {
    if let i = idle.firstIndex(where: { $0.capacity >= capacity }) {
      return Lease(encoder: idle.remove(at: i), pool: self)
    }
    guard let encoder = model.makeImageEncoder(capacity: capacity, normalizesInput: true) else {
      throw ModelLoader.LoadError(description: "the model has no image tower")
    }
    return Lease(encoder: encoder, pool: self)
  }
}

/// A workspace lent to one encode; it goes back to the pool when the last pullback holding it
/// is released.
private final class Lease {
  let encoder: any ImageEncoding
  let pool: WorkspacePool

  init(encoder: any ImageEncoding, pool: WorkspacePool) {
    self.encoder = encoder
    self.pool = pool
  }

  deinit { pool.idle.append(encoder) }
}
