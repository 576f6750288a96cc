import Formats
import Foundation
import TestSupport
import Testing

/// One YAML — with a constant expression that draws a random number when the experiment is
/// decoded, and `seed: 5` — renders to the same pixels and the same sidecar configuration
/// through every command that runs experiments: `render`, a `batch` item, a `rank` run and the
/// studio's Save (over HTTP). Each command builds one `RunPlan` (the seed rule, the decoding
/// with the seed's load stream) and trains in the one `RunLoop`, so any drift between them
/// shows here. Every sidecar rendered again gives its image back, bit for bit.
extension StudioSuite {
  @Suite("One run through every command")
  struct OneRunEverywhereTests {
    static let yaml = """
      epochs: 4
      resolution: 16
      seed: 5
      snapshot_interval: 0.0
      init: {std: 0.05+0.25*random()}
      targets:
        - batch_size: 2
          features:
            - text: a cat made of salami
          transforms:
            - random_shift: -2 2
            - noise: 0.1*(1-t)
      """

    /// The sidecar without its comment header and without `output:` (which names each
    /// command's own file).
    static func configuration(_ sidecar: String) throws -> String {
      String(decoding: try FileIO.readBytes(path: sidecar), as: UTF8.self).split(
        separator: "\n", omittingEmptySubsequences: false
      )
      .filter { !$0.hasPrefix("#") && !$0.hasPrefix("output:") }.joined(separator: "\n")
    }

    static func clipig(_ arguments: [String]) throws {
      let (status, output) = try ClipigExecutable.run(arguments)
      #expect(status == 0, "clipig \(arguments.joined(separator: " ")): \(output)")
    }

    @Test func renderBatchRankAndStudioMakeTheSameImage() async throws {
      guard try ClipigExecutable.found() != nil else { return }
      let dir = try Fixture.temporaryDirectory()
      let model = TestFiles.tinyModel
      try Self.yaml.write(toFile: dir + "/exp.yaml", atomically: true, encoding: .utf8)

      try Self.clipig(["render", dir + "/exp.yaml", "-o", dir + "/render/", "-m", model, "-q"])
      let grid = "template: exp.yaml\nname: \"item-{{v}}\"\nvariables:\n  v: [one]\n"
      try grid.write(toFile: dir + "/grid.yaml", atomically: true, encoding: .utf8)
      try Self.clipig(["batch", dir + "/grid.yaml", "-o", dir + "/batch", "-m", model, "-q"])
      // Run n of a ranking has seed BASE+n: base 4 gives run 1 the YAML's seed 5.
      try Self.clipig([
        "rank", dir + "/exp.yaml", "--runs", "1", "--epochs", "4", "--keep", "0", "--continue",
        "0", "--seed", "4", "-o", dir + "/rank", "-m", model, "-q",
      ])
      let studio = try RunningStudio()
      defer { studio.stop() }
      #expect(try studio.call("start", ["tab": 1, "yaml": Self.yaml]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(1) == "finished" })
      let saved = try studio.call("save", ["tab": 1])
      #expect(saved.status == 200, "\(saved.text)")
      let studioImage = try #require(saved.json["image"] as? String)

      let images = [
        "render": dir + "/render/exp.png", "batch": dir + "/batch/item-one.png",
        "rank": dir + "/rank/short/run-0001.png", "studio": studioImage,
      ]
      let reference = try FileIO.readBytes(path: images["render"]!)
      let referenceConfig = try Self.configuration(dir + "/render/exp.yaml")
      #expect(referenceConfig.contains("seed: 5"), "\(referenceConfig)")
      for (command, image) in images.sorted(by: { $0.key < $1.key }) {
        #expect(try FileIO.readBytes(path: image) == reference, "\(command)'s pixels")
        let sidecar = OutputNamingPaths.sidecar(image)
        #expect(try Self.configuration(sidecar) == referenceConfig, "\(command)'s sidecar")
        // The sidecar renders the image again.
        let again = dir + "/again-\(command)/"
        try Self.clipig(["render", sidecar, "-o", again, "-q"])
        let name = (sidecar as NSString).lastPathComponent
        let rendered = again + (name as NSString).deletingPathExtension + ".png"
        #expect(try FileIO.readBytes(path: rendered) == reference, "\(command)'s sidecar again")
      }
    }
  }
}

/// The YAML sidecar of an image (its extension replaced by `.yaml`), as the tests see it.
enum OutputNamingPaths {
  static func sidecar(_ image: String) -> String {
    (image as NSString).deletingPathExtension + ".yaml"
  }
}
