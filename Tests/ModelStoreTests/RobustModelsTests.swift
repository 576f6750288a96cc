import CLIP
import Foundation
import PipelineKit
import TestSupport
import Testing

@testable import ModelStore

/// The robust CLIPs (FARE, TeCoA) in the table, and their loading path: a tiny model in their
/// hub layout (`open_clip_config.json` as open_clip's `push_to_hf_hub` writes it, weights as the
/// pickled `open_clip_pytorch_model.bin`; scripts/robust_clip_fixtures.py) served under
/// FARE4-ViT-B-32's repository path by a loopback hub, found by the short name, downloaded,
/// loaded and rated as open_clip 3.3.0 rates it.
@Suite struct RobustModelsTests {
  static let table: [(name: String, repo: String, alias: String)] = [
    ("FARE4-ViT-B-32", "chs20/FARE4-ViT-B-32-laion2B-s34B-b79K", "fare4-vit-b/32"),
    ("FARE4-ViT-B-16", "chs20/FARE4-ViT-B-16-laion2B-s34B-b88K", "FARE4-ViT-B/16"),
    ("FARE2-ViT-L-14", "chs20/fare2-clip", "ViT-L-14/fare2"),
    ("FARE4-ViT-L-14", "chs20/fare4-clip", "FARE4-ViT-L/14"),
    ("TeCoA2-ViT-L-14", "chs20/tecoa2-clip", "tecoa2-vit-l-14"),
    ("TeCoA4-ViT-L-14", "chs20/tecoa4-clip", "TeCoA4-ViT-L/14"),
  ]

  static let folder = ModelStoreFixture.fixture("robust/fare-layout")

  @Test func everyRobustModelIsKnownByItsShortNameAndItsHubId() throws {
    for (name, repo, alias) in Self.table {
      let model = try #require(KnownModels.named(name), "\(name)")
      #expect(model.name == name)
      #expect(KnownModels.named(alias) == model, "\(alias)")
      #expect(KnownModels.named("hf-hub:" + repo) == model, "\(repo)")
      #expect(model.licence == "MIT")
      #expect(model.approximateBytes != nil)
      // open_clip's order: the safetensors file, then the pickled .bin; unpinned, no table
      // hash (the hub's stated one is checked).
      #expect(model.sources.map(\.repo) == [repo, repo])
      #expect(
        model.sources.map { $0.weights?.name ?? "" } == [
          "open_clip_model.safetensors", "open_clip_pytorch_model.bin",
        ])
      #expect(model.sources.allSatisfy { $0.kind == .hub && $0.revision == "main" })
      #expect(model.sources.allSatisfy { !$0.isPinned && $0.weights?.sha256 == nil })
      #expect(model.sources.allSatisfy { $0.weights?.size == nil })
    }
  }

  @Test func theFARELayoutDownloadsByItsShortNameAndRatesAsOpenCLIP() throws {
    let weights = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/open_clip_pytorch_model.bin")))
    let config = [UInt8](
      try Data(contentsOf: URL(fileURLWithPath: Self.folder + "/open_clip_config.json")))
    let repo = "/chs20/FARE4-ViT-B-32-laion2B-s34B-b79K/resolve/main/"
    // No safetensors file (a 404, as where a repository holds only the .bin): the next source.
    let server = try LoopbackServer(routes: [
      repo + "open_clip_config.json": .file(config),
      repo + "open_clip_pytorch_model.bin": .redirect(
        location: "/cdn/bin", headers: ["X-Linked-Etag": "\"\(SHA256.hex(of: weights))\""]),
      "/cdn/bin": .file(weights),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("robust")
    let cache = ModelCache(directory: dir, hubEndpoint: server.url(""))
    var options = DownloadOptions(idleTimeout: 3, attempts: 2, lockTimeout: 20)
    options.notice = { _ in }
    options.environment = [:]
    let model = try #require(KnownModels.named("FARE4-ViT-B-32"))
    let files = try ModelStore.locate(model, download: true, cache: cache, options: options)
    #expect(files.format == .openCLIP)
    #expect(files.weights.hasSuffix("/open_clip_pytorch_model.bin"))
    #expect(CacheRecord.read(for: files.weights)?.provenance == .server)

    let clip = try CLIPModel.load(files: files)
    #expect(clip.config.activation == .gelu)  // no quick_gelu key: open_clip's exact GELU
    #expect(clip.config.imageSize == 64)
    let ref = try SafeTensorsFile(path: Self.folder + "/reference.safetensors")
    let encoder = try #require(clip.makeImageEncoder(capacity: 2))
    let features = encoder.forward(
      Tensor(shape: [2, 3, 64, 64], scalars: try ref.floats("pixels")))
    let f = Comparison("image features", features.scalars, try ref.floats("image_features"))
    #expect(f.relativeNorm < 1e-4 && f.maxRelative < 1e-4, "\(f)")
    let (_, pullback) = CLIPFeatures.normalize(features)
    let grad = encoder.backward(
      pullback(Tensor(shape: features.shape, scalars: try ref.floats("probe"))))
    let g = Comparison("pixel gradient", grad.scalars, try ref.floats("pixel_grad"))
    print(f, g)
    #expect(g.cosine > 0.9999, "\(g)")
    let tokens = try ref.floats("tokens").map { Int32($0) }
    let text = try ref.floats("text_features")
    for row in 0..<2 {
      let ours: [Float] = try clip.encodeText(Array(tokens[(row * 77)..<((row + 1) * 77)]))
      let t = Comparison("text \(row)", ours, Array(text[(row * 16)..<((row + 1) * 16)]))
      print(t)
      #expect(t.relativeNorm < 1e-4 && t.maxRelative < 1e-4, "\(t)")
    }
  }

  struct Similarity: Decodable {
    var prompts: [String]
    var similarity: [Double]
  }

  /// The user's view: `clipig similarity image.png -t … --model FOLDER` (CLIP's tokenizer, the
  /// bicubic resize, the normalisation) against open_clip's 100·cos on the same PNG.
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func clipigSimilarityRatesTheFARELayoutAsOpenCLIP() throws {
    let ref = try ModelStoreFixture.json("robust/fare-layout/similarity.json", as: Similarity.self)
    let csv = try ModelStoreFixture.scratchDirectory("robust-similarity") + "/s.csv"
    let (status, output) = try ClipigExecutable.run(
      ["similarity", Self.folder + "/image.png", "--model", Self.folder, "-o", csv]
        + ref.prompts.flatMap { ["-t", $0] })
    #expect(status == 0, "\(output)")
    let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
    let row = try #require(lines.first { $0.contains("image.png") }, "\(lines)")
    let values = row.split(separator: ",").suffix(ref.prompts.count).compactMap { Double($0) }
    #expect(values.count == ref.prompts.count, "\(row)")
    for (ours, theirs) in zip(values, ref.similarity) {
      print("similarity clipig \(ours) open_clip \(theirs)")
      #expect(abs(ours - theirs) < 0.01, "\(row) vs \(ref.similarity)")
    }
  }
}
