import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing
import Workflows

@Suite("clipig batch on the tiny CLIP")
struct BatchTests {
  static func options(grid: String, output: String) -> BatchOptions {
    Workflow.batchOptions(grid: grid, output: output)
  }

  @Test func twoByThreeGridRendersEveryCombinationOnceAndWritesManifests() throws {
    let dir = try TestFiles.temporaryDirectory("batch-grid")
    let out = dir + "/out"
    var options = Self.options(grid: try Workflow.smallGrid(in: dir), output: out)
    options.jobs = 2
    // A user's file under one of the output names is skipped and kept as it is.
    try FileManager.default.createDirectory(atPath: out, withIntermediateDirectories: true)
    try PNG.write(Tensor(shape: [3, 4, 4], repeating: 0.25), to: out + "/cat-of-piano.png")
    let userBytes = try FileIO.readBytes(path: out + "/cat-of-piano.png")
    let log = LogRecorder()
    let summary = try Batch.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: log.log)
    #expect(summary.outcome == .finished)
    #expect(summary.skipped == 1)
    #expect(Set(summary.rendered) == Set(Workflow.smallGridNames.dropFirst()))
    #expect(try FileIO.readBytes(path: out + "/cat-of-piano.png") == userBytes)
    #expect(!FileManager.default.fileExists(atPath: out + "/cat-of-piano.yaml"))

    let m = try Manifest.read(directory: out)
    #expect(m.total == 6 && m.done == 6 && m.missing.isEmpty)
    #expect(m.items.map(\.name) == Workflow.smallGridNames)
    #expect(m.label == "template")
    #expect(m.key == ["animal", "thing"])
    for item in m.items.dropFirst() {
      let image = try PNG.read(path: out + "/" + item.image)
      #expect(image.shape == [3, 16, 16])
      let s = try #require(item.similarity)
      #expect(s.isFinite && abs(s) <= 100)
      #expect(item.epochs == 3)
      #expect((item.seconds ?? -1) >= 0)
      let thing = try #require(item.variables["thing"])
      #expect(
        item.prompts == ["a \(item.variables["animal"] ?? "") made of \(thing): the \(thing)"])
      // The sidecar reproduces the render: it is a valid configuration with the seed.
      let sidecar = try YAML.load(path: out + "/" + item.name + ".yaml")
      let e = try Experiment(sidecar)
      #expect(e.seed == item.seed)
      #expect(e.targets[0].features[0].text == item.prompts[0])
    }
    // The user's image is listed without numbers.
    #expect(m.items[0].similarity == nil && m.items[0].seed == nil)

    let csv = try TestFiles.read(out + "/manifest.csv").split(separator: "\n")
    #expect(csv.count == 7)
    #expect(
      csv[0] == "name,prompt,seed,similarity,seconds,epochs,image,var:animal,var:thing")
    #expect(csv[2].hasPrefix("cat-of-coral-reef,a cat made of coral reef: the coral reef,"))
    #expect(csv[3].hasSuffix(",cat-of-rubik-s-cube.png,cat,rubik’s cube"))

    // Run again: nothing to do, nothing changed.
    let before = try FileIO.readBytes(path: out + "/penguin-of-piano.png")
    let again = try Batch.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    #expect(again.rendered.isEmpty && again.skipped == 6)
    #expect(try FileIO.readBytes(path: out + "/penguin-of-piano.png") == before)
  }

  @Test func anInterruptedBatchLeavesNoHalfImageAndResumes() throws {
    let dir = try TestFiles.temporaryDirectory("batch-resume")
    let out = dir + "/out"
    let options = Self.options(grid: try Workflow.smallGrid(in: dir), output: out)
    let flag = InterruptFlag()
    // Stop after the first finished image.
    let summary = try Batch.run(
      options, models: Workflow.models, interrupt: flag,
      log: { text in if text.contains("  sim ") { flag.set() } })
    #expect(summary.outcome == .interrupted)
    #expect(summary.rendered == ["cat-of-piano"])
    let files = try FileManager.default.contentsOfDirectory(atPath: out).filter {
      $0.hasSuffix(".png")
    }
    #expect(files == ["cat-of-piano.png"])
    let m = try Manifest.read(directory: out)
    #expect(m.done == 1 && m.missing.count == 5)

    let resumed = try Batch.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    #expect(resumed.outcome == .finished)
    #expect(resumed.skipped == 1 && resumed.rendered.count == 5)
    #expect(try Manifest.read(directory: out).done == 6)
  }

  @Test func aForeignManifestIsNeverOverwritten() throws {
    let dir = try TestFiles.temporaryDirectory("batch-foreign")
    let out = dir + "/out"
    try TestFiles.write("mine\n", to: out + "/manifest.csv")
    let options = Self.options(grid: try Workflow.smallGrid(in: dir), output: out)
    #expect(throws: WorkflowError.self) {
      try Batch.run(options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    }
    #expect(try TestFiles.read(out + "/manifest.csv") == "mine\n")
  }

  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func threeShardsAsSeparateProcessesRenderTheGridOnceTogether() throws {
    let dir = try TestFiles.temporaryDirectory("batch-shards")
    let grid = try Workflow.smallGrid(in: dir)
    let out = dir + "/out"
    // The slices as listed are disjoint and complete.
    var listed: [String] = []
    for i in 1...3 {
      let r = try ClipigExecutable.run(
        ["batch", grid, "-o", out, "--shard", "\(i)/3", "--list"], in: nil)
      #expect(r.status == 0, "\(r.err)")
      listed += r.out.split(separator: "\n").map { String($0.split(separator: "\t")[0]) }
    }
    #expect(listed.sorted() == Workflow.smallGridNames.sorted())

    // Three processes at once into one directory.
    let processes = try (1...3).map { i in
      try ClipigExecutable.start(
        ["batch", grid, "-o", out, "--shard", "\(i)/3", "--model", TestFiles.tinyModel])
    }
    var rendered: [String] = []
    for p in processes {
      let r = p.wait()
      #expect(r.status == 0, "\(r.err)")
      // Lines "name  sim 12.34  0.1 s  (k/n)" name what each process rendered.
      rendered += r.err.split(separator: "\n").compactMap { line in
        line.contains("  sim ") ? String(line.split(separator: " ")[0]) : nil
      }
    }
    #expect(rendered.count == 6, "\(rendered)")
    #expect(rendered.sorted() == Workflow.smallGridNames.sorted())
    let m = try Manifest.read(directory: out)
    #expect(m.done == 6 && m.missing.isEmpty)
    #expect(m.items.allSatisfy { $0.similarity != nil })
    let pngs = try FileManager.default.contentsOfDirectory(atPath: out).filter {
      $0.hasSuffix(".png")
    }
    #expect(pngs.sorted() == Workflow.smallGridNames.map { $0 + ".png" }.sorted())
  }
}
