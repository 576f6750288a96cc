import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing
import Workflows

@Suite("clipig gallery")
struct GalleryTests {
  /// Two methods of the 2 × 3 grid rendered into dir/m1 and dir/m2; method 2 lacks one image.
  static func twoMethods() throws -> String {
    let dir = try TestFiles.temporaryDirectory("gallery")
    let grid = try Workflow.smallGrid(in: dir)
    try TestFiles.write(
      Workflow.smallTemplate.replacingOccurrences(of: ": the {{thing}}", with: "."),
      to: dir + "/second.yaml")
    var o = BatchOptions()
    o.gridFile = grid
    o.overrides.model = TestFiles.tinyModel
    o.outputDirectory = dir + "/m1"
    _ = try Batch.run(o, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    o.outputDirectory = dir + "/m2"
    o.templateFiles = [dir + "/second.yaml"]
    o.shard = try Shard(index: 1, count: 1)
    // Leave penguin-of-piano out of method 2: a user's file blocks it, then it is removed.
    try PNG.write(Tensor(shape: [3, 2, 2]), to: dir + "/m2/penguin-of-piano.png")
    _ = try Batch.run(o, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    try FileManager.default.removeItem(atPath: dir + "/m2/penguin-of-piano.png")
    _ = try Batch.writeManifests(grid: try Batch.grid(o), directory: dir + "/m2")
    return dir
  }

  @Test func pageDataThumbnailsAndLinks() throws {
    let dir = try Self.twoMethods()
    var options = GalleryOptions()
    options.directories = [dir + "/m1", dir + "/m2"]
    options.outputDirectory = dir + "/page"
    options.thumbnailSize = 8
    let summary = try Gallery.build(options, log: { _ in })
    let html = try TestFiles.read(summary.indexPath)
    #expect(html.contains("<meta name=\"generator\" content=\"clipig gallery\">"))
    #expect(!html.contains("http://") && !html.contains("https://"), "the page needs no network")
    let data = try Gallery.embeddedData(html: html)
    #expect(data == summary.data)
    #expect(data.rowVariable == "thing")
    #expect(data.columnVariables == ["animal"])
    #expect(data.rows == ["piano", "coral reef", "rubik’s cube"])
    #expect(data.columns == ["cat", "penguin"])
    #expect(data.methods.map(\.label) == ["template", "second"])
    #expect(data.cells.count == 2)
    #expect(data.cells[1][0][1] == nil, "method 2 has no penguin-of-piano")
    let cell = try #require(data.cells[0][1][1])
    #expect(cell.name == "penguin-of-coral-reef")
    #expect(cell.prompt == "a penguin made of coral reef: the coral reef")
    #expect(cell.similarity != nil && cell.seed != nil)
    #expect(cell.image == "../m1/penguin-of-coral-reef.png")
    var count = 0
    for method in data.cells {
      for row in method {
        for case let c? in row {
          count += 1
          let full = URL(fileURLWithPath: dir + "/page/" + c.image).standardizedFileURL.path
          #expect(FileManager.default.fileExists(atPath: full), "\(c.image)")
          let thumb = try PNG.read(path: dir + "/page/" + c.thumb.removingPercentEncoding!)
          #expect(thumb.shape == [3, 8, 8])
        }
      }
    }
    #expect(count == 11)

    // Again with copies: everything inside the page directory; the page is ours to rewrite.
    options.copyImages = true
    let copied = try Gallery.build(options, log: { _ in })
    let c = try #require(copied.data.cells[1][2][0])
    #expect(c.image == "images/2/cat-of-rubik-s-cube.png")
    let copiedBytes = try FileIO.readBytes(path: dir + "/page/" + c.image)
    #expect(copiedBytes == (try FileIO.readBytes(path: dir + "/m2/cat-of-rubik-s-cube.png")))

    // A page that is not ours is never overwritten.
    try TestFiles.write("<html>mine</html>", to: dir + "/other/index.html")
    options.outputDirectory = dir + "/other"
    #expect(throws: WorkflowError.self) { try Gallery.build(options, log: { _ in }) }
    #expect(try TestFiles.read(dir + "/other/index.html") == "<html>mine</html>")
  }

  @Test func thumbnailsKeepTheAspectRatio() {
    let image = Tensor(shape: [3, 48, 64]) { i in Float(i % 7) / 7 }
    #expect(Gallery.thumbnail(image, maxSide: 16).shape == [3, 12, 16])
    #expect(Gallery.thumbnail(image, maxSide: 100).shape == [3, 48, 64])
    #expect(Gallery.thumbnail(image, maxSide: 20).shape == [3, 15, 20])
    #expect(Gallery.relativePath(from: "/a/b/page", to: "/a/c/x.png") == "../../c/x.png")
  }

  static let browser = ChildProcess.find(
    "chromium", also: ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])
  static let python = ChildProcess.find("python3")

  @Test(
    .enabled(
      // With CI=true a missing browser fails (the #require below) instead of skipping.
      if: browser != nil && python != nil || ProcessInfo.processInfo.environment["CI"] == "true",
      "no headless browser: install Debian's chromium (and python3) to run the page in a browser"))
  func keyboardNavigationInHeadlessChromium() throws {
    let dir = try Self.twoMethods()
    var options = GalleryOptions()
    options.directories = [dir + "/m1", dir + "/m2"]
    options.outputDirectory = dir + "/page"
    let summary = try Gallery.build(options, log: { _ in })
    let script = Workflow.testsDirectory.appendingPathComponent(
      "Fixtures/gallery_browser_check.py"
    ).path
    let r = try ChildProcess.run(
      try #require(Self.python),
      [
        script, try #require(Self.browser), summary.indexPath, "ArrowDown", "ArrowRight", "2",
        "ArrowUp", "ArrowDown",
      ])
    #expect(r.status == 0, "\(r.err)")
    struct State: Decodable {
      var src: String?
      var method: String
      var row: String
      var col: String
      var prompt: String
      var loaded: Bool
    }
    struct Report: Decodable {
      var states: [State]
      var errors: [String]
    }
    let report = try JSONDecoder().decode(Report.self, from: Data(r.out.utf8))
    #expect(report.errors.isEmpty, "\(report.errors)")
    let s = report.states
    try #require(s.count == 6)
    #expect(
      s.map(\.src) == [
        "../m1/cat-of-piano.png", "../m1/cat-of-coral-reef.png", "../m1/penguin-of-coral-reef.png",
        "../m2/penguin-of-coral-reef.png", nil, "../m2/penguin-of-coral-reef.png",
      ])
    #expect(
      s.map { "\($0.method)\($0.row)\($0.col)" } == ["000", "010", "011", "111", "101", "111"])
    #expect(s[3].prompt == "a penguin made of coral reef.")
    #expect(s[4].prompt.hasPrefix("not rendered"))
    #expect(s.allSatisfy { $0.loaded }, "every image on the page loaded")
  }
}
