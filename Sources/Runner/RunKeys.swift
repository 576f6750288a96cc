import ExprEval
import PipelineKit

/// One top-level key of an experiment file, declared once: the loader reads it through this
/// declaration (name, default, variable groups, doc), the sidecar writer takes its rule from it
/// and the key reference is generated from it.
public struct RunKey: Sendable {
  /// What the YAML written beside an image (`ResolvedConfig`) does with the key.
  public enum Sidecar: Sendable {
    /// Kept as the user wrote it, left out when absent.
    case asWritten
    /// Kept as written; when absent, the decoded value is written, so the default is explicit.
    case filledIn(@Sendable (Experiment) -> ConfigNode)
    /// When written, replaced by the decoded value with every choice explicit; absent stays
    /// absent.
    case normalized(@Sendable (Experiment) -> ConfigNode)
    /// Always the run's value (the seed used, the output path, the plugins loaded), written
    /// or not.
    case run(@Sendable (RunFacts) -> ConfigNode)
  }

  /// The key as written in YAML.
  public let name: String
  /// The default as a YAML value (`.null`: none, the key is optional or a section).
  public let defaultValue: ConfigValue
  /// The variables its expressions may use (empty: constants only).
  public let groups: VariableGroups
  /// One line on what the key does.
  public let doc: String
  /// The sidecar rule.
  public let sidecar: Sidecar
  /// Whether the key holds a section (a mapping or list with keys of its own) rather than a
  /// value.
  public let isSection: Bool

  /// A key `name` with its default, groups, doc and sidecar rule.
  public init(
    _ name: String, default defaultValue: ConfigValue = .null, groups: VariableGroups = [],
    sidecar: Sidecar = .asWritten, isSection: Bool = false, doc: String
  ) {
    self.isSection = isSection
    self.name = name
    self.defaultValue = defaultValue
    self.groups = groups
    self.doc = doc
    self.sidecar = sidecar
  }

  /// The default as YAML text for the reference ("none" without one).
  public var defaultText: String {
    switch defaultValue {
    case .null: "none"
    case .sequence(let items):
      "[" + items.map { Self.text($0.value) }.joined(separator: ", ") + "]"
    default: Self.text(defaultValue)
    }
  }

  static func text(_ value: ConfigValue) -> String {
    switch value {
    case .int(let i): String(i)
    case .float(let d): String(d)
    case .bool(let b): b ? "true" : "false"
    case .string(let s): s
    default: ""
    }
  }
}

/// What a run decided that its sidecar records whatever the YAML said: the seed used, the
/// output written and the plugins whose stages it ran with.
public struct RunFacts: Sendable {
  /// The seed of every random draw.
  public var seed: UInt64
  /// The image written.
  public var output: String
  /// The plugins loaded (empty: built-in stages only).
  public var plugins: [PluginRecord]

  /// The facts of one run.
  public init(seed: UInt64, output: String, plugins: [PluginRecord] = []) {
    self.seed = seed
    self.output = output
    self.plugins = plugins
  }
}

/// The top-level keys of an experiment: adding one means declaring it here (with its sidecar
/// rule) and reading it in `Experiment.init`.
public enum RunKeys {
  static let here = SourceLocation.synthetic("<resolved>")
  static func node(_ value: ConfigValue) -> ConfigNode { ConfigNode(value, at: here) }

  /// `verbose`: how much the command line prints.
  public static let verbose = RunKey(
    "verbose", default: .int(2), doc: "0 silent, 1 progress, 2 progress and statistics")
  /// `output`: where the image goes; the sidecar records the path actually written.
  public static let output = RunKey(
    "output", default: .string("./"), sidecar: .run { node(.string($0.output)) },
    doc: "output directory (ending in /) or file name")
  /// `output_quality`: JPEG/WebP encoder quality.
  public static let outputQuality = RunKey(
    "output_quality", default: .int(95), doc: "JPEG/WebP quality 1-100 (WebP 100: lossless)")
  /// `seed`: the seed of every random draw; the sidecar records the seed used.
  public static let seed = RunKey(
    "seed", sidecar: .run { node(.int(Int(bitPattern: UInt($0.seed)))) },
    doc: "seed of all random draws (drawn when absent)")
  /// `epochs`: the number of optimizer steps.
  public static let epochs = RunKey(
    "epochs", default: .int(300), sidecar: .filledIn { node(.int($0.epochs)) },
    doc: "number of optimizer steps (epochs)")
  /// `start_epoch`: the epoch training starts at (earlier epochs are skipped).
  public static let startEpoch = RunKey(
    "start_epoch", default: .int(0),
    doc: "the epoch training starts at (earlier epochs are skipped)")
  /// `resolution`: the image size, an expression of time for a resolution schedule.
  public static let resolution = RunKey(
    "resolution", default: .sequence([node(.int(224)), node(.int(224))]),
    groups: .resolutionParameter,
    sidecar: .filledIn { e in node(.sequence(e.resolution.map { node($0.configValue) })) },
    doc: "width and height of the pixels")
  /// `interpolation`: the filter of resolution changes and resizing transforms.
  public static let interpolation = RunKey(
    "interpolation", default: .string("cubic"),
    sidecar: .filledIn { node(.string($0.interpolation.rawValue)) },
    doc: "filter of resolution changes and resizing transforms: nearest, linear or cubic")
  /// `tiling`: the image is a torus, so the output tiles without a seam; kept in the sidecar as
  /// written, so a re-render tiles too.
  public static let tiling = RunKey(
    "tiling", default: .bool(false),
    doc: "true: the image is a torus — every stage that reads beyond the edge or mixes "
      + "neighbours wraps around — so it tiles without a seam; render also writes NAME-tiled")
  /// `model`: the CLIP model that scores the image.
  public static let model = RunKey(
    "model", default: .string("ViT-B/32"), sidecar: .filledIn { node(.string($0.model)) },
    doc: "CLIP model name or path")
  /// `models`: several CLIP models judging the image, each with a weight and a share of the
  /// views (see docs/composition.md); without it, the one `model`.
  public static let models = RunKey(
    "models", isSection: true,
    doc: "several CLIP models: a list of `{model, weight, views}` (weight an expression of "
      + "time, views the share of each target's views in (0, 1]); targets pick with `model:`; "
      + "`--model` replaces the list")
  /// `device`: accepted and ignored, for CLIPig files.
  public static let device = RunKey(
    "device", default: .string("auto"), doc: "accepted for compatibility; clipig runs on the CPU")
  /// `precision`: the arithmetic of CLIP's matrix products (bf16 where the CPU has native bf16
  /// dot products and it is asked for; fp32 otherwise).
  public static let precision = RunKey(
    "precision", default: .string("fp32"),
    doc: "CLIP's matrix products: fp32, bf16 (where the CPU has native bf16 dot products) or auto")
  /// `optimizer`: the optimizer of the pixels.
  public static let optimizer = RunKey(
    "optimizer", default: .string("adam"),
    sidecar: .filledIn { node(.string($0.optimizer.configName)) },
    doc:
      "the optimizer of the pixels: adam, sgd, adadelta, rmsprop (also as CLIPig spelled it, rmsprob) or sparse_adam"
  )
  /// `learnrate`: a factor of the optimizer's base rate, an expression of time and resolution.
  public static let learnrate = RunKey(
    "learnrate", default: .float(1), groups: .learnrateParameter,
    sidecar: .filledIn { node($0.learnrate.configValue) },
    doc: "factor of the optimizer's base learning rate")
  /// `learnrate_scale`: a second factor of the base rate.
  public static let learnrateScale = RunKey(
    "learnrate_scale", default: .float(1), groups: .learnrateParameter,
    sidecar: .filledIn { node($0.learnrateScale.configValue) },
    doc: "a second factor of the base learning rate")
  /// `snapshot_interval`: how often an intermediate image is written.
  public static let snapshotInterval = RunKey(
    "snapshot_interval", default: .float(20),
    sidecar: .filledIn { e in
      switch e.snapshotInterval {
      case .never: node(.int(0))
      case .epochs(let n): node(.int(n))
      case .seconds(let s): node(.float(s))
      }
    }, doc: "int: every N epochs, float: every N seconds, 0: never")
  /// `plugins`: plugin packages whose stages the run uses; the sidecar records each plugin
  /// loaded as its absolute path and SHA-256, so re-rendering it loads them again.
  public static let plugins = RunKey(
    "plugins",
    sidecar: .run { facts in
      node(
        .sequence(
          facts.plugins.map { p in
            node(
              .mapping([
                ConfigNode.Entry(key: "path", keyLocation: here, node: node(.string(p.path))),
                ConfigNode.Entry(key: "sha256", keyLocation: here, node: node(.string(p.sha256))),
              ]))
          }))
    }, isSection: true,
    doc: "plugin package folders or built plugin executables (relative to the YAML), whose "
      + "stages the run may use; loading a plugin runs its code")
  /// `init`: the starting pixels.
  public static let initialization = RunKey(
    "init", isSection: true,
    doc: "the starting pixels: `resolution`, noise `mean` and `std` per channel, or an `image`; "
      + "in an animation an input `video` (with `blend`, see animation.md)")
  /// `parametrization`: how trained parameters make the image; the sidecar spells out every
  /// choice of a section the user wrote.
  public static let parametrization = RunKey(
    "parametrization", sidecar: .normalized { $0.parametrization.configNode }, isSection: true,
    doc: "what is trained: `pixels` (CLIPig) or `fft`, with colour basis and value mapping")
  /// `targets`: the goals of the optimization.
  public static let targets = RunKey(
    "targets", isSection: true,
    doc: "the losses: each target's features (texts, images), view transforms and constraints")
  /// `postproc`: transforms applied to the pixels after each step.
  public static let postproc = RunKey(
    "postproc", isSection: true,
    doc: "transforms applied to the pixels after each optimizer step, each in its time window")

  /// `animation`: frames, each the previous one warped and trained a few epochs.
  public static let animation = RunKey(
    "animation", isSection: true,
    doc: "a video: `frames`, `fps`, `epochs` of each later frame, the `warp` of the previous "
      + "frame, `scenes` (see below)")

  /// Every top-level key; the sidecar adds the defaults it fills in in this order.
  public static let all: [RunKey] = [
    plugins, verbose, output, outputQuality, seed, epochs, startEpoch, resolution, interpolation,
    tiling, model, models,
    device, precision, optimizer, learnrate, learnrateScale, snapshotInterval, initialization,
    parametrization, targets, postproc, animation,
  ]

  /// The key named `name`.
  public static subscript(name: String) -> RunKey? { all.first { $0.name == name } }

  /// The command that regenerates the committed page of the top-level keys.
  public static let regenerate = "swift run clipig docs --keys > docs/keys.md"

  /// The Markdown page of the top-level keys (name, default, expression variables, doc).
  public static var markdown: String {
    var lines = [
      "# Top-level keys of an experiment file", "",
      "Generated from `RunKeys` (Sources/Runner/RunKeys.swift) by `\(regenerate)`; the",
      "stages inside `targets` and `postproc` are in [stages.md](stages.md).", "",
      "| key | default | expressions may use | what it does |",
      "| --- | --- | --- | --- |",
    ]
    for key in all {
      let variables =
        key.isSection
        ? "(its own keys)"
        : key.groups.isEmpty ? "constants" : key.groups.names.joined(separator: ", ")
      lines.append("| `\(key.name)` | `\(key.defaultText)` | \(variables) | \(key.doc) |")
    }
    lines += [
      "", "## `animation`", "",
      "The keys of the `animation:` section ([animation.md](animation.md)); every parameter of",
      "the experiment may also use the frame variables `frame` and `ft` (`frame_time`).", "",
      "| key | default | expressions may use | what it does |",
      "| --- | --- | --- | --- |",
    ]
    let frameKeys: Set<String> = ["zoom", "rotate", "translate", "center"]
    for (path, spec) in Animation.keyReference {
      guard let key = spec.key else { continue }
      let variables =
        spec.type == "section" && key != "text"
        ? "(its own keys)"
        : path == "animation.warp" && frameKeys.contains(key) ? "frame" : "constants"
      let value = spec.defaultText.map { $0 == "null" ? "none" : $0 } ?? "required"
      lines.append("| `\(path).\(key)` | `\(value)` | \(variables) | \(spec.doc) |")
    }
    return lines.joined(separator: "\n") + "\n"
  }
}

extension ParameterReader {
  /// The top-level scalar `key`, with its declared default and groups.
  mutating func scalar<T: ParamScalar>(_ key: RunKey, _ type: T.Type) throws(ConfigError)
    -> Param<T>
  {
    try scalar(
      key.name, T.self, default: T.fromConfig(key.defaultValue), groups: key.groups, doc: key.doc)
  }

  /// The top-level optional scalar `key`.
  mutating func optionalScalar<T: ParamScalar>(_ key: RunKey, _ type: T.Type) throws(ConfigError)
    -> Param<T>?
  {
    try optionalScalar(key.name, T.self, groups: key.groups, doc: key.doc)
  }

  /// The top-level list `key` of one of `lengths` elements, with its declared default.
  mutating func list<T: ParamScalar>(_ key: RunKey, _ type: T.Type, lengths: [Int])
    throws(ConfigError) -> [Param<T>]
  {
    var defaultValue: [T]?
    if case .sequence(let items) = key.defaultValue {
      defaultValue = items.compactMap { T.fromConfig($0.value) }
    }
    return try list(
      key.name, T.self, lengths: lengths, default: defaultValue, groups: key.groups, doc: key.doc)
  }

  /// The top-level choice `key`, with its declared default name.
  mutating func choice<T: ConfigChoice>(_ key: RunKey, _ type: T.Type) throws(ConfigError) -> T {
    guard case .string(let name) = key.defaultValue else {
      preconditionFailure("the choice \(key.name) declares no default name")
    }
    return try choice(key.name, T.self, default: name, doc: key.doc)
  }

  /// The top-level section `key` (nil when absent or null).
  mutating func section(_ key: RunKey) throws(ConfigError) -> ConfigNode? {
    try section(key.name, doc: key.doc)
  }
}
