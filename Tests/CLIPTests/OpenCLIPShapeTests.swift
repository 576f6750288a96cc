import CLIP
import Foundation
import PipelineKit
import TestSupport
import Testing

@testable import ModelStore

/// Shapes open_clip builds beyond OpenAI's recipe, in open_clip's hub layout, against open_clip
/// 3.3.0 on the same files (scripts/open_clip_fixtures.py, SHAPES): ResNets whose text tower
/// has heads ≠ width/64, a head_width other than 64 and exact GELU, maps smaller than a
/// Winograd tile at the last stages, and a ViT whose width is not a multiple of head_width.
/// Issue 23: these were read with the text heads guessed as width/64 and QuickGELU always.
@Suite struct OpenCLIPShapeTests {
  /// (folder, image side, expected ResNet shape or nil for the ViT, vision heads, text heads,
  /// activation).
  static let shapes: [(String, Int, CLIPConfig.ResNetVision?, Int, Int, CLIPConfig.Activation)] = [
    (
      "resnet-quickgelu", 64, .init(imageSize: 64, width: 8, layers: [1, 1, 1, 1], heads: 4),
      4, 2, .quickGELU
    ),
    (
      "resnet-gelu-bin", 32, .init(imageSize: 32, width: 6, layers: [2, 1, 1, 2], heads: 4),
      4, 4, .gelu
    ),
    ("vit-odd-width", 16, nil, 1, 2, .quickGELU),
  ]

  static func load(_ folder: String) throws -> CLIPModel {
    let files = try ModelStore.locate(
      Fixture.path("openclip/" + folder), download: false,
      cache: ModelCache(directory: "/nonexistent"))
    #expect(files.format == .openCLIP)
    return try CLIPModel.load(files: files)
  }

  @Test(arguments: shapes.indices)
  func featuresAndPixelGradientsMatchOpenCLIP(index: Int) throws {
    let (folder, side, resNet, visionHeads, textHeads, activation) = Self.shapes[index]
    let model = try Self.load(folder)
    #expect(model.config.resNet == resNet)
    #expect(model.config.vision.heads == visionHeads && model.config.text.heads == textHeads)
    #expect(model.config.activation == activation)
    #expect(model.config.imageSize == side)
    let ref = try SafeTensorsFile(path: Fixture.path("openclip/\(folder)/reference.safetensors"))
    // Pixels in [0, 1]: the encoder applies CLIP's normalisation, as open_clip's caller did.
    let encoder = try #require(model.makeImageEncoder(capacity: 2))
    let features = encoder.forward(
      Tensor(shape: [2, 3, side, side], scalars: try ref.floats("pixels")))
    let f = Comparison(
      "\(folder) image features", features.scalars, try ref.floats("image_features"))
    #expect(f.relativeNorm < 1e-4 && f.maxRelative < 1e-4, "\(f)")
    let probe = try ref.floats("probe")
    let (_, pullback) = CLIPFeatures.normalize(features)
    let grad = encoder.backward(pullback(Tensor(shape: features.shape, scalars: probe)))
    let g = Comparison("\(folder) pixel gradient", grad.scalars, try ref.floats("pixel_grad"))
    print(g)
    #expect(g.cosine > 0.9999, "\(g)")
    let tokens = try ref.floats("tokens").map { Int32($0) }
    let context = tokens.count / 2
    let refText = try ref.floats("text_features")
    let e = refText.count / 2
    for row in 0..<2 {
      let text = try model.encodeText(Array(tokens[(row * context)..<((row + 1) * context)]))
      let t = Comparison("\(folder) text \(row)", text, Array(refText[(row * e)..<((row + 1) * e)]))
      #expect(t.maxRelative < 1e-4, "\(t)")
    }
  }

  struct Similarity: Decodable {
    var prompts: [String]
    var similarity: [Double]
  }

  /// The measurement through the release binary: `clipig similarity image.png -t … -t …
  /// --model DIR` on the 64 px ResNet (the image already at the input size) against open_clip's
  /// 100·cos(encode_image, encode_text).
  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func similarityThroughTheBinaryMatchesOpenCLIP() throws {
    let folder = Fixture.path("openclip/resnet-quickgelu")
    let ref = try Fixture.json("openclip/resnet-quickgelu/similarity.json", as: Similarity.self)
    let csv = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-resnet-similarity-\(getpid()).csv").path
    defer { try? FileManager.default.removeItem(atPath: csv) }
    let (status, output) = try ClipigExecutable.run(
      ["similarity", folder + "/image.png", "--model", folder, "-o", csv]
        + ref.prompts.flatMap { ["-t", $0] })
    #expect(status == 0, "\(output)")
    let lines = try String(contentsOfFile: csv, encoding: .utf8).split(separator: "\n")
    let row = try #require(lines.first { $0.contains("image.png") }, "\(lines)")
    let values = row.split(separator: ",").suffix(ref.prompts.count).compactMap {
      Double($0.trimmingCharacters(in: .whitespaces))
    }
    #expect(values.count == ref.prompts.count, "\(row)")
    for (ours, theirs) in zip(values, ref.similarity) {
      print("similarity clipig \(ours) open_clip \(theirs)")
      #expect(abs(ours - theirs) < 0.01, "\(row) vs \(ref.similarity)")
    }
  }

  /// A safetensors file of `names` from `source` (fp32), written to a temporary path.
  static func subset(of source: SafeTensorsFile, keeping keep: (String) -> Bool) throws -> String {
    var header = [String]()
    var data = [UInt8]()
    for name in source.tensorNames.sorted() where keep(name) {
      let floats = try source.floats(name)
      let shape = try source.entry(name).shape
      header.append(
        "\"\(name)\":{\"dtype\":\"F32\",\"shape\":[\(shape.map(String.init).joined(separator: ","))],"
          + "\"data_offsets\":[\(data.count),\(data.count + 4 * floats.count)]}")
      for f in floats { withUnsafeBytes(of: f.bitPattern.littleEndian) { data += $0 } }
    }
    var json = Array(("{" + header.joined(separator: ",") + "}").utf8)
    while json.count % 8 != 0 { json.append(0x20) }
    var bytes = [UInt8]()
    withUnsafeBytes(of: UInt64(json.count).littleEndian) { bytes += $0 }
    let path = FileManager.default.temporaryDirectory
      .appendingPathComponent(
        "clipig-subset-\(getpid())-\(UInt32.random(in: 0...UInt32.max)).safetensors"
      ).path
    try Data(bytes + json + data).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Weights without a stage: the error names the missing `visual.layerN`, whether the shapes
  /// are inferred from the tensors or given by a configuration; weights with more bottlenecks
  /// than the configuration are refused as open_clip's strict loading refuses them.
  @Test func missingOrExtraStagesAreNamed() throws {
    let small = try SafeTensorsFile(path: Fixture.path("resnet-small.safetensors"))
    let withoutLayer3 = try Self.subset(of: small) { !$0.hasPrefix("visual.layer3.") }
    defer { try? FileManager.default.removeItem(atPath: withoutLayer3) }
    #expect {
      _ = try CLIPModel.load(file: withoutLayer3)
    } throws: { error in
      let message = "\(error)"
      return message.contains("visual.layer3") && message.contains(withoutLayer3)
        && !message.contains("must be positive")
    }
    let config = try CLIPModel.load(file: Fixture.path("resnet-small.safetensors")).config
    #expect {
      _ = try CLIPModel.load(file: withoutLayer3, config: config)
    } throws: { "\($0)".contains("visual.layer3") }
    var fewer = config
    fewer.resNet?.layers = [2, 1, 1, 1]
    #expect {
      _ = try CLIPModel.load(file: Fixture.path("resnet-small.safetensors"), config: fewer)
    } throws: { "\($0)".contains("visual.layer2 has 2 bottlenecks, the configuration 1") }
    var zero = config
    zero.resNet?.layers = [2, 2, 0, 1]
    #expect {
      try zero.validate(source: "c.json")
    } throws: { "\($0)".contains("visual.layer3 has 0 bottlenecks") }
  }

  /// open_clip's rules for heads: ViT width // head_width (96 // 64 = 1 head of 96), ResNet
  /// 32·width // head_width; no head at all, or heads not dividing the width, are refused.
  @Test func headsAreCountedAsOpenCLIPCountsThem() throws {
    func parse(_ vision: String, text: String = "\"width\": 32, \"heads\": 2") throws
      -> OpenCLIPConfig
    {
      try OpenCLIPConfig.parse(
        Data(
          """
          {"model_cfg": {"embed_dim": 16, "vision_cfg": {\(vision)}, "text_cfg": {\(text)}}}
          """.utf8), source: "open_clip_config.json")
    }
    let odd = try parse("\"image_size\": 16, \"patch_size\": 8, \"width\": 96, \"layers\": 1")
    #expect(odd.model.vision.heads == 1 && odd.model.vision.width == 96)
    #expect(odd.model.text.heads == 2)
    let wide = try parse("\"image_size\": 16, \"patch_size\": 8, \"width\": 160, \"layers\": 1")
    #expect(wide.model.vision.heads == 2, "two heads of 80")
    let rn = try parse(
      "\"image_size\": 64, \"layers\": [1, 1, 1, 1], \"width\": 8, \"head_width\": 32")
    #expect(rn.model.resNet == .init(imageSize: 64, width: 8, layers: [1, 1, 1, 1], heads: 8))
    #expect(rn.model.activation == .gelu)
    #expect {
      _ = try parse("\"image_size\": 16, \"patch_size\": 8, \"width\": 32, \"layers\": 1")
    } throws: { "\($0)".contains("head_width") && "\($0)".contains("open_clip_config.json") }
    #expect {
      _ = try parse("\"image_size\": 16, \"patch_size\": 8, \"width\": 200, \"layers\": 1")
    } throws: { "\($0)".contains("not divisible by 3 heads") }
    #expect {
      _ = try parse("\"image_size\": 64, \"layers\": [1, 0, 1, 1], \"width\": 8")
    } throws: { "\($0)".contains("vision_cfg.layers[1]") }
  }
}
