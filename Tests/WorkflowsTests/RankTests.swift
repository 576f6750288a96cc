import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing
import Workflows

@Suite("clipig rank on the tiny CLIP")
struct RankTests {
  static let experiment = """
    epochs: 50
    resolution: 16
    optimizer: adam
    learnrate: 3
    init: {mean: 0.5, std: 0.2, resolution: 4}
    targets:
      - batch_size: 2
        features:
          - text: a penguin made of piano
        transforms:
          - mul: 0.9
    """

  static func options(_ dir: String, output: String) throws -> RankOptions {
    try TestFiles.write(experiment, to: dir + "/penguin.yaml")
    var o = RankOptions()
    o.configFiles = [dir + "/penguin.yaml"]
    o.outputDirectory = output
    o.runs = 6
    o.epochs = 3
    o.keep = 2
    o.worst = 1
    o.continueEpochs = 4
    o.seed = 1000
    o.model = TestFiles.tinyModel
    return o
  }

  @Test func sixRunsKeepTwoBestAndOneWorstAndContinueThemFromTheirImages() throws {
    let dir = try TestFiles.temporaryDirectory("rank")
    let out = dir + "/rank"
    let options = try Self.options(dir, output: out)
    let summary = try Ranking.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    #expect(summary.outcome == .finished)
    let rows = summary.rows
    #expect(rows.count == 6)
    #expect(rows.map(\.rank) == Array(1...6))
    #expect(Set(rows.map(\.id)) == Set(1...6))
    #expect(rows.allSatisfy { $0.seed == 1000 + UInt64($0.id) })
    #expect(zip(rows, rows.dropFirst()).allSatisfy { $0.shortSimilarity >= $1.shortSimilarity })
    #expect(rows.map(\.group) == ["best", "best", nil, nil, nil, "worst"])
    for row in rows {
      #expect(FileManager.default.fileExists(atPath: out + "/" + row.shortImage))
      #expect((row.continuedSimilarity != nil) == (row.group != nil))
    }
    // The continuation starts from the short run's image (CLIPig's detail pass).
    let best = rows[0]
    let sidecar = try YAML.load(path: out + "/continued/" + Ranking.runName(best.id) + ".yaml")
    let e = try Experiment(sidecar)
    #expect(e.epochs == 4)
    #expect(e.seed == best.seed)
    #expect(
      e.initialization.image?.hasSuffix("/rank/short/" + Ranking.runName(best.id) + ".png") == true)
    #expect(e.initialization.mean == [0, 0, 0] && e.initialization.std == [1, 1, 1])
    #expect(e.initialization.resolution == nil)
    #expect(best.articleLine.hasPrefix("#\(best.id) sim: "))
    #expect(best.articleLine.contains(" ⭢ "))

    let csv = try TestFiles.read(summary.csvPath).split(separator: "\n")
    #expect(csv.count == 7)
    #expect(
      csv[0]
        == "rank,run,seed,similarity_short,similarity_continued,gain,kept,short_image,continued_image,"
        + "judge_short,judge_continued"
    )
    #expect(csv[1].hasSuffix(",,"), "no judge: its columns are empty")
    #expect(csv[1].hasPrefix("1,\(best.id),\(best.seed),"))
    #expect(csv[1].contains(",best,short/"))

    // Restarted, it finds everything done.
    let log = LogRecorder()
    let again = try Ranking.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: log.log)
    #expect(again.rows == rows)
    #expect(!log.contents.contains(" seed "), "\(log.contents)")
    #expect(!log.contents.contains("continuing"), "\(log.contents)")
  }

  @Test func anInterruptedRankingResumesToTheSameResult() throws {
    let dir = try TestFiles.temporaryDirectory("rank-resume")
    let whole = try Ranking.run(
      try Self.options(dir, output: dir + "/whole"), models: Workflow.models,
      interrupt: InterruptFlag(), log: { _ in })

    let options = try Self.options(dir, output: dir + "/parts")
    let flag = InterruptFlag()
    let first = try Ranking.run(
      options, models: Workflow.models, interrupt: flag,
      log: { text in if text.hasPrefix("#3 seed") { flag.set() } })
    #expect(first.outcome == .interrupted)
    #expect(first.rows.count == 3)
    let second = try Ranking.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    #expect(second.outcome == .finished)
    #expect(second.rows == whole.rows)
  }

  @Test func refusesForeignDirectoriesAndChangedExperiments() throws {
    let dir = try TestFiles.temporaryDirectory("rank-refuse")
    // A rank.csv without rank.json is someone else's (the rule batch follows for manifests);
    // other files are no reason to refuse a folder (NewUserCLITests).
    try TestFiles.write("keep me\n", to: dir + "/foreign/rank.csv")
    let foreign = try Self.options(dir, output: dir + "/foreign")
    #expect(throws: WorkflowError.self) {
      try Ranking.run(foreign, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    }
    #expect(try TestFiles.read(dir + "/foreign/rank.csv") == "keep me\n")

    var options = try Self.options(dir, output: dir + "/r")
    options.runs = 2
    options.keep = 1
    options.worst = 0
    options.continueEpochs = 0
    _ = try Ranking.run(options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    options.epochs = 4
    let changed = #expect(throws: WorkflowError.self) {
      try Ranking.run(options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    }
    #expect(changed?.description.contains("different configuration") == true)
    options.epochs = 3
    options.seed = 1
    #expect(throws: WorkflowError.self) {
      try Ranking.run(options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    }
  }
}
