import Foundation
import TestSupport
import Testing

/// `Examples/CustomTransform`, a library user's own executable, really renders: its custom
/// stage passes the harness and a few epochs with the tiny test model write an image.
@Suite("The CustomTransform example")
struct CustomTransformExampleTests {
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func itRendersWithItsOwnStage() throws {
    let clipig = try ClipigExecutable.require()
    let example = (clipig as NSString).deletingLastPathComponent + "/CustomTransform"
    guard FileManager.default.isExecutableFile(atPath: example) else {
      Issue.record("the CustomTransform example is not built beside \(clipig)")
      return
    }
    let run = try CLI.run(example, [])
    #expect(run.status == 0, "\(run.all)")
    #expect(run.out.contains("vignette: gradient harness passed"))
    let line = try #require(run.out.split(separator: "\n").last { $0.hasPrefix("finished: ") })
    let image = String(line.dropFirst("finished: ".count).split(separator: " ").first ?? "")
    #expect(FileManager.default.fileExists(atPath: image), "\(image)")
    try? FileManager.default.removeItem(atPath: (image as NSString).deletingLastPathComponent)
  }
}
