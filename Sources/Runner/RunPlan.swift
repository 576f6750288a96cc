import CLIP
import Constraints
import Formats
import Foundation
import PipelineKit
import Transforms

/// The stages a run's YAML may name: the built-in transforms and constraints, plus any a
/// library user (or a plugin) adds for one run. Registries are values; nothing is registered
/// process-wide.
public struct StageRegistries: Sendable {
  /// Transforms (also post-processing stages).
  public var transforms: StageRegistry
  /// Constraints.
  public var constraints: StageRegistry
  /// The plugins whose stages these registries hold (recorded in the sidecar's `plugins:`).
  public var plugins: [PluginRecord] = []

  /// The registries; by default clipig's built-in stages.
  public init(transforms: StageRegistry = .transforms, constraints: StageRegistry = .constraints) {
    self.transforms = transforms
    self.constraints = constraints
  }

  /// clipig's built-in stages.
  public static let builtin = StageRegistries()
}

/// Values given on the command line, or by a workflow, that replace the YAML's: they are written
/// over the configuration tree as nodes located at `<command line>`, so the sidecar records them
/// and errors name the flag. The seed is not among them: it is the plan's (`RunPlan`).
public struct RunOverrides: Sendable, Equatable {
  /// `epochs`.
  public var epochs: Int?
  /// `resolution` as `W [H]` (one value: square).
  public var resolution: [Int]?
  /// `learnrate`.
  public var learnrate: Double?
  /// `optimizer`.
  public var optimizer: OptimizerKind?
  /// `snapshot_interval` in seconds (0 disables snapshots).
  public var snapshotSeconds: Double?
  /// `model`: a CLIP model name or path; it replaces a `models:` list (one model judges
  /// every target: the list and the targets' `model` keys are removed).
  public var model: String?
  /// `output_quality` of JPEG and WebP outputs.
  public var quality: Int?
  /// `precision` of CLIP's matrix products.
  public var precision: CLIPPrecision?

  /// No overrides.
  public init() {}

  /// `root` with these values written over it.
  public func apply(to root: ConfigNode) -> ConfigNode {
    let location = SourceLocation.synthetic("<command line>")
    var entries = root.entries ?? []
    func set(_ key: String, _ value: ConfigValue) {
      let child = ConfigNode(value, at: location)
      if let i = entries.firstIndex(where: { $0.key == key }) {
        entries[i].node = child
      } else {
        entries.append(ConfigNode.Entry(key: key, keyLocation: location, node: child))
      }
    }
    if let epochs { set("epochs", .int(epochs)) }
    if let resolution, let first = resolution.first {
      let sides = resolution.count == 1 ? [first, first] : resolution
      set("resolution", .sequence(sides.map { ConfigNode(.int($0), at: location) }))
    }
    if let learnrate { set("learnrate", .float(learnrate)) }
    if let optimizer { set("optimizer", .string(optimizer.configName)) }
    if let snapshotSeconds { set("snapshot_interval", .float(snapshotSeconds)) }
    if let model {
      set("model", .string(model))
      entries.removeAll { $0.key == "models" }
      if let i = entries.firstIndex(where: { $0.key == "targets" }) {
        entries[i].node = Self.withoutTargetModels(entries[i].node)
      }
    }
    if let quality { set("output_quality", .int(quality)) }
    if let precision { set("precision", .string(precision.rawValue)) }
    return ConfigNode(.mapping(entries), at: root.location)
  }

  /// `targets` with each target's `model` key removed (`--model` makes one model judge all).
  static func withoutTargetModels(_ targets: ConfigNode) -> ConfigNode {
    guard let elements = targets.elements else { return targets }
    return ConfigNode(
      .sequence(
        elements.map { target in
          guard let entries = target.entries else { return target }
          return ConfigNode(
            .mapping(entries.filter { $0.key != "model" }), at: target.location)
        }), at: targets.location)
  }
}

/// One run, decided once: the configuration tree with its overrides, the seed chosen by the
/// one rule, the experiment decoded with that seed's load stream, the folder relative paths
/// resolve against, and the stages the YAML may name. `render`, every `batch` item, every
/// `rank` run, the studio and `preview` build a plan and hand it to `RunLoop` (through
/// `Trainer`); none of them assembles a run another way.
///
/// The seed rule: a given seed (`--seed`, a rank run's, a studio tab's), else the YAML's
/// `seed:`, else the caller's fallback (a batch item's seed derived from the grid), else one
/// drawn from the system's random source — each offset by `repetition` (`render --repeat`)
/// when it was given or written.
public struct RunPlan: Sendable {
  /// The merged configuration with the overrides written over it (the seed stays the plan's).
  public let root: ConfigNode
  /// The decoded experiment (constant random expressions folded with `streams.load`); an
  /// animation's frames change its frame and epochs (`AnimationRender`).
  public internal(set) var experiment: Experiment
  /// The seed every random stream of the run derives from.
  public let seed: UInt64
  /// Whether the seed was drawn (then an interrupted run continues with its checkpoint's).
  public let seedWasDrawn: Bool
  /// Which run of `render --repeat N` this is (0 for the first).
  public let repetition: Int
  /// Relative image paths of the configuration resolve against this folder.
  public let baseDirectory: String
  /// The last configuration file (`-` for standard input): the default output's stem.
  public let sourceName: String?
  /// The stages the configuration may name.
  public let registries: StageRegistries

  /// The plan of configuration files merged in order (`-` reads standard input).
  public init(
    files: [String], overrides: RunOverrides = RunOverrides(), seed: UInt64? = nil,
    repetition: Int = 0, registries: StageRegistries = .builtin
  ) throws {
    try self.init(
      tree: try Self.loadTree(files: files), baseDirectory: Self.baseDirectory(of: files),
      sourceName: files.last, overrides: overrides, seed: seed, repetition: repetition,
      registries: registries)
  }

  /// The plan of a configuration tree (a studio tab, a grid item, a rank run).
  public init(
    tree: ConfigNode, baseDirectory: String, sourceName: String?,
    overrides: RunOverrides = RunOverrides(), seed given: UInt64? = nil,
    fallbackSeed: UInt64? = nil, repetition: Int = 0, registries: StageRegistries = .builtin
  ) throws(ConfigError) {
    let root = overrides.apply(to: tree)
    var seed = given
    if seed == nil, let node = root["seed"], !node.isNull {
      guard case .int(let value) = node.value else {
        throw ConfigError(
          "seed must be an integer, got \(node.kindDescription)", at: node.location, path: "seed")
      }
      seed = UInt64(bitPattern: Int64(value))
    }
    let drawn = seed == nil && fallbackSeed == nil
    let chosen =
      seed.map { $0 &+ UInt64(repetition) } ?? fallbackSeed
      ?? UInt64.random(in: 0...UInt64(Int64.max))
    try self.init(
      root: root, seed: chosen, seedWasDrawn: drawn, repetition: repetition,
      baseDirectory: baseDirectory, sourceName: sourceName, registries: registries)
  }

  private init(
    root: ConfigNode, seed: UInt64, seedWasDrawn: Bool, repetition: Int, baseDirectory: String,
    sourceName: String?, registries: StageRegistries
  ) throws(ConfigError) {
    self.root = root
    self.seed = seed
    self.seedWasDrawn = seedWasDrawn
    self.repetition = repetition
    self.baseDirectory = baseDirectory.isEmpty ? "." : baseDirectory
    self.sourceName = sourceName
    self.registries = registries
    experiment = try Experiment(
      root, transforms: registries.transforms, constraints: registries.constraints,
      random: RandomStreams(seed: seed).load)
  }

  /// The same run with another seed (an interrupted run with a drawn seed continues with its
  /// checkpoint's): the experiment is decoded again, since constant random expressions depend
  /// on the seed.
  public func reseeded(_ seed: UInt64) throws(ConfigError) -> RunPlan {
    guard seed != self.seed else { return self }
    return try RunPlan(
      root: root, seed: seed, seedWasDrawn: false, repetition: repetition,
      baseDirectory: baseDirectory, sourceName: sourceName, registries: registries)
  }

  /// The run's random streams.
  public var streams: RandomStreams { RandomStreams(seed: seed) }

  /// The SHA-256 a checkpoint of this run records and is checked against: the configuration,
  /// the seed unless drawn (a drawn seed is the checkpoint's), and the repetition.
  public var checkpointDigest: String {
    Checkpoint.digest(root, seed: seedWasDrawn ? nil : seed, repetition: repetition)
  }

  /// The digest a checkpoint of this configuration has when its seed was drawn: a run given
  /// the seed that was drawn continues it.
  public var drawnSeedDigest: String {
    Checkpoint.digest(root, seed: nil, repetition: repetition)
  }

  /// The image path the configuration and `-o` ask for, before never-overwrite naming.
  public func requestedOutput(commandLine: String?) -> String {
    OutputNaming.requestedPath(
      configOutput: experiment.output, lastConfigFile: sourceName, commandLine: commandLine)
  }

  /// The configuration written beside the image `output`: it renders this run again.
  public func sidecarConfiguration(output: String) -> ConfigNode {
    ResolvedConfig.complete(
      root, experiment: experiment, seed: seed, output: output, plugins: registries.plugins)
  }

  /// Loads and merges YAML files in order (`-` reads standard input); each must hold a mapping.
  public static func loadTree(files: [String]) throws -> ConfigNode {
    var merged: ConfigNode?
    for file in files {
      let node = file == "-" ? try YAML.loadStandardInput() : try YAML.load(path: file)
      try checkTopLevel(node)
      merged = merged.map { $0.merged(with: node) } ?? node
    }
    return merged ?? ConfigNode(.mapping([]), at: .synthetic("<no file>"))
  }

  /// Refuses a document whose top level is not a mapping of parameters (an empty one is fine).
  public static func checkTopLevel(_ node: ConfigNode) throws(ConfigError) {
    if !node.isNull && node.entries == nil {
      throw ConfigError(
        "expected a mapping of parameters at the top level, got \(node.kindDescription)",
        at: node.location)
    }
  }

  /// The folder relative paths of `files` resolve against: the last file's, or the current
  /// folder for standard input.
  public static func baseDirectory(of files: [String]) -> String {
    guard let last = files.last, last != "-" else { return "." }
    let directory = (last as NSString).deletingLastPathComponent
    return directory.isEmpty ? "." : directory
  }
}
