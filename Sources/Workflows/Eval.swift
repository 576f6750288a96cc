import Formats
import Foundation
import PipelineKit
import Runner

/// Settings of `clipig eval`.
public struct EvalOptions: Sendable {
  /// The prompt files (`PromptSet`).
  public var promptFiles: [String] = []
  /// The experiment template: YAML files with `{{prompt}}` (and optionally `{{category}}`).
  public var templateFiles: [String] = []
  /// The judges (as `--model` takes them): CLIPs that rate the images and are not in the loss.
  public var judges: [String] = []
  /// The eval directory: images, sidecars, manifests, the scores and the report.
  public var outputDirectory = ""
  /// Render only this slice of the prompts (scores and report cover every finished image).
  public var shard: Shard?
  /// Renders running at once in this process.
  public var jobs = 1
  /// Values that replace every render's (`-e`, `-r`, `--model`, `--precision`).
  public var overrides = RunOverrides()
  /// Base seed (each image's seed derives from it and the image's name).
  public var seed: UInt64 = 0
  /// The stages the template may name.
  public var registries = StageRegistries.builtin
  /// 0 errors only, 1 a line per image, 2 statistics.
  public var verbosity = 1

  /// Default settings.
  public init() {}
}

/// One image's scores by one judge.
public struct EvalScore: Codable, Sendable, Equatable {
  /// 100 × the cosine between the image and its own prompt in the judge's features.
  public var similarity: Double
  /// 1 + the number of the set's prompts the judge finds closer to the image than its own.
  public var rank: Int
  /// Index (in the set) of the prompt the judge finds closest.
  public var best: Int

  /// Whether the image's own prompt is among the judge's first `k`.
  public func within(_ k: Int) -> Bool { rank <= k }
}

/// A mean with its standard error (sample standard deviation / √n; nil below two values).
public struct EvalStatistic: Codable, Sendable, Equatable {
  /// The mean.
  public var mean: Double
  /// Its standard error.
  public var standardError: Double?

  /// The statistic of `values` (not empty).
  public init(_ values: [Double]) {
    let n = Double(values.count)
    mean = values.reduce(0, +) / max(1, n)
    if values.count >= 2 {
      let m = mean
      let variance = values.reduce(0) { $0 + ($1 - m) * ($1 - m) } / (n - 1)
      standardError = (variance / n).squareRoot()
    } else {
      standardError = nil
    }
  }
}

/// One line of the summary: a judge's scores over a category (or `all`).
public struct EvalSummaryRow: Codable, Sendable, Equatable {
  /// The category, or `all`.
  public var category: String
  /// The judge.
  public var judge: String
  /// Images scored.
  public var count: Int
  /// The judge's similarity of each image to its own prompt.
  public var similarity: EvalStatistic
  /// The share of images whose prompt is the judge's first choice among the set's prompts.
  public var top1: EvalStatistic
  /// The share of images whose prompt is among the judge's first five.
  public var top5: EvalStatistic
}

/// `eval-summary.json`: what `--compare` reads.
public struct EvalSummary: Codable, Sendable, Equatable {
  /// `clipig-eval 1`.
  public var format: String
  /// The rendering method's label (the template's stem).
  public var label: String
  /// Prompts in the set.
  public var prompts: Int
  /// Images rendered so far.
  public var done: Int
  /// The judges.
  public var judges: [String]
  /// The loss's model(s), to show beside the judges.
  public var lossModels: [String]
  /// Per judge: the categories in set order, then `all`.
  public var rows: [EvalSummaryRow]
}

/// `clipig eval` (docs/eval.md): renders a prompt set with an experiment template through the
/// batch machinery (shards, jobs, resume) and scores every image with judges that are not in
/// the loss — the judge's similarity to the image's prompt and R-precision (is the prompt the
/// judge's top-1, top-5 among the set's prompts) — per image (`eval.csv`), per category and
/// overall with standard errors (`eval-summary.csv`, `eval-summary.json`) and in an offline
/// page (`eval.html`).
public enum Eval {
  /// The format tag of the eval files.
  public static let format = "clipig-eval 1"

  /// `.clipig/eval.json`: the prompt set a directory was made for (a run with another set is
  /// refused: the names `p0001…` would mean other prompts).
  struct State: Codable, Equatable {
    var format: String
    var prompts: [PromptSet.Entry]
  }

  /// Renders what is missing, scores what is unscored, and rewrites the tables and page.
  public static func run(
    _ options: EvalOptions, models: ModelPool = ModelPool(), interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void = CLIRunner.standardError
  ) throws -> EvalSummary? {
    guard !options.outputDirectory.isEmpty else {
      throw WorkflowError("eval needs an output directory (-o)")
    }
    guard !options.judges.isEmpty else {
      throw WorkflowError(
        "eval needs at least one --judge: a CLIP that is not in the loss rates the images")
    }
    guard !options.templateFiles.isEmpty else {
      throw WorkflowError("eval needs an experiment template (--template FILE with {{prompt}})")
    }
    let set = try PromptSet.load(paths: options.promptFiles)
    let grid = try grid(set, options: options)
    let dir = FileIO.folder(options.outputDirectory)
    try Batch.claimDirectory(dir)
    try claimPromptSet(set, directory: dir)

    var batch = BatchOptions()
    batch.outputDirectory = dir
    batch.shard = options.shard
    batch.jobs = options.jobs
    batch.overrides = options.overrides
    batch.registries = options.registries
    batch.verbosity = options.verbosity
    let lossModels = try lossModelNames(grid, options: batch)
    for judge in options.judges where lossModels.contains(judge) {
      log(
        "note: the judge \(judge) is also the loss's model; its scores measure what was "
          + "optimised, not what the image shows (docs/eval.md)\n")
    }
    if options.verbosity >= 1 {
      log(
        "eval: \(set.entries.count) prompts in \(set.categories.count) categor"
          + (set.categories.count == 1 ? "y" : "ies") + " ("
          + set.categories.joined(separator: ", ") + "); judged by "
          + options.judges.joined(separator: ", ") + "\n")
    }
    let summary = try Batch.run(batch, grid: grid, models: models, interrupt: interrupt, log: log)
    if summary.outcome == .interrupted { return nil }
    return try score(
      set, grid: grid, options: options, lossModels: lossModels,
      directory: dir, models: models, interrupt: interrupt, log: log)
  }

  /// The grid of a prompt set: one item per prompt, named `p0001…` in set order, with the
  /// variables `prompt` and `category`; the template must use `{{prompt}}`.
  static func grid(_ set: PromptSet, options: EvalOptions) throws -> Grid {
    let root = ConfigNode(.null, at: .synthetic("<eval>"))
    let (files, template, base) = try Grid.loadTemplate(
      nil, override: options.templateFiles, directory: ".", root: root)
    let digits = max(4, String(set.entries.count).count)
    let rows = set.entries.enumerated().map { i, e -> [Grid.Variable] in
      let number = String(i + 1)
      return [
        Grid.Variable(
          name: "id",
          value: ConfigNode(
            .string("p" + String(repeating: "0", count: digits - number.count) + number))),
        Grid.Variable(name: "prompt", value: ConfigNode(.string(e.prompt))),
        Grid.Variable(name: "category", value: ConfigNode(.string(e.category))),
      ]
    }
    let names = ["id", "prompt", "category"]
    let items = try Grid.combinations(
      rows: rows, lists: [], variableNames: names, nameTemplate: "{{id}}",
      nameLocation: root.location,
      baseSeed: options.seed, root: root)
    let grid = Grid(
      path: options.promptFiles.joined(separator: ", "), templateFiles: files, template: template,
      templateBaseDirectory: base, label: Grid.stem(files.last ?? "eval"), nameTemplate: "{{id}}",
      variableNames: names, seed: options.seed, items: items)
    // The template must depend on the prompt, or every image would be the same render.
    var other = items[0]
    other.values[1].value = ConfigNode(.string(set.entries[0].prompt + " (another prompt)"))
    if try grid.configuration(for: items[0]) == grid.configuration(for: other) {
      throw WorkflowError(
        "the template " + files.joined(separator: ", ")
          + " never uses {{prompt}}: write it where the prompt goes (text: \"{{prompt}}\")")
    }
    return grid
  }

  /// The models of the loss (`models:`, else the one `model`) of the planned renders (the
  /// first item's; every item shares the template).
  static func lossModelNames(_ grid: Grid, options: BatchOptions) throws -> [String] {
    let plan = try Batch.plan(grid, item: grid.items[0], options: options)
    let names = plan.experiment.models.map(\.name)
    return names.isEmpty ? [plan.experiment.model] : names
  }

  /// Records the prompt set in a new directory; refuses a directory made for another set.
  static func claimPromptSet(_ set: PromptSet, directory dir: String) throws {
    let path = dir + "/.clipig/eval.json"
    let state = State(format: format, prompts: set.entries)
    let lock = try FileLock.lock(path: dir + "/.clipig/eval.lock", timeout: 600)
    defer { withExtendedLifetime(lock) {} }
    if FileManager.default.fileExists(atPath: path) {
      let old = try? JSONDecoder().decode(
        State.self, from: Data(try FileIO.readBytes(path: path, maxBytes: 256 << 20)))
      guard old == state else {
        throw WorkflowError(
          "\(dir) holds an eval of another prompt set (or is damaged): choose another "
            + "directory, or give the prompt files it was made with")
      }
      return
    }
    if FileManager.default.fileExists(atPath: dir + "/manifest.json") {
      throw WorkflowError(
        "\(dir) holds a clipig batch that is not an eval; choose another directory")
    }
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    try FileIO.writeAtomically(Array(try encoder.encode(state)) + [10], to: path)
  }

  /// The score of an image with unit features `image` whose prompt is `own` among the unit
  /// prompt features `prompts`: ties count in the image's favour (rank 1 + the number of
  /// prompts strictly closer).
  public static func score(image: [Float], own: Int, prompts: [[Float]]) -> EvalScore {
    let sims = prompts.map { Rater.similarity($0, image) }
    var best = 0
    for i in sims.indices where sims[i] > sims[best] { best = i }
    let rank = 1 + sims.indices.filter { $0 != own && sims[$0] > sims[own] }.count
    return EvalScore(similarity: sims[own], rank: rank, best: best)
  }

  /// Scores every finished image each judge has not scored (records under `.clipig/eval/`,
  /// so shards and later runs share them), then rewrites the tables and the page from all of
  /// them — under the directory's eval lock, so the last shard to finish writes the whole.
  static func score(
    _ set: PromptSet, grid: Grid, options: EvalOptions,
    lossModels: [String], directory dir: String, models: ModelPool, interrupt: InterruptFlag,
    log: @escaping @Sendable (String) -> Void
  ) throws -> EvalSummary? {
    let lock = try FileLock.lock(path: dir + "/.clipig/eval.lock", timeout: 3600)
    defer { withExtendedLifetime(lock) {} }
    let manifest = try Manifest.read(directory: dir)
    let index = Dictionary(
      uniqueKeysWithValues: grid.items.map { ($0.name, $0.index) })
    var scores: [String: [String: EvalScore]] = [:]  // judge → image name → score
    for judge in options.judges {
      let folder = dir + "/.clipig/eval/" + Fingerprint.of(judge)
      var byName: [String: EvalScore] = [:]
      var todo: [(name: String, own: Int)] = []
      for item in manifest.items {
        guard let own = index[item.name] else { continue }
        if let bytes = try? FileIO.readBytes(path: folder + "/" + item.name + ".json"),
          let s = try? JSONDecoder().decode(EvalScore.self, from: Data(bytes))
        {
          byName[item.name] = s
        } else {
          todo.append((item.name, own))
        }
      }
      if !todo.isEmpty {
        let rater = Rater(model: try Ranking.judgeModel(judge, models: models))
        let encoder = JSONEncoder()
        encoder.outputFormatting = [.sortedKeys]
        try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
        let prompts = try set.entries.map { try rater.textFeatures($0.prompt) }
        for chunk in stride(from: 0, to: todo.count, by: 10) {
          if interrupt.isSet { return nil }
          let part = todo[chunk..<min(todo.count, chunk + 10)]
          let images = try part.map { try ImageFile.read(path: dir + "/" + $0.name + ".png") }
          let features = try rater.imageFeatures(batch: images)
          for (k, entry) in part.enumerated() {
            let s = score(image: features[k], own: entry.own, prompts: prompts)
            try FileIO.writeAtomically(
              Array(try encoder.encode(s)) + [10], to: folder + "/" + entry.name + ".json")
            byName[entry.name] = s
          }
        }
        if options.verbosity >= 1 {
          log("judged \(todo.count) image(s) with \(judge)\n")
        }
      }
      scores[judge] = byName
    }
    let summary = summarize(
      set, manifest: manifest, grid: grid, judges: options.judges, scores: scores,
      lossModels: lossModels)
    try OutputFiles.write(
      imageTable(set, manifest: manifest, grid: grid, judges: options.judges, scores: scores),
      to: dir + "/eval.csv")
    try OutputFiles.write(summaryTable(summary), to: dir + "/eval-summary.csv")
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.prettyPrinted, .sortedKeys, .withoutEscapingSlashes]
    try FileIO.writeAtomically(
      Array(try encoder.encode(summary)) + [10], to: dir + "/eval-summary.json")
    try OutputFiles.write(
      EvalReport.page(
        summary: summary, set: set, manifest: manifest, grid: grid, scores: scores),
      to: dir + "/eval.html")
    return summary
  }

  /// The summary rows: per judge, each category in set order, then `all`.
  public static func summarize(
    _ set: PromptSet, manifest: Manifest, grid: Grid, judges: [String],
    scores: [String: [String: EvalScore]], lossModels: [String]
  ) -> EvalSummary {
    let index = Dictionary(uniqueKeysWithValues: grid.items.map { ($0.name, $0.index) })
    var rows: [EvalSummaryRow] = []
    for judge in judges {
      let byName = scores[judge] ?? [:]
      for category in set.categories + ["all"] {
        let chosen = manifest.items.compactMap { item -> EvalScore? in
          guard let i = index[item.name], category == "all" || set.entries[i].category == category
          else { return nil }
          return byName[item.name]
        }
        guard !chosen.isEmpty else { continue }
        rows.append(
          EvalSummaryRow(
            category: category, judge: judge, count: chosen.count,
            similarity: EvalStatistic(chosen.map(\.similarity)),
            top1: EvalStatistic(chosen.map { $0.within(1) ? 1 : 0 }),
            top5: EvalStatistic(chosen.map { $0.within(5) ? 1 : 0 })))
      }
    }
    return EvalSummary(
      format: format, label: manifest.label, prompts: set.entries.count, done: manifest.done,
      judges: judges, lossModels: lossModels, rows: rows)
  }

  /// `eval.csv`: one line per finished image — name, category, prompt, seed, the loss's
  /// similarity, then per judge its similarity, the rank of the image's prompt and the prompt
  /// it found closest.
  static func imageTable(
    _ set: PromptSet, manifest: Manifest, grid: Grid, judges: [String],
    scores: [String: [String: EvalScore]]
  ) -> String {
    let index = Dictionary(uniqueKeysWithValues: grid.items.map { ($0.name, $0.index) })
    var out = CSV.line(
      ["name", "category", "prompt", "seed", "similarity", "image"]
        + judges.flatMap { ["judge:\($0)", "rank:\($0)", "closest:\($0)"] })
    for item in manifest.items {
      guard let i = index[item.name] else { continue }
      var fields = [
        item.name, set.entries[i].category, set.entries[i].prompt,
        item.seed.map { String($0) } ?? "", TextFormat.fixed2(item.similarity), item.image,
      ]
      for judge in judges {
        if let s = scores[judge]?[item.name] {
          fields += [TextFormat.fixed2(s.similarity), String(s.rank), set.entries[s.best].prompt]
        } else {
          fields += ["", "", ""]
        }
      }
      out += CSV.line(fields)
    }
    return out
  }

  /// `eval-summary.csv`: per judge and category, the count and each statistic with its
  /// standard error (R-precision as a fraction).
  public static func summaryTable(_ summary: EvalSummary) -> String {
    func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "" }
    var out = CSV.line([
      "judge", "category", "images", "similarity", "similarity_se", "top1", "top1_se", "top5",
      "top5_se",
    ])
    for r in summary.rows {
      out += CSV.line([
        r.judge, r.category, String(r.count), f(r.similarity.mean), f(r.similarity.standardError),
        f(r.top1.mean), f(r.top1.standardError), f(r.top5.mean), f(r.top5.standardError),
      ])
    }
    return out
  }

  /// `clipig eval --compare`: the summaries of two or more eval directories side by side —
  /// `compare.html` and `compare.csv` in `output` (when given); returns the CSV. Evals of
  /// different prompt sets are compared with a note, since their figures are not on one scale.
  public static func compare(
    directories: [String], output: String?, log: @Sendable (String) -> Void
  ) throws -> String {
    guard directories.count >= 2 else {
      throw WorkflowError("--compare needs two or more eval directories")
    }
    let evals = try directories.map { (directory: $0, summary: try readSummary(directory: $0)) }
    if Set(evals.map(\.summary.prompts)).count > 1
      || evals.contains(where: { $0.summary.done < $0.summary.prompts })
    {
      log(
        "note: the evals cover different numbers of images ("
          + evals.map { "\($0.directory): \($0.summary.done)/\($0.summary.prompts)" }.joined(
            separator: ", ") + "); compare figures of the same prompt set\n")
    }
    let csv = EvalReport.comparisonTable(evals)
    if let output {
      let dir = FileIO.folder(output)
      try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
      try OutputFiles.write(csv, to: dir + "/compare.csv")
      try OutputFiles.write(EvalReport.comparison(evals), to: dir + "/compare.html")
    }
    return csv
  }

  /// Reads `eval-summary.json` of an eval directory.
  public static func readSummary(directory: String) throws -> EvalSummary {
    let path = FileIO.folder(directory) + "/eval-summary.json"
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(path: path, maxBytes: 64 << 20)
    } catch {
      throw WorkflowError("\(error) (is \(directory) a finished clipig eval directory?)")
    }
    guard let s = try? JSONDecoder().decode(EvalSummary.self, from: Data(bytes)),
      s.format == format
    else { throw WorkflowError("\(path) is not a clipig eval summary") }
    return s
  }
}
