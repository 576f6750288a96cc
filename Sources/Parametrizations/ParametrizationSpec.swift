import PipelineKit

/// The experiment's `parametrization:` section: how the trained parameters make the image.
///
/// `parametrization: fft` or `parametrization: {type: fft, decay: 1.0, colors: decorrelated,
/// mapping: sigmoid}`; absent means `pixels` with `rgb` and `clamp`, CLIPig's behaviour.
public struct ParametrizationSpec: Sendable, Equatable {
  /// What the parameters are.
  public enum Kind: String, Sendable, CaseIterable {
    /// The image's planes (CLIPig).
    case pixels
    /// The image's scaled half spectrum.
    case fft
    /// A sum of planes at many resolutions (Direct Ascent Synthesis).
    case stack
  }

  /// What the parameters are.
  public var kind: Kind = .pixels
  /// Spectrum scale exponent (`fft` only).
  public var decay: Double = 1
  /// Colour space of the planes.
  public var colors: ColorBasis = .rgb
  /// How values are brought into [0, 1].
  public var mapping: ValueMapping = .clamp

  /// The default: CLIPig's raw RGB pixels, clamped.
  public init() {}

  /// A spec with the given choices.
  public init(
    kind: Kind, decay: Double = 1, colors: ColorBasis = .rgb, mapping: ValueMapping = .clamp
  ) {
    self.kind = kind
    self.decay = decay
    self.colors = colors
    self.mapping = mapping
  }

  /// Decodes the section at `path` (nil or null: the default); every problem is a
  /// `ConfigError` naming file:line:column, with the closest valid name for misspellings.
  public init(_ node: ConfigNode?, path: String = "parametrization") throws(ConfigError) {
    guard let node, !node.isNull else { return }
    if case .string(let name) = node.value {
      kind = try ParameterReader.resolve(Param(name, path: path, location: node.location))
      mapping = kind.defaultMapping
      return
    }
    guard node.entries != nil else {
      throw ConfigError(
        "expected a parametrization type (pixels, fft, stack) or a mapping such as"
          + " '{type: fft, decay: 1.0}', got \(node.kindDescription)",
        at: node.location, path: path)
    }
    var r = ParameterReader(node: node, path: path, groups: [])
    kind = try r.choice("type", Kind.self, default: "pixels", doc: "what the parameters are")
    let decayParam = try r.optionalScalar(
      "decay", Double.self, doc: "fft: spectrum scale 1/f^decay (0 to 4)")
    colors = try r.choice(
      "colors", ColorBasis.self, default: "rgb", doc: "colour space of the trained planes")
    mapping = try r.choice(
      "mapping", ValueMapping.self, default: kind.defaultMapping.rawValue,
      doc: "how values are brought into [0, 1]: clamp (CLIPig; pixels, fft) or sigmoid (stack)")
    try r.finish()
    if let decayParam {
      let location = node["decay"]?.location ?? node.location
      guard kind == .fft else {
        throw ConfigError(
          "'decay' only applies to 'type: fft'", at: location, path: path + ".decay")
      }
      guard let d = decayParam.constantValue, d.isFinite, d >= 0, d <= 4 else {
        throw ConfigError(
          "decay must be a constant between 0 and 4, got \(decayParam)", at: location,
          path: path + ".decay")
      }
      decay = d
    }
  }

  /// The parametrization of a `width` × `height` image; with `wrap` (`tiling: true`) one whose
  /// image is a torus (pixels have no neighbours to mix, a spectrum is periodic already; the
  /// stack's levels upsample periodically).
  public func make(width: Int, height: Int, wrap: Bool = false) -> any ImageParametrization {
    switch kind {
    case .pixels:
      PixelParametrization(width: width, height: height, colors: colors, mapping: mapping)
    case .fft:
      FourierParametrization(
        width: width, height: height, decay: decay, colors: colors, mapping: mapping)
    case .stack:
      StackParametrization(
        width: width, height: height, colors: colors, mapping: mapping, wrap: wrap)
    }
  }
}

extension ParametrizationSpec.Kind {
  /// The mapping when none is given: `clamp` as CLIPig, `sigmoid` for the stack, whose method
  /// squashes the levels' sum.
  public var defaultMapping: ValueMapping { self == .stack ? .sigmoid : .clamp }
}

extension ParametrizationSpec.Kind: ConfigChoice {
  /// `pixels`, `fft` and `stack`.
  public static let names = allCases.map { (name: $0.rawValue, value: $0) }
  /// "parametrization type", in errors.
  public static var kind: String? { "parametrization type" }
}

extension ParametrizationSpec {
  /// The section with every choice explicit (`{type: fft, decay: 1.0, colors: rgb, mapping:
  /// clamp}`), for the YAML written beside an image.
  public var configNode: ConfigNode {
    let here = SourceLocation.synthetic("<resolved>")
    func entry(_ key: String, _ value: ConfigValue) -> ConfigNode.Entry {
      ConfigNode.Entry(key: key, keyLocation: here, node: ConfigNode(value, at: here))
    }
    var entries = [entry("type", .string(kind.rawValue))]
    if kind == .fft { entries.append(entry("decay", .float(decay))) }
    entries.append(entry("colors", .string(colors.rawValue)))
    entries.append(entry("mapping", .string(mapping.rawValue)))
    return ConfigNode(.mapping(entries), at: here)
  }
}
