import Foundation
import TestSupport
import Testing

/// `Examples/CustomTransform`, a library user's own executable, really renders: its custom
/// stage passes the harness, a few epochs with the tiny test model write an image, and Ctrl-C
/// stops a long render keeping its image and sidecar.
@Suite("The CustomTransform example")
struct CustomTransformExampleTests {
  /// The example's executable is missing.
  struct NotBuilt: Error, CustomStringConvertible {
    /// Where it was looked for.
    var path: String
    var description: String { "\(path) is not built (swift build -c release builds it)" }
  }

  /// The example's executable, built beside clipig; fails (never skips) when missing.
  func example() throws -> String {
    let clipig = try ClipigExecutable.require()
    let example = (clipig as NSString).deletingLastPathComponent + "/CustomTransform"
    guard FileManager.default.isExecutableFile(atPath: example) else {
      throw NotBuilt(path: example)
    }
    return example
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func itRendersWithItsOwnStage() throws {
    let run = try ChildProcess.run(try example(), [])
    #expect(run.status == 0, "\(run.output)")
    #expect(run.out.contains("vignette: gradient harness passed"))
    let line = try #require(run.out.split(separator: "\n").last { $0.hasPrefix("finished: ") })
    let image = String(line.dropFirst("finished: ".count).split(separator: " ").first ?? "")
    #expect(FileManager.default.fileExists(atPath: image), "\(image)")
    let sidecar = (image as NSString).deletingPathExtension + ".yaml"
    let text = (try? TestFiles.read(sidecar)) ?? ""
    #expect(text.contains("vignette: 0.8 * ti"), "\(text)")
    try? FileManager.default.removeItem(atPath: (image as NSString).deletingLastPathComponent)
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func ctrlCKeepsTheImageAndItsYAML() throws {
    let child = try ChildProcess(try example(), ["1000000"], mergingErrors: true)
    // Two progress lines: epochs were trained (progress is printed every few seconds).
    func trained(_ text: String) -> Bool { text.components(separatedBy: "/1000000 ").count > 2 }
    let before = child.waitForOutput(until: trained)
    #expect(trained(before), "\(before)")
    child.send(SIGINT)
    let run = child.wait()
    #expect(run.exited && run.status == 130, "\(run.status) \(run.out)")
    let line = try #require(
      run.out.split(separator: "\n").first { $0.hasPrefix("interrupted: saved ") }, "\(run.out)")
    let image = String(line.dropFirst("interrupted: saved ".count).split(separator: " ")[0])
    #expect(FileManager.default.fileExists(atPath: image), "\(image)")
    let sidecar = (image as NSString).deletingPathExtension + ".yaml"
    #expect(FileManager.default.fileExists(atPath: sidecar), "\(sidecar)")
    try? FileManager.default.removeItem(atPath: (image as NSString).deletingLastPathComponent)
  }
}
