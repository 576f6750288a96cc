import PipelineKit

/// The stage reference page (`docs/stages.md`), generated from the stage definitions: every
/// transform and constraint with its summary, traits, gradient policy and parameter table.
///
/// Parameter tables come from the `ParameterSpec`s a stage records while reading its first
/// example, so they cannot drift from the code; a test compares the committed page with this
/// output.
public enum StageDocs {
  /// The command that regenerates the committed page.
  public static let regenerate = "swift run clipig docs > docs/stages.md"

  /// The whole page in Markdown, ending with a newline.
  public static func markdown(transforms: StageRegistry, constraints: StageRegistry) -> String {
    var out = """
      # Stage reference

      Generated from the stage definitions by `clipig docs`; do not edit by hand
      (`\(regenerate)`).

      Numeric parameters accept expressions, evaluated each time the stage runs (for every view):
      time (`t`, `ti`, `epoch`, `ts(a, b)` …), resolution (`width`, `height`, `res`) and learnrate
      (`lr`, `lrs`) variables; constraint parameters may also use `similarity` (`sim`), the
      target's mean similarity. Lists take one value (repeated), a YAML list, or text split at
      commas (or else at blanks): `"0.1 0.2 0.3"`, `"t/2, 1 - t"`.

      Gradient: *exact* — the pullback is the derivative; *exact where smooth* — the derivative of
      a piecewise-smooth function, as PyTorch's autograd gives it (e.g. 0 where clamped);
      *straight-through* — the cotangent passes unchanged.


      """
    out += "## Transforms\n\n"
    out += """
      Used in `targets[*].transforms`; those that keep the resolution also in `postproc`.


      """
    for type in transforms.stages {
      out += section(type, kind: transforms.kind)
    }
    out += "## Constraints\n\n"
    out += """
      Used in `targets[*].constraints`, on each view CLIP sees (`content` alone sees the image
      itself, before the transforms, once per view). Each returns a loss; every entry also takes
      `weight` (a number, default 1.0, may use `sim`), `start` and `end` (epoch or fraction,
      defaults 0.0 and 1.0), which the runner applies: a view's constraint losses times their
      weights are added to its feature loss, times the target's `weight`.


      """
    for type in constraints.stages {
      out += section(type, kind: constraints.kind)
    }
    while out.hasSuffix("\n\n") { out.removeLast() }
    return out
  }

  /// The reference of the stage named `name` (a transform, else a constraint), nil when
  /// neither registry has it.
  public static func markdown(
    stage name: String, transforms: StageRegistry, constraints: StageRegistry
  ) -> String? {
    if let type = transforms[name] { return section(type, kind: transforms.kind) }
    if let type = constraints[name] { return section(type, kind: constraints.kind) }
    return nil
  }

  static func section(_ type: any Stage.Type, kind: StageRegistry.Kind) -> String {
    let constraint = kind == .constraints
    var out = "### `\(type.name)`\n\n\(type.summary)\n\n"
    out += "- " + traitText(type.traits, constraint: constraint)
    if type is any ReferenceImageStage.Type {
      out += ", on the image before the target's transforms, against a reference image"
    }
    out += "\n"
    out += "- Gradient: " + gradientText(type.gradient) + "\n"
    guard let example = type.examples.first else {
      return out + "\n(no example: the stage cannot be documented)\n\n"
    }
    out += "- Example: `\(type.name): \(yaml(example.parameters))`\n\n"
    let specs: [ParameterSpec]
    do {
      specs = try StageRegistry.make(
        type, parameters: example.parameters, path: type.name, groups: kind.groups
      ).specs
    } catch {
      return out + "(its first example fails: \(error))\n\n"
    }
    if specs.isEmpty { return out + "No parameters.\n\n" }
    out += "| parameter | type | values | default | description |\n"
    out += "|---|---|---|---|---|\n"
    for spec in specs {
      let key = spec.key.map { "`\($0)`" } ?? "(the value)"
      let type =
        spec.type.hasPrefix("an ")
        ? String(spec.type.dropFirst(3))
        : spec.type.hasPrefix("a ") ? String(spec.type.dropFirst(2)) : spec.type
      let values =
        spec.lengths.isEmpty ? "1" : spec.lengths.map(String.init).joined(separator: " or ")
      let defaultText = spec.defaultText.map { $0 == "null" ? "null" : "`\($0)`" } ?? "required"
      out += "| \(key) | \(cell(type)) | \(values) | \(cell(defaultText)) | \(cell(spec.doc)) |\n"
    }
    return out + "\n"
  }

  static func traitText(_ traits: StageTraits, constraint: Bool) -> String {
    if constraint || traits.contains(.scalarLoss) {
      return "Loss" + (traits.contains(.random) ? ", random" : ", deterministic")
    }
    var parts: [String] = []
    if traits.contains(.linear) {
      parts.append("linear")
    } else if traits.contains(.affine) {
      parts.append("affine")
    } else {
      parts.append("nonlinear")
    }
    parts.append(traits.contains(.random) ? "random" : "deterministic")
    parts.append(
      traits.contains(.changesResolution)
        ? "changes the resolution (not allowed in postproc)"
        : "keeps the resolution (allowed in postproc)")
    return parts.joined(separator: ", ").capitalizedFirst
  }

  static func gradientText(_ policy: GradientPolicy) -> String {
    switch policy {
    case .smooth: "exact"
    case .piecewise: "exact where smooth"
    case .straightThrough: "straight-through"
    }
  }

  /// A configuration node as one line of YAML flow text.
  static func yaml(_ node: ConfigNode) -> String {
    switch node.value {
    case .null: return "null"
    case .bool(let b): return b ? "true" : "false"
    case .int(let i): return String(i)
    case .float(let d): return String(d)
    case .string(let s):
      let plain =
        !s.isEmpty && !s.contains(": ") && !s.hasPrefix("{") && !s.hasPrefix("[")
        && !s.contains(",")
      return plain ? s : "\"" + s + "\""
    case .sequence(let items): return "[" + items.map(yaml).joined(separator: ", ") + "]"
    case .mapping(let entries):
      return "{" + entries.map { "\($0.key): \(yaml($0.node))" }.joined(separator: ", ") + "}"
    }
  }

  static func cell(_ text: String) -> String {
    text.replacingPipes()
  }
}

extension String {
  fileprivate var capitalizedFirst: String {
    guard let f = first else { return self }
    return f.uppercased() + dropFirst()
  }

  fileprivate func replacingPipes() -> String {
    var out = ""
    for ch in self { out += ch == "|" ? "\\|" : String(ch) }
    return out
  }
}
