import PipelineKit

/// `animation.scenes`: prompts over consecutive frame ranges, cross-faded over `fade` frames —
/// a shorthand for features whose `weight` follows the frame. Each scene's texts become
/// features of every target (of a new target `scenes` when there is none) with the weight
///
///     max(0, min(1, (frame − S)/F + 0.5, (E − frame)/F + 0.5))
///
/// for a scene over frames S…E−1 with fade F (the first scene's start and the last scene's end
/// do not fade; without fade the weight is 1 inside the range and 0 outside), so that two
/// neighbouring scenes' weights sum to 1 across their boundary. The last scene without
/// `frames` lasts to the end.
public struct AnimationScenes: Sendable {
  /// One scene.
  public struct Scene: Sendable {
    /// The prompts.
    public var texts: [ConfigNode]
    /// First frame (0-based).
    public var start: Int
    /// The frame after its last.
    public var end: Int
    /// A factor of the scene's weight.
    public var weight: Double
    /// Where it was written.
    public var location: SourceLocation
  }

  /// The scenes in order.
  public var scenes: [Scene]
  /// Cross-fade length in frames.
  public var fade: Int

  /// Decodes the list `node` for an animation of `frames` frames.
  init(
    _ node: ConfigNode, fade: Int, frames: Int, fadeLocation: SourceLocation?,
    specs: inout [ParameterSpec]
  ) throws(ConfigError) {
    guard let elements = node.elements, !elements.isEmpty else {
      throw ConfigError(
        "expected a list of scenes such as '- {text: a forest, frames: 24}', got "
          + node.kindDescription, at: node.location, path: "animation.scenes")
    }
    self.fade = fade
    scenes = []
    var start = 0
    for (i, element) in elements.enumerated() {
      let path = "animation.scenes[\(i)]"
      guard element.entries != nil else {
        throw ConfigError(
          "expected a mapping (text, frames, weight), got \(element.kindDescription)",
          at: element.location, path: path)
      }
      var r = ParameterReader(node: element, path: path, groups: [])
      guard let textNode = try r.section("text", doc: "the scene's prompt or list of prompts")
      else {
        throw ConfigError("a scene needs 'text'", at: element.location, path: path)
      }
      let texts = textNode.elements ?? [textNode]
      for t in texts {
        guard case .string = t.value else {
          throw ConfigError(
            "expected a prompt (text), got \(t.kindDescription)", at: t.location,
            path: path + ".text")
        }
      }
      let isLast = i == elements.count - 1
      let length = try r.optionalScalar(
        "frames", Int.self, doc: "how many frames the scene lasts (the last one: to the end)")?
        .constantValue
      let weight = try r.scalar(
        "weight", Double.self, default: 1, doc: "factor of the scene's prompts' weight"
      ).constantValue!
      try r.finish()
      if i == 0 { specs = r.specs }
      let remaining = frames - start
      let n: Int
      if let length {
        guard length >= 1, length <= remaining else {
          throw ConfigError(
            "scene frames must be between 1 and the \(remaining) frames left of the animation's "
              + "\(frames), got \(length)", at: element["frames"]?.location ?? element.location,
            path: path + ".frames")
        }
        n = isLast ? remaining : length
      } else {
        guard isLast else {
          throw ConfigError(
            "every scene but the last needs 'frames'", at: element.location, path: path)
        }
        guard remaining >= 1 else {
          throw ConfigError(
            "no frames are left for this scene (the animation has \(frames))",
            at: element.location, path: path)
        }
        n = remaining
      }
      guard weight.isFinite else {
        throw ConfigError(
          "weight must be finite", at: element["weight"]?.location ?? element.location,
          path: path + ".weight")
      }
      if elements.count > 1 && fade > n {
        throw ConfigError(
          "fade (\(fade) frames) is longer than scene \(i) (\(n) frames)",
          at: fadeLocation ?? element.location, path: "animation.fade")
      }
      scenes.append(
        Scene(
          texts: texts, start: start, end: start + n, weight: weight, location: element.location))
      start += n
    }
  }

  /// The weight expression of scene `i` of an animation of `frames` frames.
  func weightExpression(_ i: Int, frames: Int) -> String {
    let s = scenes[i]
    let factor = s.weight == 1 ? "" : "\(s.weight) * "
    if fade == 0 {
      return factor + "(1 if \(s.start) <= frame < \(s.end) else 0)"
    }
    let left = s.start == 0 ? "1" : "(frame - \(s.start)) / \(fade) + 0.5"
    let right = s.end >= frames ? "1" : "(\(s.end) - frame) / \(fade) + 0.5"
    return factor + "max(0, min(1, \(left), \(right)))"
  }

  /// `targets` with every scene's texts added as features of each target (or of one new target
  /// when there is none), located at the scene.
  func expand(targets: ConfigNode?, frames: Int) -> ConfigNode {
    var features: [ConfigNode] = []
    for (i, scene) in scenes.enumerated() {
      let weight = ConfigNode(.string(weightExpression(i, frames: frames)), at: scene.location)
      for text in scene.texts {
        features.append(
          ConfigNode(
            .mapping([
              ConfigNode.Entry(key: "text", keyLocation: text.location, node: text),
              ConfigNode.Entry(key: "weight", keyLocation: scene.location, node: weight),
            ]), at: scene.location))
      }
    }
    let location = scenes.first?.location ?? .synthetic("animation.scenes")
    guard let targets, !targets.isNull, let list = targets.elements else {
      let target = ConfigNode(
        .mapping([
          ConfigNode.Entry(
            key: "name", keyLocation: location, node: ConfigNode(.string("scenes"), at: location)),
          ConfigNode.Entry(
            key: "features", keyLocation: location,
            node: ConfigNode(.sequence(features), at: location)),
        ]), at: location)
      // A `targets:` that is not a list is left for the loader to refuse.
      if let targets, !targets.isNull { return targets }
      return ConfigNode(.sequence([target]), at: location)
    }
    let expanded = list.map { target -> ConfigNode in
      guard var entries = target.entries else { return target }
      if let k = entries.firstIndex(where: { $0.key == "features" }),
        let existing = entries[k].node.elements
      {
        entries[k].node = ConfigNode(.sequence(existing + features), at: entries[k].node.location)
      } else if entries.contains(where: { $0.key == "features" }) {
        return target
      } else {
        entries.append(
          ConfigNode.Entry(
            key: "features", keyLocation: location,
            node: ConfigNode(.sequence(features), at: location)))
      }
      return ConfigNode(.mapping(entries), at: target.location)
    }
    return ConfigNode(.sequence(expanded), at: targets.location)
  }
}
