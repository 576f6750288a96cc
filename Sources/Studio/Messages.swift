/// A configuration or run-time error as the page shows it: the CLI's one-line text, and the
/// line and column to mark in the editor when the error has a place in the YAML.
struct ErrorInfo: Codable, Sendable, Equatable {
  /// The whole error, as `clipig render` prints it (`exp.yaml:3:9: …`).
  var message: String
  /// 1-based line in the tab's YAML, if known.
  var line: Int?
  /// 1-based column, if known.
  var column: Int?
  /// The configuration's further errors, by line (this one is the first by line).
  var others: [ErrorInfo]?
}

/// One epoch's numbers for the plots.
struct EpochPoint: Codable, Sendable {
  /// Epoch index.
  var epoch: Int
  /// Total loss.
  var loss: Double
  /// Similarity ×100 per target (mean over its active features), nil where inactive.
  var similarities: [Double?]
}

/// One expression-valued parameter and its value at the current epoch.
struct ParameterValue: Codable, Sendable {
  /// Parameter path, as `clipig schedule` names it.
  var path: String
  /// The expression text.
  var expression: String
  /// The value (or `error: …`).
  var value: String
}

/// Live numbers of a running experiment.
struct Statistics: Codable, Sendable {
  /// Last epoch done.
  var epoch: Int
  /// Total epochs.
  var epochs: Int
  /// First epoch of this run (after an Update, the epoch it was applied at).
  var startEpoch: Int
  /// Epochs per second since the run (or its last Update) began.
  var epochsPerSecond: Double
  /// Seconds of the last epoch.
  var seconds: Double
  /// Of which inside CLIP's forward and backward passes.
  var clipSeconds: Double
  /// Pixel resolution.
  var width: Int
  /// Pixel resolution.
  var height: Int
  /// Learning rate used.
  var learningRate: Double
  /// CLIP views this epoch.
  var views: Int
  /// Loss of the last epoch.
  var loss: Double
  /// Similarity per target and feature (`[target][feature]`).
  var similarities: [[Double?]]
}

/// What the page knows about one tab.
struct TabSummary: Codable, Sendable {
  /// Tab id.
  var id: Int
  /// File name shown on the tab (and used for output names).
  var name: String
  /// The YAML last started or updated (or loaded).
  var yaml: String
  /// idle, queued, running, stopped, finished, failed.
  var status: String
  /// 1-based place in the queue when queued.
  var queuePosition: Int?
  /// The seed of the run (shown and saved).
  var seed: String?
  /// Target names, for the plot legend.
  var targets: [String]
  /// Feature labels per target.
  var features: [[String]]
  /// Latest statistics.
  var statistics: Statistics?
  /// Loss and similarities so far.
  var history: [EpochPoint]
  /// Expression parameters now.
  var parameters: [ParameterValue]
  /// The latest image as a `data:image/png;base64,` URL.
  var snapshot: String?
  /// The last error.
  var error: ErrorInfo?
  /// Log lines.
  var log: [String]
  /// Paths written by Save.
  var saved: [String]
}

/// A message pushed to every open page over the WebSocket.
struct Push: Codable, Sendable {
  /// `tabs` (full state), `tab` (one tab's state without history), `progress`, `snapshot`,
  /// `log`, `error`.
  var type: String
  /// All tabs (`tabs`).
  var tabs: [TabSummary]?
  /// The tab concerned.
  var tab: Int?
  /// One tab (`tab`).
  var summary: TabSummary?
  /// New plot points (`progress`).
  var points: [EpochPoint]?
  /// Statistics (`progress`).
  var statistics: Statistics?
  /// Parameter values (`progress`).
  var parameters: [ParameterValue]?
  /// PNG data URL (`snapshot`).
  var image: String?
  /// Epoch of the snapshot.
  var epoch: Int?
  /// A log line (`log`).
  var text: String?
  /// An error (`error`).
  var error: ErrorInfo?

  init(type: String) { self.type = type }
}

/// The reply to `views`: what CLIP sees at the tab's epoch.
struct ViewsReply: Codable, Sendable {
  /// One active masked target's mask, as the page shows it.
  struct MaskImage: Codable, Sendable {
    /// The target's name.
    var target: String
    /// The mask at the image's resolution (white: the target may change pixels), a PNG data URL.
    var image: String
  }
  /// The views (at most 64), PNG data URLs.
  var views: [String]
  /// The masks of the active masked targets.
  var masks: [MaskImage]
}
