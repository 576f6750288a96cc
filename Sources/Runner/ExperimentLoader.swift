import CLIP
import Constraints
import ExprEval
import Formats
import Foundation
import Parametrizations
import PipelineKit
import Transforms

extension Experiment {
  /// The most epochs a run may have: more than any run reaches (10⁹ epochs take 12 days at
  /// 1 ms each), and small enough that every count derived from it (epoch + 1, rates, times,
  /// snapshot distances) stays far from Int's limits.
  public static let maxEpochs = 1_000_000_000

  /// Decodes and validates a merged configuration (CLIPig's configuration schema); every problem is a `ConfigError`
  /// naming file:line:column and the parameter path.
  ///
  /// `transforms` and `constraints` are the registries stages are looked up in (extend them for
  /// custom stages); `random` draws constant expressions that call random functions.
  public init(
    _ root: ConfigNode, transforms: StageRegistry = .transforms,
    constraints: StageRegistry = .constraints,
    random: SeededRandom = SeededRandom(seed: 0)
  ) throws(ConfigError) {
    if root.isNull {
      throw ConfigError("the configuration is empty", at: root.location)
    }
    guard root.entries != nil else {
      throw ConfigError(
        "expected a mapping of parameters at the top level, got \(root.kindDescription)",
        at: root.location)
    }
    // One reader for the top level: each key's default, groups and doc come from `RunKeys`.
    var r = ParameterReader(node: root, path: "", groups: [], random: random)
    verbose = try r.scalar(RunKeys.verbose, Int.self).constantValue!
    output = try r.scalar(RunKeys.output, String.self).constantValue!
    outputQuality = try r.scalar(RunKeys.outputQuality, Int.self).constantValue!
    guard (1...100).contains(outputQuality) else {
      throw ConfigError(
        "output_quality must be between 1 and 100, got \(outputQuality)",
        at: root["output_quality"]?.location ?? root.location, path: "output_quality")
    }
    snapshotInterval = try Self.snapshotInterval(&r)
    epochs = try r.scalar(RunKeys.epochs, Int.self).constantValue!
    guard (1...Self.maxEpochs).contains(epochs) else {
      throw ConfigError(
        epochs < 1
          ? "epochs must be at least 1, got \(epochs)"
          : "epochs must be at most \(Self.maxEpochs) (about 12 days at 1 ms per epoch), got "
            + "\(epochs)",
        at: root["epochs"]?.location ?? root.location, path: "epochs")
    }
    startEpoch = try r.scalar(RunKeys.startEpoch, Int.self).constantValue!
    guard startEpoch >= 0, startEpoch < epochs else {
      throw ConfigError(
        startEpoch < 0
          ? "start_epoch counts from 0 and cannot be negative, got \(startEpoch)"
          : "start_epoch \(startEpoch) is past the last epoch (\(epochs - 1)) of epochs: \(epochs)",
        at: root["start_epoch"]?.location ?? root.location, path: "start_epoch")
    }
    resolution = try r.list(RunKeys.resolution, Int.self, lengths: [2])
    interpolation = try r.choice(RunKeys.interpolation, Interpolation.self)
    tiling = try r.scalar(RunKeys.tiling, Bool.self).constantValue!
    model = try r.scalar(RunKeys.model, String.self).constantValue!
    models = try Self.models(
      try r.section(RunKeys.models), single: model,
      at: root["model"]?.location ?? root.location)
    model = models[0].name
    device = try r.scalar(RunKeys.device, String.self).constantValue!
    precision = try r.choice(RunKeys.precision, CLIPPrecision.self)
    learnrate = try r.scalar(RunKeys.learnrate, Double.self)
    learnrateScale = try r.scalar(RunKeys.learnrateScale, Double.self)
    optimizer = try r.choice(RunKeys.optimizer, OptimizerKind.self)
    if let s = try r.optionalScalar(RunKeys.seed, Int.self)?.constantValue {
      seed = UInt64(bitPattern: Int64(s))
    } else {
      seed = nil
    }
    try Self.checkPlugins(try r.section(RunKeys.plugins))
    initialization = try Self.initialization(try r.section(RunKeys.initialization), random: random)
    parametrization = try ParametrizationSpec(try r.section(RunKeys.parametrization))
    animation = try Animation(try r.section(RunKeys.animation), random: random)
    frameCount = animation?.frames ?? 1
    if let video = initialization.video, animation == nil {
      throw ConfigError(
        "init.video starts each frame of an animation from the video's frame: add an "
          + "'animation:' section (frames, fps, epochs)", at: video.location, path: "init.video")
    }
    targets = []
    var targetsNode = try r.section(RunKeys.targets)
    if let animation, let scenes = animation.scenes {
      targetsNode = scenes.expand(targets: targetsNode, frames: animation.frames)
    }
    if let node = targetsNode {
      guard let elements = node.elements else {
        throw ConfigError(
          "expected a list of targets, got \(node.kindDescription)", at: node.location,
          path: "targets")
      }
      for (i, element) in elements.enumerated() {
        if let t = try Self.target(
          element, path: "targets[\(i)]", transforms: transforms, constraints: constraints,
          random: random, video: initialization.video != nil, models: models, recording: &r)
        {
          targets.append(t)
        }
      }
    }
    postproc = []
    if let node = try r.section(RunKeys.postproc) {
      guard let elements = node.elements else {
        throw ConfigError(
          "expected a list of post-processing entries, got \(node.kindDescription)",
          at: node.location, path: "postproc")
      }
      for (i, element) in elements.enumerated() {
        postproc += try Self.postprocEntries(
          element, path: "postproc[\(i)]", registry: transforms, random: random, recording: &r)
      }
    }
    try r.finish()
    source = root
    expressions = r.expressions
  }

  /// Checks the shape of `plugins:` — a list of paths, or of mappings with `path` and
  /// `sha256` (as sidecars write them). The plugins themselves were loaded before the run
  /// started (`clipig` builds and runs the plugin's executable), so only the shape is checked.
  static func checkPlugins(_ node: ConfigNode?) throws(ConfigError) {
    guard let node, !node.isNull else { return }
    guard let elements = node.elements else {
      throw ConfigError(
        "expected a list of plugin paths, got \(node.kindDescription)", at: node.location,
        path: "plugins")
    }
    for (i, element) in elements.enumerated() {
      let path = "plugins[\(i)]"
      if case .string = element.value { continue }
      guard let entries = element.entries else {
        throw ConfigError(
          "expected a plugin path or a mapping with path and sha256, got \(element.kindDescription)",
          at: element.location, path: path)
      }
      for entry in entries where entry.key != "path" && entry.key != "sha256" {
        throw ConfigError(
          "unknown key '\(entry.key)' of a plugin (expected path, sha256)", at: entry.keyLocation,
          path: path + "." + entry.key)
      }
      guard case .string = element["path"]?.value else {
        throw ConfigError("a plugin needs a path", at: element.location, path: path)
      }
    }
  }

  static func snapshotInterval(_ r: inout ParameterReader) throws(ConfigError) -> SnapshotInterval {
    guard let node = try r.section(RunKeys.snapshotInterval) else {
      return .seconds(20)
    }
    var random = r.random
    switch node.value {
    case .int(let n): return n <= 0 ? .never : .epochs(n)
    case .float(let s): return s <= 0 ? .never : .seconds(s)
    default:
      // Strings: an integer result is epochs, anything else seconds.
      if case .string(let text) = node.value, let n = Int(text.trimmingCharacters(in: .whitespaces))
      {
        return n <= 0 ? .never : .epochs(n)
      }
      let p = try ParameterReader.convertScalar(
        node, Double.self, path: "snapshot_interval", groups: [], random: &random)
      let s = p.constantValue ?? 0
      return s <= 0 ? .never : .seconds(s)
    }
  }

  static func initialization(_ node: ConfigNode?, random: SeededRandom) throws(ConfigError)
    -> Initialization
  {
    var r = ParameterReader(
      node: node ?? ConfigNode(.mapping([])), path: "init", groups: [], random: random)
    let resolution = try r.optionalList(
      "resolution", Int.self, lengths: [2], doc: "resolution of the initial noise or image")
    let mean = try r.list(
      "mean", Double.self, lengths: [3], default: [0.5, 0.5, 0.5], doc: "noise mean per channel")
    let std = try r.list(
      "std", Double.self, lengths: [3], default: [0.1, 0.1, 0.1],
      doc: "noise standard deviation per channel")
    let image = try r.optionalScalar(
      "image", String.self, doc: "start image: PNG, JPEG or WebP file, or http(s) URL")
    let videoPath = try r.optionalScalar(
      "video", String.self,
      doc: "an animation's input video (a file ffmpeg reads): frame k starts from its frame k")
    let blend = try r.scalar(
      "blend", Double.self, default: 0, groups: .frame,
      doc: "with video: the share of the warped previous frame in each later frame's start")
    try r.finish()
    let res = resolution?.map { $0.constantValue! }
    if let res, let problem = ImageLimits.problem(width: res[0], height: res[1]) {
      throw ConfigError(
        "init.resolution \(res[0])×\(res[1]): \(problem)",
        at: node?["resolution"]?.location ?? .synthetic("init"), path: "init.resolution")
    }
    return Initialization(
      resolution: res, mean: mean.map { $0.constantValue! }, std: std.map { $0.constantValue! },
      image: image?.constantValue,
      video: try video(videoPath, blend: blend, node: node))
  }

  /// `init.video` with its `blend`, checked against the rest of `init` (`node`).
  static func video(_ path: Param<String>?, blend: Param<Double>, node: ConfigNode?)
    throws(ConfigError) -> Video?
  {
    guard let path, let file = path.constantValue else {
      if let written = node?["blend"] {
        throw ConfigError(
          "init.blend mixes the previous frame into an input video's frame; it needs init.video",
          at: written.location, path: "init.blend")
      }
      return nil
    }
    if file.trimmingCharacters(in: .whitespaces).isEmpty {
      throw ConfigError("init.video names no file", at: path.location, path: "init.video")
    }
    if file.contains("://") {
      throw ConfigError(
        "init.video must be a local file (ffmpeg reads it), not a URL: \(file)",
        at: path.location, path: "init.video")
    }
    if node?["image"] != nil {
      throw ConfigError(
        "give init.image or init.video, not both", at: path.location, path: "init.video")
    }
    for key in ["mean", "std", "resolution"] {
      if let written = node?[key] {
        throw ConfigError(
          "init.\(key) does not apply to init.video: its frames are taken as they are, resized "
            + "to the resolution", at: written.location, path: "init.\(key)")
      }
    }
    if let b = blend.constantValue, !(0...1).contains(b) {
      throw ConfigError(
        "blend must be between 0 and 1, got \(b)", at: blend.location, path: "init.blend")
    }
    return Video(path: file, location: path.location, blend: blend)
  }

  /// One target; the expressions of its parameters (inactive targets' too) go to `parent`.
  /// `video`: the experiment has an input video (`content` may then omit its image).
  static func target(
    _ node: ConfigNode, path: String, transforms: StageRegistry, constraints: StageRegistry,
    random: SeededRandom, video: Bool = false, models: [ModelEntry] = [],
    recording parent: inout ParameterReader
  ) throws(ConfigError) -> Target? {
    guard node.entries != nil else {
      throw ConfigError(
        "expected a mapping (a target), got \(node.kindDescription)", at: node.location, path: path)
    }
    var r = ParameterReader(node: node, path: path, groups: [], random: random)
    let active = try r.scalar("active", Bool.self, default: true, doc: "false skips the target")
      .constantValue!
    let name = try r.scalar("name", String.self, default: "target", doc: "shown in statistics")
      .constantValue!
    let window = Window(
      start: try r.frameTime("start", default: .fraction(0), doc: "first active epoch or fraction"),
      end: try r.frameTime("end", default: .fraction(1), doc: "last active epoch or fraction"))
    let weight = try r.scalar(
      "weight", Double.self, default: 1, groups: .constraintParameter,
      doc: "factor of the whole target loss")
    let batchSize = try r.scalar("batch_size", Int.self, default: 1, doc: "views per epoch")
      .constantValue!
    guard batchSize >= 0 else {
      throw ConfigError(
        "batch_size must not be negative, got \(batchSize)",
        at: node["batch_size"]?.location ?? node.location, path: path + ".batch_size")
    }
    let select = try r.choice(
      "select", FeatureSelection.self, default: "all", doc: "which features make the loss")
    var warnings: [String] = []
    let featureScale = try Self.featureScale(&r, path: path, warnings: &warnings)
    var features: [Feature] = []
    if let list = try r.section("features", doc: "texts and images") {
      for (i, element) in try elements(list, path: path + ".features").enumerated() {
        features.append(
          try feature(element, path: "\(path).features[\(i)]", random: random, recording: &r))
      }
    }
    var chain: [PipelineEntry] = []
    if let list = try r.section("transforms", doc: "augmentations applied to each view") {
      for (i, element) in try elements(list, path: path + ".transforms").enumerated() {
        chain += try stages(
          element, path: "\(path).transforms[\(i)]", registry: transforms, random: random,
          recording: &r)
      }
    }
    var constraintEntries: [ConstraintEntry] = []
    if let list = try r.section("constraints", doc: "extra losses on each view") {
      for (i, element) in try elements(list, path: path + ".constraints").enumerated() {
        constraintEntries += try constraintList(
          element, path: "\(path).constraints[\(i)]", registry: constraints, random: random,
          video: video, recording: &r)
      }
    }
    let maskText = try r.optionalScalar(
      "mask", String.self,
      doc:
        "scales this target's gradient per pixel: a grayscale image (a file ending in .png, .jpg, "
        + ".jpeg or .webp, or a URL; white = 1) or an expression of the pixel's position x, y "
        + "in (0, 1), e.g. x < 0.5")
    let maskInvert = try r.scalar(
      "mask_invert", Bool.self, default: false, doc: "true uses 1 − mask"
    ).constantValue!
    let modelNode = try r.section("model", doc: "the models of 'models:' judging this target")
    try r.finish()
    let judges =
      models.isEmpty ? [0] : try Self.targetModels(modelNode, path: path + ".model", models: models)
    parent.record(contentsOf: r.expressions)
    guard active else { return nil }
    let mask = try maskText.flatMap { (p) throws(ConfigError) -> Mask? in
      guard let text = p.constantValue else { return nil }
      return Mask(
        source: try Self.maskSource(text, path: p.path, location: p.location),
        invert: maskInvert, location: p.location)
    }
    return Target(
      name: name, window: window, weight: weight, batchSize: batchSize, select: select,
      fairScaling: featureScale == .fair, features: features, transforms: chain,
      constraints: constraintEntries, mask: mask, models: judges, warnings: warnings,
      location: node.location)
  }

  /// What a `mask` value names: an http(s) URL or a name ending in an image extension is an
  /// image; anything else is an expression of the pixel's position (`VariableGroups.maskParameter`).
  static func maskSource(_ text: String, path: String, location: SourceLocation)
    throws(ConfigError) -> Experiment.Mask.Source
  {
    let lower = text.lowercased()
    if lower.hasPrefix("http://") || lower.hasPrefix("https://")
      || ImageFormat.forExtension(of: text) != nil
    {
      return .image(text)
    }
    let expression: ExprEval.Expression
    do {
      expression = try ExprEval.Expression(text, groups: .maskParameter)
    } catch {
      throw ConfigError(
        "mask '\(text)' is neither an image (a file ending in .png, .jpg, .jpeg or .webp, or "
          + "an http(s) URL) nor an expression of the pixel position x, y: \(error.message)",
        at: location, path: path)
    }
    if expression.usesRandom {
      throw ConfigError(
        "mask '\(text)' calls a random function: a mask expression must give the same mask "
          + "for the same pixel and time (draw a pattern from x and y instead)",
        at: location, path: path)
    }
    return .expression(expression)
  }

  /// `feature_scale`: `equal` or `fair`. CLIPig treated every other string as `fair`; clipig
  /// keeps that meaning but warns, naming the place.
  static func featureScale(_ r: inout ParameterReader, path: String, warnings: inout [String])
    throws(ConfigError) -> FeatureScale
  {
    let param = try r.scalar(
      "feature_scale", String.self, default: "equal", doc: "equal, or fair for automatic scaling")
    guard let name = param.constantValue else {
      throw ConfigError(
        "feature_scale must be equal or fair, not an expression", at: param.location,
        path: param.path)
    }
    if let scale = FeatureScale.named(name) { return scale }
    warnings.append(
      "\(param.location): \(param.path): unknown feature_scale '\(name)' is taken as 'fair', as "
        + "CLIPig did" + Suggestions.didYouMean(name, among: FeatureScale.names.map(\.name)))
    return .fair
  }

  static func elements(_ node: ConfigNode, path: String) throws(ConfigError) -> [ConfigNode] {
    guard let e = node.elements else {
      throw ConfigError(
        "expected a list, got \(node.kindDescription)", at: node.location, path: path)
    }
    return e
  }

  /// One feature of a target; the expressions of its parameters go to `parent`.
  static func feature(
    _ node: ConfigNode, path: String, random: SeededRandom,
    recording parent: inout ParameterReader
  ) throws(ConfigError) -> Feature {
    var r = ParameterReader(node: node, path: path, groups: [], random: random)
    let text = try r.optionalScalar("text", String.self, doc: "prompt")?.constantValue
    let image = try r.optionalScalar("image", String.self, doc: "image file or http(s) URL")?
      .constantValue
    let window = Window(
      start: try r.frameTime("start", default: .fraction(0), doc: "first active epoch or fraction"),
      end: try r.frameTime("end", default: .fraction(1), doc: "last active epoch or fraction"))
    let weight = try r.scalar(
      "weight", Double.self, default: 1, groups: .featureParameter,
      doc: "loss factor (negative pushes away)")
    let scale = try r.scalar(
      "scale", Double.self, default: 1, groups: .featureParameter, doc: "similarity factor")
    let loss = try r.choice("loss", FeatureLoss.self, default: "cosine", doc: "feature loss")
    try r.finish()
    parent.record(contentsOf: r.expressions)
    if text == nil && image == nil {
      throw ConfigError("a feature needs 'text' or 'image'", at: node.location, path: path)
    }
    return Feature(
      text: text, image: text == nil ? image : nil, window: window, weight: weight, scale: scale,
      loss: loss, location: node.location)
  }

  /// The stages of one transform-list element, in key order; the expressions of their
  /// parameters go to `parent`.
  static func stages(
    _ node: ConfigNode, path: String, registry: StageRegistry, random: SeededRandom,
    reserved: Set<String> = [], recording parent: inout ParameterReader
  )
    throws(ConfigError) -> [PipelineEntry]
  {
    guard let entries = node.entries else {
      throw ConfigError(
        "expected a mapping such as '- noise: 0.1', got \(node.kindDescription)", at: node.location,
        path: path)
    }
    var result: [PipelineEntry] = []
    for (k, entry) in entries.enumerated() where !reserved.contains(entry.key) {
      let stagePath = path + "." + entry.key
      let made: (stage: any Stage, expressions: [RecordedExpression])
      do {
        made = try registry.read(
          name: entry.key, parameters: entry.node, path: stagePath, keyLocation: entry.keyLocation,
          random: random.fork(UInt64(k)))
      } catch  where entry.node.isNull && registry[entry.key] != nil {
        // `- noise:` without a value: a stage that needs one is skipped, as in CLIPig; a stage
        // whose parameters all have defaults (`- blur:`) runs with them.
        continue
      }
      parent.record(contentsOf: made.expressions)
      result.append(PipelineEntry(stage: made.stage, path: stagePath))
    }
    return result
  }

  /// One post-processing element (`active`, `start`, `end` and its stages); the expressions of
  /// its parameters go to `parent`.
  static func postprocEntries(
    _ node: ConfigNode, path: String, registry: StageRegistry, random: SeededRandom,
    recording parent: inout ParameterReader
  )
    throws(ConfigError) -> [PostprocEntry]
  {
    var r = ParameterReader(node: node, path: path, groups: [], random: random)
    guard node.entries != nil else {
      throw ConfigError(
        "expected a mapping such as '- blur: {kernel_size: 3}', got \(node.kindDescription)",
        at: node.location, path: path)
    }
    let active = try r.scalar("active", Bool.self, default: true, doc: "false disables the entry")
      .constantValue!
    let window = Window(
      start: try r.frameTime("start", default: .fraction(0), doc: "first active epoch or fraction"),
      end: try r.frameTime("end", default: .fraction(1), doc: "last active epoch or fraction"))
    let entries = try stages(
      node, path: path, registry: registry, random: random, reserved: ["active", "start", "end"],
      recording: &parent)
    for e in entries where type(of: e.stage).traits.contains(.changesResolution) {
      let key = node.entries?.first { path + "." + $0.key == e.path }
      throw ConfigError(
        "'\(type(of: e.stage).name)' changes the resolution and cannot be used in postproc",
        at: key?.keyLocation ?? node.location, path: e.path)
    }
    guard active else { return [] }
    return entries.map { PostprocEntry(stage: $0.stage, window: window, path: $0.path) }
  }

  /// The constraints of one constraint-list element, in key order; the expressions of their
  /// parameters go to `parent`. A reference-image constraint without an image needs `video`.
  static func constraintList(
    _ node: ConfigNode, path: String, registry: StageRegistry, random: SeededRandom,
    video: Bool = false, recording parent: inout ParameterReader
  )
    throws(ConfigError) -> [ConstraintEntry]
  {
    guard let entries = node.entries else {
      throw ConfigError(
        "expected a mapping such as '- saturation: {below: 0.005}', got \(node.kindDescription)",
        at: node.location, path: path)
    }
    var result: [ConstraintEntry] = []
    for entry in entries {
      let cPath = path + "." + entry.key
      guard let type = registry[entry.key] else {
        throw ConfigError(
          "unknown constraint '\(entry.key)'"
            + Suggestions.didYouMean(entry.key, among: registry.names),
          at: entry.keyLocation, path: cPath)
      }
      if entry.node.isNull { continue }  // `- saturation:` without a value is skipped, as in CLIPig
      let groups = StageRegistry.Kind.constraints.groups
      var r = ParameterReader(node: entry.node, path: cPath, groups: groups, random: random)
      let weight = try r.scalar("weight", Double.self, default: 1, doc: "loss factor")
      let window = Window(
        start: try r.frameTime(
          "start", default: .fraction(0), doc: "first active epoch or fraction"),
        end: try r.frameTime("end", default: .fraction(1), doc: "last active epoch or fraction"))
      let stage = try type.init(parameters: &r)
      try r.finish()
      if let reference = stage as? any ReferenceImageStage, reference.referenceImage == nil,
        !video
      {
        throw ConfigError(
          "\(entry.key) needs an 'image' to compare with (without one it compares with the "
            + "current frame of an animation's init.video)", at: entry.keyLocation, path: cPath)
      }
      parent.record(contentsOf: r.expressions)
      result.append(ConstraintEntry(stage: stage, weight: weight, window: window, path: cPath))
    }
    return result
  }
}
