import Constraints
import PipelineKit
import Runner
import Transforms

/// Settings of one `clipig studio` server.
public struct StudioConfiguration: Sendable {
  /// Addresses to listen on; the first one decides the port when `port` is 0.
  public var hosts: [String] = ["127.0.0.1", "::1"]
  /// TCP port; 0 picks a free one.
  public var port: Int = 8000
  /// The only folder Save (and Ctrl-C) writes into.
  public var outputDirectory: String = "."
  /// `--model`: overrides every experiment's `model`.
  public var model: String?
  /// YAML files opened as tabs at start.
  public var files: [String] = []
  /// The access token every request must carry; random unless set (tests set none).
  public var token: String = AccessToken.random()
  /// Largest YAML text the page may send, in bytes.
  public var maxYAMLBytes: Int = 256 * 1024
  /// Seconds between two pushed snapshots of a running experiment.
  public var snapshotSeconds: Double = 0.4
  /// Transforms experiments may name.
  public var transforms: StageRegistry = .transforms
  /// Constraints experiments may name.
  public var constraints: StageRegistry = .constraints
  /// The plugins whose stages `transforms` and `constraints` hold (sidecars record them).
  public var plugins: [PluginRecord] = []

  /// The run registries of these settings.
  public var registries: StageRegistries {
    var registries = StageRegistries(transforms: transforms, constraints: constraints)
    registries.plugins = plugins
    return registries
  }

  /// Default settings.
  public init() {}
}
