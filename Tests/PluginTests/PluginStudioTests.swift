import Foundation
import TestSupport
import Testing

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif

/// `clipig studio --plugin PATH` through the release binary, driven over real HTTP on loopback
/// with its token as the page drives it: it trains a YAML using the plugin's transform and
/// constraint and saves it with the plugin recorded, while a YAML sent from the page that names
/// another plugin is refused and builds nothing (issue 22: a YAML typed into the browser cannot
/// load new code). In `PluginCLITests`' serialized suite: it uses the scaffold built there.
extension PluginCLITests {
  /// The studio started by a test; its URL and token read from its first line.
  struct Studio {
    let process: ChildProcess
    let port: Int
    let token: String

    /// An answer: the status and the JSON body.
    struct Reply {
      var status: Int
      var text: String
      var json: [String: Any] {
        (try? JSONSerialization.jsonObject(with: Data(text.utf8))) as? [String: Any] ?? [:]
      }
    }

    /// `POST /api/ACTION` with a JSON body, the token, and the page's Origin.
    func call(_ action: String, _ body: [String: Any]) async throws -> Reply {
      var request = URLRequest(
        url: URL(string: "http://127.0.0.1:\(port)/api/\(action)?token=\(token)")!)
      request.httpMethod = "POST"
      request.setValue("http://127.0.0.1:\(port)", forHTTPHeaderField: "Origin")
      request.setValue("application/json", forHTTPHeaderField: "Content-Type")
      request.httpBody = try JSONSerialization.data(withJSONObject: body)
      return try await send(request)
    }

    /// The state of the tab `id` (`GET /api/state`).
    func tab(_ id: Int) async throws -> [String: Any] {
      let request = URLRequest(
        url: URL(string: "http://127.0.0.1:\(port)/api/state?token=\(token)")!)
      let tabs = try await send(request).json["tabs"] as? [[String: Any]]
      return tabs?.first { $0["id"] as? Int == id } ?? [:]
    }

    func send(_ request: URLRequest) async throws -> Reply {
      let (data, response) = try await URLSession.shared.data(for: request)
      return Reply(
        status: (response as? HTTPURLResponse)?.statusCode ?? 0,
        text: String(decoding: data, as: UTF8.self))
    }
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func theStudioTrainsWithThePluginAndAPageCannotLoadAnother() async throws {
    _ = try ready()
    let dir = try TestFiles.temporaryDirectory("plugin-studio")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    // Another plugin package, real but never built: a page naming it must neither build nor
    // load it.
    let other = dir + "/other"
    let made = try Self.clipig(["plugin", "new", "other", other])
    #expect(made.status == 0, "\(made.output)")
    let long = Self.experiment.replacingOccurrences(of: "epochs: 3", with: "epochs: 100000")
    try #require(long != Self.experiment)
    try TestFiles.write(long, to: dir + "/exp.yaml")
    // A second file naming the plugin itself, by a path relative to the file: the studio
    // loads it at start-up, and the tab's YAML may be sent back as it is.
    let parent = (Self.scaffold as NSString).deletingLastPathComponent
    let relative =
      (parent as NSString).deletingLastPathComponent == (dir as NSString).deletingLastPathComponent
      ? "../" + (parent as NSString).lastPathComponent + "/demo" : Self.scaffold
    let named = "plugins: [\(relative)]\n" + long
    try TestFiles.write(named, to: dir + "/named.yaml")

    let process = try ClipigExecutable.start(
      [
        "studio", dir + "/exp.yaml", dir + "/named.yaml", "--plugin", Self.scaffold, "--port",
        "0", "--host",
        "127.0.0.1", "--model", TestFiles.tinyModel, "-o", dir + "/out/",
      ], environment: Self.environment)
    let first = process.waitForOutput { $0.contains("\n") }
    guard let match = first.firstMatch(of: /http:\/\/[^\/]+:(\d+)\/\?token=([0-9a-f]{64})/),
      let port = Int(match.1)
    else {
      process.send(SIGKILL)
      Issue.record("no URL printed: \(first) \(process.wait().err)")
      return
    }
    let studio = Studio(process: process, port: port, token: String(match.2))
    var stopped = false
    defer { if !stopped { process.send(SIGKILL) } }

    // A page naming a plugin the studio did not load: refused by Check and by Start with a
    // sentence, at its line; nothing built, nothing run.
    let foreign = "plugins: [other]\n" + long
    let check = try await studio.call("check", ["tab": 1, "yaml": foreign])
    #expect(check.status == 200, "\(check.text)")
    #expect(check.json["ok"] as? Bool == false, "\(check.text)")
    let error = check.json["error"] as? [String: Any] ?? [:]
    let message = error["message"] as? String ?? ""
    #expect(message.contains("plugin other is not loaded in this studio"), "\(check.text)")
    #expect(message.contains("a YAML sent from the page cannot load new code"), "\(message)")
    #expect(message.contains("'demo' (\(Self.scaffold))"), "\(message)")
    #expect(error["line"] as? Int == 1, "\(check.text)")
    let start = try await studio.call("start", ["tab": 1, "yaml": foreign])
    #expect(start.status == 422, "\(start.text)")
    #expect(start.text.contains("cannot load new code"), "\(start.text)")
    #expect(!FileManager.default.fileExists(atPath: other + "/.build"))
    #expect(
      !FileManager.default.fileExists(
        atPath: Self.buildDirectory + "/clipig-plugin-stamps/clipig-other"))
    let refused = try await studio.tab(1)
    #expect(refused["status"] as? String != "running", "\(refused)")

    // The experiment using the plugin's transform and constraint trains and is saved with the
    // plugin recorded.
    let started = try await studio.call("start", ["tab": 1, "yaml": long])
    #expect(started.status == 200, "\(started.text)")
    let deadline = Date().addingTimeInterval(600)
    var epoch = -1
    var tab: [String: Any] = [:]
    while epoch < 3 && Date() < deadline {
      tab = try await studio.tab(1)
      epoch = (tab["statistics"] as? [String: Any])?["epoch"] as? Int ?? -1
      try await Task.sleep(for: .milliseconds(100))
    }
    #expect(epoch >= 3, "the tab did not train: \(tab)")
    let saved = try await studio.call("save", ["tab": 1])
    #expect(saved.status == 200, "\(saved.text)")
    let sidecarPath = try #require(saved.json["yaml"] as? String, "\(saved.text)")
    let sidecar = try TestFiles.read(sidecarPath)
    #expect(sidecar.contains("path: " + Self.scaffold), "\(sidecar)")
    #expect(sidecar.contains("vignette: 0.8 * (1 - t)"), "\(sidecar)")
    #expect(sidecar.contains("warmth:"), "\(sidecar)")
    // That sidecar names the loaded plugin (absolute path and hash): the page may send it.
    let again = try await studio.call("check", ["tab": 1, "yaml": sidecar])
    #expect(again.json["ok"] as? Bool == true, "\(again.text)")
    let second = try await studio.tab(2)
    #expect(second["yaml"] as? String == named, "\(second)")
    let own = try await studio.call("check", ["tab": 2, "yaml": named])
    #expect(own.json["ok"] as? Bool == true, "\(own.text)")

    process.send(SIGTERM)
    let end = process.wait()
    stopped = true
    #expect(end.exited && end.status == 130, "\(end.status) \(end.err)")
  }
}
