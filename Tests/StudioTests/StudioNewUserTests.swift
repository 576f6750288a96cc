import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

extension StudioSuite {
  /// Issue 24's studio papercuts, over HTTP and through the binary: every configuration error
  /// at its line, a small image centred, a taken port named with the `--port 0` way out, and
  /// Ctrl-C leaving a checkpoint that `render` continues.
  @Suite("what a new user meets")
  struct StudioNewUserTests {
    /// Four errors on lines 3, 8, 9 and 10 of one YAML: the check answers the first by line
    /// and the others after it, by line.
    @Test func everyConfigurationErrorIsListedFirstByLine() throws {
      guard Fixture.clipigBinary != nil else {
        if Fixture.isCI { Issue.record("the clipig executable is not built") }
        return
      }
      let studio = try RunningStudio()
      defer { studio.stop() }
      let yaml = """
        epochs: 3
        resolution: 16
        learnrate: abc
        targets:
          - features:
              - text: a cat
            transforms:
              - nosie: 0.1
            batch_size: -1
        bogus_key: 1

        """
      let r = try studio.call("check", ["tab": 1, "yaml": yaml])
      #expect(r.status == 200, "\(r.text)")
      let answer = try JSONSerialization.jsonObject(with: r.body) as? [String: Any]
      let error = try #require(answer?["error"] as? [String: Any], "\(r.text)")
      #expect(error["line"] as? Int == 3, "\(r.text)")
      let others = error["others"] as? [[String: Any]] ?? []
      #expect(others.compactMap { $0["line"] as? Int } == [8, 9, 10], "\(r.text)")
      #expect((others.last?["message"] as? String)?.contains("bogus_key") == true, "\(r.text)")
      // A YAML with one error has no others.
      let one = try studio.call("check", ["tab": 1, "yaml": "epochs: 0\n"])
      let single = (try JSONSerialization.jsonObject(with: one.body) as? [String: Any])?["error"]
      #expect((single as? [String: Any])?["others"] == nil, "\(one.text)")
    }

    /// The page centres the image in its viewport (a flex box whose child has auto margins,
    /// which still scrolls to every edge of an image larger than the viewport).
    @Test func theImageIsCentredInItsViewport() throws {
      guard Fixture.clipigBinary != nil else {
        if Fixture.isCI { Issue.record("the clipig executable is not built") }
        return
      }
      let studio = try RunningStudio()
      defer { studio.stop() }
      let page = try RawHTTP.request(
        port: studio.port, method: "GET", path: "/?token=\(studio.token)",
        headers: ["Host": studio.authority])
      #expect(page.status == 200)
      #expect(page.text.contains(#"<div id="viewport"><div id="tiles">"#))
      let style = try RawHTTP.request(
        port: studio.port, method: "GET", path: "/studio.css?token=\(studio.token)",
        headers: ["Host": studio.authority])
      #expect(style.status == 200)
      #expect(style.text.contains("#viewport { display: flex;"), "\(style.text.prefix(300))")
      #expect(style.text.contains("#tiles { margin: auto;"), "\(style.text.prefix(300))")
    }

    @Test func aPortInUseIsNamedWithTheWayOut() throws {
      guard Fixture.clipigBinary != nil else {
        if Fixture.isCI { Issue.record("the clipig executable is not built") }
        return
      }
      let first = try RunningStudio()
      defer { first.stop() }
      let dir = try Fixture.temporaryDirectory()
      let second = try ClipigExecutable.run(
        [
          "studio", "--port", String(first.port), "--host", "127.0.0.1", "--model",
          TestFiles.tinyModel, "-o", dir + "/",
        ], in: dir, timeout: 120)
      #expect(second.status == 1, "\(second.output)")
      #expect(second.err.hasPrefix("error: port \(first.port) on 127.0.0.1 is in use"))
      #expect(second.err.contains("--port 0 for any free port"), "\(second.err)")
    }

    /// Ctrl-C saves image, YAML and a checkpoint; rendering the saved YAML into the saved image
    /// continues at the next epoch, as after an interrupted render.
    @Test func ctrlCLeavesACheckpointThatRenderContinues() async throws {
      guard Fixture.clipigBinary != nil else {
        if Fixture.isCI { Issue.record("the clipig executable is not built") }
        return
      }
      let dir = try Fixture.temporaryDirectory()
      let yaml = dir + "/cat.yaml"
      try Fixture.experiment().write(toFile: yaml, atomically: true, encoding: .utf8)
      let out = dir + "/out"
      let studio = try RunningStudio(files: [yaml], output: out)
      let start = try studio.call("start", ["tab": 1, "yaml": Fixture.experiment()])
      #expect(start.status == 200, "\(start.text)")
      #expect(
        try await Fixture.waitFor {
          let tabs = try studio.tabs()
          return ((tabs.first?["statistics"] as? [String: Any])?["epoch"] as? Int ?? -1) >= 3
        })
      studio.process.send(SIGINT)
      let ended = studio.process.wait()
      #expect(ended.status == 130, "\(ended.err)")
      #expect(ended.err.contains("to continue: clipig render"), "\(ended.err)")
      let names = try FileManager.default.contentsOfDirectory(atPath: out).sorted()
      #expect(names == [".cat.png.checkpoint", "cat.png", "cat.yaml"], "\(names)")
      let saved = try String(contentsOfFile: out + "/cat.yaml", encoding: .utf8)
      let interrupted = try #require(
        saved.firstMatch(of: /# interrupted at epoch (\d+)/).flatMap { Int($0.1) }, "\(saved)")
      // The render of the saved YAML continues the checkpoint at that epoch (it runs on; it is
      // stopped once it said so, which writes its own checkpoint again).
      let render = try ClipigExecutable.start(
        ["render", out + "/cat.yaml", "-o", out + "/cat.png", "--model", TestFiles.tinyModel],
        mergingErrors: true)
      let said = render.waitForOutput(timeout: 300) { $0.contains("resuming") }
      render.send(SIGTERM)
      let stopped = render.wait()
      #expect(said.contains("resuming \(out)/cat.png at epoch \(interrupted)"), "\(said)")
      #expect(stopped.status == 143, "\(stopped.output)")
      #expect(
        try FileManager.default.contentsOfDirectory(atPath: out).sorted() == names,
        "no new name: the render continued the saved image")
    }
  }
}
