import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

extension StudioSuite {
  /// The studio driven over real HTTP and WebSocket connections on loopback, with the tiny CLIP.
  @Suite("server")
  struct StudioServerTests {
    func socketURL(_ studio: RunningStudio) -> String {
      "ws://\(studio.authority)/ws?token=\(studio.token)"
    }

    func origin(_ studio: RunningStudio) -> [String: String] {
      ["Origin": "http://\(studio.authority)"]
    }

    @Test func startSnapshotsUpdateStopAndSave() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let first = PushRecorder(url: socketURL(studio), headers: origin(studio))
      #expect(await Fixture.waitFor(30) { !first.of("tabs").isEmpty }, "\(first.error ?? "")")
      let tab =
        try #require(first.of("tabs").first?["tabs"] as? [[String: Any]]).first?["id"] as? Int
      let id = try #require(tab)

      let start = try studio.call("start", ["tab": id, "yaml": Fixture.experiment()])
      #expect(start.status == 200, "\(start.text)")
      #expect(await Fixture.waitFor { first.of("snapshot", tab: id).count >= 2 })
      let snapshot = try #require(first.of("snapshot", tab: id).last?["image"] as? String)
      #expect(snapshot.hasPrefix("data:image/png;base64,"))
      let png = try #require(Data(base64Encoded: String(snapshot.dropFirst(22))))
      #expect(try PNG.decode(Array(png), name: "snapshot").shape == [3, 16, 16])

      func lastEpoch(_ r: PushRecorder) -> Int {
        r.of("progress", tab: id).compactMap {
          ($0["statistics"] as? [String: Any])?["epoch"] as? Int
        }
        .max() ?? -1
      }
      // A dropped page does not stop the run; a new page gets the whole state.
      first.drop()
      let before = lastEpoch(first)
      let second = PushRecorder(url: socketURL(studio), headers: origin(studio))
      #expect(await Fixture.waitFor { lastEpoch(second) > before + 3 })
      #expect(try studio.status(id) == "running")
      let history = (second.of("tabs").first?["tabs"] as? [[String: Any]])?.first?["history"]
      #expect(((history as? [Any])?.count ?? 0) > before, "the new page gets the plot history")
      let parameters = second.of("progress", tab: id).last?["parameters"] as? [[String: Any]]
      #expect(
        parameters?.contains { $0["path"] as? String == "targets[0].transforms[0].noise" } == true)

      // Update mid-run: applied at the next epoch, continuing from there (no restart at 0).
      let edited = Fixture.experiment(learnrate: "0.5")
      let update = try studio.call("update", ["tab": id, "yaml": edited])
      #expect(update.status == 200, "\(update.text)")
      #expect(
        await Fixture.waitFor {
          second.of("log", tab: id).contains {
            ($0["text"] as? String)?.hasPrefix("updated at epoch") == true
          }
        })
      let line = try #require(
        second.of("log", tab: id).compactMap { $0["text"] as? String }.first {
          $0.hasPrefix("updated at epoch")
        })
      // The log counts epochs from 1; `startEpoch` is the epoch index the Update applied at.
      let at = try #require(Int(line.split(separator: " ").last ?? "")) - 1
      #expect(at > 0)
      #expect(
        await Fixture.waitFor {
          second.of("progress", tab: id).contains {
            ($0["statistics"] as? [String: Any])?["startEpoch"] as? Int == at
          }
        })
      let afterUpdate = second.of("progress", tab: id).first {
        ($0["statistics"] as? [String: Any])?["startEpoch"] as? Int == at
      }
      let firstPoint = (afterUpdate?["points"] as? [[String: Any]])?.first?["epoch"] as? Int
      #expect(firstPoint == at, "the first epoch after Update is the epoch it was applied at")
      let lr = (afterUpdate?["statistics"] as? [String: Any])?["learningRate"] as? Double
      let lrBefore = second.of("progress", tab: id).compactMap {
        ($0["statistics"] as? [String: Any]).flatMap { s in
          (s["startEpoch"] as? Int) == 0 ? s["learningRate"] as? Double : nil
        }
      }.last
      if let lr, let lrBefore { #expect(abs(lr / lrBefore - 0.25) < 1e-9, "learnrate 2 → 0.5") }

      // Stop, then Save twice: two image + YAML pairs, none overwritten.
      #expect(try studio.call("stop", ["tab": id]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(id) == "stopped" })
      let save1 = try studio.call("save", ["tab": id])
      let save2 = try studio.call("save", ["tab": id])
      #expect(save1.status == 200 && save2.status == 200, "\(save1.text) \(save2.text)")
      let image1 = try #require(save1.json["image"] as? String)
      let image2 = try #require(save2.json["image"] as? String)
      #expect(image1 != image2)
      #expect(image1 == studio.output + "/experiment.png")
      #expect(image2 == studio.output + "/experiment-1.png")
      for image in [image1, image2] {
        #expect(try PNG.read(path: image).shape == [3, 16, 16])
        let yaml = try String(
          contentsOfFile: (image as NSString).deletingPathExtension + ".yaml", encoding: .utf8)
        let seed = try #require(
          (second.of("tab", tab: id).last?["summary"] as? [String: Any])?["seed"] as? String)
        #expect(yaml.contains("seed: \(seed)"), "\(yaml)")
        #expect(yaml.contains("learnrate: 0.5"), "\(yaml)")
        #expect(yaml.contains("updated at epoch \(at + 1)"), "\(yaml)")
      }
      // The views CLIP sees: one per batch entry of the target (batch_size 2).
      let views = try studio.call("views", ["tab": id])
      #expect(views.status == 200, "\(views.text.prefix(300))")
      let urls = views.json["views"] as? [String] ?? []
      #expect(urls.count == 2)
      #expect(urls.allSatisfy { $0.hasPrefix("data:image/png;base64,") })
      // Update after Stop continues from the stopped image.
      let resumed = try studio.call("update", ["tab": id, "yaml": edited])
      #expect(resumed.status == 200, "\(resumed.text)")
      #expect(try await Fixture.waitFor { try studio.status(id) == "running" })
      #expect(try studio.call("stop", ["tab": id]).status == 200)
      second.drop()
    }

    @Test func configurationErrorsCarryLineAndColumnAndStartNothing() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let bad = "epochs: 10\nresolution: 16\noptimizer: adamm\n"
      let check = try studio.call("check", ["tab": 1, "yaml": bad])
      #expect(check.status == 200)
      #expect(check.json["ok"] as? Bool == false)
      let error = try #require(check.json["error"] as? [String: Any])
      #expect(error["line"] as? Int == 3)
      #expect(error["column"] as? Int == 12)
      #expect(
        (error["message"] as? String)?.hasPrefix("experiment.yaml:3:12: error:") == true, "\(error)"
      )
      #expect((error["message"] as? String)?.contains("adamm") == true)

      let start = try studio.call(
        "start", ["tab": 1, "yaml": "epochs: 10\ntargets:\n  - batch_size: [1\n"])
      #expect(start.status == 422)
      let parse = try #require(start.json["error"] as? [String: Any])
      #expect(parse["line"] as? Int != nil && parse["column"] as? Int != nil, "\(parse)")
      #expect(try studio.status(1) == "idle")

      let huge = String(repeating: "# padding\n", count: 30_000)
      let big = try studio.call("check", ["tab": 1, "yaml": huge])
      #expect(
        (big.json["error"] as? [String: Any])?["message"] as? String
          == "experiment.yaml:1:1: error: the YAML is 300000 bytes; the studio accepts at most 262144"
      )
    }

    @Test func runTimeErrorShowsAndTheServerKeepsServing() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let recorder = PushRecorder(url: socketURL(studio), headers: origin(studio))
      #expect(await Fixture.waitFor(30) { !recorder.of("tabs").isEmpty }, "\(recorder.error ?? "")")
      let yaml = Fixture.experiment().replacingOccurrences(
        of: "learnrate: 2", with: "learnrate: 1/(3-epoch)")
      #expect(try studio.call("start", ["tab": 1, "yaml": yaml]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(1) == "failed" })
      // The error is pushed with the status change.
      #expect(
        await Fixture.waitFor(10) {
          !recorder.of("error", tab: 1).compactMap { $0["error"] as? [String: Any] }.isEmpty
        })
      let error = recorder.of("error", tab: 1).compactMap { $0["error"] as? [String: Any] }.last
      #expect(
        (error?["message"] as? String)?.contains("division by zero") == true,
        "\(String(describing: error))")
      #expect(error?["line"] as? Int == 3)
      // Still serving: the same tab starts again.
      #expect(
        try studio.call("start", ["tab": 1, "yaml": Fixture.experiment(epochs: 5)]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(1) == "finished" })
      recorder.drop()
    }

    /// A masked target's mask comes with the views: the expression `x >= 0.5` is black on the
    /// left half and white on the right, at the image's 16 × 16.
    @Test func viewsShowATargetsMask() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let yaml = Fixture.experiment(epochs: 3).replacingOccurrences(
        of: "    batch_size: 2\n", with: "    batch_size: 2\n    mask: x >= 0.5\n")
      #expect(yaml.contains("mask: x >= 0.5"))
      #expect(try studio.call("start", ["tab": 1, "yaml": yaml]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(1) == "finished" })
      let views = try studio.call("views", ["tab": 1])
      #expect(views.status == 200, "\(views.text.prefix(300))")
      let masks = try #require(views.json["masks"] as? [[String: Any]])
      #expect(masks.count == 1)
      #expect(masks.first?["target"] as? String == "cat")
      let url = try #require(masks.first?["image"] as? String)
      let png = try #require(Data(base64Encoded: String(url.dropFirst(22))))
      let mask = try PNG.decode(Array(png), name: "mask")
      #expect(mask.shape == [3, 16, 16])
      for y in 0..<16 {
        for x in 0..<16 {
          // Pixel centres (x + 0.5) / 16 ≥ 0.5 from column 8 on.
          #expect(mask.scalars[y * 16 + x] == (x >= 8 ? 1 : 0), "pixel \(x),\(y)")
        }
      }
    }

    /// Save writes the format the output name says, as render does; Start refuses a name no
    /// format has and a size the format cannot hold, before any work.
    @Test func saveWritesTheFormatOfTheOutputName() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let webp = Fixture.experiment(epochs: 5) + "\noutput: cat.webp\n"
      #expect(try studio.call("start", ["tab": 1, "yaml": webp]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(1) == "finished" })
      let saved = try studio.call("save", ["tab": 1])
      #expect(saved.status == 200, "\(saved.text)")
      let image = try #require(saved.json["image"] as? String)
      #expect(image == studio.output + "/cat.webp")
      let bytes = try FileIO.readBytes(path: image)
      #expect(bytes.count > 12 && Array(bytes[8..<12]) == Array("WEBP".utf8), "a WebP file")
      #expect(try ImageFile.read(path: image).shape == [3, 16, 16])

      // A name no format has is refused at Start, as render refuses it, at the `output` key.
      let bmp = Fixture.experiment(epochs: 5) + "\noutput: cat.bmp\n"
      let refused = try studio.call("start", ["tab": 1, "yaml": bmp])
      #expect(refused.status == 422, "\(refused.text)")
      let error = try #require(refused.json["error"] as? [String: Any])
      #expect((error["message"] as? String)?.contains("cannot write '.bmp' images") == true)
      #expect(error["line"] as? Int == 12, "\(error)")
      // So is a resolution schedule a WebP cannot hold (16383 pixels a side at most).
      let wide = webp.replacingOccurrences(of: "resolution: 16", with: "resolution: 16 16400")
      let tooWide = try studio.call("start", ["tab": 1, "yaml": wide])
      #expect(tooWide.status == 422, "\(tooWide.text)")
      #expect(tooWide.text.contains("16383"), "\(tooWide.text)")
      let files = try FileManager.default.contentsOfDirectory(atPath: studio.output)
      #expect(files.sorted() == ["cat.webp", "cat.yaml"], "\(files)")
    }

    @Test func oneExperimentTrainsAtATimeOthersWait() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let add = try studio.call("tabs", ["name": "second.yaml", "yaml": Fixture.experiment()])
      let second = try #require(add.json["tab"] as? Int)
      #expect(try studio.call("start", ["tab": 1, "yaml": Fixture.experiment()]).status == 200)
      #expect(
        try studio.call("start", ["tab": second, "yaml": Fixture.experiment()]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(1) == "running" })
      let waiting = try studio.tabs().first { $0["id"] as? Int == second }
      #expect(waiting?["status"] as? String == "queued")
      #expect(waiting?["queuePosition"] as? Int == 1)
      #expect(try studio.call("stop", ["tab": 1]).status == 200)
      #expect(try await Fixture.waitFor { try studio.status(second) == "running" })
      #expect(try studio.status(1) == "stopped")
      #expect(try studio.call("stop", ["tab": second]).status == 200)
    }

    @Test func tokenHostAndOriginAreRequired() async throws {
      let studio = try RunningStudio()
      defer { studio.stop() }
      let host = studio.authority
      func get(_ path: String, _ headers: [String: String]) throws -> Int {
        try RawHTTP.request(port: studio.port, method: "GET", path: path, headers: headers).status
      }
      let good = try RawHTTP.request(
        port: studio.port, method: "GET", path: "/?token=\(studio.token)", headers: ["Host": host])
      #expect(good.status == 200)
      #expect(good.text.contains("<textarea id=\"yaml\""))
      #expect(good.head.lowercased().contains("content-security-policy"))
      #expect(try get("/", ["Host": host]) == 403)
      #expect(try get("/?token=0000", ["Host": host]) == 403)
      #expect(try get("/studio.js", ["Host": host]) == 403)
      // The real token with its last character changed (to another one, whatever it was).
      let wrongLast: Character = studio.token.last == "0" ? "1" : "0"
      let nearMiss = String(studio.token.dropLast()) + String(wrongLast)
      #expect(nearMiss != studio.token)
      #expect(try get("/api/state?token=\(nearMiss)", ["Host": host]) == 403)
      // DNS rebinding: the right token under a foreign host name.
      #expect(try get("/?token=\(studio.token)", ["Host": "evil.example:\(studio.port)"]) == 403)
      #expect(try get("/?token=\(studio.token)", [:]) == 403)
      // Cross-site: a foreign Origin, even with the token.
      #expect(
        try get(
          "/api/state?token=\(studio.token)", ["Host": host, "Origin": "http://evil.example"])
          == 403)
      let post = try RawHTTP.request(
        port: studio.port, method: "POST", path: "/api/start?token=\(studio.token)",
        headers: ["Host": host, "Origin": "http://evil.example"],
        body: Data(#"{"tab":1,"yaml":"epochs: 3"}"#.utf8))
      #expect(post.status == 403)
      #expect(try studio.status(1) == "idle")

      // WebSockets: no token, and a foreign Origin, are refused; the right ones connect.
      let noToken = PushRecorder(url: "ws://\(host)/ws", headers: origin(studio))
      let foreign = PushRecorder(
        url: "ws://\(host)/ws?token=\(studio.token)", headers: ["Origin": "http://evil.example"])
      let fine = PushRecorder(url: socketURL(studio), headers: origin(studio))
      #expect(
        await Fixture.waitFor(30) {
          noToken.isClosed && foreign.isClosed && !fine.of("tabs").isEmpty
        })
      #expect(noToken.received.isEmpty && foreign.received.isEmpty)
      #expect(noToken.error != nil && foreign.error != nil)
      fine.drop()
    }

    /// `--host 0.0.0.0` (to open the page from another machine) accepts this machine's
    /// addresses and name as Host, still no foreign one, and still needs the token.
    @Test func wildcardHostAcceptsThisMachinesAddresses() async throws {
      let studio = try RunningStudio(host: "0.0.0.0")
      defer { studio.stop() }
      // The machine's addresses as the system reports them (Debian's essential `hostname`).
      let listed = try ChildProcess.run("/bin/hostname", ["-I"]).out
      let ipv4 = listed.split(separator: " ").map {
        $0.trimmingCharacters(in: .whitespacesAndNewlines)
      }.filter { $0.contains(".") && !$0.isEmpty }
      let token = "/api/state?token=\(studio.token)"
      for address in ipv4 + ["127.0.0.1"] {
        let reply = try RawHTTP.request(
          address: address, port: studio.port, method: "GET", path: token,
          headers: ["Host": "\(address):\(studio.port)"])
        #expect(reply.status == 200, "\(address): \(reply.text)")
      }
      let name = ProcessInfo.processInfo.hostName
      let named = try RawHTTP.request(
        port: studio.port, method: "GET", path: token, headers: ["Host": "\(name):\(studio.port)"])
      #expect(named.status == 200, "\(name): \(named.text)")
      let foreign = try RawHTTP.request(
        port: studio.port, method: "GET", path: token,
        headers: ["Host": "evil.example:\(studio.port)"])
      #expect(foreign.status == 403)
      let noToken = try RawHTTP.request(
        port: studio.port, method: "GET", path: "/api/state",
        headers: ["Host": "127.0.0.1:\(studio.port)"])
      #expect(noToken.status == 403)
    }
  }
}
