import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

@testable import Workflows

/// `clipig rank --judge`: the runs rated and ranked by a CLIP that was not optimised. The loss
/// uses the tiny Hugging Face CLIP (32 px); the judge is another generated model, the
/// FARE-layout ViT (64 px, open_clip hub layout, scripts/robust_clip_fixtures.py), and its
/// scores are checked against `clipig similarity --model JUDGE` on the same files.
@Suite("clipig rank --judge")
struct RankJudgeTests {
  static let judge = TestFiles.repository
    .appendingPathComponent("Tests/ModelStoreTests/Fixtures/robust/fare-layout").path

  static let prompts = ["a penguin made of piano", "a red fire truck"]

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
          - text: a red fire truck
          - text: a thing to move away from
            weight: -1
        transforms:
          - mul: 0.9
    """

  /// A hand-made state: ranked by the judge when one is given (a run it has not rated last),
  /// by similarity otherwise; the CSV's judge columns follow the old columns.
  @Test func rowsAreOrderedByTheJudgeWhenOneIsGiven() {
    var state = RankState(experiment: ["x.yaml"], fingerprint: "f", seed: 0, epochs: 1)
    state.judge = "J"
    let scores: [(similarity: Double, judge: Double?)] = [(30, 5), (20, 9), (10, 7), (40, nil)]
    state.runs = scores.enumerated().map { i, s in
      RankState.Run(
        id: i + 1, seed: UInt64(i + 1), similarity: s.similarity, judge: s.judge, seconds: 0,
        image: "short/" + Ranking.runName(i + 1) + ".png")
    }
    var options = RankOptions()
    options.runs = 4
    options.keep = 1
    options.worst = 1
    #expect(Ranking.rows(state, options: options).map { $0.id } == [4, 1, 2, 3])
    options.judge = "J"
    let rows = Ranking.rows(state, options: options)
    #expect(rows.map { $0.id } == [2, 3, 1, 4])
    #expect(rows.map { $0.group } == ["best", nil, nil, "worst"])
    let csv = Ranking.csv(rows).split(separator: "\n")
    #expect(csv[0].hasSuffix(",short_image,continued_image,judge_short,judge_continued"))
    #expect(csv[1] == "1,2,2,20.00,,,best,short/run-0002.png,,9.00,")
    #expect(csv[4] == "4,4,4,40.00,,,worst,short/run-0004.png,,,")
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func theJudgeRanksRunsByItsOwnSimilarityAsClipigSimilarityComputesIt() throws {
    let dir = try TestFiles.temporaryDirectory("rank-judge")
    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    let out = dir + "/rank"
    let rank = try ClipigExecutable.run(
      [
        "rank", dir + "/exp.yaml", "-o", out, "--runs", "4", "--epochs", "2", "--keep", "1",
        "--continue", "2", "--seed", "40", "--model", TestFiles.tinyModel, "--judge", Self.judge,
      ], in: nil)
    #expect(rank.status == 0, "\(rank.output)")
    #expect(rank.err.contains("ranked by the judge"), "\(rank.err)")

    let state = try JSONDecoder().decode(
      RankState.self, from: Data(contentsOf: URL(fileURLWithPath: out + "/rank.json")))
    #expect(state.judge == Self.judge)
    #expect(state.runs.count == 4 && state.continued.count == 1)

    // The judge's own ratings, by the similarity command: one row per image, one column per
    // prompt (the negative-weight feature is not rated against, as in every rank score).
    func judged(_ folder: String) throws -> [String: Double] {
      let csv = dir + "/\(folder).csv"
      let r = try ClipigExecutable.run(
        ["similarity", out + "/" + folder, "--model", Self.judge, "-o", csv]
          + Self.prompts.flatMap { ["-t", $0] }, in: nil)
      #expect(r.status == 0, "\(r.output)")
      var scores: [String: Double] = [:]
      for line in try TestFiles.read(csv).split(separator: "\n").dropFirst() {
        let cells = line.split(separator: ",")
        let values = cells.dropFirst().compactMap { Double($0) }
        #expect(values.count == 2, "\(line)")
        scores[folder + "/" + ((String(cells[0]) as NSString).lastPathComponent)] =
          values.reduce(0, +) / Double(values.count)
      }
      return scores
    }
    let expected = try judged("short").merging(try judged("continued")) { a, _ in a }
    for run in state.runs {
      let want = try #require(expected[run.image], "\(expected.keys)")
      let got = try #require(run.judge)
      #expect(abs(got - want) < 1e-4, "#\(run.id): rank \(got), similarity \(want)")
      #expect(abs(got - run.similarity) > 1e-3, "the judge is another model")
    }
    let continued = try #require(state.continued.first)
    #expect(abs(try #require(continued.judge) - (expected[continued.image] ?? .nan)) < 1e-4)

    // rank.csv is ordered by those scores, best first, and keeps the judge's best.
    let byJudge = state.runs.sorted {
      expected[$0.image, default: 0] > expected[$1.image, default: 0]
    }.map(\.id)
    let lines = try TestFiles.read(out + "/rank.csv").split(separator: "\n")
    #expect(lines[0].hasSuffix(",judge_short,judge_continued"))
    let ids = lines.dropFirst().map { Int($0.split(separator: ",")[1]) ?? 0 }
    #expect(ids == byJudge, "\(lines)")
    #expect(continued.id == byJudge[0])
    #expect(lines[1].split(separator: ",", omittingEmptySubsequences: false)[6] == "best")

    // The gallery of the rank directory shows each image's judge score.
    let page = dir + "/page"
    let gallery = try ClipigExecutable.run(["gallery", out, "-o", page], in: nil)
    #expect(gallery.status == 0, "\(gallery.output)")
    let data = try Gallery.embeddedData(html: try TestFiles.read(page + "/index.html"))
    #expect(data.rows == ["short", "continued"])
    let cells = data.cells[0].flatMap { $0 }.compactMap { $0 }
    #expect(cells.count == 5)
    for cell in cells {
      let file = cell.name.hasPrefix("short-") ? "short/" : "continued/"
      let name = file + cell.name.split(separator: "-", maxSplits: 1)[1] + ".png"
      let want = try #require(expected[name], "\(name)")
      #expect(abs((cell.judge ?? .nan) - want) < 1e-4, "\(cell)")
      #expect(cell.prompt == Self.prompts.joined(separator: " | "))
    }
    #expect(data.cells[0][0].first??.name == "short-" + Ranking.runName(byJudge[0]))
  }

  /// A directory ranked without a judge is judged afterwards: every image is rated, nothing
  /// is rendered again but the continuation of the judge's new best; a run of the same
  /// command finds all done.
  @Test func aFinishedRankingIsJudgedAfterwardsWithoutRenderingAgain() throws {
    let dir = try TestFiles.temporaryDirectory("rank-rejudge")
    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    var options = RankOptions()
    options.configFiles = [dir + "/exp.yaml"]
    options.outputDirectory = dir + "/rank"
    options.runs = 4
    options.epochs = 2
    options.keep = 1
    options.continueEpochs = 2
    options.seed = 40
    options.model = TestFiles.tinyModel
    let plain = try Ranking.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    #expect(plain.rows.allSatisfy { $0.shortJudge == nil })

    options.judge = Self.judge
    let log = LogRecorder()
    let judged = try Ranking.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: log.log)
    #expect(!log.contents.contains(" seed "), "no short run rendered again: \(log.contents)")
    #expect(log.contents.contains("judged 5 earlier image(s)"), "\(log.contents)")
    #expect(judged.rows.allSatisfy { $0.shortJudge != nil })
    let scores = judged.rows.compactMap(\.shortJudge)
    #expect(scores == scores.sorted(by: >))
    // The same short runs, similarities unchanged; the judge's best is continued and judged.
    #expect(Set(judged.rows.map(\.id)) == Set(plain.rows.map(\.id)))
    for row in judged.rows {
      #expect(row.shortSimilarity == plain.rows.first { $0.id == row.id }?.shortSimilarity)
    }
    #expect(judged.rows[0].group == "best" && judged.rows[0].continuedJudge != nil)
    if judged.rows[0].id != plain.rows[0].id {
      #expect(log.contents.contains("continuing #\(judged.rows[0].id)"), "\(log.contents)")
    }

    let again = LogRecorder()
    let same = try Ranking.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: again.log)
    #expect(same.rows == judged.rows)
    #expect(!again.contents.contains("judged") && !again.contents.contains("continuing"))
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func anUnknownJudgeIsRefusedWithTheClosestNameBeforeAnyWork() throws {
    let dir = try TestFiles.temporaryDirectory("rank-judge-bad")
    try TestFiles.write(Self.experiment, to: dir + "/exp.yaml")
    let r = try ClipigExecutable.run(
      [
        "rank", dir + "/exp.yaml", "-o", dir + "/rank", "--runs", "2", "--epochs", "1", "-q",
        "--model", TestFiles.tinyModel, "--judge", "FARE4-ViT-B32",
      ], in: nil)
    #expect(r.status != 0)
    #expect(r.err.hasPrefix("error: --judge: 'FARE4-ViT-B32' is neither a known CLIP model"))
    #expect(r.err.contains("did you mean 'FARE4-ViT-B-32'"), "\(r.err)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/rank/rank.json"))
  }
}
