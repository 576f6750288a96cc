import PipelineKit

/// The configuration written beside an image: what the user wrote (with command-line overrides,
/// the seed and the output path), plus every top-level default made explicit, minus nulls and
/// empty lists — YAML that reproduces the run when fed back in.
public enum ResolvedConfig {
  /// The sidecar configuration for a run of `experiment` loaded from `root`, with the run's
  /// seed, output path and plugins: each top-level key follows the sidecar rule `RunKeys`
  /// declares for it.
  public static func complete(
    _ root: ConfigNode, experiment e: Experiment, seed: UInt64, output: String,
    plugins: [PluginRecord] = []
  ) -> ConfigNode {
    let here = SourceLocation.synthetic("<resolved>")
    var entries = root.entries ?? []
    for key in RunKeys.all {
      let i = entries.firstIndex { $0.key == key.name }
      let value: ConfigNode
      switch (key.sidecar, i) {
      case (.asWritten, _), (.filledIn, .some), (.normalized, .none): continue
      case (.filledIn(let resolved), .none): value = resolved(e)
      case (.normalized(let resolved), .some): value = resolved(e)
      case (.run(let written), _):
        value = written(RunFacts(seed: seed, output: output, plugins: plugins))
      }
      if let i {
        entries[i].node = value
      } else {
        entries.append(ConfigNode.Entry(key: key.name, keyLocation: here, node: value))
      }
    }
    return pruned(ConfigNode(.mapping(entries), at: root.location))
      ?? ConfigNode(.mapping([]), at: here)
  }

  /// The tree without null values and empty lists in mappings — except the null of a list
  /// element's own keys: `- explode:` is a stage with its defaults and keeps its name.
  static func pruned(_ n: ConfigNode, inList: Bool = false) -> ConfigNode? {
    switch n.value {
    case .null: return nil
    case .sequence(let elements):
      return ConfigNode(
        .sequence(elements.compactMap { pruned($0, inList: true) }), at: n.location)
    case .mapping(let entries):
      var kept: [ConfigNode.Entry] = []
      for var e in entries {
        if inList, e.node.isNull {
          kept.append(e)
          continue
        }
        guard let child = pruned(e.node) else { continue }
        if case .sequence(let s) = child.value, s.isEmpty { continue }
        e.node = child
        kept.append(e)
      }
      return ConfigNode(.mapping(kept), at: n.location)
    default: return n
    }
  }
}
