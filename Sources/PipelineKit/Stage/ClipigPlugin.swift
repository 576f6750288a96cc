/// A package of custom stages that the stock `clipig` can use (`--plugin PATH` or the YAML's
/// `plugins:`): clipig builds the plugin's `clipig-NAME` executable, whose `main` is
/// `ClipigMain.main(plugins: [NAME.plugin])`, and runs the command there, so plugin stages are
/// ordinary `Stage` types compiled with the rest of clipig (one `Stage` type per process, the
/// built-in speed). `clipig plugin new NAME` writes such a package.
public struct ClipigPlugin: Sendable {
  /// The plugin API this clipig offers; a plugin built against another one is refused.
  /// Raise it when `Stage`, `StageRegistry` or this type change incompatibly.
  public static let currentAPIVersion = 1

  /// The plugin's name (its package's library), used in messages and the sidecar.
  public var name: String
  /// The plugin API the plugin was compiled against (`currentAPIVersion` by default).
  public var apiVersion: Int
  /// The transforms it adds (usable in `transforms:` and `postproc:`).
  public var transforms: [any Stage.Type]
  /// The constraints it adds.
  public var constraints: [any Stage.Type]
  /// A source file of the plugin (by default the one that creates the value): its package
  /// folder is the nearest ancestor holding `Package.swift`.
  public var sourceFile: String

  /// A plugin named `name` adding `transforms` and `constraints`.
  public init(
    name: String, apiVersion: Int = ClipigPlugin.currentAPIVersion,
    transforms: [any Stage.Type] = [], constraints: [any Stage.Type] = [],
    sourceFile: String = #filePath
  ) {
    self.name = name
    self.apiVersion = apiVersion
    self.transforms = transforms
    self.constraints = constraints
    self.sourceFile = sourceFile
  }

  /// Whether `name` can be a stage's YAML key: a letter or `_`, then letters, digits and `_`.
  public static func isValidStageName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, first.isASCIILetter || first == "_" else {
      return false
    }
    return name.unicodeScalars.allSatisfy {
      $0.isASCIILetter || $0 == "_" || ("0"..."9").contains($0)
    }
  }
}

extension Unicode.Scalar {
  fileprivate var isASCIILetter: Bool { ("a"..."z").contains(self) || ("A"..."Z").contains(self) }
}
