import Formats
import Foundation
import PipelineKit
import Runner
import Synchronization

/// Settings of `clipig batch`.
public struct BatchOptions: Sendable {
  /// The grid file.
  public var gridFile = ""
  /// Where the images, sidecars and manifests go.
  public var outputDirectory = ""
  /// Render only this slice of the grid.
  public var shard: Shard?
  /// Renders running at once in this process. (The caller divides the BLAS threads among them,
  /// as `clipig batch` does: the thread count is the process's setting, not the batch's.)
  public var jobs = 1
  /// Replaces the grid's template (e.g. the second rendering method).
  public var templateFiles: [String] = []
  /// Values that replace every item's (`-e`, `-r`, `--model`).
  public var overrides = RunOverrides()
  /// Replaces the grid's base seed (an item's own `seed:` still wins).
  public var seed: UInt64?
  /// The stages the template may name.
  public var registries = StageRegistries.builtin
  /// 0 errors only, 1 a line per image (and a progress line with one job), 2 statistics.
  public var verbosity = 1

  /// Default settings.
  public init() {}
}

/// One finished output of a batch, as listed in the manifests.
public struct ManifestItem: Codable, Sendable, Equatable {
  /// The output stem, e.g. `penguin-of-piano`.
  public var name: String
  /// The image, relative to the batch directory.
  public var image: String
  /// The variable values as text.
  public var variables: [String: String]
  /// The prompts the image was rated against (the template's text features).
  public var prompts: [String]
  /// An animation's WebP, relative to the batch directory (its MP4 and frame folder beside
  /// it; `image` is then its last frame); nil for a still image.
  public var animation: String? = nil
  /// The seed of the render (nil for an image the batch did not make).
  public var seed: UInt64?
  /// CLIP similarity of the final image to the prompts (100 × cosine, mean over prompts).
  public var similarity: Double?
  /// A held-out judge's score of the image (rank directories ranked with `--judge`).
  public var judge: Double? = nil
  /// Wall time of the render in seconds.
  public var seconds: Double?
  /// Epochs rendered.
  public var epochs: Int?
  /// Image width.
  public var width: Int?
  /// Image height.
  public var height: Int?
}

/// `manifest.json`: every finished output of a grid in a directory (all shards together).
public struct Manifest: Codable, Sendable, Equatable {
  /// `clipig-batch 1`.
  public var format: String
  /// The grid file as given.
  public var grid: String
  /// The rendering method's label (the gallery shows it).
  public var label: String
  /// Variable names in grid order.
  public var variables: [String]
  /// The variables that make up the output name, in the name's order (the gallery's rows and
  /// columns).
  public var key: [String]
  /// Number of combinations in the grid.
  public var total: Int
  /// Number of finished outputs.
  public var done: Int
  /// Names of the combinations without an image yet.
  public var missing: [String]
  /// Finished outputs in grid order.
  public var items: [ManifestItem]

  /// The format tag.
  public static let currentFormat = "clipig-batch 1"

  /// Reads `manifest.json` from a batch directory.
  public static func read(directory: String) throws -> Manifest {
    let path = directory + "/manifest.json"
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(path: path)
    } catch {
      throw WorkflowError("\(error) (is \(directory) the output directory of clipig batch?)")
    }
    do {
      let m = try JSONDecoder().decode(Manifest.self, from: Data(bytes))
      guard m.format == currentFormat else {
        throw WorkflowError("\(path): format '\(m.format)', expected '\(currentFormat)'")
      }
      return m
    } catch let e as WorkflowError {
      throw e
    } catch {
      throw WorkflowError("\(path) is not a clipig batch manifest: \(error)")
    }
  }
}

/// How a batch ended.
public struct BatchSummary: Sendable {
  /// Finished, or interrupted (finished outputs are kept and listed).
  public var outcome: RenderOutcome
  /// Names rendered by this call.
  public var rendered: [String]
  /// Items of the shard that already had an image.
  public var skipped: Int
  /// Items another process was rendering at the time.
  public var busy: Int
  /// Items in this shard.
  public var shardItems: Int
  /// The manifest as written (the whole grid).
  public var manifest: Manifest
}

/// `clipig batch`: renders every combination of a grid (or one shard of it) into a directory,
/// skipping outputs that exist, and writes `manifest.csv` and `manifest.json`.
///
/// Each output renders into `.clipig/partial/` under a per-output lock and is moved to
/// `<name>.png` (+ `<name>.yaml`) when finished, so shards, `--jobs` workers and separate
/// machines sharing the directory never render the same output twice at once, and an
/// interrupted run leaves no half-finished image under a final name. An item whose
/// configuration has an `animation:` section becomes `<name>.mp4`, `<name>.webp` and
/// `<name>/frame-*.png` (+ `<name>.yaml`) the same way (`AnimationJob`); its WebP marks it done.
public enum Batch {
  /// Loads the grid with the options' template and seed overrides.
  public static func grid(_ options: BatchOptions) throws -> Grid {
    try Grid.load(path: options.gridFile, templateFiles: options.templateFiles, seed: options.seed)
  }

  /// The run of one item: the substituted template with the command-line overrides; its
  /// seed is the item's own `seed:`, else the one the grid derives from its name.
  public static func plan(_ grid: Grid, item: Grid.Item, options: BatchOptions) throws
    -> RunPlan
  {
    do {
      let plan = try RunPlan(
        tree: try grid.configuration(for: item), baseDirectory: grid.templateBaseDirectory,
        sourceName: item.name, overrides: options.overrides, fallbackSeed: item.seed,
        registries: options.registries)
      if plan.experiment.animation != nil { try AnimationRender.check(plan) }
      return plan
    } catch {
      throw WorkflowError("\(error)\n  (in the grid item '\(item.name)')")
    }
  }

  /// Renders the grid (or the shard) and rewrites the manifests.
  ///
  /// - Parameter grid: the grid to render (`clipig eval` makes one from a prompt set); nil
  ///   loads `options.gridFile`.
  public static func run(
    _ options: BatchOptions, grid given: Grid? = nil, models: ModelPool = ModelPool(),
    interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void = CLIRunner.standardError
  ) throws -> BatchSummary {
    guard !options.outputDirectory.isEmpty else {
      throw WorkflowError("batch needs an output directory (-o)")
    }
    guard options.jobs >= 1 else { throw WorkflowError("--jobs must be at least 1") }
    let dir = FileIO.folder(options.outputDirectory)
    let grid = try given ?? grid(options)
    let items = grid.items(in: options.shard)
    try claimDirectory(dir)

    // Plan every item first: errors show before hours of rendering.
    let plans = try items.map { item in
      Plan(item: item, run: try plan(grid, item: item, options: options))
    }
    let todo = plans.filter { !isDone(directory: dir, name: $0.item.name) }
    let skipped = plans.count - todo.count
    if options.verbosity >= 1 {
      log(
        "batch \(grid.label): \(grid.items.count) outputs in the grid"
          + (options.shard.map { ", shard \($0) has \(items.count)" } ?? "")
          + ", \(skipped) exist, \(todo.count) to render"
          + (options.jobs > 1 ? " with \(options.jobs) jobs" : "") + "\n")
    }

    let state = BatchProgress(count: todo.count)
    let workers = min(options.jobs, max(1, todo.count))
    DispatchQueue.concurrentPerform(iterations: workers) { _ in
      worker(
        plans: todo, state: state, directory: dir, grid: grid, options: options,
        models: models, interrupt: interrupt, log: log, quietSessions: workers > 1)
    }
    let manifest = try writeManifests(grid: grid, directory: dir)
    if let error = state.failure { throw error }
    let rendered = state.rendered
    let summary = BatchSummary(
      outcome: interrupt.isSet ? .interrupted : .finished, rendered: rendered,
      skipped: skipped + state.skipped,
      busy: state.busy, shardItems: items.count, manifest: manifest)
    if options.verbosity >= 1 {
      log(
        "batch: rendered \(rendered.count), skipped \(skipped)"
          + (state.busy > 0 ? ", \(state.busy) busy in another process" : "")
          + "; \(manifest.done)/\(manifest.total) of the grid done; "
          + "\(dir)/manifest.csv, \(dir)/manifest.json\n")
    }
    return summary
  }

  /// A grid item and its run.
  struct Plan: Sendable {
    var item: Grid.Item
    var run: RunPlan
  }

  static func worker(
    plans: [Plan], state: BatchProgress, directory dir: String, grid: Grid, options: BatchOptions,
    models: ModelPool, interrupt: InterruptFlag, log: @escaping @Sendable (String) -> Void,
    quietSessions: Bool
  ) {
    var loaded: [String: any FeatureModel] = [:]
    while !interrupt.isSet, let k = state.next() {
      let plan = plans[k]
      let name = plan.item.name
      do {
        if isDone(directory: dir, name: name) {
          state.skip()
          continue
        }
        guard let lock = try FileLock.tryLock(path: dir + "/.clipig/locks/" + name + ".lock")
        else {
          state.markBusy()
          continue
        }
        if isDone(directory: dir, name: name) {
          state.skip()
          continue
        }
        let runModels = try models.instances(of: plan.run.experiment, reusing: &loaded)
        // The manifest's similarity is the first model's rating.
        let rater = Rater(model: runModels[0])
        let verbosity = quietSessions ? 0 : options.verbosity
        if !quietSessions && options.verbosity >= 1 {
          log("[\(k + 1)/\(plans.count)] \(name)\n")
        }
        let e = plan.run.experiment
        let animation = e.animation
        let result: RenderJob.Result
        if animation != nil {
          result = try AnimationJob(
            plan: plan.run, final: AnimationOutput(video: dir + "/" + name + ".mp4"),
            partial: AnimationOutput(video: dir + "/.clipig/partial/" + name + ".mp4"),
            verbosity: verbosity
          ).run(models: runModels, interrupt: interrupt, log: log)
        } else {
          result = try RenderJob(
            plan: plan.run, imagePath: dir + "/" + name + ".png",
            partialPath: dir + "/.clipig/partial/" + name + ".png", verbosity: verbosity,
            replacesExisting: false
          ).run(models: runModels, interrupt: interrupt, log: log)
        }
        guard let saved = result.image else { break }
        let references = try RatingReferences(
          experiment: plan.run.experiment, rater: rater, baseDirectory: plan.run.baseDirectory)
        let similarity = references.score(try rater.imageFeatures(saved))
        var record = ManifestItem(
          name: name,
          image: animation.map { AnimationOutput.frame($0.frames - 1, in: name) } ?? name + ".png",
          variables: Dictionary(
            plan.item.values.map { ($0.name, TemplateText.text(of: $0.value.value) ?? "") },
            uniquingKeysWith: { a, _ in a }),
          prompts: references.prompts, seed: plan.run.seed,
          similarity: similarity, seconds: TextFormat.rounded(result.seconds),
          epochs: e.epochs - e.startEpoch + (animation.map { ($0.frames - 1) * $0.epochs } ?? 0),
          width: saved.chw.w, height: saved.chw.h)
        if animation != nil { record.animation = name + ".webp" }
        try writeRecord(record, directory: dir)
        lock.releaseAndRemove()
        state.finish(name)
        if options.verbosity >= 1 {
          log(
            String(
              format: "%@  sim %.2f  %.1f s  (%ld/%ld)\n", name, similarity, result.seconds,
              state.rendered.count, plans.count))
        }
      } catch {
        state.fail(WorkflowError("\(name): \(error)"))
        interrupt.set()
        return
      }
    }
  }

  /// Rewrites `manifest.json` and `manifest.csv` from the images and records in the directory
  /// (every shard's), under a lock so concurrent shards never lose each other's outputs.
  @discardableResult
  public static func writeManifests(grid: Grid, directory dir: String) throws -> Manifest {
    let lock = try FileLock.lock(path: dir + "/.clipig/manifest.lock", timeout: 600)
    defer { withExtendedLifetime(lock) {} }
    var items: [ManifestItem] = []
    var missing: [String] = []
    let decoder = JSONDecoder()
    for item in grid.items {
      guard isDone(directory: dir, name: item.name) else {
        missing.append(item.name)
        continue
      }
      let still = exists(dir + "/" + item.name + ".png")
      let image = item.name + (still ? ".png" : ".webp")
      let recordPath = dir + "/.clipig/records/" + item.name + ".json"
      if let bytes = try? FileIO.readBytes(path: recordPath),
        let record = try? decoder.decode(ManifestItem.self, from: Data(bytes))
      {
        items.append(record)
      } else {
        // An image the batch did not make (or whose record was lost): listed without numbers.
        items.append(
          ManifestItem(
            name: item.name, image: image,
            variables: Dictionary(
              item.values.map { ($0.name, TemplateText.text(of: $0.value.value) ?? "") },
              uniquingKeysWith: { a, _ in a }), prompts: [], animation: still ? nil : image))
      }
    }
    let manifest = Manifest(
      format: Manifest.currentFormat, grid: grid.path, label: grid.label,
      variables: grid.variableNames, key: grid.keyVariables, total: grid.items.count,
      done: items.count,
      missing: missing, items: items)
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try FileIO.writeAtomically(
      Array(try encoder.encode(manifest)) + [10], to: dir + "/manifest.json")
    try OutputFiles.write(csv(manifest), to: dir + "/manifest.csv")
    return manifest
  }

  /// `manifest.csv`: name, prompt, seed, similarity, seconds, epochs, image, then one
  /// `var:NAME` column per grid variable.
  public static func csv(_ m: Manifest) -> String {
    var out = CSV.line(
      ["name", "prompt", "seed", "similarity", "seconds", "epochs", "image"]
        + m.variables.map { "var:" + $0 })
    for item in m.items {
      out += CSV.line(
        [
          item.name, item.prompts.joined(separator: " | "), item.seed.map { String($0) } ?? "",
          TextFormat.fixed2(item.similarity), item.seconds.map { String(format: "%.1f", $0) } ?? "",
          item.epochs.map { String($0) } ?? "", item.image,
        ] + m.variables.map { item.variables[$0] ?? "" })
    }
    return out
  }

  static func writeRecord(_ record: ManifestItem, directory dir: String) throws {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    try FileIO.writeAtomically(
      Array(try encoder.encode(record)) + [10],
      to: dir + "/.clipig/records/" + record.name + ".json"
    )
  }

  /// Makes `dir` a batch directory: its `.clipig/` folder marks it as one. The rule `rank`
  /// follows too: a folder may hold other files, but one holding a name the command writes
  /// (`manifest.json`, `manifest.csv`) without clipig's marker holds someone else's results and
  /// is refused.
  static func claimDirectory(_ dir: String) throws {
    let marker = dir + "/.clipig"
    if !exists(marker) {
      for name in ["manifest.json", "manifest.csv"] where exists(dir + "/" + name) {
        throw WorkflowError(
          "\(dir)/\(name) exists but \(dir) holds no .clipig folder, so it is not a clipig "
            + "batch directory; choose another directory")
      }
    }
    try FileManager.default.createDirectory(atPath: marker, withIntermediateDirectories: true)
  }

  static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

  /// Whether the output `name` in the batch directory `dir` is finished: its image
  /// `name.png`, or an animation's `name.webp` (published last, `AnimationJob`).
  public static func isDone(directory dir: String, name: String) -> Bool {
    exists(dir + "/" + name + ".png") || exists(dir + "/" + name + ".webp")
  }
}

/// Work distribution and results of the batch workers.
final class BatchProgress: Sendable {
  private struct State {
    var next = 0
    var rendered: [String] = []
    var busy = 0
    var skipped = 0
    var failure: WorkflowError?
  }
  private let state = Mutex(State())
  private let count: Int

  init(count: Int) { self.count = count }

  /// The next plan index, or nil when all are taken.
  func next() -> Int? {
    state.withLock { s in
      guard s.next < count else { return nil }
      defer { s.next += 1 }
      return s.next
    }
  }

  func finish(_ name: String) { state.withLock { $0.rendered.append(name) } }
  func skip() { state.withLock { $0.skipped += 1 } }
  func markBusy() { state.withLock { $0.busy += 1 } }
  func fail(_ error: WorkflowError) {
    state.withLock { s in if s.failure == nil { s.failure = error } }
  }

  var rendered: [String] { state.withLock { $0.rendered } }
  var busy: Int { state.withLock { $0.busy } }
  var skipped: Int { state.withLock { $0.skipped } }
  var failure: WorkflowError? { state.withLock { $0.failure } }
}
