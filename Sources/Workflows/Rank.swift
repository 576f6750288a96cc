import CLIP
import Formats
import Foundation
import PipelineKit
import Runner

/// Settings of `clipig rank`.
public struct RankOptions: Sendable {
  /// The experiment's YAML files, merged in order.
  public var configFiles: [String] = []
  /// YAML files of the continuation pass (merged in order); empty: the experiment itself.
  public var detailFiles: [String] = []
  /// The directory holding runs, continuations, `rank.json` and `rank.csv`.
  public var outputDirectory = ""
  /// Number of short runs.
  public var runs = 512
  /// Epochs of each short run.
  public var epochs = 20
  /// How many of the best short runs are continued.
  public var keep = 6
  /// How many of the worst short runs are continued too.
  public var worst = 0
  /// Epochs of each continuation (0: no continuation).
  public var continueEpochs = 300
  /// Base seed: run `n` uses seed `base + n`. Nil: the directory's seed, or a random one.
  public var seed: UInt64?
  /// CLIP model path (overrides the experiment's `model`).
  public var model: String?
  /// A held-out judge: a CLIP that was not optimised (a name or path as `model` takes it).
  /// When given, every image is also rated by it and the runs are ranked (and kept) by its
  /// score; nil ranks by the optimised model's similarity.
  public var judge: String?
  /// CLIP's matrix products (overrides the experiment's `precision`).
  public var precision: CLIPPrecision?
  /// Resolution override `W [H]`.
  public var resolution: [Int]?
  /// The stages the experiment may name.
  public var registries = StageRegistries.builtin
  /// 0 errors only, 1 a line per run and a progress line per continuation, 2 statistics too.
  public var verbosity = 1
  /// Render only the short runs of this shard (runs n with (n − 1) mod N = I − 1) and stop;
  /// a final `merge` step continues the best.
  public var shard: Shard?
  /// The final step after sharded short runs: render no short run (missing ones are an
  /// error naming them), rank and continue the best.
  public var merge = false

  /// Default settings.
  public init() {}
}

/// `rank.json`: what a rank directory has finished. Written atomically after every run, it is
/// what a restarted `clipig rank` resumes from.
public struct RankState: Codable, Sendable, Equatable {
  /// A finished short run.
  public struct Run: Codable, Sendable, Equatable {
    /// Run number, 1…runs.
    public var id: Int
    /// Its seed (`clipig render --seed` reproduces it).
    public var seed: UInt64
    /// Similarity of the image to the experiment's prompts (100 × cosine, mean over prompts).
    public var similarity: Double
    /// The same rating by the judge (`RankState.judge`), if one rated it.
    public var judge: Double? = nil
    /// Training time.
    public var seconds: Double
    /// The image, relative to the directory.
    public var image: String
  }

  /// A finished continuation of a short run.
  public struct Continuation: Codable, Sendable, Equatable {
    /// The short run it continues.
    public var id: Int
    /// Epochs of the continuation.
    public var epochs: Int
    /// Similarity after the continuation.
    public var similarity: Double
    /// The judge's rating after the continuation, if one rated it.
    public var judge: Double? = nil
    /// Training time.
    public var seconds: Double
    /// The image, relative to the directory.
    public var image: String
  }

  /// `clipig-rank 1`.
  public var format = RankState.currentFormat
  /// The experiment files as given when the directory was started.
  public var experiment: [String]
  /// Hash of the short-run configuration (files and overrides, seed aside).
  public var fingerprint: String
  /// The base seed.
  public var seed: UInt64
  /// Epochs of a short run.
  public var epochs: Int
  /// The judge (as given to `--judge`) whose scores the runs carry; nil: none.
  public var judge: String? = nil
  /// Finished short runs by id.
  public var runs: [Run] = []
  /// Finished continuations by id.
  public var continued: [Continuation] = []

  /// The format tag written into new files.
  public static let currentFormat = "clipig-rank 1"
}

/// One line of `rank.csv`.
public struct RankRow: Sendable, Equatable {
  /// 1 for the most similar short run.
  public var rank: Int
  /// Run number.
  public var id: Int
  /// The run's seed.
  public var seed: UInt64
  /// Similarity after the short run.
  public var shortSimilarity: Double
  /// Similarity after the continuation, if it ran.
  public var continuedSimilarity: Double?
  /// The judge's score of the short run, if a judge rated it.
  public var shortJudge: Double? = nil
  /// The judge's score of the continuation, if a judge rated it.
  public var continuedJudge: Double? = nil
  /// `best`, `worst` or nil.
  public var group: String?
  /// Short-run image, relative to the directory.
  public var shortImage: String
  /// Continued image, relative to the directory.
  public var continuedImage: String?

  /// The article's notation: `#344 sim: 35.30 ⭢ 48.65`.
  public var articleLine: String {
    "#\(id) sim: \(TextFormat.fixed2(shortSimilarity))"
      + (continuedSimilarity.map { " ⭢ " + TextFormat.fixed2($0) } ?? "")
  }
}

/// How `clipig rank` ended.
public struct RankSummary: Sendable {
  /// Finished, or interrupted (everything finished so far is recorded).
  public var outcome: RenderOutcome
  /// All finished short runs, best first.
  public var rows: [RankRow]
  /// `rank.csv`.
  public var csvPath: String
  /// `rank.json`.
  public var statePath: String
}

/// `clipig rank`: many short runs with different seeds, rated by CLIP similarity to the
/// experiment's prompts; the best (and optionally worst) are continued from their images with
/// CLIPig's init-image detail pass (CLIPig's animal-transfer scripts: `init: {image: …, mean: 0, std: 1}`).
///
/// The directory holds `short/run-NNNN.png` (+ `.yaml`), `continued/run-NNNN.png` (+ `.yaml`),
/// `rank.json` (the state) and `rank.csv`. Runs render into `.clipig/partial/` and are moved
/// into place when finished, so a restart redoes only unfinished work.
public enum Ranking {
  /// Runs (or resumes) a ranking: the short runs, then the continuations of the best.
  public static func run(
    _ options: RankOptions, models: ModelPool = ModelPool(), interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void = CLIRunner.standardError
  ) throws -> RankSummary {
    try validate(options)
    let options = clamped(options, log: log)
    if options.shard != nil && options.merge {
      throw WorkflowError("--merge is the step after the shards: give it without a shard")
    }
    var ranking = try Directory(options, models: models, log: log)
    try ranking.judgeUnjudged(interrupt: interrupt)
    if let summary = try ranking.shortRuns(interrupt: interrupt) { return summary }
    if options.continueEpochs > 0 { try ranking.continuations(interrupt: interrupt) }
    let final = rows(ranking.state, options: options)
    let complete =
      options.continueEpochs == 0
      || final.allSatisfy { $0.group == nil || $0.continuedSimilarity != nil }
    return ranking.summary(complete ? .finished : .interrupted)
  }

  /// A rank directory being worked on: its state, the short runs' configuration, the model
  /// and the references runs are rated against.
  struct Directory {
    let options: RankOptions
    let models: ModelPool
    let log: @Sendable (String) -> Void
    let path: String
    let statePath: String
    let csvPath: String
    /// The short runs' configuration (overrides applied) and where its files resolve.
    let shortTree: ConfigNode
    let base: String
    let fingerprint: String
    /// The short runs' models (in `models:` order; the first rates the images) and the
    /// instances by pool key (name and precision), which continuations reuse.
    let runModels: [any FeatureModel]
    let loaded: [String: any FeatureModel]
    let rater: Rater
    let references: RatingReferences
    /// The held-out judge's rater and references (its own encoding of the same features).
    let judge: (rater: Rater, references: RatingReferences)?
    var state: RankState

    init(
      _ options: RankOptions, models: ModelPool, log: @escaping @Sendable (String) -> Void
    ) throws {
      self.options = options
      self.models = models
      self.log = log
      let dir = FileIO.folder(options.outputDirectory)
      path = dir
      statePath = dir + "/rank.json"
      csvPath = dir + "/rank.csv"
      shortTree = Ranking.shortOverrides(options).apply(
        to: try RunPlan.loadTree(files: options.configFiles))
      base = RunPlan.baseDirectory(of: options.configFiles)
      let fingerprint = Fingerprint.of(shortTree.yamlText())
      self.fingerprint = fingerprint
      try refuseForeignDirectory(dir, statePath: statePath)
      // The judge first: a wrong name stops the command before anything is written.
      let judgeModel = try options.judge.map { try Ranking.judgeModel($0, models: models) }
      let (statePath, csvPath) = (statePath, csvPath)
      state = try Self.locked(dir) {
        let state = try loadOrStart(
          statePath: statePath, directory: dir, options: options, fingerprint: fingerprint)
        try save(state, statePath: statePath, csvPath: csvPath, options: options)
        return state
      }
      let first = try RunPlan(
        tree: shortTree, baseDirectory: base, sourceName: options.configFiles.last,
        seed: state.seed &+ 1, registries: options.registries)
      var loaded: [String: any FeatureModel] = [:]
      runModels = try models.instances(of: first.experiment, reusing: &loaded)
      self.loaded = loaded
      rater = Rater(model: runModels[0])
      references = try RatingReferences(
        experiment: first.experiment, rater: rater, baseDirectory: base)
      if let judgeModel {
        let judgeRater = Rater(model: judgeModel)
        judge = (
          judgeRater,
          try RatingReferences(experiment: first.experiment, rater: judgeRater, baseDirectory: base)
        )
      } else {
        judge = nil
      }
      if let name = options.judge, state.judge != name {
        // Scores of another judge are not comparable: they are recomputed by this one.
        try record { current in
          current.judge = name
          for i in current.runs.indices { current.runs[i].judge = nil }
          for i in current.continued.indices { current.continued[i].judge = nil }
        }
      }
      if options.verbosity >= 1 {
        log(
          "rank: \(options.runs) runs of \(options.epochs) epochs (seeds \(state.seed &+ 1)…"
            + "\(state.seed &+ UInt64(options.runs))) in \(dir); rated against "
            + references.references.map { "'\($0.label)'" }.joined(separator: ", ")
            + (options.judge.map { "; ranked by the judge \($0)" } ?? "") + "\n")
      }
    }

    /// The judge's score of the image at `relativePath` (nil without a judge).
    func judgeScore(of relativePath: String) throws -> Double? {
      guard let judge else { return nil }
      let image = try ImageFile.read(path: path + "/" + relativePath)
      return judge.references.score(try judge.rater.imageFeatures(image))
    }

    /// Rates by the judge every finished image it has not rated (a directory ranked before
    /// without it, or by another judge).
    mutating func judgeUnjudged(interrupt: InterruptFlag) throws {
      guard judge != nil else { return }
      var scores: [Int: Double] = [:]
      var continuedScores: [Int: Double] = [:]
      for run in state.runs where run.judge == nil && !interrupt.isSet {
        scores[run.id] = try judgeScore(of: run.image)
      }
      for c in state.continued where c.judge == nil && !interrupt.isSet {
        continuedScores[c.id] = try judgeScore(of: c.image)
      }
      if scores.isEmpty && continuedScores.isEmpty { return }
      if options.verbosity >= 1 {
        log("judged \(scores.count + continuedScores.count) earlier image(s)\n")
      }
      try record { current in
        for i in current.runs.indices where current.runs[i].judge == nil {
          current.runs[i].judge = scores[current.runs[i].id]
        }
        for i in current.continued.indices where current.continued[i].judge == nil {
          current.continued[i].judge = continuedScores[current.continued[i].id]
        }
      }
    }

    /// The run of short run `id` with `seed`.
    func plan(id: Int, seed: UInt64) throws(ConfigError) -> RunPlan {
      try RunPlan(
        tree: shortTree, baseDirectory: base, sourceName: options.configFiles.last, seed: seed,
        registries: options.registries)
    }

    /// Shards share rank.json: every read-modify-write of it holds the directory's lock.
    static func locked<T>(_ dir: String, _ body: () throws -> T) throws -> T {
      let lock = try FileLock.lock(path: dir + "/.clipig/rank.lock", timeout: 600)
      defer { lock.unlock() }
      return try body()
    }

    /// Records a finished run or continuation in rank.json (re-read under the lock).
    mutating func record(_ change: (inout RankState) -> Void) throws {
      let (options, statePath, csvPath, fingerprint, dir) = (
        options, statePath, csvPath, fingerprint, path
      )
      state = try Self.locked(path) {
        var current = try loadOrStart(
          statePath: statePath, directory: dir, options: options, fingerprint: fingerprint)
        change(&current)
        try save(current, statePath: statePath, csvPath: csvPath, options: options)
        return current
      }
    }

    func summary(_ outcome: RenderOutcome) -> RankSummary {
      RankSummary(
        outcome: outcome, rows: rows(state, options: options), csvPath: csvPath,
        statePath: statePath)
    }

    /// Renders the short runs not finished yet (this shard's); returns the summary when the
    /// ranking stops here (a shard, or unfinished runs), nil when the continuations follow.
    mutating func shortRuns(interrupt: InterruptFlag) throws -> RankSummary? {
      let done = Set(state.runs.map(\.id))
      if options.merge {
        let missing = (1...options.runs).filter { !done.contains($0) }
        if !missing.isEmpty {
          throw WorkflowError(
            "\(missing.count) of \(options.runs) short runs are not finished (#"
              + missing.prefix(8).map(String.init).joined(separator: ", #")
              + (missing.count > 8 ? ", …" : "")
              + "): run their shards again, or drop --merge to render them in this process")
        }
      }
      if let shard = options.shard, options.verbosity >= 1 {
        let mine = (1...options.runs).filter { shard.contains($0 - 1) }
        log(
          "rank shard \(shard): \(mine.count) of \(options.runs) short runs, "
            + "\(mine.filter { !done.contains($0) }.count) to render\n")
      }
      for id in 1...options.runs where !done.contains(id) {
        if interrupt.isSet { break }
        if let shard = options.shard, !shard.contains(id - 1) { continue }
        let seed = state.seed &+ UInt64(id)
        let image = "short/" + runName(id) + ".png"
        let job = RenderJob(
          plan: try plan(id: id, seed: seed), imagePath: path + "/" + image,
          partialPath: path + "/.clipig/partial/short-\(runName(id)).png",
          verbosity: options.verbosity >= 2 ? 1 : 0, replacesExisting: true)
        let result = try job.run(models: runModels, interrupt: interrupt, log: log)
        guard let saved = result.image else { break }
        let similarity = references.score(try rater.imageFeatures(saved))
        let run = RankState.Run(
          id: id, seed: seed, similarity: similarity, judge: try judgeScore(of: image),
          seconds: TextFormat.rounded(result.seconds), image: image)
        try record { current in
          current.runs.removeAll { $0.id == id }
          current.runs.append(run)
          current.runs.sort { $0.id < $1.id }
        }
        if options.verbosity >= 1 {
          let best = rows(state, options: options).first
          let judged = run.judge.map { " judge " + TextFormat.fixed2($0) } ?? ""
          let bestScore =
            options.judge != nil
            ? "judge " + TextFormat.fixed2(best?.shortJudge)
            : TextFormat.fixed2(best?.shortSimilarity ?? run.similarity)
          log(
            "#\(id) seed \(seed) sim \(TextFormat.fixed2(run.similarity))\(judged) "
              + "(\(String(format: "%.1f", result.seconds)) s)   best #\(best?.id ?? id) "
              + "\(bestScore)   \(state.runs.count)/\(options.runs)\n")
        }
      }
      if let shard = options.shard {
        let mine = (1...options.runs).filter { shard.contains($0 - 1) }
        let finished = Set(state.runs.map(\.id))
        if options.verbosity >= 1 && mine.allSatisfy(finished.contains) {
          log(
            "rank shard \(shard) done (\(state.runs.count)/\(options.runs) short runs in "
              + "\(statePath)); when every shard is done, run the same command with --merge "
              + "instead of the shard to continue the best\n")
        }
        return summary(mine.allSatisfy(finished.contains) ? .finished : .interrupted)
      }
      if state.runs.filter({ $0.id <= options.runs }).count < options.runs {
        return summary(.interrupted)
      }
      return nil
    }

    /// Continues the best (and worst) short runs from their images with the detail pass.
    mutating func continuations(interrupt: InterruptFlag) throws {
      var detailOverrides = RunOverrides()
      detailOverrides.epochs = options.continueEpochs
      detailOverrides.resolution = options.resolution
      detailOverrides.model = options.model
      detailOverrides.precision = options.precision
      let detailFiles = options.detailFiles.isEmpty ? options.configFiles : options.detailFiles
      let detailTree = try RunPlan.loadTree(files: detailFiles)
      let detailBase = RunPlan.baseDirectory(of: detailFiles)
      for row in rows(state, options: options) where row.group != nil {
        if state.continued.contains(where: { $0.id == row.id }) { continue }
        if interrupt.isSet { break }
        let absoluteShort = URL(fileURLWithPath: path + "/" + row.shortImage).standardizedFileURL
          .path
        let image = "continued/" + runName(row.id) + ".png"
        if options.verbosity >= 1 {
          log(
            "continuing #\(row.id) (\(row.group ?? ""), sim \(TextFormat.fixed2(row.shortSimilarity)))"
              + " for \(options.continueEpochs) epochs\n")
        }
        let plan = try RunPlan(
          tree: withInitImage(detailTree, path: absoluteShort), baseDirectory: detailBase,
          sourceName: detailFiles.last, overrides: detailOverrides, seed: row.seed,
          registries: options.registries)
        var cache = loaded
        let continuationModels = try models.instances(of: plan.experiment, reusing: &cache)
        let job = RenderJob(
          plan: plan, imagePath: path + "/" + image,
          partialPath: path + "/.clipig/partial/continued-\(runName(row.id)).png",
          verbosity: options.verbosity, replacesExisting: true)
        let result = try job.run(models: continuationModels, interrupt: interrupt, log: log)
        guard let saved = result.image else { break }
        let similarity = references.score(try rater.imageFeatures(saved))
        let continuation = RankState.Continuation(
          id: row.id, epochs: options.continueEpochs, similarity: similarity,
          judge: try judgeScore(of: image), seconds: TextFormat.rounded(result.seconds),
          image: image)
        try record { current in
          current.continued.removeAll { $0.id == row.id }
          current.continued.append(continuation)
          current.continued.sort { $0.id < $1.id }
        }
        if options.verbosity >= 1 {
          let judged =
            continuation.judge.map {
              "   judge: \(TextFormat.fixed2(row.shortJudge)) ⭢ \(TextFormat.fixed2($0))"
            } ?? ""
          log(
            "#\(row.id) sim: \(TextFormat.fixed2(row.shortSimilarity)) ⭢ "
              + "\(TextFormat.fixed2(continuation.similarity))\(judged)\n")
        }
      }
    }
  }

  /// The overrides of the short runs: their epochs, no snapshots, and the options' resolution
  /// and model.
  static func shortOverrides(_ options: RankOptions) -> RunOverrides {
    var overrides = RunOverrides()
    overrides.epochs = options.epochs
    overrides.resolution = options.resolution
    overrides.model = options.model
    overrides.precision = options.precision
    overrides.snapshotSeconds = 0
    return overrides
  }

  /// `run-0007`: the run's file stem.
  public static func runName(_ id: Int) -> String {
    "run-" + String(format: "%04ld", id)
  }

  /// The judge `name` (as `--model` takes it), loaded once per process in fp32; an unknown
  /// name is an error saying it is the judge, with the closest known name.
  static func judgeModel(_ name: String, models: ModelPool) throws -> any FeatureModel {
    do {
      return try models.instance(name, precision: .fp32)
    } catch {
      throw WorkflowError("--judge: \(error)")
    }
  }

  /// The finished short runs (ids up to `options.runs`) best first — by the judge's score with
  /// `options.judge` (runs it has not rated last), else by similarity — with the best `keep`
  /// and worst `worst` marked and their continuations.
  public static func rows(_ state: RankState, options: RankOptions) -> [RankRow] {
    let byJudge = options.judge != nil
    func score(_ run: RankState.Run) -> Double {
      byJudge ? run.judge ?? -.infinity : run.similarity
    }
    let runs = state.runs.filter { $0.id <= options.runs }.sorted {
      score($0) != score($1) ? score($0) > score($1) : $0.id < $1.id
    }
    let best = Set(runs.prefix(options.keep).map(\.id))
    let worst = Set(runs.suffix(options.worst).map(\.id)).subtracting(best)
    return runs.enumerated().map { i, run in
      let continuation = state.continued.first { $0.id == run.id }
      return RankRow(
        rank: i + 1, id: run.id, seed: run.seed, shortSimilarity: run.similarity,
        continuedSimilarity: continuation?.similarity, shortJudge: run.judge,
        continuedJudge: continuation?.judge,
        group: best.contains(run.id) ? "best" : worst.contains(run.id) ? "worst" : nil,
        shortImage: run.image, continuedImage: continuation?.image)
    }
  }

  /// `rank.csv`: one line per finished short run, best first; the judge's scores (empty
  /// where no judge rated) in the last two columns, so the earlier columns keep their places.
  public static func csv(_ rows: [RankRow]) -> String {
    var out = CSV.line([
      "rank", "run", "seed", "similarity_short", "similarity_continued", "gain", "kept",
      "short_image", "continued_image", "judge_short", "judge_continued",
    ])
    for r in rows {
      out += CSV.line([
        String(r.rank), String(r.id), String(r.seed), TextFormat.fixed2(r.shortSimilarity),
        TextFormat.fixed2(r.continuedSimilarity),
        TextFormat.fixed2(r.continuedSimilarity.map { $0 - r.shortSimilarity }), r.group ?? "",
        r.shortImage, r.continuedImage ?? "", TextFormat.fixed2(r.shortJudge),
        TextFormat.fixed2(r.continuedJudge),
      ])
    }
    return out
  }

  /// The configuration with its `init` section replaced by CLIPig's detail-pass start:
  /// `{image: path, mean: 0, std: 1}` (the image itself, no noise, no init resolution).
  public static func withInitImage(_ root: ConfigNode, path: String) -> ConfigNode {
    let here = SourceLocation.synthetic("<rank continuation>")
    let initNode = ConfigNode(
      .mapping([
        .init(key: "image", keyLocation: here, node: ConfigNode(.string(path), at: here)),
        .init(key: "mean", keyLocation: here, node: ConfigNode(.int(0), at: here)),
        .init(key: "std", keyLocation: here, node: ConfigNode(.int(1), at: here)),
      ]), at: here)
    var entries = root.entries ?? []
    if let i = entries.firstIndex(where: { $0.key == "init" }) {
      entries[i].node = initNode
    } else {
      entries.append(.init(key: "init", keyLocation: here, node: initNode))
    }
    return ConfigNode(.mapping(entries), at: root.location)
  }

  static func validate(_ o: RankOptions) throws {
    if o.configFiles.isEmpty { throw WorkflowError("rank needs an experiment file") }
    if o.outputDirectory.isEmpty { throw WorkflowError("rank needs an output directory (-o)") }
    if o.runs < 1 { throw WorkflowError("--runs must be at least 1, got \(o.runs)") }
    if o.epochs < 1 { throw WorkflowError("--epochs must be at least 1, got \(o.epochs)") }
    if o.keep < 0 || o.worst < 0 || o.continueEpochs < 0 {
      throw WorkflowError("--keep, --worst and --continue must not be negative")
    }
  }

  /// `o` with `--keep` and `--worst` reduced to the runs there are (the best first), saying so
  /// unless quiet.
  static func clamped(_ o: RankOptions, log: @Sendable (String) -> Void) -> RankOptions {
    // keep + worst without overflow (each is at most Int.max): more than the runs?
    guard o.keep > o.runs || o.worst > o.runs - o.keep else { return o }
    var c = o
    c.keep = min(o.keep, o.runs)
    c.worst = min(o.worst, o.runs - c.keep)
    if o.verbosity >= 1 {
      let asked = o.worst > 0 ? "--keep \(o.keep) plus --worst \(o.worst)" : "--keep \(o.keep)"
      log(
        "note: \(asked) is more than the \(o.runs) runs: continuing \(c.keep) best"
          + (o.worst > 0 ? " and \(c.worst) worst" : "") + "\n")
    }
    return c
  }

  static func loadOrStart(
    statePath: String, directory: String, options: RankOptions, fingerprint: String
  ) throws -> RankState {
    let fm = FileManager.default
    if fm.fileExists(atPath: statePath) {
      let bytes = try FileIO.readBytes(path: statePath)
      var state: RankState
      do {
        state = try JSONDecoder().decode(RankState.self, from: Data(bytes))
      } catch {
        throw WorkflowError(
          "\(statePath) is not a clipig rank state file (\(error)); use another directory")
      }
      guard state.format == RankState.currentFormat else {
        throw WorkflowError("\(statePath) has format '\(state.format)', expected 'clipig-rank 1'")
      }
      if state.fingerprint != fingerprint {
        throw WorkflowError(
          "\(directory) holds a ranking of a different configuration (the experiment, --epochs, "
            + "-r or --model changed since it started); use another directory or restore them")
      }
      if let seed = options.seed, seed != state.seed {
        throw WorkflowError(
          "\(directory) was started with --seed \(state.seed); give that seed or another directory"
        )
      }
      // Results whose image was deleted are redone.
      state.runs.removeAll { !fm.fileExists(atPath: directory + "/" + $0.image) }
      state.continued.removeAll { !fm.fileExists(atPath: directory + "/" + $0.image) }
      return state
    }
    return RankState(
      experiment: options.configFiles, fingerprint: fingerprint,
      seed: options.seed ?? UInt64.random(in: 0...UInt64(Int64.max)), epochs: options.epochs)
  }

  /// The rule `batch` follows too: a folder may hold other files, but one holding a name the
  /// command writes (`rank.csv`, `short/`, `continued/`) without the state that says clipig
  /// made it (`rank.json`) holds someone else's results and is refused.
  static func refuseForeignDirectory(_ directory: String, statePath: String) throws {
    let fm = FileManager.default
    guard !fm.fileExists(atPath: statePath) else { return }
    for name in ["rank.csv", "short", "continued"]
    where fm.fileExists(atPath: directory + "/" + name) {
      throw WorkflowError(
        "\(directory)/\(name) exists but \(directory) holds no rank.json, so it is not a clipig "
          + "rank directory; choose another directory")
    }
  }

  static func save(_ state: RankState, statePath: String, csvPath: String, options: RankOptions)
    throws
  {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try FileIO.writeAtomically(Array(try encoder.encode(state)) + [10], to: statePath)
    try OutputFiles.write(csv(rows(state, options: options)), to: csvPath)
  }
}

/// FNV-1a hashes for fingerprints and seeds.
enum Fingerprint {
  /// 64-bit FNV-1a of the UTF-8 bytes.
  static func hash(_ text: String) -> UInt64 {
    var h: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 {
      h ^= UInt64(b)
      h = h &* 0x100_0000_01b3
    }
    return h
  }

  /// The hash as 16 hex digits.
  static func of(_ text: String) -> String {
    let hex = String(hash(text), radix: 16)
    return String(repeating: "0", count: 16 - hex.count) + hex
  }
}
