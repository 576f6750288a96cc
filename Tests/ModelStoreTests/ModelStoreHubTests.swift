import CLIP
import Foundation
import Testing

@testable import ModelStore

/// Hub-hosted sources against a loopback server that answers the hub's paths
/// (`/ORG/NAME/resolve/REV/FILE`, a redirect to a CDN path carrying `X-Linked-Etag`, ranges),
/// and the Hugging Face cache read in place.
@Suite struct ModelStoreHubTests {
  let weights: [UInt8]
  let config: [UInt8]
  let sha: String
  static let pin = "0123456789abcdef0123456789abcdef01234567"

  init() throws {
    let folder = ModelStoreFixture.fixture("openclip/quickgelu-safetensors")
    weights = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: folder + "/open_clip_model.safetensors")))
    config = [UInt8](try Data(contentsOf: URL(fileURLWithPath: folder + "/open_clip_config.json")))
    sha = SHA256.hex(of: weights)
  }

  /// Collects notes.
  final class Notes: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    var all: [String] { lock.withLock { items } }
    var handler: @Sendable (String) -> Void { { [self] s in lock.withLock { items.append(s) } } }
  }

  /// A model from `org/tiny`: pinned (with the table hash) then main (the server's hash).
  private var model: KnownModel {
    KnownModel(
      name: "Tiny/hub", aliases: [],
      sources: [
        .hub("org/tiny", revision: Self.pin, sha256: sha, size: Int64(weights.count)),
        .hub("org/tiny"),
      ])
  }

  private func options(_ notes: Notes? = nil, attempts: Int = 2) -> DownloadOptions {
    var o = DownloadOptions(idleTimeout: 3, attempts: attempts, lockTimeout: 20)
    o.notice = notes?.handler
    o.environment = [:]
    return o
  }

  /// The hub's answer for an LFS file: a redirect to the CDN with the SHA-256 stated.
  private func lfs(_ bytes: [UInt8], cdn: String) -> LoopbackServer.Behavior {
    .redirect(location: cdn, headers: ["X-Linked-Etag": "\"\(SHA256.hex(of: bytes))\""])
  }

  private func resolve(_ rev: String, _ file: String) -> String {
    "/org/tiny/resolve/\(rev)/\(file)"
  }

  @Test func aMissingFirstSourceMovesToTheNextAndHFEndpointIsHonoured() throws {
    let server = try LoopbackServer(routes: [
      resolve("main", "open_clip_model.safetensors"): lfs(weights, cdn: "/cdn/w"),
      "/cdn/w": .file(weights),
      resolve("main", "open_clip_config.json"): .file(config),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("hub-next")
    let cache = ModelCache.standard(environment: [
      "HOME": dir, "CLIPIG_CACHE": dir + "/cache", "HF_ENDPOINT": server.url(""),
      "HF_TOKEN": "hf_secret",
    ])
    #expect(cache.hubEndpoint == server.url(""))
    #expect(cache.hubCache == dir + "/.cache/huggingface/hub")
    let notes = Notes()
    let files = try ModelStore.locate(
      model, download: true, cache: cache, options: options(notes))
    #expect(files.format == .openCLIP)
    #expect(files.weights.contains("/hub/org--tiny/main/"))
    #expect(FileManager.default.contents(atPath: files.weights).map { [UInt8]($0) } == weights)
    // One line said which source failed and which one served instead.
    #expect(notes.all.count == 1)
    #expect(notes.all.first?.contains("hub org/tiny@0123456") == true)
    #expect(notes.all.first?.contains("downloaded from hub org/tiny@main instead") == true)
    #expect(notes.all.first?.contains("404") == true)
    let paths = server.requests.map(\.path)
    #expect(paths.first == resolve(Self.pin, "open_clip_config.json"))
    #expect(paths.contains(resolve("main", "open_clip_model.safetensors")))
    // The token goes to the hub, not to the CDN it redirects to… (same host on loopback: sent)
    #expect(server.requests.first?.headers["authorization"] == "Bearer hf_secret")
    // The server-stated hash was recorded as such.
    #expect(CacheRecord.read(for: files.weights)?.provenance == .server)
    // And the model loads.
    let clip = try CLIPModel.load(files: files)
    #expect(clip.config.activation == .quickGELU)
  }

  @Test func wrongBytesAreRejectedAndTheCacheStaysClean() throws {
    var bad = weights
    bad[bad.count / 2] ^= 0xFF
    let server = try LoopbackServer(routes: [
      resolve(Self.pin, "open_clip_config.json"): .file(config),
      resolve(Self.pin, "open_clip_model.safetensors"): .file(bad),
      // main states the hash of the good file and serves the bad one.
      resolve("main", "open_clip_config.json"): .file(config),
      resolve("main", "open_clip_model.safetensors"): lfs(weights, cdn: "/cdn/bad"),
      "/cdn/bad": .file(bad),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("hub-bad")
    let cache = ModelCache(directory: dir, hubEndpoint: server.url(""))
    #expect {
      _ = try ModelStore.locate(model, download: true, cache: cache, options: options(Notes()))
    } throws: { error in
      guard case .allSourcesFailed(_, let failures)? = error as? ModelStoreError else {
        return false
      }
      return failures.count == 2 && failures.allSatisfy { $0.contains("SHA-256") }
    }
    let weightsFiles =
      FileManager.default.enumerator(atPath: dir)?.compactMap { $0 as? String }
      .filter { $0.contains("open_clip_model") && !$0.hasSuffix(".lock") } ?? []
    #expect(weightsFiles.isEmpty, "\(weightsFiles)")
  }

  @Test func anExistingHuggingFaceCacheIsUsedWithoutAnyRequest() throws {
    let server = try LoopbackServer(routes: [:])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("hfcache")
    let commit = "fedcba9876543210fedcba9876543210fedcba98"
    let repo = dir + "/hf/hub/models--org--tiny"
    let fm = FileManager.default
    try fm.createDirectory(atPath: repo + "/blobs", withIntermediateDirectories: true)
    try fm.createDirectory(atPath: repo + "/snapshots/" + commit, withIntermediateDirectories: true)
    try fm.createDirectory(atPath: repo + "/refs", withIntermediateDirectories: true)
    try Data(weights).write(to: URL(fileURLWithPath: repo + "/blobs/" + sha))
    try Data(config).write(to: URL(fileURLWithPath: repo + "/blobs/cfg"))
    try fm.createSymbolicLink(
      atPath: repo + "/snapshots/\(commit)/open_clip_model.safetensors",
      withDestinationPath: "../../blobs/" + sha)
    try fm.createSymbolicLink(
      atPath: repo + "/snapshots/\(commit)/open_clip_config.json",
      withDestinationPath: "../../blobs/cfg")
    try Data((commit + "\n").utf8).write(to: URL(fileURLWithPath: repo + "/refs/main"))
    let cache = ModelCache.standard(environment: [
      "HOME": dir, "CLIPIG_CACHE": dir + "/cache", "HF_HOME": dir + "/hf",
      "HF_ENDPOINT": server.url(""),
    ])
    // main only: the blob's name is the hash checked.
    let mainOnly = KnownModel(name: "Tiny/hub", aliases: [], sources: [.hub("org/tiny")])
    let files = try ModelStore.locate(mainOnly, download: true, cache: cache, options: options())
    #expect(files.weights == repo + "/snapshots/\(commit)/open_clip_model.safetensors")
    #expect(files.config == repo + "/snapshots/\(commit)/open_clip_config.json")
    #expect(try CLIPModel.load(files: files).config.vision.imageSize == 16)
    #expect(server.requests.isEmpty)
    // A damaged blob is not used, said once, and not hashed again on the next run.
    var damaged = weights
    damaged[100] ^= 1
    try Data(damaged).write(to: URL(fileURLWithPath: repo + "/blobs/" + sha))
    let other = ModelCache.standard(environment: [
      "HOME": dir, "CLIPIG_CACHE": dir + "/cache2", "HF_HOME": dir + "/hf",
      "HF_ENDPOINT": server.url(""),
    ])
    let notes = Notes()
    for _ in 0..<2 {
      #expect(throws: ModelStoreError.notDownloaded("Tiny/hub")) {
        _ = try ModelStore.locate(mainOnly, download: false, cache: other, options: options(notes))
      }
    }
    #expect(notes.all.count == 1, "\(notes.all)")
    #expect(notes.all.first?.contains("Hugging Face cache") == true)
  }

  @Test func anInterruptedHubDownloadResumes() throws {
    let cut = 100_000
    let server = try LoopbackServer(routes: [
      resolve("main", "open_clip_config.json"): .file(config),
      resolve("main", "open_clip_model.safetensors"): lfs(weights, cdn: "/cdn/w"),
      "/cdn/w": .cut(weights, after: cut, times: 1),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("hub-resume")
    let cache = ModelCache(directory: dir, hubEndpoint: server.url(""))
    let mainOnly = KnownModel(name: "Tiny/hub", aliases: [], sources: [.hub("org/tiny")])
    #expect(throws: ModelStoreError.self) {
      _ = try ModelStore.locate(
        mainOnly, download: true, cache: cache, options: options(attempts: 1))
    }
    let files = try ModelStore.locate(
      mainOnly, download: true, cache: cache, options: options(attempts: 1))
    #expect(FileManager.default.contents(atPath: files.weights).map { [UInt8]($0) } == weights)
    #expect(server.requests.last?.range == "bytes=\(cut)-")
  }

  @Test func hfHubIdsNameRepositories() throws {
    #expect(KnownModels.hubModel("hf-hub:org/tiny")?.sources.first?.repo == "org/tiny")
    #expect(KnownModels.hubModel("hf-hub:org/tiny@v1")?.sources.first?.revision == "v1")
    for bad in ["hf-hub:../x", "hf-hub:org", "hf-hub:org/a/b", "hf-hub:org/..", "hf-hub:o/t@.."] {
      #expect(KnownModels.hubModel(bad) == nil, "\(bad)")
    }
    let source = ModelSource.hub("org/tiny", revision: Self.pin)
    #expect(
      source.url(of: source.files[0], endpoint: "https://mirror.example/")
        == "https://mirror.example/org/tiny/resolve/\(Self.pin)/open_clip_model.safetensors")
  }
}
