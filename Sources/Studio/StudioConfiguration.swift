import NIOCore
import PipelineKit
import Runner

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
  /// The stages experiments may name (built-in and plugins'), and the plugins their sidecars
  /// record.
  public var registries: StageRegistries = .builtin

  /// Limits on each connection and on how many are open (see `ConnectionWatchdog`).
  public var connectionLimits = ConnectionLimits()

  /// Time limits of a connection and the number of connections served at once.
  public struct ConnectionLimits: Sendable {
    /// A request line and headers must arrive within this of their first byte (of the
    /// connection's opening for its first request).
    public var headerTimeout: TimeAmount = .seconds(10)
    /// A request's body and the start of its answer must follow its head within this.
    public var requestTimeout: TimeAmount = .seconds(120)
    /// A connection with nothing read or written for this long is closed (an open page's
    /// WebSocket answers the server's pings every 30 s).
    public var idleTimeout: TimeAmount = .seconds(90)
    /// How often the limits are checked.
    public var tick: TimeAmount = .milliseconds(500)
    /// Connections served at once per address, nil for the derived default: the soft limit on
    /// open files (raised to the hard one at start) less 256 for the server's own files, at
    /// most 4,096. Further connections wait in the listen queue until one closes.
    public var maxConnections: Int?

    /// Default limits.
    public init() {}

    /// `maxConnections`, or the default for a soft limit of `openFiles` descriptors.
    func connectionCap(openFiles: Int) -> Int {
      maxConnections ?? min(4096, max(16, openFiles - 256))
    }
  }

  /// Default settings.
  public init() {}
}
