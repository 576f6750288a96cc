import PipelineKit

/// The configuration written beside an image: what the user wrote (with command-line overrides,
/// the seed and the output path), plus every top-level default made explicit, minus nulls and
/// empty lists — YAML that reproduces the run when fed back in.
public enum ResolvedConfig {
  /// The sidecar configuration for a run of `experiment` loaded from `root`; `plugins` replace
  /// the configuration's `plugins:` (each as its absolute path and SHA-256).
  public static func complete(
    _ root: ConfigNode, experiment e: Experiment, seed: UInt64, output: String,
    plugins: [PluginRecord] = []
  ) -> ConfigNode {
    let here = SourceLocation.synthetic("<resolved>")
    func node(_ v: ConfigValue) -> ConfigNode { ConfigNode(v, at: here) }
    func list(_ values: [ConfigValue]) -> ConfigNode { node(.sequence(values.map(node))) }
    let snapshot: ConfigValue =
      switch e.snapshotInterval {
      case .never: .int(0)
      case .epochs(let n): .int(n)
      case .seconds(let s): .float(s)
      }
    let defaults: [(String, ConfigNode)] = [
      ("output", node(.string(output))),
      ("seed", node(.int(Int(bitPattern: UInt(seed))))),
      ("epochs", node(.int(e.epochs))),
      ("resolution", list(e.resolution.map(\.configValue))),
      ("interpolation", node(.string(e.interpolation.rawValue))),
      ("model", node(.string(e.model))),
      ("optimizer", node(.string(e.optimizer == .rmsprop ? "rmsprop" : e.optimizer.rawValue))),
      ("learnrate", node(e.learnrate.configValue)),
      ("learnrate_scale", node(e.learnrateScale.configValue)),
      ("snapshot_interval", node(snapshot)),
    ]
    var entries = root.entries ?? []
    for (key, value) in defaults {
      if let i = entries.firstIndex(where: { $0.key == key }) {
        if key == "output" || key == "seed" { entries[i].node = value }
      } else {
        entries.append(ConfigNode.Entry(key: key, keyLocation: here, node: value))
      }
    }
    entries.removeAll { $0.key == "plugins" }
    if !plugins.isEmpty {
      let records = plugins.map { p in
        node(
          .mapping([
            ConfigNode.Entry(key: "path", keyLocation: here, node: node(.string(p.path))),
            ConfigNode.Entry(key: "sha256", keyLocation: here, node: node(.string(p.sha256))),
          ]))
      }
      entries.insert(
        ConfigNode.Entry(key: "plugins", keyLocation: here, node: node(.sequence(records))), at: 0)
    }
    // A parametrization section the user wrote is written with every choice explicit; without
    // one the sidecar stays CLIPig's YAML.
    if let i = entries.firstIndex(where: { $0.key == "parametrization" }) {
      entries[i].node = e.parametrization.configNode
    }
    return pruned(ConfigNode(.mapping(entries), at: root.location)) ?? node(.mapping([]))
  }

  /// The tree without null values and empty lists in mappings.
  static func pruned(_ n: ConfigNode) -> ConfigNode? {
    switch n.value {
    case .null: return nil
    case .sequence(let elements):
      return ConfigNode(.sequence(elements.compactMap(pruned)), at: n.location)
    case .mapping(let entries):
      var kept: [ConfigNode.Entry] = []
      for var e in entries {
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
