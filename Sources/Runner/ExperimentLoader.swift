import Constraints
import ExprEval
import Foundation
import Parametrizations
import PipelineKit
import Transforms

extension Experiment {
  /// Decodes and validates a merged configuration (spec §4); every problem is a `ConfigError`
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
    var r = ParameterReader(node: root, path: "", groups: [], random: random)
    verbose = try r.scalar(
      "verbose", Int.self, default: 2, doc: "0 silent, 1 progress, 2 progress and statistics"
    ).constantValue!
    output = try r.scalar(
      "output", String.self, default: "./", doc: "output directory (ending in /) or file name"
    ).constantValue!
    outputQuality = try r.scalar(
      "output_quality", Int.self, default: 95, doc: "JPEG/WebP quality 1-100 (WebP 100: lossless)"
    ).constantValue!
    guard (1...100).contains(outputQuality) else {
      throw ConfigError(
        "output_quality must be between 1 and 100, got \(outputQuality)",
        at: root["output_quality"]?.location ?? root.location, path: "output_quality")
    }
    snapshotInterval = try Self.snapshotInterval(&r)
    epochs = try r.scalar("epochs", Int.self, default: 300, doc: "number of optimizer steps")
      .constantValue!
    guard epochs >= 1 else {
      throw ConfigError(
        "epochs must be at least 1, got \(epochs)", at: root["epochs"]?.location ?? root.location,
        path: "epochs")
    }
    startEpoch = try r.scalar("start_epoch", Int.self, default: 0, doc: "first epoch index")
      .constantValue!
    guard startEpoch >= 0, startEpoch < epochs else {
      throw ConfigError(
        startEpoch < 0
          ? "start_epoch counts from 0 and cannot be negative, got \(startEpoch)"
          : "start_epoch \(startEpoch) is past the last epoch (\(epochs - 1)) of epochs: \(epochs)",
        at: root["start_epoch"]?.location ?? root.location, path: "start_epoch")
    }
    var rTime = ParameterReader(node: root, path: "", groups: [.time], random: random)
    resolution = try rTime.list(
      "resolution", Int.self, lengths: [2], default: [224, 224],
      doc: "width and height of the pixels")
    r.skip("resolution")
    interpolation = try r.choice("interpolation", default: "cubic", doc: "resize filter")
    model = try r.scalar("model", String.self, default: "ViT-B/32", doc: "CLIP model name or path")
      .constantValue!
    device = try r.scalar(
      "device", String.self, default: "auto",
      doc: "accepted for compatibility; clipig runs on the CPU"
    ).constantValue!
    var rLR = ParameterReader(node: root, path: "", groups: [.time, .resolution], random: random)
    learnrate = try rLR.scalar("learnrate", Double.self, default: 1, doc: "learning-rate factor")
    learnrateScale = try rLR.scalar(
      "learnrate_scale", Double.self, default: 1, doc: "second learning-rate factor")
    r.skip("learnrate")
    r.skip("learnrate_scale")
    optimizer = try r.choice("optimizer", default: "adam", doc: "the optimizer")
    if let s = try r.optionalScalar("seed", Int.self, doc: "seed of all random draws")?
      .constantValue
    {
      seed = UInt64(bitPattern: Int64(s))
    } else {
      seed = nil
    }
    try Self.checkPlugins(
      try r.section("plugins", doc: "plugin package folders (relative to the YAML)"))
    initialization = try Self.initialization(
      try r.section("init", doc: "pixel initialisation"), random: random)
    parametrization = try ParametrizationSpec(
      try r.section("parametrization", doc: "pixels (CLIPig) or fft, colour basis, value mapping"))
    targets = []
    if let node = try r.section("targets", doc: "targets") {
      guard let elements = node.elements else {
        throw ConfigError(
          "expected a list of targets, got \(node.kindDescription)", at: node.location,
          path: "targets")
      }
      for (i, element) in elements.enumerated() {
        if let t = try Self.target(
          element, path: "targets[\(i)]", transforms: transforms, constraints: constraints,
          random: random)
        {
          targets.append(t)
        }
      }
    }
    postproc = []
    if let node = try r.section("postproc", doc: "post-processing") {
      guard let elements = node.elements else {
        throw ConfigError(
          "expected a list of post-processing entries, got \(node.kindDescription)",
          at: node.location, path: "postproc")
      }
      for (i, element) in elements.enumerated() {
        postproc += try Self.postprocEntries(
          element, path: "postproc[\(i)]", registry: transforms, random: random)
      }
    }
    try r.finish()
    source = root
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
    guard
      let node = try r.section(
        "snapshot_interval", doc: "int: every N epochs, float: every N seconds, 0: never")
    else {
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
    try r.finish()
    let res = resolution?.map { $0.constantValue! }
    if let res, let problem = ImageLimits.problem(width: res[0], height: res[1]) {
      throw ConfigError(
        "init.resolution \(res[0])×\(res[1]): \(problem)",
        at: node?["resolution"]?.location ?? .synthetic("init"), path: "init.resolution")
    }
    return Initialization(
      resolution: res, mean: mean.map { $0.constantValue! }, std: std.map { $0.constantValue! },
      image: image?.constantValue)
  }

  static func target(
    _ node: ConfigNode, path: String, transforms: StageRegistry, constraints: StageRegistry,
    random: SeededRandom
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
    var rw = ParameterReader(
      node: node, path: path, groups: [.time, .resolution, .learnrate, .targetConstraint],
      random: random)
    let weight = try rw.scalar(
      "weight", Double.self, default: 1, doc: "factor of the whole target loss")
    r.skip("weight")
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
        features.append(try feature(element, path: "\(path).features[\(i)]", random: random))
      }
    }
    var chain: [PipelineEntry] = []
    if let list = try r.section("transforms", doc: "augmentations applied to each view") {
      for (i, element) in try elements(list, path: path + ".transforms").enumerated() {
        chain += try stages(
          element, path: "\(path).transforms[\(i)]", registry: transforms, random: random)
      }
    }
    var constraintEntries: [ConstraintEntry] = []
    if let list = try r.section("constraints", doc: "extra losses on each view") {
      for (i, element) in try elements(list, path: path + ".constraints").enumerated() {
        constraintEntries += try constraintList(
          element, path: "\(path).constraints[\(i)]", registry: constraints, random: random)
      }
    }
    try r.finish()
    guard active else { return nil }
    return Target(
      name: name, window: window, weight: weight, batchSize: batchSize, select: select,
      fairScaling: featureScale == .fair, features: features, transforms: chain,
      constraints: constraintEntries, warnings: warnings,
      location: node.location)
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

  static func feature(_ node: ConfigNode, path: String, random: SeededRandom) throws(ConfigError)
    -> Feature
  {
    var r = ParameterReader(node: node, path: path, groups: [], random: random)
    let text = try r.optionalScalar("text", String.self, doc: "prompt")?.constantValue
    let image = try r.optionalScalar("image", String.self, doc: "image file or http(s) URL")?
      .constantValue
    let window = Window(
      start: try r.frameTime("start", default: .fraction(0), doc: "first active epoch or fraction"),
      end: try r.frameTime("end", default: .fraction(1), doc: "last active epoch or fraction"))
    var rw = ParameterReader(
      node: node, path: path, groups: [.time, .resolution, .learnrate, .targetFeature],
      random: random)
    let weight = try rw.scalar(
      "weight", Double.self, default: 1, doc: "loss factor (negative pushes away)")
    let scale = try rw.scalar("scale", Double.self, default: 1, doc: "similarity factor")
    r.skip("weight")
    r.skip("scale")
    let loss = try r.choice("loss", FeatureLoss.self, default: "cosine", doc: "feature loss")
    try r.finish()
    if text == nil && image == nil {
      throw ConfigError("a feature needs 'text' or 'image'", at: node.location, path: path)
    }
    return Feature(
      text: text, image: text == nil ? image : nil, window: window, weight: weight, scale: scale,
      loss: loss, location: node.location)
  }

  /// The stages of one transform-list element, in key order.
  static func stages(
    _ node: ConfigNode, path: String, registry: StageRegistry, random: SeededRandom,
    reserved: Set<String> = []
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
      let stage: any Stage
      do {
        stage = try registry.make(
          name: entry.key, parameters: entry.node, path: stagePath, keyLocation: entry.keyLocation,
          random: random.fork(UInt64(k)))
      } catch  where entry.node.isNull && registry[entry.key] != nil {
        // `- noise:` without a value: a stage that needs one is skipped, as in CLIPig; a stage
        // whose parameters all have defaults (`- blur:`) runs with them.
        continue
      }
      result.append(PipelineEntry(stage: stage, path: stagePath))
    }
    return result
  }

  static func postprocEntries(
    _ node: ConfigNode, path: String, registry: StageRegistry, random: SeededRandom
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
      node, path: path, registry: registry, random: random, reserved: ["active", "start", "end"])
    for e in entries where type(of: e.stage).traits.contains(.changesResolution) {
      let key = node.entries?.first { path + "." + $0.key == e.path }
      throw ConfigError(
        "'\(type(of: e.stage).name)' changes the resolution and cannot be used in postproc",
        at: key?.keyLocation ?? node.location, path: e.path)
    }
    guard active else { return [] }
    return entries.map { PostprocEntry(stage: $0.stage, window: window, path: $0.path) }
  }

  static func constraintList(
    _ node: ConfigNode, path: String, registry: StageRegistry, random: SeededRandom
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
      result.append(ConstraintEntry(stage: stage, weight: weight, window: window, path: cPath))
    }
    return result
  }
}
