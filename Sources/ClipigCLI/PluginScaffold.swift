import Foundation
import PipelineKit
import Runner

/// The files of a new plugin package (`clipig plugin new NAME`): a `Package.swift` depending on
/// clipig's products, a library with one example transform and one example constraint and the
/// `plugin` value, the `clipig-NAME` executable, a test running the gradient harness over every
/// stage of the plugin, an example YAML and a README.
struct PluginScaffold {
  /// The plugin's name: a Swift identifier (its library's module name).
  let name: String
  /// The `.package(…)` line naming clipig.
  let dependency: String
  /// The package identity of clipig in that line (for `.product(name:package:)`).
  let identity: String

  /// The clipig source folder this executable was built from (found from this file's path).
  static let clipigSource = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
    .deletingLastPathComponent().deletingLastPathComponent().path

  /// Whether `name` can be a plugin's name: a lowercase letter, then lowercase letters, digits
  /// and `_` (a Swift module name, a YAML key and part of `clipig-NAME`).
  static func isValidName(_ name: String) -> Bool {
    guard let first = name.unicodeScalars.first, ("a"..."z").contains(first) else { return false }
    return name.unicodeScalars.allSatisfy {
      ("a"..."z").contains($0) || ("0"..."9").contains($0) || $0 == "_"
    }
  }

  /// A scaffold for `name` depending on the clipig at `clipig` (a folder or a git URL).
  init(name: String, clipig: String) {
    self.name = name
    let isURL = clipig.contains("://") || clipig.hasPrefix("git@")
    var last = (clipig as NSString).lastPathComponent
    if last.hasSuffix(".git") { last = String(last.dropLast(4)) }
    identity = last.lowercased()
    dependency =
      isURL
      ? ".package(url: \"\(clipig)\", branch: \"main\")"
      : ".package(path: \"\(clipig)\")"
  }

  /// The files, by path relative to the package folder.
  var files: [(path: String, text: String)] {
    [
      ("Package.swift", manifest),
      ("Sources/\(name)/Plugin.swift", pluginSource),
      ("Sources/\(name)/Vignette.swift", transformSource),
      ("Sources/\(name)/Warmth.swift", constraintSource),
      ("Sources/clipig-\(name)/main.swift", mainSource),
      ("Tests/\(name)Tests/GradientTests.swift", testSource),
      ("example.yaml", exampleYAML),
      ("README.md", readme),
      (".gitignore", ".build/\n/Package.resolved\n"),
    ]
  }

  var manifest: String {
    """
    // swift-tools-version:6.0
    // The clipig plugin \(name): custom stages for `clipig --plugin <this folder>`.
    import PackageDescription

    let package = Package(
      name: "\(name)",
      platforms: [.macOS(.v14)],
      products: [
        .library(name: "\(name)", targets: ["\(name)"]),
        .executable(name: "clipig-\(name)", targets: ["clipig-\(name)"]),
      ],
      dependencies: [
        \(dependency)
      ],
      targets: [
        // The stages and the `plugin` value that registers them.
        .target(
          name: "\(name)",
          dependencies: [.product(name: "PipelineKit", package: "\(identity)")]),
        // clipig with this plugin's stages: `clipig --plugin <this folder>` builds and runs it.
        .executableTarget(
          name: "clipig-\(name)",
          dependencies: ["\(name)", .product(name: "ClipigCLI", package: "\(identity)")]),
        // `swift test`: the gradient harness over every stage of the plugin.
        .testTarget(
          name: "\(name)Tests",
          dependencies: [
            "\(name)", .product(name: "PipelineKit", package: "\(identity)"),
            .product(name: "PipelineKitTesting", package: "\(identity)"),
          ]),
      ]
    )

    """
  }

  var pluginSource: String {
    """
    import PipelineKit

    /// The plugin: every stage it adds. `clipig --plugin <this package>` (or `plugins:` in a
    /// YAML) makes them usable by name in every command.
    public let plugin = ClipigPlugin(
      name: "\(name)", transforms: [Vignette.self], constraints: [Warmth.self])

    """
  }

  var transformSource: String {
    """
    import PipelineKit

    /// `vignette: 0.5` — darkens the image towards its corners: out = in · (1 − s · r²/2), r the
    /// distance from the centre in half-sides (r² = 2 at the corners). Linear in the image, so
    /// the pullback multiplies the cotangent by the same mask.
    public struct Vignette: Stage {
      /// The YAML key.
      public static let name = "vignette"
      /// One line for `clipig docs`.
      public static let summary = "Darkens the corners: out = in · (1 − strength · r²/2)."
      /// Linear, keeps the resolution.
      public static let traits: StageTraits = [.linear]
      /// Parameter sets for the gradient harness and the docs.
      public static let examples = [
        StageExample(0.5), StageExample("0.8 * ti", inputShape: [3, 5, 8]),
      ]

      let strength: Param<Double>

      /// Reads `strength` (an expression of time, resolution, learnrate).
      public init(parameters: inout ParameterReader) throws(ConfigError) {
        strength = try parameters.directScalar(
          Double.self, default: 0.5, doc: "darkening at the corners (0 = none)")
      }

      /// out = in · mask, the mask shared by every channel.
      public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
        value: Tensor, pullback: Pullback
      ) {
        let s = Float(try context.value(strength))
        let (c, h, w) = x.chw
        // mask: [H, W]
        let mask = (0..<(h * w)).map { i -> Float in
          let u = (Float(i % w) + 0.5) / Float(w) * 2 - 1
          let v = (Float(i / w) + 0.5) / Float(h) * 2 - 1
          return 1 - s * (u * u + v * v) / 2
        }
        func apply(_ t: Tensor) -> Tensor {
          var out = t
          for ch in 0..<c {
            for i in 0..<(h * w) { out.scalars[ch * h * w + i] *= mask[i] }
          }
          return out
        }
        return (apply(x), apply)
      }
    }

    """
  }

  var constraintSource: String {
    """
    import PipelineKit

    /// `warmth: {target: 0.1, weight: 10}` — pulls the image's warmth, the mean of red minus the
    /// mean of blue, towards `target`: loss = weight · (mean R − mean B − target)². The pullback
    /// spreads 2 · weight · difference evenly over red, and its negative over blue.
    public struct Warmth: Stage {
      /// The YAML key.
      public static let name = "warmth"
      /// One line for `clipig docs`.
      public static let summary = "Pulls mean red − mean blue towards a target (squared, weighted)."
      /// A loss.
      public static let traits: StageTraits = [.scalarLoss]
      /// Parameter sets for the gradient harness and the docs.
      public static let examples = [
        StageExample(["target": 0.1]),
        StageExample(["target": "0.2 * t", "weight": 3], inputShape: [3, 4, 5]),
      ]

      let target: Param<Double>
      let weight: Param<Double>

      /// Reads `target` and `weight` (expressions).
      public init(parameters: inout ParameterReader) throws(ConfigError) {
        target = try parameters.scalar(
          "target", Double.self, default: 0.1, doc: "mean red − mean blue to reach")
        weight = try parameters.scalar("weight", Double.self, default: 10, doc: "loss factor")
      }

      /// The `[1]` loss.
      public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
        value: Tensor, pullback: Pullback
      ) {
        let goal = try context.value(target)
        let factor = try context.value(weight)
        let (c, h, w) = x.chw
        let n = h * w
        guard c >= 3 else { return (Tensor(scalar: 0), { _ in Tensor(shape: x.shape) }) }
        var red = 0.0
        var blue = 0.0
        for i in 0..<n {
          red += Double(x.scalars[i])
          blue += Double(x.scalars[2 * n + i])
        }
        let difference = (red - blue) / Double(n) - goal
        let shape = x.shape
        return (
          Tensor(scalar: Float(factor * difference * difference)),
          { dy in
            // d loss / d pixel: ±2 · weight · difference / (H·W) on red and blue.
            let share = Float(Double(dy.scalars[0]) * 2 * factor * difference / Double(n))
            var dx = Tensor(shape: shape)
            for i in 0..<n {
              dx.scalars[i] = share
              dx.scalars[2 * n + i] = -share
            }
            return dx
          }
        )
      }
    }

    """
  }

  var mainSource: String {
    """
    import ClipigCLI
    import \(name)

    // clipig with the stages of \(name). `clipig --plugin <this package> …` builds and runs it;
    // it takes every command and option of clipig.
    await ClipigMain.main(plugins: [\(name).plugin])

    """
  }

  var testSource: String {
    """
    import PipelineKit
    import PipelineKitTesting
    import Testing
    import \(name)

    /// Every stage of the plugin passes clipig's gradient harness: its pullback against finite
    /// differences (and the adjoint identity for linear stages), determinism, shapes.
    @Test func everyStagePassesTheGradientHarness() {
      for (stages, kind) in [
        (plugin.transforms, StageRegistry.Kind.transforms),
        (plugin.constraints, StageRegistry.Kind.constraints),
      ] {
        for stage in stages {
          let failures = GradientHarness.check(stage, groups: kind.groups)
          #expect(failures.isEmpty, "\\(failures.map(\\.description).joined(separator: "\\n"))")
        }
      }
    }

    /// Every stage's name is a YAML key.
    @Test func stageNamesAreYAMLKeys() {
      for stage in plugin.transforms + plugin.constraints {
        #expect(ClipigPlugin.isValidStageName(stage.name), "\\(stage.name)")
      }
    }

    """
  }

  var exampleYAML: String {
    """
    # Uses the plugin's stages; render with: clipig render example.yaml
    # (the plugins: key below loads this plugin; --plugin <folder> does the same).
    plugins: [.]
    epochs: 100
    resolution: 64
    targets:
      - batch_size: 2
        features: [{text: a lighthouse at dusk}]
        transforms:
          - random_shift: 0 8
          - vignette: 0.8 * (1 - t)
        constraints:
          - warmth: {target: 0.15, weight: 5}

    """
  }

  var readme: String {
    """
    # \(name): a clipig plugin

    Custom stages for [clipig](\(Self.clipigSource)): the transform `vignette` and the
    constraint `warmth` (in `Sources/\(name)`), registered by `plugin` in
    `Sources/\(name)/Plugin.swift`.

    - `swift test -c release --disable-testable-imports` runs clipig's gradient harness over
      every stage of the plugin (without testable imports it reuses the release build).
    - `clipig render example.yaml` renders with them: the YAML's `plugins: [.]` names this
      folder; `clipig render other.yaml --plugin PATH` does the same for any experiment, as do
      `batch`, `rank`, `preview`, `schedule`, `studio`, `docs` and `bench stages`.
    - clipig builds this package's `clipig-\(name)` executable once (`swift build -c release`,
      minutes the first time, since it compiles clipig too) and again only when the sources
      change; it then runs the command in that executable. Loading a plugin runs its code.
    - With `CLIPIG_PLUGIN_BUILD_DIR` set, clipig builds every plugin in that folder, where they
      share clipig's compiled modules; add `--scratch-path "$CLIPIG_PLUGIN_BUILD_DIR"` to your
      own `swift build` and `swift test` to use it too.
    - Sidecars record the plugin's folder and the SHA-256 of its sources; re-rendering one warns
      when the plugin changed since.

    Add a stage: a type conforming to `Stage` (with `examples`) in `Sources/\(name)`, and its
    name in `plugin`. Its YAML key must not clash with a built-in stage (`clipig docs`).

    """
  }

  /// Writes the files under `directory`, refusing to overwrite an existing file.
  func write(to directory: String) throws {
    let fm = FileManager.default
    for file in files {
      let path = (directory as NSString).appendingPathComponent(file.path)
      if fm.fileExists(atPath: path) {
        throw PluginError("\(path) exists already; choose another folder")
      }
    }
    for file in files {
      let path = (directory as NSString).appendingPathComponent(file.path)
      try fm.createDirectory(
        atPath: (path as NSString).deletingLastPathComponent, withIntermediateDirectories: true)
      try Data(file.text.utf8).write(to: URL(fileURLWithPath: path), options: .atomic)
    }
    let resolved = (Self.clipigSource as NSString).appendingPathComponent("Package.resolved")
    let target = (directory as NSString).appendingPathComponent("Package.resolved")
    if dependency.hasPrefix(".package(path:"), fm.fileExists(atPath: resolved),
      !fm.fileExists(atPath: target)
    {
      // The same versions of clipig's dependencies, resolved without the network.
      try? fm.copyItem(atPath: resolved, toPath: target)
    }
  }
}
