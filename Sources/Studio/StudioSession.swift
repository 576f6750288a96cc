import Dispatch
import Formats
import Foundation
import PipelineKit
import Runner
import Synchronization

/// A request the session refuses, with the HTTP status and what the page shows.
struct ActionError: Error, Sendable {
  /// 400 bad request, 404 no such tab, 409 wrong state, 422 configuration error.
  var status: Int
  /// The message (and position).
  var info: ErrorInfo
}

/// The studio's experiments and the one training thread: the pages change tabs through the
/// actions; the thread trains the queued experiments one at a time and pushes what it does.
final class StudioSession: Sendable {
  /// Server settings.
  let configuration: StudioConfiguration
  /// Open pages.
  let broadcaster = Broadcaster()

  struct State: Sendable {
    var tabs: [Tab] = []
    var queue: [Int] = []
    var nextID = 1
    var shuttingDown = false
    var running: Int?
    /// Raw pixels of stopped runs, for an Update after Stop.
    var rawPixels: [Int: Tensor] = [:]
  }

  let state = Mutex(State())
  private let wake = DispatchSemaphore(value: 0)
  private let workerDone = DispatchSemaphore(value: 0)
  private let saved = Mutex<[String]>([])
  private let workerStarted = Atomic<Bool>(false)

  /// A session; call `startWorker()` to begin training queued tabs.
  init(configuration: StudioConfiguration) {
    self.configuration = configuration
  }

  /// Starts the training thread (once).
  func startWorker() {
    guard !workerStarted.exchange(true, ordering: .relaxed) else { return }
    let thread = Thread { [self] in
      var worker = TrainingWorker(session: self)
      worker.loop()
      workerDone.signal()
    }
    thread.name = "clipig studio training"
    thread.stackSize = 16 << 20
    thread.start()
  }

  // MARK: - Queries

  /// Every tab, with history, for a page that just connected.
  func allTabs() -> [TabSummary] {
    state.withLock { s in s.tabs.map { summary($0, in: s, withHistory: true) } }
  }

  func summary(_ tab: Tab, in s: State, withHistory: Bool) -> TabSummary {
    tab.summary(
      queuePosition: s.queue.firstIndex(of: tab.id).map { $0 + 1 }, withHistory: withHistory)
  }

  /// Pushes the state of every tab (cheap, no history): statuses and queue places change
  /// together.
  func pushTabStates() {
    let summaries = state.withLock { s in s.tabs.map { summary($0, in: s, withHistory: false) } }
    for t in summaries {
      var p = Push(type: "tab")
      p.tab = t.id
      p.summary = t
      broadcaster.send(p)
    }
  }

  /// Appends a log line to a tab and pushes it.
  func log(_ id: Int, _ text: String) {
    state.withLock { s in
      if let i = s.tabs.firstIndex(where: { $0.id == id }) {
        s.tabs[i].log.append(text)
        if s.tabs[i].log.count > 1000 { s.tabs[i].log.removeFirst(200) }
      }
    }
    var p = Push(type: "log")
    p.tab = id
    p.text = text
    broadcaster.send(p)
  }

  // MARK: - Actions

  /// Opens a tab; the name is reduced to a safe file name.
  @discardableResult
  func addTab(name: String, yaml: String, baseDirectory: String) -> Int {
    let id = state.withLock { s in
      let id = s.nextID
      s.nextID += 1
      var safe = String(
        (name as NSString).lastPathComponent.map {
          $0.isLetter || $0.isNumber || "-_.".contains($0) ? $0 : "-"
        })
      while safe.hasPrefix(".") { safe.removeFirst() }
      if safe.isEmpty { safe = "experiment-\(id).yaml" }
      s.tabs.append(Tab(id: id, name: safe, baseDirectory: baseDirectory, yaml: yaml))
      return id
    }
    pushTabStates()
    return id
  }

  func tabName(_ id: Int) throws(ActionError) -> String {
    try tabPlace(id).name
  }

  /// The tab's name, the folder its relative paths resolve against, and its run's seed.
  func tabPlace(_ id: Int) throws(ActionError) -> (
    name: String, baseDirectory: String, seed: UInt64?
  ) {
    guard
      let place = state.withLock({ s in
        s.tabs.first { $0.id == id }.map { ($0.name, $0.baseDirectory, $0.seed) }
      })
    else {
      throw ActionError(status: 404, info: ErrorInfo(message: "no tab \(id)"))
    }
    return place
  }

  /// Checks YAML without running it; `keepingSeed` plans it with the tab's current seed (an
  /// Update continues the same run).
  func check(_ id: Int, yaml: String, keepingSeed: Bool = false) throws(ActionError)
    -> CheckedConfig
  {
    let place = try tabPlace(id)
    do {
      return try ConfigCheck.check(
        yaml, file: place.name, baseDirectory: place.baseDirectory,
        seed: keepingSeed ? place.seed : nil, configuration: configuration)
    } catch {
      // Every error the YAML has (each found after removing the keys of those before), the
      // first by line leading.
      let all = ConfigCheck.allErrors(
        yaml, file: place.name, baseDirectory: place.baseDirectory,
        seed: keepingSeed ? place.seed : nil, configuration: configuration, first: error)
      throw ActionError(status: 422, info: ConfigCheck.info(all, file: place.name))
    }
  }

  func setError(_ id: Int, _ info: ErrorInfo?) {
    state.withLock { s in
      if let i = s.tabs.firstIndex(where: { $0.id == id }) { s.tabs[i].error = info }
    }
    var p = Push(type: "error")
    p.tab = id
    p.error = info
    broadcaster.send(p)
  }

  /// Queues a fresh run of `yaml` (epoch 0 or the YAML's start_epoch).
  func start(_ id: Int, yaml: String) throws(ActionError) {
    let config: CheckedConfig
    do {
      config = try check(id, yaml: yaml)
    } catch {
      setError(id, error.info)
      throw error
    }
    let failure: ActionError? = state.withLock { s in
      guard let i = s.tabs.firstIndex(where: { $0.id == id }) else {
        return ActionError(status: 404, info: ErrorInfo(message: "no tab \(id)"))
      }
      if s.tabs[i].status == .running || s.tabs[i].status == .queued {
        return ActionError(
          status: 409,
          info: ErrorInfo(message: "already \(s.tabs[i].status.rawValue): use Update or Stop"))
      }
      var tab = s.tabs[i]
      tab.yaml = yaml
      tab.config = config
      tab.seed = config.plan.seed
      tab.status = .queued
      tab.stopRequested = false
      tab.pendingUpdate = nil
      tab.updates = []
      tab.history = []
      tab.statistics = nil
      tab.error = nil
      tab.image = nil
      tab.imageEpoch = nil
      tab.snapshot = nil
      s.tabs[i] = tab
      s.rawPixels[id] = nil
      s.queue.append(id)
      return nil
    }
    if let failure { throw failure }
    setError(id, nil)
    log(id, "queued (seed \(state.withLock { s in s.tabs.first { $0.id == id }?.seed ?? 0 }))")
    pushTabStates()
    wake.signal()
  }

  /// Applies `yaml` at the current epoch from the current pixels (CLIPig's Update): at the
  /// next epoch of a running experiment, or by resuming a stopped one.
  func update(_ id: Int, yaml: String) throws(ActionError) {
    let config: CheckedConfig
    do {
      config = try check(id, yaml: yaml, keepingSeed: true)
    } catch {
      setError(id, error.info)
      throw error
    }
    let outcome: Result<Bool, ActionError> = state.withLock { s in
      guard let i = s.tabs.firstIndex(where: { $0.id == id }) else {
        return .failure(ActionError(status: 404, info: ErrorInfo(message: "no tab \(id)")))
      }
      let tab = s.tabs[i]
      let next = (tab.imageEpoch ?? (tab.config?.experiment.startEpoch ?? 0) - 1) + 1
      switch tab.status {
      case .idle,
        .failed where tab.image == nil:
        return .failure(
          ActionError(
            status: 409, info: ErrorInfo(message: "nothing to update: press Start first")))
      case .queued:
        s.tabs[i].yaml = yaml
        s.tabs[i].config = config
        return .success(false)
      default: break
      }
      guard config.experiment.epochs > next else {
        return .failure(
          ActionError(
            status: 409,
            info: ErrorInfo(
              message: "cannot update at epoch \(next + 1): the edited YAML has epochs: "
                + "\(config.experiment.epochs); raise epochs to continue")))
      }
      if tab.status == .running {
        s.tabs[i].pendingUpdate = PendingUpdate(yaml: yaml, config: config)
        return .success(false)
      }
      // Stopped, finished or failed with an image: resume from it.
      guard s.rawPixels[id] != nil else {
        return .failure(
          ActionError(status: 409, info: ErrorInfo(message: "no image to continue from")))
      }
      s.tabs[i].pendingUpdate = PendingUpdate(yaml: yaml, config: config)
      s.tabs[i].status = .queued
      s.tabs[i].stopRequested = false
      s.queue.append(id)
      return .success(true)
    }
    switch outcome {
    case .failure(let e):
      setError(id, e.info)
      throw e
    case .success(let queued):
      setError(id, nil)
      pushTabStates()
      if queued { wake.signal() }
    }
  }

  /// Stops a running experiment at the end of its epoch, or takes a queued one off the queue.
  func stop(_ id: Int) throws(ActionError) {
    _ = try tabName(id)
    let dequeued = state.withLock { s -> Bool in
      guard let i = s.tabs.firstIndex(where: { $0.id == id }) else { return false }
      if let q = s.queue.firstIndex(of: id) {
        s.queue.remove(at: q)
        s.tabs[i].status = s.tabs[i].image == nil ? .idle : .stopped
        s.tabs[i].pendingUpdate = nil
        return true
      }
      if s.tabs[i].status == .running { s.tabs[i].stopRequested = true }
      return false
    }
    if dequeued { log(id, "taken off the queue") }
    pushTabStates()
  }

  /// Writes the tab's current image and YAML sidecar into the output folder under a free
  /// name; returns the image path.
  func save(_ id: Int, note: String? = nil) throws(ActionError) -> String {
    let snapshot = state.withLock { s in s.tabs.first { $0.id == id } }
    guard let tab = snapshot else {
      throw ActionError(status: 404, info: ErrorInfo(message: "no tab \(id)"))
    }
    guard let image = tab.image, let config = tab.config, let seed = tab.seed else {
      throw ActionError(status: 409, info: ErrorInfo(message: "no image yet: press Start"))
    }
    do {
      let directory = URL(fileURLWithPath: configuration.outputDirectory).standardizedFileURL.path
      let requested = OutputNaming.requestedPath(
        configOutput: config.experiment.output, lastConfigFile: tab.name,
        commandLine: directory + "/")
      // Start checked the name's format and the schedule's sizes (as render does); the image
      // is checked again because a random resolution may have drawn otherwise with the seed.
      let format: ImageFormat
      do {
        format = try ImageFormat.forOutput(path: requested)
      } catch {
        throw ActionError(status: 400, info: ErrorInfo(message: error.message))
      }
      let (height, width) = (image.shape[1], image.shape[2])
      if let problem = ImageLimits.problem(width: width, height: height, format: format) {
        throw ActionError(
          status: 400, info: ErrorInfo(message: "cannot save \(width)×\(height): \(problem)"))
      }
      let path = try OutputNaming.claim(requested)
      guard path.hasPrefix(directory + "/") else {
        try? FileManager.default.removeItem(atPath: path)
        throw ActionError(
          status: 400, info: ErrorInfo(message: "refusing to write outside \(directory)"))
      }
      do {
        try ImageFile.write(image, to: path, quality: config.experiment.outputQuality)
      } catch {
        try? FileManager.default.removeItem(atPath: path)  // the claim
        throw error
      }
      let e = config.experiment
      var header = Sidecar.Header(
        command: "clipig studio", seed: seed,
        progress: "epoch: \((tab.imageEpoch ?? -1) + 1) of \(e.epochs)")
      if !tab.updates.isEmpty {
        header.notes.append(
          "updated at epoch " + tab.updates.map { String($0 + 1) }.joined(separator: ", ")
            + "; this YAML is the last edit (rendering it starts afresh)")
      }
      if let note { header.notes.append(note) }
      header.similarities = tab.statistics?.similarities ?? []
      header.precision = tab.precision
      try Sidecar.write(for: config.plan, imagePath: path, header: header)
      state.withLock { s in
        if let i = s.tabs.firstIndex(where: { $0.id == id }) { s.tabs[i].saved.append(path) }
      }
      saved.withLock { $0.append(path) }
      log(id, "saved \(path) and \((OutputNaming.sidecarPath(path) as NSString).lastPathComponent)")
      pushTabStates()
      return path
    } catch let e as ActionError {
      throw e
    } catch {
      throw ActionError(status: 500, info: ErrorInfo(message: "cannot save: \(error)"))
    }
  }

  /// The views CLIP sees at the tab's current epoch, as PNG data URLs, and each active masked
  /// target's mask (target name and PNG data URL).
  func views(_ id: Int) throws(ActionError) -> ViewsReply {
    let snapshot = state.withLock { s in s.tabs.first { $0.id == id } }
    guard let tab = snapshot, let config = tab.config, let seed = tab.seed,
      let imageSize = tab.imageSize
    else {
      throw ActionError(status: 409, info: ErrorInfo(message: "no experiment yet: press Start"))
    }
    let epoch = (tab.imageEpoch ?? config.experiment.startEpoch - 1) + 1
    do {
      let sheet = try Preview.sheet(
        config.experiment, epoch: min(epoch, config.experiment.epochs - 1), image: tab.image,
        seed: seed, imageSize: imageSize, baseDirectory: tab.baseDirectory)
      return ViewsReply(
        views: try sheet.views.prefix(64).map { v in try Self.dataURL(v.image) },
        masks: try sheet.masks.map { m in
          ViewsReply.MaskImage(target: m.targetName, image: try Self.dataURL(m.image))
        })
    } catch {
      throw ActionError(status: 422, info: ConfigCheck.info(error, file: tab.name))
    }
  }

  /// A PNG data URL of an image in [0, 1].
  static func dataURL(_ image: Tensor) throws -> String {
    "data:image/png;base64,"
      + Data(try PNG.encode(ImageOps.clamp(image, 0, 1)))
      .base64EncodedString()
  }

  // MARK: - Shutdown

  /// Stops training: the running experiment is saved at the end of its epoch (image + YAML,
  /// as `render` does on Ctrl-C). Returns every path saved during the session's life.
  func shutdown() -> [String] {
    state.withLock { $0.shuttingDown = true }
    if workerStarted.load(ordering: .relaxed) {
      wake.signal()
      workerDone.wait()
      workerDone.signal()  // a second shutdown returns at once
    }
    return saved.withLock { $0 }
  }

  /// The training thread's wait for work.
  func waitForWork() { wake.wait() }

  /// Puts a wake-up back (when the worker found the queue empty on shutdown).
  func wakeAgain() { wake.signal() }
}
