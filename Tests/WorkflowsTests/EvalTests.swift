import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

@testable import Workflows

/// `clipig eval`: prompt sets, the judge's scores and R-precision by hand, and the command as a
/// user runs it — renders with the tiny CLIP (32 px), judged by the FARE-layout ViT (64 px), the
/// scores checked against `clipig similarity` with the judge, a sharded eval equal to an
/// unsharded one, `--compare`, and the report in headless Chromium.
@Suite("clipig eval")
struct EvalTests {
  static let judge = RankJudgeTests.judge

  static let template = """
    epochs: 3
    resolution: 16
    optimizer: adam
    learnrate: 3
    init: {mean: 0.5, std: 0.2, resolution: 4}
    targets:
      - batch_size: 2
        features:
          - text: "{{prompt}}"
        transforms:
          - mul: 0.9
    """

  static let prompts = ["a red circle", "a green triangle on white", "a blue square"]

  /// Three prompts on the plane and three images, worked by hand: image 0 is closest to
  /// prompt 2 (96 > 80), image 1 to its own (100), image 2 to prompt 0 (100 > 60).
  @Test func scoresAndRPrecisionByHand() throws {
    let p: [[Float]] = [[1, 0], [0, 1], [0.6, 0.8]]
    let s0 = Eval.score(image: [0.8, 0.6], own: 0, prompts: p)
    let s1 = Eval.score(image: [0, 1], own: 1, prompts: p)
    let s2 = Eval.score(image: [1, 0], own: 2, prompts: p)
    #expect(abs(s0.similarity - 80) < 1e-4 && s0.rank == 2 && s0.best == 2)
    #expect(abs(s1.similarity - 100) < 1e-4 && s1.rank == 1 && s1.best == 1)
    #expect(abs(s2.similarity - 60) < 1e-4 && s2.rank == 2 && s2.best == 0)
    // A tie counts for the image: equal to the closest is rank 1.
    #expect(Eval.score(image: [1, 0], own: 1, prompts: [[1, 0], [1, 0]]).rank == 1)

    // Mean 80, sample standard deviation 20, standard error 20/√3.
    let sim = EvalStatistic([80, 100, 60])
    #expect(abs(sim.mean - 80) < 1e-12)
    #expect(abs((sim.standardError ?? 0) - 20 / 3.0.squareRoot()) < 1e-12)
    // R@1 = 1/3, its standard error √((2·(1/3)² + (2/3)²)/2 / 3) = 1/3.
    let top1 = EvalStatistic([s0, s1, s2].map { $0.within(1) ? 1 : 0 })
    #expect(abs(top1.mean - 1.0 / 3) < 1e-12)
    #expect(abs((top1.standardError ?? 0) - 1.0 / 3) < 1e-12)
    #expect(EvalStatistic([5]).standardError == nil)

    // The summary over a hand-made manifest: two categories and all.
    let dir = try TestFiles.temporaryDirectory("eval-hand")
    try TestFiles.write(Self.template, to: dir + "/t.yaml")
    let set = PromptSet(entries: [
      .init(prompt: "a", category: "x"), .init(prompt: "b", category: "y"),
      .init(prompt: "c", category: "x"),
    ])
    var options = EvalOptions()
    options.templateFiles = [dir + "/t.yaml"]
    let grid = try Eval.grid(set, options: options)
    #expect(grid.items.map(\.name) == ["p0001", "p0002", "p0003"])
    let manifest = Manifest(
      format: Manifest.currentFormat, grid: "", label: "t", variables: [], key: [], total: 3,
      done: 3, missing: [],
      items: grid.items.map {
        ManifestItem(name: $0.name, image: $0.name + ".png", variables: [:], prompts: [])
      })
    let summary = Eval.summarize(
      set, manifest: manifest, grid: grid, judges: ["J"],
      scores: ["J": ["p0001": s0, "p0002": s1, "p0003": s2]], lossModels: ["L"])
    #expect(summary.rows.map(\.category) == ["x", "y", "all"])
    #expect(summary.rows.map(\.count) == [2, 1, 3])
    #expect(abs(summary.rows[0].similarity.mean - 70) < 1e-4 && summary.rows[0].top1.mean == 0)
    #expect(summary.rows[1].top1.mean == 1 && summary.rows[2].top5.mean == 1)
    let csv = Eval.summaryTable(summary).split(separator: "\n")
    #expect(csv[3] == "J,all,3,80.0000,11.5470,0.3333,0.3333,1.0000,0.0000")
  }

  /// The three forms of prompt files, categories, and the errors at file:line:column.
  @Test func promptFilesInEveryForm() throws {
    let dir = try TestFiles.temporaryDirectory("eval-prompts")
    try TestFiles.write("# colours\na red circle\n\n  a blue square  \n", to: dir + "/shapes.txt")
    try TestFiles.write(#"["a cat", "a dog"]"#, to: dir + "/anime.json")
    try TestFiles.write(
      "- a tree\n- {prompt: a house, category: buildings}\n", to: dir + "/mixed.yaml")
    try TestFiles.write("photo:\n  - a lake\nart:\n  - a bridge\n", to: dir + "/cats.yaml")
    let set = try PromptSet.load(
      paths: ["shapes.txt", "anime.json", "mixed.yaml", "cats.yaml"].map { dir + "/" + $0 })
    #expect(
      set.entries.map(\.prompt) == [
        "a red circle", "a blue square", "a cat", "a dog", "a tree", "a house", "a lake",
        "a bridge",
      ])
    #expect(
      set.entries.map(\.category) == [
        "shapes", "shapes", "anime", "anime", "mixed", "buildings", "photo", "art",
      ])
    #expect(set.categories == ["shapes", "anime", "mixed", "buildings", "photo", "art"])

    try TestFiles.write("a\nb\na\n", to: dir + "/twice.txt")
    #expect {
      try PromptSet.load(paths: [dir + "/twice.txt"])
    } throws: { "\($0)".contains("twice.txt:3:1") && "\($0)".contains("first at") }
    try TestFiles.write("- {prompt: a, categroy: b}\n", to: dir + "/typo.yaml")
    #expect {
      try PromptSet.load(paths: [dir + "/typo.yaml"])
    } throws: { "\($0)".contains("typo.yaml:1:") && "\($0)".contains("category") }
    try TestFiles.write("# nothing\n\n", to: dir + "/empty.txt")
    #expect {
      try PromptSet.load(paths: [dir + "/empty.txt"])
    } throws: { "\($0)".contains("no prompts") }
    try TestFiles.write("{a: 1}\n", to: dir + "/bad.json")
    #expect {
      try PromptSet.load(paths: [dir + "/bad.json"])
    } throws: { "\($0)".contains("bad.json:1:") }
  }

  /// The command as users run it: the judge's scores equal `clipig similarity` with the judge
  /// and its ranks follow from that table; two shards give the unsharded eval's tables;
  /// `--compare` shows both; a template without {{prompt}}, another prompt set in the same
  /// directory and a missing judge are refused.
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func evalThroughTheBinaryShardedAndCompared() throws {
    let dir = try TestFiles.temporaryDirectory("eval-binary")
    try TestFiles.write(Self.template, to: dir + "/exp.yaml")
    try TestFiles.write(Self.prompts.joined(separator: "\n") + "\n", to: dir + "/set.txt")
    let common = [
      "--template", dir + "/exp.yaml", "--judge", Self.judge, "--model", TestFiles.tinyModel,
      "--seed", "3",
    ]
    let whole = try ClipigExecutable.run(
      ["eval", dir + "/set.txt", "-o", dir + "/a"] + common, in: nil)
    #expect(whole.status == 0, "\(whole.output)")
    #expect(whole.out.contains("3/3 images"), "\(whole.out)")
    for shard in ["1/2", "2/2"] {
      let r = try ClipigExecutable.run(
        ["eval", dir + "/set.txt", "-o", dir + "/b", "--shard", shard] + common, in: nil)
      #expect(r.status == 0, "\(r.output)")
    }
    let table = try TestFiles.read(dir + "/a/eval.csv")
    #expect(try TestFiles.read(dir + "/b/eval.csv") == table)
    #expect(
      try TestFiles.read(dir + "/b/eval-summary.csv")
        == TestFiles.read(dir + "/a/eval-summary.csv"))

    // The judge's similarities by `clipig similarity`: each image's to its own prompt, and
    // the rank of that prompt in its row.
    let r = try ClipigExecutable.run(
      ["similarity", dir + "/a", "--model", Self.judge, "-o", dir + "/sim.csv"]
        + Self.prompts.flatMap { ["-t", $0] }, in: nil)
    #expect(r.status == 0, "\(r.output)")
    var expected: [String: [Double]] = [:]
    for line in try TestFiles.read(dir + "/sim.csv").split(separator: "\n").dropFirst() {
      let cells = line.split(separator: ",")
      expected[URL(fileURLWithPath: String(cells[0])).lastPathComponent] =
        cells.dropFirst().compactMap { Double($0) }
    }
    let rows = table.split(separator: "\n").map { $0.split(separator: ",").map(String.init) }
    #expect(rows[0].prefix(6) == ["name", "category", "prompt", "seed", "similarity", "image"])
    #expect(rows.count == 4)
    var hits = 0
    for (i, row) in rows.dropFirst().enumerated() {
      #expect(row[0] == String(format: "p%04d", i + 1) && row[1] == "set")
      #expect(row[2] == Self.prompts[i])
      let sims = try #require(expected[row[5]], "\(expected.keys)")
      #expect(abs((Double(row[6]) ?? .nan) - sims[i]) <= 0.006, "\(row) vs \(sims)")
      let rank = 1 + sims.indices.filter { $0 != i && sims[$0] > sims[i] }.count
      #expect(Int(row[7]) == rank, "\(row) vs \(sims)")
      if rank == 1 { hits += 1 }
    }
    let summary = try Eval.readSummary(directory: dir + "/a")
    let all = try #require(summary.rows.first { $0.category == "all" })
    #expect(all.count == 3 && abs(all.top1.mean - Double(hits) / 3) < 1e-12)

    // Side by side.
    let cmp = try ClipigExecutable.run(
      ["eval", "--compare", dir + "/a", dir + "/b", "-o", dir + "/cmp"], in: nil)
    #expect(cmp.status == 0, "\(cmp.output)")
    let lines = try TestFiles.read(dir + "/cmp/compare.csv").split(separator: "\n")
    #expect(lines.count == 1 + 2 * 3, "\(lines)")  // (set, all) × three figures
    for line in lines.dropFirst() {
      let c = line.split(separator: ",", omittingEmptySubsequences: false)
      #expect(c[3] == c[5], "\(line)")
    }
    #expect(FileManager.default.fileExists(atPath: dir + "/cmp/compare.html"))

    // Refusals: no {{prompt}}, another set in the same directory, no judge.
    try TestFiles.write(
      Self.template.replacingOccurrences(of: "\"{{prompt}}\"", with: "a fixed prompt"),
      to: dir + "/fixed.yaml")
    let fixed = try ClipigExecutable.run(
      [
        "eval", dir + "/set.txt", "-o", dir + "/c", "--template", dir + "/fixed.yaml", "--judge",
        Self.judge,
      ], in: nil)
    #expect(fixed.status != 0 && fixed.err.contains("{{prompt}}"), "\(fixed.output)")
    try TestFiles.write("another prompt\n", to: dir + "/other.txt")
    let other = try ClipigExecutable.run(
      ["eval", dir + "/other.txt", "-o", dir + "/a"] + common, in: nil)
    #expect(other.status != 0 && other.err.contains("another prompt set"), "\(other.output)")
    let noJudge = try ClipigExecutable.run(
      ["eval", dir + "/set.txt", "-o", dir + "/d", "--template", dir + "/exp.yaml"], in: nil)
    #expect(noJudge.status != 0 && noJudge.err.contains("--judge"), "\(noJudge.output)")
  }

  @Test(
    .enabled(
      // With CI=true a missing browser fails (the #require below) instead of skipping.
      if: GalleryTests.browser != nil && GalleryTests.python != nil
        || ProcessInfo.processInfo.environment["CI"] == "true",
      "no headless browser: install Debian's chromium (and python3) to run the page in a browser"),
    .enabled(if: ClipigExecutable.shouldTest))
  func reportOpensInHeadlessChromium() throws {
    let dir = try TestFiles.temporaryDirectory("eval-page")
    try TestFiles.write(Self.template, to: dir + "/exp.yaml")
    try TestFiles.write(Self.prompts.joined(separator: "\n") + "\n", to: dir + "/set.txt")
    let run = try ClipigExecutable.run(
      [
        "eval", dir + "/set.txt", "-o", dir + "/a", "--template", dir + "/exp.yaml", "--judge",
        Self.judge, "--model", TestFiles.tinyModel, "-e", "1", "-q",
      ], in: nil)
    #expect(run.status == 0, "\(run.output)")
    let script = Workflow.testsDirectory.appendingPathComponent(
      "Fixtures/eval_report_check.py"
    ).path
    let r = try ChildProcess.run(
      try #require(GalleryTests.python),
      [script, try #require(GalleryTests.browser), dir + "/a/eval.html"])
    #expect(r.status == 0, "\(r.err)")
    struct Report: Decodable {
      var figures: Int
      var summaryRows: Int
      var loaded: Bool
      var prompts: [String]
      var errors: [String]
    }
    let report = try JSONDecoder().decode(Report.self, from: Data(r.out.utf8))
    #expect(report.errors.isEmpty, "\(report.errors)")
    #expect(report.figures == 3 && report.summaryRows == 2)
    #expect(report.loaded, "every image on the page loaded")
    #expect(report.prompts == Self.prompts)
  }
}
