extension ConfigNode {
  /// The list sections whose sequences a later file appends to (CLIPig's `targets`, `postproc`
  /// and the `features`/`transforms`/`constraints` lists of a target).
  public static let appendingSectionKeys: Set<String> = [
    "targets", "postproc", "features", "transforms", "constraints",
  ]

  /// This tree with a later file's tree merged over it, as CLIPig merges configuration files.
  ///
  /// - mappings merge key by key, recursively; new keys are appended in the later file's order;
  /// - a sequence under a key named in `appendingKeys` is appended to an existing sequence
  ///   there (that is how a later file adds `targets`);
  /// - any other value — scalars, null, and sequences under other keys (`resolution: [448,
  ///   448]`, `init.mean`, `init.image_tensor`) — replaces the earlier one.
  ///
  /// Merging raw (unconverted) nodes avoids CLIPig's defect of concatenating list-valued
  /// scalars such as `resolution: 224 224` and `resolution: [448, 448]`. A null root (an empty
  /// file) contributes nothing; below the root a null value replaces like any other value.
  public func merged(
    with later: ConfigNode, appendingKeys: Set<String> = ConfigNode.appendingSectionKeys
  ) -> ConfigNode {
    if later.isNull { return self }
    return merged(with: later, underKey: nil, appendingKeys: appendingKeys)
  }

  private func merged(with later: ConfigNode, underKey key: String?, appendingKeys: Set<String>)
    -> ConfigNode
  {
    switch (value, later.value) {
    case (.mapping(let old), .mapping(let new)):
      var entries = old
      var index: [String: Int] = [:]
      for (i, entry) in entries.enumerated() { index[entry.key] = i }
      for entry in new {
        if let i = index[entry.key] {
          let combined = entries[i].node.merged(
            with: entry.node, underKey: entry.key, appendingKeys: appendingKeys)
          entries[i] = Entry(key: entry.key, keyLocation: entry.keyLocation, node: combined)
        } else {
          index[entry.key] = entries.count
          entries.append(entry)
        }
      }
      return ConfigNode(.mapping(entries), at: location)
    case (.sequence(let old), .sequence(let new)):
      guard let key, appendingKeys.contains(key) else { return later }
      return ConfigNode(.sequence(old + new), at: location)
    default:
      return later
    }
  }
}
