import Foundation
import TestSupport
import Testing

@testable import ModelStore

/// `clipig model …` as users drive it: the release binary against loopback servers, real
/// signals. With `CI=true` a missing binary fails instead of skipping.
@Suite(.serialized) struct ModelStoreCLITests {
  static var available: Bool { ClipigExecutable.shouldTest }

  let weights: [UInt8]
  let config: [UInt8]

  init() throws {
    let folder = ModelStoreFixture.fixture("openclip/quickgelu-safetensors")
    weights = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: folder + "/open_clip_model.safetensors")))
    config = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/open_clip_config.json")))
  }

  /// Starts `clipig` with `arguments` and only `environment`, its standard output and error in
  /// one stream (`wait()` returns them as `output`).
  func start(_ arguments: [String], environment: [String: String]) throws -> ChildProcess {
    try ClipigExecutable.start(
      arguments, environment: environment, inheritingEnvironment: false, mergingErrors: true)
  }

  private func environment(_ dir: String, endpoint: String, extra: [String: String] = [:])
    -> [String: String]
  {
    var env = [
      "PATH": "/usr/bin:/bin", "HOME": dir, "CLIPIG_CACHE": dir + "/cache",
      "HF_ENDPOINT": endpoint,
    ]
    for (k, v) in extra { env[k] = v }
    return env
  }

  private func hubRoutes(_ revision: String = "main") -> [String: LoopbackServer.Behavior] {
    [
      "/org/tiny/resolve/\(revision)/open_clip_config.json": .file(config),
      "/org/tiny/resolve/\(revision)/open_clip_model.safetensors": .redirect(
        location: "/cdn/w", headers: ["X-Linked-Etag": "\"\(SHA256.hex(of: weights))\""]),
      "/cdn/w": .file(weights),
    ]
  }

  @Test(.enabled(if: available)) func timeoutsThatAreNotFiniteSecondsAreUsageErrors() throws {
    let server = try LoopbackServer(routes: hubRoutes())
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("cli-timeout")
    for value in ["nan", "inf", "1e300", "-1", "0"] {
      let run = try start(
        ["model", "download", "hf-hub:org/tiny", "--timeout=\(value)"],
        environment: environment(dir, endpoint: server.url("")))
      let result = run.wait()
      #expect(result.exited, "\(value): killed by a signal")
      #expect(result.status != 0, "\(value)")
      #expect(result.output.contains("--timeout"), "\(value): \(result.output)")
    }
    #expect(server.requests.isEmpty)
  }

  @Test(.enabled(if: available)) func downloadsAHubModelAndVerifySaysWhatIsUnverified() throws {
    let server = try LoopbackServer(routes: hubRoutes())
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("cli-hub")
    let env = environment(dir, endpoint: server.url(""))
    let download = try start(["model", "download", "hf-hub:org/tiny", "-q"], environment: env)
      .wait()
    #expect(download.status == 0, "\(download.output)")
    let verify = try start(["model", "verify", "hf-hub:org/tiny"], environment: env).wait()
    #expect(verify.status == 0, "\(verify.output)")
    let lines = verify.output.split(separator: "\n")
    #expect(
      lines.contains { $0.hasPrefix("unverified") && $0.contains("open_clip_config.json") },
      "\(verify.output)")
    #expect(
      lines.contains { $0.hasPrefix("ok") && $0.contains("open_clip_model.safetensors") },
      "\(verify.output)")
  }

  /// A config file sent without Content-Length and without a hash, cut off at half: the
  /// download cannot tell, so `model verify` says the file is unverified and why.
  @Test(.enabled(if: available)) func verifySaysAFileWithoutLengthOrHashMayBeCutOff() throws {
    var routes = hubRoutes()
    routes["/org/tiny/resolve/main/open_clip_config.json"] = .noLength(
      config, sent: config.count / 2)
    let server = try LoopbackServer(routes: routes)
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("cli-no-length")
    let env = environment(dir, endpoint: server.url(""))
    let download = try start(["model", "download", "hf-hub:org/tiny", "-q"], environment: env)
      .wait()
    #expect(download.exited, "\(download.output)")
    let verify = try start(["model", "verify", "hf-hub:org/tiny"], environment: env).wait()
    let line = verify.output.split(separator: "\n").first { $0.contains("open_clip_config.json") }
    #expect(line?.hasPrefix("unverified") == true, "\(verify.output)")
    #expect(line?.contains("without a length or a hash") == true, "\(verify.output)")
  }

  @Test(.enabled(if: available)) func resNetsAreKnownModels() throws {
    let server = try LoopbackServer(routes: [:])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("cli-rn50")
    let run = try start(
      ["model", "download", "RN50", "--source", "hub"],
      environment: environment(dir, endpoint: server.url("")))
    let result = run.wait()
    #expect(result.status != 0)
    #expect(!result.output.contains("not a known"), "\(result.output)")
    #expect(result.output.contains("timm/resnet50_clip.openai"), "\(result.output)")
    #expect(result.output.contains("404"), "\(result.output)")
  }

  @Test(.enabled(if: available)) func sigtermStopsADownloadAndKeepsThePart() throws {
    var routes = hubRoutes()
    routes["/cdn/w"] = .stall(weights, after: 5000)
    let server = try LoopbackServer(routes: routes, lifetime: 60)
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("cli-term")
    let run = try start(
      ["model", "download", "hf-hub:org/tiny", "--timeout", "60", "-q"],
      environment: environment(dir, endpoint: server.url("")))
    let partial = dir + "/cache/hub/org--tiny/main/open_clip_model.safetensors.partial"
    let until = Date().addingTimeInterval(20)
    while (ModelCache.fileSize(partial) ?? 0) < 5000 && Date() < until { usleep(20_000) }
    #expect(ModelCache.fileSize(partial) == 5000)
    let sent = Date()
    run.send(SIGTERM)
    let result = run.wait()
    #expect(Date().timeIntervalSince(sent) < 120, "a hang guard, not a measurement")
    #expect(result.status != 0)
    #expect(result.output.contains("interrupted"), "\(result.output)")
    #expect(ModelCache.fileSize(partial) == 5000)
  }

  @Test(.enabled(if: available)) func behindAProxyResumingIsDisabledWithANote() throws {
    // The proxy answers absolute-form requests itself; the hub's address is a dead port, so
    // only the proxy can answer.
    let dead = try LoopbackServer(routes: [:])
    let endpoint = dead.url("")
    dead.stop()
    var routes = [String: LoopbackServer.Behavior]()
    routes[endpoint + "/org/tiny/resolve/main/open_clip_config.json"] = .file(config)
    routes[endpoint + "/org/tiny/resolve/main/open_clip_model.safetensors"] = .withHeaders(
      weights, headers: ["X-Linked-Etag": "\"\(SHA256.hex(of: weights))\""])
    let proxy = try LoopbackServer(routes: routes)
    defer { proxy.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("cli-proxy")
    let folder = dir + "/cache/hub/org--tiny/main"
    try FileManager.default.createDirectory(atPath: folder, withIntermediateDirectories: true)
    try Data(repeating: 0x55, count: 3000).write(
      to: URL(fileURLWithPath: folder + "/open_clip_model.safetensors.partial"))
    let result = try start(
      ["model", "download", "hf-hub:org/tiny", "--timeout", "10"],
      environment: environment(dir, endpoint: endpoint, extra: ["http_proxy": proxy.url("")])
    ).wait()
    #expect(result.status == 0, "\(result.output)")
    #expect(result.output.contains("resuming is disabled"), "\(result.output)")
    #expect(!proxy.requests.isEmpty)
    #expect(proxy.requests.allSatisfy { $0.range == nil }, "\(proxy.requests)")
    #expect(
      FileManager.default.contents(atPath: folder + "/open_clip_model.safetensors")
        .map { [UInt8]($0) } == weights)
  }
}
