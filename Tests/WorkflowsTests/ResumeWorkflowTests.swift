import Formats
import Foundation
import PipelineKit
import Runner
import Synchronization
import TestSupport
import Testing
import Workflows

/// The PNG files of a directory (not recursive), name → bytes.
private func images(in dir: String) throws -> [String: [UInt8]] {
  var out: [String: [UInt8]] = [:]
  for f in try FileManager.default.contentsOfDirectory(atPath: dir) where f.hasSuffix(".png") {
    out[f] = try FileIO.readBytes(path: dir + "/" + f)
  }
  return out
}

/// Files in `dir` (recursive) whose name ends with `.checkpoint`.
private func checkpoints(in dir: String) -> [String] {
  let e = FileManager.default.enumerator(atPath: dir)
  var out: [String] = []
  while let f = e?.nextObject() as? String {
    if f.hasSuffix(".checkpoint") { out.append(f) }
  }
  return out
}

@Suite("Resuming batch, rank and render after SIGTERM", .serialized)
struct ResumeWorkflowTests {
  /// The small grid with 40 epochs per output, so a signal lands mid-render.
  static func longGrid(in dir: String) throws -> String {
    let grid = try Workflow.smallGrid(in: dir)
    try TestFiles.write(
      Workflow.smallTemplate.replacingOccurrences(of: "epochs: 3", with: "epochs: 40"),
      to: dir + "/template.yaml")
    return grid
  }

  static func batchOptions(_ grid: String, _ out: String) -> BatchOptions {
    Workflow.batchOptions(grid: grid, output: out, verbosity: 0)
  }

  /// A batch stopped in the middle of an output continues it from its checkpoint: every image
  /// equals the one of an uninterrupted batch, byte for byte.
  @Test func aBatchInterruptedMidRenderResumesBitIdentically() throws {
    let dir = try TestFiles.temporaryDirectory("batch-checkpoint")
    let grid = try Self.longGrid(in: dir)
    _ = try Batch.run(
      Self.batchOptions(grid, dir + "/straight"), models: Workflow.models,
      interrupt: InterruptFlag(), log: { _ in })

    let flag = InterruptFlag()
    let encodes = EncodeCounter()
    let counting = ModelPool { name in
      let make = try ModelPool.clipLoader(name)
      return {
        CountingModel(try make()) {
          // 40 epochs and a rating of output 1, then output 2 up to epoch 16.
          if encodes.increment() == 40 + 1 + 17 { flag.set(signal: SIGTERM) }
        }
      }
    }
    let stopped = try Batch.run(
      Self.batchOptions(grid, dir + "/out"), models: counting, interrupt: flag, log: { _ in })
    #expect(stopped.outcome == .interrupted)
    #expect(stopped.rendered == ["cat-of-piano"])
    let left = checkpoints(in: dir + "/out")
    #expect(left == [".clipig/partial/.cat-of-coral-reef.png.checkpoint"], "\(left)")
    let c = try #require(
      try Checkpoint.load(path: dir + "/out/" + (left.first ?? "")))
    #expect(c.nextEpoch == 17)

    let resumed = try Batch.run(
      Self.batchOptions(grid, dir + "/out"), models: Workflow.models, interrupt: InterruptFlag(),
      log: { _ in })
    #expect(resumed.outcome == .finished && resumed.rendered.count == 5)
    #expect(checkpoints(in: dir + "/out").isEmpty)
    let a = try images(in: dir + "/straight")
    #expect(a.count == 6)
    #expect(try images(in: dir + "/out") == a)
  }

  /// `rank` across two shards and a `--merge` step gives the ranking of one unsharded run.
  @Test func shardedRankingMergesToTheUnshardedRanking() throws {
    let dir = try TestFiles.temporaryDirectory("rank-shards")
    var whole = try RankTests.options(dir, output: dir + "/whole")
    whole.verbosity = 0
    let reference = try Ranking.run(whole, models: Workflow.models, interrupt: InterruptFlag())
    #expect(reference.outcome == .finished)

    var sharded = whole
    sharded.outputDirectory = dir + "/sharded"
    var merge = sharded
    merge.merge = true
    let early = #expect(throws: WorkflowError.self) {
      try Ranking.run(merge, models: Workflow.models, interrupt: InterruptFlag())
    }
    #expect(early?.description.contains("not finished") == true, "\(String(describing: early))")
    for i in 1...2 {
      sharded.shard = try Shard(index: i, count: 2)
      let part = try Ranking.run(sharded, models: Workflow.models, interrupt: InterruptFlag())
      #expect(part.outcome == .finished)
    }
    let state = try JSONDecoder().decode(
      RankState.self, from: Data(try FileIO.readBytes(path: dir + "/sharded/rank.json")))
    #expect(state.runs.map(\.id) == [1, 2, 3, 4, 5, 6] && state.continued.isEmpty)
    let merged = try Ranking.run(merge, models: Workflow.models, interrupt: InterruptFlag())
    #expect(merged.outcome == .finished)
    #expect(
      try TestFiles.read(dir + "/sharded/rank.csv") == TestFiles.read(dir + "/whole/rank.csv"))
    // Re-running any step renders nothing more.
    sharded.shard = try Shard(index: 1, count: 2)
    #expect(
      try Ranking.run(sharded, models: Workflow.models, interrupt: InterruptFlag()).outcome
        == .finished)
    #expect(
      try Ranking.run(merge, models: Workflow.models, interrupt: InterruptFlag()).rows
        == merged.rows)
  }

  /// The release binary, a real SIGTERM: exit status 143, image and checkpoint written; the same
  /// command resumes and the image equals an uninterrupted render's.
  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func sigtermThenTheSameCommandResumesBitIdentically() throws {
    let dir = try TestFiles.temporaryDirectory("render-sigterm")
    let arguments = [
      "render", TestFiles.examples + "/method1.yaml", "--model", TestFiles.tinyModel, "-e",
      "3000", "-r", "16", "--seed", "11", "-q",
    ]
    let process = try ClipigExecutable.start(arguments + ["-o", dir + "/out/"])
    let checkpoint = dir + "/out/.method1.png.checkpoint"
    let image = dir + "/out/method1.png"
    #expect(TestFiles.waitForContent(image), "no snapshot")
    Thread.sleep(forTimeInterval: 0.5)
    process.send(SIGTERM)
    let stopped = process.wait()
    #expect(stopped.status == 143, "\(stopped.err)")
    let saved = try #require(try Checkpoint.load(path: checkpoint))
    #expect(saved.nextEpoch > 0 && saved.nextEpoch < 3000, "epoch \(saved.nextEpoch)")

    let resumed = try ClipigExecutable.run(arguments + ["-o", dir + "/out/"], in: nil)
    #expect(resumed.status == 0, "\(resumed.err)")
    let straight = try ClipigExecutable.run(arguments + ["-o", dir + "/straight/"], in: nil)
    #expect(straight.status == 0, "\(straight.err)")
    #expect(try images(in: dir + "/out") == images(in: dir + "/straight"))
    #expect(try images(in: dir + "/out").keys.sorted() == ["method1.png"])
    #expect(!FileManager.default.fileExists(atPath: checkpoint))
  }
}

/// A thread-safe counter.
private final class EncodeCounter: Sendable {
  private let count = Mutex(0)
  /// Adds one and returns the new count.
  func increment() -> Int {
    count.withLock {
      $0 += 1
      return $0
    }
  }
}

/// A feature model calling `onImages` before every image encode.
private final class CountingModel: FeatureModel {
  let inner: any FeatureModel
  let onImages: () -> Void
  init(_ inner: any FeatureModel, onImages: @escaping () -> Void) {
    self.inner = inner
    self.onImages = onImages
  }
  var imageSize: Int { inner.imageSize }
  var featureCount: Int { inner.featureCount }
  func encodeText(_ text: String) throws -> [Float] { try inner.encodeText(text) }
  func encodeImages(_ images: Tensor) throws -> (value: Tensor, pullback: Pullback) {
    onImages()
    return try inner.encodeImages(images)
  }
}
