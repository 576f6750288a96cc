import Formats
import Foundation
import PipelineKit
import Testing

extension StudioSuite {
  /// `clipig studio` as users start it: the binary, its printed URL, a real signal.
  @Suite("command")
  struct StudioCommandTests {
    @Test func sigtermSavesTheRunningExperimentAndExits() async throws {
      guard Fixture.clipigBinary != nil else {
        if Fixture.isCI { Issue.record("the clipig executable is not built") }
        return
      }
      let dir = try Fixture.temporaryDirectory()
      let yaml = dir + "/cat.yaml"
      try Fixture.experiment().write(toFile: yaml, atomically: true, encoding: .utf8)
      let out = dir + "/out"
      // The printed URL names the port and the token.
      let studio = try RunningStudio(files: [yaml], output: out)
      defer { studio.stop() }
      let (port, token, host) = (studio.port, studio.token, studio.authority)
      let start = try RawHTTP.request(
        port: port, method: "POST", path: "/api/start?token=\(token)", headers: ["Host": host],
        body: try JSONSerialization.data(withJSONObject: ["tab": 1, "yaml": Fixture.experiment()]))
      #expect(start.status == 200, "\(start.text)")
      func epoch() throws -> Int {
        let r = try RawHTTP.request(
          port: port, method: "GET", path: "/api/state?token=\(token)", headers: ["Host": host])
        let tabs = (try JSONSerialization.jsonObject(with: r.body) as? [String: Any])?["tabs"]
        let st = ((tabs as? [[String: Any]])?.first?["statistics"] as? [String: Any])
        return st?["epoch"] as? Int ?? -1
      }
      #expect(try await Fixture.waitFor { try epoch() >= 3 })
      #expect(studio.stop() == 130)
      #expect(try PNG.read(path: out + "/cat.png").shape == [3, 16, 16])
      let saved = try String(contentsOfFile: out + "/cat.yaml", encoding: .utf8)
      #expect(saved.contains("# interrupted at epoch"), "\(saved.prefix(400))")
      #expect(saved.contains("seed: "))
      // Nothing else was written anywhere in the folder but the checkpoint that `render`
      // continues (StudioNewUserTests).
      #expect(
        try FileManager.default.contentsOfDirectory(atPath: out).sorted() == [
          ".cat.png.checkpoint", "cat.png", "cat.yaml",
        ])
    }
  }
}
