import Foundation
import Testing

@testable import CLIP
@testable import ModelStore

/// Known models, cache folders, paths given by the user and `ModelStore.locate` end to end
/// (downloads from a loopback server).
@Suite struct ModelStoreLocateTests {
  // MARK: Known models

  @Test func knownModelsTableIsConsistent() {
    #expect(KnownModels.named(KnownModels.defaultName)?.name == "ViT-B/32")
    var names = Set<String>()
    for model in KnownModels.all {
      for n in [model.name] + model.aliases {
        #expect(names.insert(n.lowercased()).inserted, "\(n)")
      }
      // open_clip's hub repository first; a pinned revision only where the hash is known.
      #expect(model.sources.first?.kind == .hub)
      for source in model.sources where source.isPinned && source.kind == .hub {
        #expect(source.weights?.sha256 != nil, "\(source.label)")
      }
      for source in model.sources {
        #expect(source.weights != nil)
        for file in source.files {
          #expect(file.url.hasPrefix("https://"))
          if let sha = file.sha256 { #expect(ModelCache.isHexDigest(sha), "\(file.url)") }
        }
      }
      // OpenAI's URLs embed the checksum they are verified against.
      if let openAI = model.source(.openAI)?.weights {
        #expect(openAI.url.contains("/\(openAI.sha256 ?? "-")/"))
      }
    }
    // open_clip's names and hf-hub ids of the zoo.
    #expect(KnownModels.named("ViT-B-32/openai")?.name == "ViT-B/32")
    #expect(
      KnownModels.named("hf-hub:laion/CLIP-ViT-B-32-laion2B-s34B-b79K")?.name
        == "ViT-B-32/laion2b_s34b_b79k")
    for name in [
      "ViT-B-32/laion2b_s34b_b79k", "ViT-B-16/laion2b_s34b_b88k", "ViT-L-14/laion2b_s32b_b82k",
      "ViT-H-14/laion2b_s32b_b79k", "ViT-L-14/datacomp_xl_s13b_b90k", "RN50", "RN101", "RN50x4",
      "RN50x16", "RN50x64",
    ] {
      #expect(KnownModels.named(name) != nil, "\(name)")
    }
    // The pins and hashes issue 12 lists.
    let b32 = KnownModels.named("ViT-B/32")?.sources.first
    #expect(b32?.repo == "timm/vit_base_patch32_clip_224.openai")
    #expect(b32?.revision == "a6f597a30f7b82c51704746581f9a4e41421e878")
    #expect(
      b32?.weights?.sha256 == "e6d1bd7789aa45192b3bf90570a789b478bae1b74ebcce7eddd908e83a2b7c31")
    #expect(b32?.weights?.size == 605_143_284)
    #expect(
      KnownModels.named("RN50")?.sources.first?.weights?.sha256
        == "da0baa37fb2211eee5729ab69ed587eb10d48f5b7076ceeed01552fc3d4cb4ee")
    #expect(KnownModels.named("vit-b-32")?.name == "ViT-B/32")
    #expect(KnownModels.named("openai/clip-vit-large-patch14")?.name == "ViT-L/14")
    #expect(KnownModels.named("ViT-B/64") == nil)
  }

  @Test func unknownAndUnsupportedNamesAreClearErrors() {
    let cache = ModelCache(directory: "/nonexistent/cache")
    #expect {
      _ = try ModelStore.locate("ViT-X/99", download: false, cache: cache)
    } throws: { error in
      guard let e = error as? ModelStoreError, case .unknownModel = e else { return false }
      return e.description.contains("see `clipig model list`")
    }
    // A near miss names the model meant.
    #expect {
      _ = try ModelStore.locate("ViT-B/33", download: false, cache: cache)
    } throws: { error in
      "\(error)".contains("did you mean 'ViT-B/32'?")
    }
    // OpenAI's ResNets are known models now (issue 18: not "not a known model").
    #expect(throws: ModelStoreError.notDownloaded("RN50")) {
      _ = try ModelStore.locate("RN50", download: false, cache: cache)
    }
  }

  // MARK: Cache folder

  @Test func cacheFolderFollowsTheEnvironment() {
    let home = ["HOME": "/home/u"]
    #expect(ModelCache.standard(environment: home).directory == "/home/u/.cache/clipig")
    #expect(ModelCache.standard(environment: home).legacyDirectories == ["/home/u/.cache/clip"])
    #expect(
      ModelCache.standard(environment: home.merging(["XDG_CACHE_HOME": "/x"]) { $1 }).directory
        == "/x/clipig")
    // Relative XDG paths are invalid by the specification and ignored.
    #expect(
      ModelCache.standard(environment: home.merging(["XDG_CACHE_HOME": "rel"]) { $1 }).directory
        == "/home/u/.cache/clipig")
    #expect(
      ModelCache.standard(
        environment: home.merging(["XDG_CACHE_HOME": "/x", "CLIPIG_CACHE": "/c"]) { $1 }
      ).directory == "/c")
  }

  // MARK: Paths

  @Test func pathsAreRecognisedByContent() throws {
    let dir = try ModelStoreFixture.scratchDirectory("paths")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let cache = ModelCache(directory: dir + "/cache")
    // A Hugging Face folder.
    let hf = dir + "/hf"
    try FileManager.default.createDirectory(atPath: hf, withIntermediateDirectories: true)
    let header = Array("{\"__metadata__\":{}}".utf8)
    var safetensors = (0..<8).map { UInt8(truncatingIfNeeded: header.count >> (8 * $0)) }
    safetensors += header
    try Data(safetensors).write(to: URL(fileURLWithPath: hf + "/model.safetensors"))
    for name in ["config.json", "merges.txt", "vocab.json"] {
      try Data("{}".utf8).write(to: URL(fileURLWithPath: hf + "/" + name))
    }
    let folder = try ModelStore.locate(hf, download: false, cache: cache)
    #expect(folder.format == .huggingFaceDirectory)
    #expect(folder.weights == hf + "/model.safetensors")
    #expect(folder.config == hf + "/config.json")
    #expect(folder.merges == hf + "/merges.txt")
    #expect(folder.vocabulary == hf + "/vocab.json")
    #expect(folder.model == nil)
    // A single safetensors file, whatever its name.
    let single = try ModelStore.locate(hf + "/model.safetensors", download: false, cache: cache)
    #expect(single.format == .safetensors)
    // A .pt file, and a folder holding just that file.
    let pt = dir + "/pt"
    try FileManager.default.createDirectory(atPath: pt, withIntermediateDirectories: true)
    try FileManager.default.copyItem(
      atPath: ModelStoreFixture.path("tiny-openai-jit.pt"), toPath: pt + "/ViT-B-32.pt")
    #expect(
      try ModelStore.locate(pt + "/ViT-B-32.pt", download: false, cache: cache).format
        == .pytorchCheckpoint)
    #expect(try ModelStore.locate(pt, download: false, cache: cache).weights == pt + "/ViT-B-32.pt")
    // Anything else is refused with a reason.
    let text = dir + "/notes.txt"
    try Data("hello".utf8).write(to: URL(fileURLWithPath: text))
    #expect {
      _ = try ModelStore.locate(text, download: false, cache: cache)
    } throws: { ($0 as? ModelStoreError)?.description.contains("not a safetensors file") == true }
    #expect {
      _ = try ModelStore.locate(dir + "/cache-empty-\(UUID())", download: false, cache: cache)
    } throws: { error in
      if case .unknownModel? = error as? ModelStoreError { return true }
      return false
    }
  }

  // MARK: locate end to end

  /// A known model whose OpenAI files live on the loopback server.
  private func testModel(_ server: LoopbackServer, weights: [UInt8], merges: [UInt8]) -> KnownModel
  {
    KnownModel(
      name: "Tiny/8", aliases: [],
      sources: [
        ModelSource(
          kind: .openAI, folder: "openai",
          files: [
            RemoteFile(
              name: "Tiny-8.pt", url: server.url("/models/Tiny-8.pt"),
              sha256: SHA256.hex(of: weights), size: Int64(weights.count), role: .weights),
            RemoteFile(
              name: "bpe.txt.gz", url: server.url("/bpe.txt.gz"), sha256: SHA256.hex(of: merges),
              size: Int64(merges.count), role: .merges),
          ]),
        ModelSource(
          kind: .huggingFace, folder: "huggingface/tiny",
          files: [
            RemoteFile(
              name: "model.safetensors", url: server.url("/hf/model.safetensors"), sha256: nil,
              size: nil, role: .weights),
            RemoteFile(
              name: "config.json", url: server.url("/hf/config.json"), sha256: nil, size: nil,
              role: .config),
            RemoteFile(
              name: "merges.txt", url: server.url("/hf/merges.txt"), sha256: nil, size: nil,
              role: .merges),
          ]),
      ])
  }

  @Test func locateDownloadsOnceThenUsesTheCache() throws {
    let weights = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    let merges = Array("#version: 0.2\na b\n".utf8)
    let server = try LoopbackServer(routes: [
      "/models/Tiny-8.pt": .file(weights), "/bpe.txt.gz": .file(merges),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("locate")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let cache = ModelCache(directory: dir + "/cache", legacyDirectories: [dir + "/legacy"])
    let model = testModel(server, weights: weights, merges: merges)
    let options = DownloadOptions(idleTimeout: 2, attempts: 2)

    #expect {
      _ = try ModelStore.locate(model, download: false, cache: cache, options: options)
    } throws: { error in
      guard let e = error as? ModelStoreError, case .notDownloaded = e else { return false }
      return e.description.contains("clipig model download Tiny/8")
    }
    #expect(ModelStore.cached(model, cache: cache) == nil)

    let files = try ModelStore.locate(model, download: true, cache: cache, options: options)
    #expect(files.format == .pytorchCheckpoint)
    #expect(files.weights == dir + "/cache/openai/Tiny-8.pt")
    #expect(files.merges == dir + "/cache/openai/bpe.txt.gz")
    #expect(files.model == "Tiny/8")
    #expect(files.sha256 == SHA256.hex(of: weights))
    // The small file first, then the weights.
    #expect(server.requests.map(\.path) == ["/bpe.txt.gz", "/models/Tiny-8.pt"])

    // From now on: no network.
    #expect(try ModelStore.locate(model, download: false, cache: cache, options: options) == files)
    #expect(ModelStore.cached(model, cache: cache) == files)
    #expect(server.requests.count == 2)

    // verify: documented hashes match; a damaged file is found.
    #expect(try ModelStore.verify(model, cache: cache).allSatisfy(\.isValid))
    let handle = try FileHandle(forWritingTo: URL(fileURLWithPath: files.weights))
    try handle.seek(toOffset: 100)
    try handle.write(contentsOf: Data([0xAB, 0xCD]))
    try handle.close()
    let report = try ModelStore.verify(model, cache: cache)
    #expect(report.filter { !$0.isValid }.map(\.path) == [files.weights])
    #expect(report.first { $0.path == files.weights }?.expectation == .documented)
  }

  @Test func huggingFaceSourceRecordsHashesOnFirstDownload() throws {
    let weights = Array("pretend safetensors".utf8)
    let config = Array("{}".utf8)
    let merges = Array("#version: 0.2\n".utf8)
    let server = try LoopbackServer(routes: [
      "/hf/model.safetensors": .file(weights), "/hf/config.json": .file(config),
      "/hf/merges.txt": .file(merges),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("hf")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let cache = ModelCache(directory: dir)
    let model = testModel(server, weights: [0], merges: [0])
    let files = try ModelStore.locate(
      model, download: true, source: .huggingFace, cache: cache,
      options: DownloadOptions(idleTimeout: 2))
    let folder = dir + "/huggingface/tiny"
    #expect(
      files
        == ModelFiles(
          format: .huggingFaceDirectory, weights: folder + "/model.safetensors",
          config: folder + "/config.json", merges: folder + "/merges.txt", vocabulary: nil,
          model: "Tiny/8", sha256: SHA256.hex(of: weights)))
    #expect(ModelCache.recordedHash(folder + "/config.json") == SHA256.hex(of: config))
    let report = try ModelStore.verify(model, cache: cache)
    #expect(report.count == 3)
    #expect(report.allSatisfy { $0.isValid && $0.expectation == .recorded })
    // Without a source preference, the complete Hugging Face copy is found offline.
    #expect(
      try ModelStore.locate(model, download: false, cache: cache, options: .init()) == files)
  }

  @Test func clipigsOwnCacheIsReused() throws {
    let weights = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    let merges = Array("#version: 0.2\na b\n".utf8)
    let server = try LoopbackServer(routes: ["/bpe.txt.gz": .file(merges)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("legacy")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let legacy = dir + "/dot-cache-clip"
    try FileManager.default.createDirectory(atPath: legacy, withIntermediateDirectories: true)
    try Data(weights).write(to: URL(fileURLWithPath: legacy + "/Tiny-8.pt"))
    let cache = ModelCache(directory: dir + "/cache", legacyDirectories: [legacy])
    let model = testModel(server, weights: weights, merges: merges)
    let options = DownloadOptions(idleTimeout: 2, attempts: 1)

    // Offline: the legacy weights are adopted, the merges are simply absent.
    let offline = try ModelStore.locate(model, download: false, cache: cache, options: options)
    #expect(offline.weights == dir + "/cache/openai/Tiny-8.pt")
    #expect(offline.merges == nil)
    #expect(server.requests.isEmpty)
    // Hard-linked, not copied.
    let a = try FileManager.default.attributesOfItem(atPath: legacy + "/Tiny-8.pt")
    #expect((a[.referenceCount] as? Int) == 2)
    // Online: only the small merges file is downloaded.
    let online = try ModelStore.locate(model, download: true, cache: cache, options: options)
    #expect(online.merges == dir + "/cache/openai/bpe.txt.gz")
    #expect(server.requests.map(\.path) == ["/bpe.txt.gz"])
  }

  @Test func aDamagedLegacyFileIsNotUsed() throws {
    var weights = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    let server = try LoopbackServer(routes: [:])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("legacy-bad")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let model = testModel(server, weights: weights, merges: [1])
    weights[500] ^= 1
    try Data(weights).write(to: URL(fileURLWithPath: dir + "/Tiny-8.pt"))
    let cache = ModelCache(directory: dir + "/cache", legacyDirectories: [dir])
    #expect(throws: ModelStoreError.notDownloaded("Tiny/8")) {
      _ = try ModelStore.locate(
        model, download: false, cache: cache, options: DownloadOptions(idleTimeout: 1))
    }
  }

  @Test func offlineDownloadSaysEachSourceThenWhatToDo() throws {
    let server = try LoopbackServer(routes: [:])
    let model = testModel(server, weights: [1, 2, 3], merges: [4])
    server.stop()
    let dir = try ModelStoreFixture.scratchDirectory("offline")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    #expect {
      _ = try ModelStore.locate(
        model, download: true, cache: ModelCache(directory: dir),
        options: DownloadOptions(idleTimeout: 1, attempts: 1))
    } throws: { error in
      guard let e = error as? ModelStoreError, case .allSourcesFailed(_, let failures) = e else {
        return false
      }
      // A header, one line per source, then one sentence with what to do.
      let lines = e.description.split(separator: "\n")
      return lines.count == 4 && failures.count == 2
        && failures.allSatisfy { $0.contains("cannot reach") && $0.count < 200 }
        && lines[3].contains("HF_ENDPOINT") && !e.description.contains("--model")
    }
  }

  // MARK: Progress display

  @Test func progressTextShowsSizeSpeedAndTimeLeft() {
    #expect(ProgressBar.bytes(512) == "512 B")
    #expect(ProgressBar.bytes(353_976_522) == "337.6 MiB")
    #expect(ProgressBar.duration(7) == "0:07")
    #expect(ProgressBar.duration(3723) == "1:02:03")
    let p = DownloadProgress(
      file: "ViT-B-32.pt", url: "https://example.invalid/x", phase: .receiving,
      received: 100 << 20, total: 200 << 20, resumedFrom: 0, bytesPerSecond: 10 * 1_048_576,
      elapsed: 10)
    #expect(p.secondsLeft == 10)
    #expect(
      ProgressBar.bar(p)
        == "ViT-B-32.pt   50% [============>           ] 100.0 MiB / 200.0 MiB  10.0 MiB/s  ETA 0:10"
    )
    #expect(
      ProgressBar.status(p)
        == "ViT-B-32.pt: 50% (100.0 MiB of 200.0 MiB, 10.0 MiB/s, about 0:10 left)")

    final class Lines: @unchecked Sendable {
      let lock = NSLock()
      var text = ""
    }
    let out = Lines()
    let bar = ProgressBar(isTerminal: false) { s in out.lock.withLock { out.text += s } }
    var q = p
    q.phase = .started
    q.received = 0
    bar.report(q)
    bar.report(p)  // within 15 s of the start line: not shown
    q.phase = .finished
    q.received = 200 << 20
    bar.report(q)
    #expect(
      out.text
        == "Downloading ViT-B-32.pt (200.0 MiB) from example.invalid\n"
        + "ViT-B-32.pt: verified (200.0 MiB)\n")
  }
}
