/// The variable groups of CLIPig's variable groups: which variables an expression at a given parameter may use.
public struct VariableGroups: OptionSet, Sendable, Hashable {
  /// The raw bits.
  public let rawValue: UInt8

  /// Groups from raw bits.
  public init(rawValue: UInt8) { self.rawValue = rawValue }

  /// `epoch`, `time`/`t`, `t2`…`t5`, `time_inverse`/`ti`, `ti2`…`ti5`, `time_step`/`ts(a, b)`.
  public static let time = VariableGroups(rawValue: 1 << 0)
  /// `resolution`/`res`, `width`, `height`.
  public static let resolution = VariableGroups(rawValue: 1 << 1)
  /// `learnrate`/`lr`, `learnrate_scale`/`lrs`.
  public static let learnrate = VariableGroups(rawValue: 1 << 2)
  /// `similarity`/`sim` of one feature.
  public static let targetFeature = VariableGroups(rawValue: 1 << 3)
  /// `similarity`/`sim` as the mean over a target's features.
  public static let targetConstraint = VariableGroups(rawValue: 1 << 4)
  /// `frame` and `frame_time`/`ft` of an animation (also part of `time`: every parameter that
  /// may use time may use them; an animation's warp may use only them).
  public static let frame = VariableGroups(rawValue: 1 << 5)
  /// `x` and `y`: a pixel's centre as a fraction of the image's width and height, in (0, 1)
  /// (only in a target's `mask` expression, evaluated at every pixel).
  public static let pixel = VariableGroups(rawValue: 1 << 6)

  /// No variables: constant expressions only (`epochs`, `init.*`, …).
  public static let constant: VariableGroups = []
  /// `resolution` and `interpolation`: time.
  public static let resolutionParameter: VariableGroups = [.time]
  /// `learnrate` and `learnrate_scale`: time and resolution.
  public static let learnrateParameter: VariableGroups = [.time, .resolution]
  /// Transform and post-processing parameters: time, resolution and learnrate.
  public static let transformParameter: VariableGroups = [.time, .resolution, .learnrate]
  /// Feature `weight` and `scale`: transform groups plus the feature's similarity.
  public static let featureParameter: VariableGroups = [
    .time, .resolution, .learnrate, .targetFeature,
  ]
  /// Target `weight` and constraint parameters: transform groups plus the mean similarity.
  public static let constraintParameter: VariableGroups = [
    .time, .resolution, .learnrate, .targetConstraint,
  ]
  /// A target's `mask` expression: the pixel's position, the resolution and time.
  public static let maskParameter: VariableGroups = [.pixel, .resolution, .time]
  /// Every group (used by `clipig expr`).
  public static let all: VariableGroups = [
    .time, .resolution, .learnrate, .targetFeature, .targetConstraint, .frame, .pixel,
  ]

  /// The snake_case names of the groups in this set, as the spec writes them.
  public var names: [String] {
    var result: [String] = []
    if contains(.time) { result.append("time") }
    if contains(.resolution) { result.append("resolution") }
    if contains(.learnrate) { result.append("learnrate") }
    if contains(.targetFeature) { result.append("target_feature") }
    if contains(.targetConstraint) { result.append("target_constraint") }
    if contains(.frame) { result.append("frame") }
    if contains(.pixel) { result.append("pixel") }
    return result
  }
}

/// The values of all variables at one moment. Plain stored properties, cheap to copy.
///
/// `width` and `height` are shown to expressions as Python ints when they are whole numbers (as
/// CLIPig's pixel sizes always are), so `width // 2` is an int there too.
public struct ExprContext: Sendable {
  /// The current epoch index, 0-based (`epoch`).
  public var epoch: Int
  /// The number of epochs of the run (not a variable itself; used to derive `t`).
  public var epochs: Int
  /// Normalised time (`time`/`t`); `ti = 1 - t`, `t2`…`t5` and `ti2`…`ti5` derive from it.
  public var t: Double
  /// Width of the pixel tensor this epoch (`width`, `res[0]`).
  public var width: Double
  /// Height of the pixel tensor this epoch (`height`, `res[1]`).
  public var height: Double
  /// The actual optimizer learning rate this epoch (`learnrate`/`lr`).
  public var learnrate: Double
  /// The evaluated `learnrate_scale` (`learnrate_scale`/`lrs`).
  public var learnrateScale: Double
  /// Similarity of the feature, or mean similarity of the target (`similarity`/`sim`).
  public var similarity: Double
  /// The animation frame, 0-based (`frame`); 0 outside animations.
  public var frame: Int = 0
  /// The number of frames of the animation (1 outside animations).
  public var frames: Int = 1

  /// `frame / frames` (`frame_time`/`ft`): 0 at the first frame, below 1 at the last.
  public var frameTime: Double { Double(frame) / Double(max(frames, 1)) }
  /// The pixel's centre across the image, `(column + 0.5) / width` (`x`); 0 outside masks.
  public var x: Double = 0
  /// The pixel's centre down the image, `(row + 0.5) / height` (`y`); 0 outside masks.
  public var y: Double = 0

  /// A context at `epoch` of `epochs`, with `t` derived as `epoch / max(1, epochs - 1)`.
  public init(
    epoch: Int = 0, epochs: Int = 1, width: Double = 0, height: Double = 0,
    learnrate: Double = 0, learnrateScale: Double = 1, similarity: Double = 0
  ) {
    self.epoch = epoch
    self.epochs = epochs
    self.t = ExprContext.time(epoch: epoch, epochs: epochs)
    self.width = width
    self.height = height
    self.learnrate = learnrate
    self.learnrateScale = learnrateScale
    self.similarity = similarity
  }

  /// CLIPig's normalised time: `epoch / max(1, epochs - 1)`, 0 at the first epoch, 1 at the last.
  public static func time(epoch: Int, epochs: Int) -> Double {
    let denominator = epochs > 1 ? epochs - 1 : 1
    return Double(epoch) / Double(denominator)
  }

  /// Moves to `epoch`, updating `t` from `epochs`.
  public mutating func setEpoch(_ epoch: Int) {
    self.epoch = epoch
    self.t = ExprContext.time(epoch: epoch, epochs: epochs)
  }
}
