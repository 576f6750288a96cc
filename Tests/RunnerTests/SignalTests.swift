import Foundation
import PipelineKit
import Runner
import Testing

/// The built `clipig` executable next to this test run, if there is one.
private let clipigBinary: String? = {
  let candidates = ["release", "debug"].map {
    Repository.root.appendingPathComponent(".build/\($0)/clipig").path
  }
  let existing = candidates.filter { FileManager.default.isExecutableFile(atPath: $0) }
  func modified(_ p: String) -> Date {
    ((try? FileManager.default.attributesOfItem(atPath: p))?[.modificationDate] as? Date)
      ?? .distantPast
  }
  return existing.max { modified($0) < modified($1) }
}()

@Suite("Ctrl-C")
struct SignalTests {
  @Test(.enabled(if: clipigBinary != nil, "the clipig executable is not built"))
  func sigintSavesImageAndYAMLAndExits130() throws {
    let dir = try Repository.temporaryDirectory()
    let process = Process()
    process.executableURL = URL(fileURLWithPath: clipigBinary!)
    process.arguments = [
      "render", Repository.examples + "/method1.yaml", "--model", Repository.tinyModel, "-e",
      "100000", "-r", "32",
      "-o", dir + "/", "--seed", "1", "-q",
    ]
    try process.run()
    // Wait for the first snapshot (epoch 0), then interrupt.
    let image = dir + "/method1.png"
    let deadline = Date().addingTimeInterval(60)
    while Date() < deadline
      && ((try? FileManager.default.attributesOfItem(atPath: image))?[.size] as? Int ?? 0) == 0
    {
      Thread.sleep(forTimeInterval: 0.05)
    }
    Thread.sleep(forTimeInterval: 0.2)
    kill(process.processIdentifier, SIGINT)
    process.waitUntilExit()
    #expect(process.terminationStatus == 130)
    #expect(try PNG.read(path: image).shape == [3, 32, 32])
    let yaml = try String(contentsOfFile: dir + "/method1.yaml", encoding: .utf8)
    #expect(yaml.contains("# interrupted at epoch"), "\(yaml.prefix(300))")
  }
}
