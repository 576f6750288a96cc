import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

@Suite("Ctrl-C")
struct SignalTests {
  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func sigintSavesImageAndYAMLAndExits130() throws {
    let dir = try TestFiles.temporaryDirectory()
    let process = try ClipigExecutable.start([
      "render", TestFiles.examples + "/method1.yaml", "--model", TestFiles.tinyModel, "-e",
      "100000", "-r", "32",
      "-o", dir + "/", "--seed", "1", "-q",
    ])
    // Wait for the first snapshot (epoch 0), then interrupt.
    let image = dir + "/method1.png"
    #expect(TestFiles.waitForContent(image), "no snapshot")
    Thread.sleep(forTimeInterval: 0.2)
    process.send(SIGINT)
    let result = process.wait()
    #expect(result.status == 130, "\(result.err)")
    #expect(try PNG.read(path: image).shape == [3, 32, 32])
    let yaml = try String(contentsOfFile: dir + "/method1.yaml", encoding: .utf8)
    #expect(yaml.contains("# interrupted at epoch"), "\(yaml.prefix(300))")
  }
}

@Suite("clipig model")
struct ModelCommandTests {
  private func run(_ arguments: [String], cache: String) throws -> (status: Int32, output: String) {
    // HOME too: no ~/.cache/clip reuse from the machine running the tests.
    try ClipigExecutable.run(arguments, environment: ["CLIPIG_CACHE": cache, "HOME": cache])
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func listAndPathWithAnEmptyCache() throws {
    let cache = try TestFiles.temporaryDirectory()
    let list = try run(["model", "list"], cache: cache)
    #expect(list.status == 0)
    #expect(list.output.contains("ViT-B/32"), "\(list.output)")
    let path = try run(["model", "path", "ViT-B/32"], cache: cache)
    #expect(path.status != 0, "\(path.output)")
    #expect(!path.output.isEmpty)
    let unknown = try run(["model", "path", "ViT-B/33"], cache: cache)
    #expect(unknown.status != 0)
    #expect(unknown.output.contains("ViT-B/32"), "\(unknown.output)")
  }
}
