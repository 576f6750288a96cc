import Foundation
import TestSupport
import Testing

extension StudioSuite {
  /// The studio page in a real browser: headless Chromium types, clicks and watches.
  @Suite("in a browser")
  struct StudioBrowserTests {
    static let browser = ChildProcess.find(
      "chromium",
      also: ["/usr/bin/chromium", "/usr/bin/chromium-browser", "/usr/bin/google-chrome"])
    static let python = ChildProcess.find("python3")

    @Test func typeStartUpdateStopInHeadlessChromium() async throws {
      guard let browser = Self.browser, let python = Self.python else {
        // In CI the browser is part of the job (scripts/bootstrap installs it): missing is a failure.
        if Fixture.isCI { Issue.record("no headless browser (chromium) or python3 in CI") }
        return
      }
      let studio = try RunningStudio()
      defer { studio.stop() }
      let dir = try Fixture.temporaryDirectory()
      let plan: [String: String] = [
        "bad": "epochs: 100000\nresolution: 16\noptimizer: adamm\n",
        "good": Fixture.experiment(),
        "edited": Fixture.experiment(learnrate: "0.5"),
      ]
      let planPath = dir + "/plan.json"
      try JSONSerialization.data(withJSONObject: plan).write(to: URL(fileURLWithPath: planPath))
      let url = "http://127.0.0.1:\(studio.port)/?token=\(studio.token)"
      var arguments = [
        Fixture.testsDirectory.appendingPathComponent("Fixtures/studio_browser_check.py").path,
        browser, url, planPath,
      ]
      if let shot = ProcessInfo.processInfo.environment["CLIPIG_STUDIO_SCREENSHOT"] {
        arguments.append(shot)
      }
      let result = try ChildProcess.run(python, arguments)
      let data = Data(result.out.utf8)
      let report = try #require(
        try JSONSerialization.jsonObject(with: data) as? [String: Any],
        "\(String(decoding: data, as: UTF8.self))")
      #expect(result.status == 0, "\(report) \(result.err)")
      #expect((report["errors"] as? [String])?.isEmpty == true, "\(report["errors"] ?? "")")
      let steps = try #require(report["steps"] as? [String: [String: Any]])
      // The bad YAML is marked at its line and column before anything starts.
      let bad = try #require(steps["bad"])
      #expect(bad["errorLine"] as? String == "3")
      #expect(bad["gutterError"] as? String == "3")
      #expect(
        (bad["error"] as? String)?.hasPrefix("line 3, column 12: experiment.yaml:3:12:") == true)
      #expect(bad["status"] as? String == "idle")
      // Start: snapshots arrive and the image changes; the seed and parameters show.
      let started = try #require(steps["started"])
      #expect(started["imageWidth"] as? Int == 16)
      #expect((started["seed"] as? String).flatMap(UInt64.init) != nil)
      let later = try #require(steps["later"])
      #expect(later["status"] as? String == "running")
      #expect((later["parameters"] as? Int ?? 0) >= 1)
      // Update applied mid-run, then Stop.
      #expect((steps["updated"]?["log"] as? String)?.contains("updated at epoch") == true)
      #expect(steps["stopped"]?["status"] as? String == "stopped")
      #expect(try studio.status(1) == "stopped")
    }
  }
}
