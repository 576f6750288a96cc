import CLIP
import ExprEval
import Parametrizations
import PipelineKit

/// A fully decoded, validated experiment: every parameter of CLIPig's schema (CLIPig's configuration schema) with its
/// default, every stage built, every expression parsed. Building one is the "load" step: all
/// user errors surface here, before any training starts.
public struct Experiment: Sendable {
  /// 0 silent, 1 progress line, 2 also log lines and statistics.
  public var verbose: Int
  /// Output directory (ending in `/`) or file name.
  public var output: String
  /// JPEG and WebP quality of the output image, 1…100 (WebP: 100 is lossless).
  public var outputQuality: Int
  /// When intermediate snapshots are written.
  public var snapshotInterval: SnapshotInterval
  /// Number of optimizer steps.
  public var epochs: Int
  /// First epoch index.
  public var startEpoch: Int
  /// Width and height of the pixel tensor; may be expressions of time.
  public var resolution: [Param<Int>]
  /// Filter used when the pixel tensor is resized.
  public var interpolation: Interpolation
  /// `tiling: true`: the image is a torus (every stage's `StageContext.tiling`, the resolution
  /// change and the initial noise wrap around), so the output tiles without a seam.
  public var tiling = false
  /// CLIP model name or path (the first of `models`).
  public var model: String
  /// The CLIP models judging the image (`models:`; without it the one `model`), never empty.
  public var models: [ModelEntry] = []
  /// Accepted for compatibility; clipig runs on the CPU.
  public var device: String
  /// The precision of CLIP's matrix products (`precision:`; fp32 unless set).
  public var precision: CLIPPrecision = .fp32
  /// User learning-rate factor (time and resolution expressions allowed).
  public var learnrate: Param<Double>
  /// Second learning-rate factor (time and resolution expressions allowed).
  public var learnrateScale: Param<Double>
  /// The optimizer.
  public var optimizer: OptimizerKind
  /// Seed of every random draw; nil → drawn at start and reported.
  public var seed: UInt64?
  /// Pixel initialisation.
  public var initialization: Initialization
  /// How the trained parameters make the image (`parametrization:`; default CLIPig's pixels).
  public var parametrization: ParametrizationSpec = ParametrizationSpec()
  /// Targets, in configuration order (inactive ones dropped).
  public var targets: [Target]
  /// Post-processing entries.
  public var postproc: [PostprocEntry]
  /// The merged configuration this was decoded from.
  public var source: ConfigNode
  /// The `animation:` section, nil for a still image.
  public var animation: Animation?
  /// The frame this experiment renders (0-based; `frame` in expressions), 0 for a still.
  public var frameIndex = 0
  /// The frames of the animation (`ft = frame / frames`), 1 for a still.
  public var frameCount = 1
  /// Every parameter whose value is an expression kept for run time (with its path, place and
  /// variable groups), in the order the loader read them: what `clipig schedule` tabulates.
  public var expressions: [RecordedExpression] = []

  /// `init.*`.
  public struct Initialization: Sendable {
    /// Resolution at which the noise or image is produced before resizing, or nil.
    public var resolution: [Int]?
    /// Noise mean per channel (also added to an init image, as CLIPig does).
    public var mean: [Double]
    /// Noise std per channel (also multiplies an init image).
    public var std: [Double]
    /// Start image path.
    public var image: String?
    /// `init.video`: the input video of an animation, nil without.
    public var video: Video?
  }

  /// `init.video` and `init.blend`: an animation restyling a video. Frame k starts from input
  /// frame k resized to the resolution, blended with the warped previous frame by `blend`.
  public struct Video: Sendable {
    /// The video file (relative paths from the configuration's folder).
    public var path: String
    /// Where `init.video` was written.
    public var location: SourceLocation
    /// The share of the warped previous frame in each later frame's start, 0…1 (frame
    /// variables): 0 starts every frame from its input frame alone.
    public var blend: Param<Double>
  }

  /// `targets[*]`.
  public struct Target: Sendable {
    /// Shown in statistics.
    public var name: String
    /// When the target is active.
    public var window: Window
    /// Multiplies the whole target loss.
    public var weight: Param<Double>
    /// Views per epoch.
    public var batchSize: Int
    /// all, best, worst, mix.
    public var select: FeatureSelection
    /// Automatic ("fair") similarity scaling when true.
    public var fairScaling: Bool
    /// Texts and images to move towards (or away from).
    public var features: [Feature]
    /// The augmentation chain applied to each view.
    public var transforms: [PipelineEntry]
    /// Extra losses on each view.
    public var constraints: [ConstraintEntry]
    /// Where in the image this target may change pixels (`mask`, `mask_invert`); nil: everywhere.
    public var mask: Mask?
    /// The models judging this target (`model`), as indices into `Experiment.models`.
    public var models: [Int] = [0]
    /// What the configuration of this target does that is accepted but probably unintended.
    public var warnings: [String]
    /// Where it was written.
    public var location: SourceLocation
  }

}

extension Experiment {
  /// Everything accepted but probably unintended, with its place, for the user to read: the
  /// targets' own, no target at all, a target never active in the run, a prompt with an unfilled
  /// `{{placeholder}}`.
  public var warnings: [String] {
    var all: [String] = []
    if targets.isEmpty {
      all.append(
        "\(source.location): no active target: nothing pulls the image towards a prompt, so "
          + "training only follows the constraints and post-processing (add 'targets:')")
    }
    for target in targets {
      if !target.window.isActive(inEpochs: startEpoch..<epochs, of: epochs) {
        all.append(
          "\(target.location): target '\(target.name)' is never active in epochs "
            + "\(startEpoch + 1)…\(epochs) (start: \(target.window.start), end: "
            + "\(target.window.end)), so it does nothing")
      }
      all += target.warnings
      for feature in target.features {
        if let text = feature.text, let placeholder = Self.unfilledPlaceholder(in: text) {
          all.append(
            "\(feature.location): the prompt '\(text)' contains \(placeholder), which nothing "
              + "filled in (a grid of 'clipig batch' fills its variables); CLIP reads it literally")
        }
      }
    }
    return all
  }

  /// The first `{{name}}` in `text`, or nil.
  static func unfilledPlaceholder(in text: String) -> String? {
    guard let open = text.range(of: "{{"),
      let close = text.range(of: "}}", range: open.upperBound..<text.endIndex)
    else { return nil }
    return String(text[open.lowerBound..<close.upperBound])
  }
}

extension Window {
  /// Whether the window contains at least one epoch of `range` in a run of `epochs` epochs.
  /// The epochs a window holds are consecutive (start and end are monotonic in the epoch), so
  /// the first epoch of `range` at or after its start decides.
  func isActive(inEpochs range: Range<Int>, of epochs: Int) -> Bool {
    guard !range.isEmpty else { return false }
    func time(_ e: Int) -> Double { ExprContext.time(epoch: e, epochs: epochs) }
    func beforeStart(_ e: Int) -> Bool {
      switch start {
      case .epoch(let s): return e < s
      case .fraction(let f): return !(f <= time(e))
      }
    }
    var first: Int
    switch start {
    case .epoch(let s): first = s
    case .fraction(let f):
      // The estimate, then a step or two to the exact first epoch (rounding).
      let estimate = (f * Double(max(epochs - 1, 1))).rounded(.up)
      first =
        estimate.isFinite
        ? Int(max(Double(range.lowerBound), min(estimate, Double(range.upperBound))))
        : range.lowerBound
      while first > range.lowerBound && !beforeStart(first - 1) { first -= 1 }
      while first < range.upperBound && beforeStart(first) { first += 1 }
    }
    first = max(first, range.lowerBound)
    return first < range.upperBound && contains(epoch: first, t: time(first))
  }
}

extension Experiment {
  /// `targets[*].mask`: a weight in [0, 1] per pixel that scales the target's gradient there
  /// (see `TargetMask`) — a grayscale image (white = 1) resized to the image at every
  /// resolution, or an expression of the pixel's position `x`, `y`.
  public struct Mask: Sendable {
    /// Where the mask's values come from.
    public enum Source: Sendable {
      /// An image file or http(s) URL (relative paths from the configuration's folder).
      case image(String)
      /// An expression of `x`, `y` (the pixel centre's fraction of width and height), the
      /// resolution and time, clamped to [0, 1] (`true` is 1).
      case expression(ExprEval.Expression)
    }
    /// The image or the expression.
    public var source: Source
    /// `mask_invert`: 1 − the mask.
    public var invert: Bool
    /// Where `mask` was written.
    public var location: SourceLocation
  }
}

extension Experiment.Target {
  /// Views this target adds to each epoch's CLIP batch: `batch_size` when a transform draws
  /// random numbers (any `.random` stage, unlike CLIPig's shorter list), else at most one, since
  /// identical views would only repeat the same gradient.
  public var viewsPerEpoch: Int {
    transforms.contains { type(of: $0.stage).traits.contains(.random) }
      ? batchSize : min(batchSize, 1)
  }
}

extension Experiment {
  /// `targets[*].features[*]`.
  public struct Feature: Sendable {
    /// Prompt text (wins over `image`).
    public var text: String?
    /// Image path.
    public var image: String?
    /// When the feature is active.
    public var window: Window
    /// Loss factor (may be negative; may use `sim`).
    public var weight: Param<Double>
    /// Similarity factor for reports and selection.
    public var scale: Param<Double>
    /// cosine, l1, l2.
    public var loss: FeatureLoss
    /// Where it was written.
    public var location: SourceLocation
  }

  /// One transform of a chain, with its configuration path.
  public struct PipelineEntry: Sendable {
    /// The stage.
    public var stage: any Stage
    /// e.g. `targets[0].transforms[2].mul`.
    public var path: String
  }

  /// One constraint with the runner's own parameters.
  public struct ConstraintEntry: Sendable {
    /// The constraint stage (returns a `[1]` loss).
    public var stage: any Stage
    /// Loss factor (may use `sim`).
    public var weight: Param<Double>
    /// When the constraint is active.
    public var window: Window
    /// e.g. `targets[0].constraints[1].saturation`.
    public var path: String
  }

  /// One post-processing stage with its window.
  public struct PostprocEntry: Sendable {
    /// The stage (keeps the resolution).
    public var stage: any Stage
    /// When it runs.
    public var window: Window
    /// e.g. `postproc[0].blur`.
    public var path: String
  }
}

/// When intermediate images are written.
public enum SnapshotInterval: Sendable, Equatable {
  /// Never (only the final image).
  case never
  /// Every N epochs.
  case epochs(Int)
  /// Every N seconds.
  case seconds(Double)
}

/// The optimizers of CLIPig's optimizers.
public enum OptimizerKind: String, Sendable, CaseIterable {
  /// Adam, base rate 0.01.
  case adam
  /// Plain SGD, base rate 10.
  case sgd
  /// Adadelta, base rate 20.
  case adadelta
  /// Centered RMSprop with momentum 0.1, base rate 0.003 (`rmsprob` is CLIPig's spelling).
  case rmsprop
  /// What CLIPig builds for `sparse_adam`: plain RMSprop, base rate 0.01.
  case sparseAdam = "sparse_adam"

  /// Accepts CLIPig's names, including `rmsprob`.
  public init?(name: String) {
    guard let value = Self.named(name) else { return nil }
    self = value
  }

  /// The name the sidecar YAML writes.
  public var configName: String { rawValue }

  /// CLIPig's hand-tuned base learning rate (effective lr = base × learnrate_scale × learnrate).
  public var baseLearningRate: Double {
    switch self {
    case .adam: 0.01
    case .sgd: 10
    case .adadelta: 20
    case .rmsprop: 0.003
    case .sparseAdam: 0.01
    }
  }
}

extension CLIPPrecision: ConfigChoice {
  /// The names a configuration may use.
  public static let names: [(name: String, value: CLIPPrecision)] = allCases.map {
    ($0.rawValue, $0)
  }
}

extension OptimizerKind: ConfigChoice {
  /// The names a configuration may use, CLIPig's `rmsprob` included.
  public static let names: [(name: String, value: OptimizerKind)] = [
    ("adam", .adam), ("sgd", .sgd), ("adadelta", .adadelta), ("rmsprob", .rmsprop),
    ("rmsprop", .rmsprop), ("sparse_adam", .sparseAdam),
  ]
}

/// How a target combines its features (CLIPig's similarity scales and selection).
public enum FeatureSelection: String, Sendable, CaseIterable {
  /// Every enabled feature contributes.
  case all
  /// Only the most similar enabled feature.
  case best
  /// Only the least similar enabled feature.
  case worst
  /// The weighted mean of the feature vectors.
  case mix
}

extension FeatureSelection: ConfigChoice {
  /// all, best, worst, mix.
  public static let names = allCases.map { (name: $0.rawValue, value: $0) }
  /// Named so in errors.
  public static var kind: String? { "feature selection" }
}

/// How a target scales its features' similarities (CLIPig's similarity scales and selection).
public enum FeatureScale: String, Sendable, CaseIterable, ConfigChoice {
  /// Every feature's similarity as it is.
  case equal
  /// Scaled so that every feature starts equally similar to the initial image.
  case fair

  /// equal, fair.
  public static let names = allCases.map { (name: $0.rawValue, value: $0) }
}

/// Loss between an image feature and a target feature (CLIPig's feature losses).
public enum FeatureLoss: String, Sendable {
  /// 1 − cos.
  case cosine
  /// 100 · mean |x − f|.
  case l1
  /// 100 · mean (x − f)².
  case l2

  /// Accepts cosine, l1/mae, l2/mse in any case.
  public init?(name: String) {
    guard let value = Self.named(name) else { return nil }
    self = value
  }
}

extension FeatureLoss: ConfigChoice {
  /// cosine, l1/mae, l2/mse.
  public static let names: [(name: String, value: FeatureLoss)] = [
    ("cosine", .cosine), ("l1", .l1), ("l2", .l2), ("mae", .l1), ("mse", .l2),
  ]
  /// `L1` and `MSE` are accepted too.
  public static var ignoresCase: Bool { true }
  /// Named so in errors.
  public static var kind: String? { "feature loss" }
}
