import CLIP
import Foundation
import Testing

@testable import ModelStore

/// Issue 18's model-file and cache cases: damaged or misnamed files are refused clearly, once.
@Suite struct ModelStoreHostileInputTests {
  final class Notes: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    var all: [String] { lock.withLock { items } }
    var handler: @Sendable (String) -> Void { { [self] s in lock.withLock { items.append(s) } } }
  }

  private func options(_ notes: Notes) -> DownloadOptions {
    var o = DownloadOptions(idleTimeout: 2, attempts: 1)
    o.notice = notes.handler
    o.environment = [:]
    return o
  }

  /// An OpenAI-style model whose weights are `weights` (size and hash in the table).
  private func model(_ weights: [UInt8]) -> KnownModel {
    KnownModel(
      name: "Tiny/8", aliases: [],
      sources: [
        ModelSource(
          kind: .openAI, folder: "openai",
          files: [
            RemoteFile(
              name: "Tiny-8.pt", url: "http://127.0.0.1:9/Tiny-8.pt",
              sha256: SHA256.hex(of: weights), size: Int64(weights.count), role: .weights)
          ])
      ])
  }

  @Test func aDamagedClipCacheFileIsReportedOnceAndNotHashedAgain() throws {
    var weights = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    let known = model(weights)
    weights[500] ^= 1
    let dir = try ModelStoreFixture.scratchDirectory("legacy-damaged")
    try Data(weights).write(to: URL(fileURLWithPath: dir + "/Tiny-8.pt"))
    let cache = ModelCache(directory: dir + "/cache", legacyDirectories: [dir])
    let notes = Notes()
    for _ in 0..<3 {
      #expect(throws: ModelStoreError.notDownloaded("Tiny/8")) {
        _ = try ModelStore.locate(known, download: false, cache: cache, options: options(notes))
      }
    }
    #expect(notes.all.count == 1, "\(notes.all)")
    #expect(notes.all.first?.contains(dir + "/Tiny-8.pt is damaged") == true)
    // The verdict is remembered by size and time: a replaced file is checked again.
    #expect(FileManager.default.fileExists(atPath: dir + "/cache/openai/Tiny-8.pt.rejected"))
    weights[500] ^= 1
    try Data(weights).write(to: URL(fileURLWithPath: dir + "/Tiny-8.pt"))
    try FileManager.default.setAttributes(
      [.modificationDate: Date().addingTimeInterval(10)], ofItemAtPath: dir + "/Tiny-8.pt")
    let files = try ModelStore.locate(known, download: false, cache: cache, options: options(notes))
    #expect(files.weights == dir + "/cache/openai/Tiny-8.pt")
  }

  @Test func aWrongFileUnderTheCachesNameIsNotUsed() throws {
    let weights = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    let dir = try ModelStoreFixture.scratchDirectory("wrong-name")
    try FileManager.default.createDirectory(
      atPath: dir + "/openai", withIntermediateDirectories: true)
    // Another file put there by hand (no record), and one whose record is stale.
    try Data("not a model".utf8).write(to: URL(fileURLWithPath: dir + "/openai/Tiny-8.pt"))
    let notes = Notes()
    #expect(throws: ModelStoreError.notDownloaded("Tiny/8")) {
      _ = try ModelStore.locate(
        model(weights), download: false, cache: ModelCache(directory: dir),
        options: options(notes))
    }
    #expect(notes.all.count == 1)
    #expect(!FileManager.default.fileExists(atPath: dir + "/openai/Tiny-8.pt"))
    // Same size, other bytes, a record claiming the right hash but another time stamp.
    var other = weights
    other[10] ^= 1
    try Data(other).write(to: URL(fileURLWithPath: dir + "/openai/Tiny-8.pt"))
    try CacheRecord(sha256: SHA256.hex(of: weights), size: Int64(weights.count), modified: 1)
      .writeRaw(for: dir + "/openai/Tiny-8.pt")
    #expect(throws: ModelStoreError.notDownloaded("Tiny/8")) {
      _ = try ModelStore.locate(
        model(weights), download: false, cache: ModelCache(directory: dir),
        options: options(notes))
    }
  }

  @Test func aSafetensorsHeaderThatIsAnArrayIsNotCalledLegacyPyTorch() throws {
    // Header length 128 (first byte 0x80, like a pickle's protocol opcode), header `[…]`.
    var bytes: [UInt8] = [0x80, 0, 0, 0, 0, 0, 0, 0]
    bytes += Array(("[" + String(repeating: " ", count: 126) + "]").utf8)
    bytes += [UInt8](repeating: 0, count: 64)
    let path = try ModelStoreFixture.scratchFile(bytes, name: "m.safetensors")
    let files = try ModelStore.locate(path, download: false, cache: ModelCache(directory: "/none"))
    #expect(files.format == .safetensors)
    #expect {
      _ = try CLIPModel.load(files: files)
    } throws: { error in
      let text = "\(error)"
      return !text.contains("legacy") && text.contains("header is not a JSON object")
    }
    // A real legacy torch.save file still gets its explanation.
    let legacy = try ModelStoreFixture.scratchFile(
      [0x80, 0x02, 0x8A, 0x0A, 0x6C, 0xFC, 0x9C, 0x46, 0xF9, 0x20, 0x6A, 0xA8], name: "old.pt")
    #expect {
      _ = try ModelStore.locate(legacy, download: false, cache: ModelCache(directory: "/none"))
    } throws: { "\($0)".contains("legacy") }
  }

  @Test func aModelFileFullOfNaNIsAClearErrorAtLoad() throws {
    let source = ModelStoreFixture.fixture("openclip/quickgelu-safetensors")
    let dir = try ModelStoreFixture.scratchDirectory("nan")
    var bytes = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: source + "/open_clip_model.safetensors")))
    var length = 0
    for i in (0..<8).reversed() { length = length << 8 | Int(bytes[i]) }
    for i in (8 + length)..<bytes.count { bytes[i] = 0xFF }  // every float a NaN
    try Data(bytes).write(to: URL(fileURLWithPath: dir + "/open_clip_model.safetensors"))
    try FileManager.default.copyItem(
      atPath: source + "/open_clip_config.json", toPath: dir + "/open_clip_config.json")
    let files = try ModelStore.locate(dir, download: false, cache: ModelCache(directory: "/none"))
    #expect {
      _ = try CLIPModel.load(files: files)
    } throws: { error in
      let text = "\(error)"
      return text.contains("NaN") && text.contains("open_clip_model.safetensors")
    }
  }

  @Test func hfConfigEpsilonsThatDifferAreRefused() throws {
    let json = """
      {"projection_dim": 48, "text_config": {"layer_norm_eps": 1e-5},
       "vision_config": {"layer_norm_eps": 1e-6}}
      """
    #expect {
      _ = try CLIPConfig.huggingFace(json: Data(json.utf8), source: "config.json")
    } throws: { "\($0)".contains("vision_config.layer_norm_eps") }
    let same = """
      {"text_config": {"layer_norm_eps": 1e-6}, "vision_config": {"layer_norm_eps": 1e-6}}
      """
    #expect(
      try CLIPConfig.huggingFace(json: Data(same.utf8), source: "c").layerNormEpsilon == 1e-6)
  }
}
