import CLIP
import Foundation
import PipelineKit
import TestSupport
import Testing

@testable import ModelStore

/// open_clip's hub layout (`open_clip_config.json` with `open_clip_model.safetensors` or
/// `open_clip_pytorch_model.bin`) against open_clip in PyTorch on identical random weights
/// (scripts/open_clip_fixtures.py), and the configuration options clipig refuses.
@Suite struct ModelStoreOpenCLIPTests {
  struct Reference: Decodable {
    var weights: String
    var image: [Float]
    var image_shape: [Int]
    var probe: [Float]
    var image_features: [Float]
    var pixel_grad: [Float]
    var tokens: [[Int32]]
    var text_features: [[Float]]
  }

  static let variants = ["quickgelu-safetensors", "gelu-bin"]

  @Test(arguments: variants) func featuresAndPixelGradientsMatchOpenCLIP(variant: String) throws {
    let all = try ModelStoreFixture.json("openclip/features.json", as: [String: Reference].self)
    let reference = try #require(all[variant])
    let folder = ModelStoreFixture.fixture("openclip/" + variant)
    let files = try ModelStore.locate(
      folder, download: false, cache: ModelCache(directory: "/nonexistent"))
    #expect(files.format == .openCLIP)
    #expect(files.weights.hasSuffix("/" + reference.weights))
    let model = try CLIPModel.load(files: files)
    #expect(model.config.activation == (variant.hasPrefix("gelu") ? .gelu : .quickGELU))
    let encoder = try #require(model.makeImageEncoder(capacity: 2, normalizesInput: false))
    let features = encoder.forward(Tensor(shape: reference.image_shape, scalars: reference.image))
    let f = Comparison("image features", features.scalars, reference.image_features)
    #expect(f.relativeNorm < 1e-4, "\(f)")
    #expect(f.maxRelative < 1e-4, "\(f)")
    let grad = encoder.backward(
      Tensor(shape: [2, reference.probe.count / 2], scalars: reference.probe))
    let g = Comparison("pixel gradient", grad.scalars, reference.pixel_grad)
    #expect(g.cosine > 0.9999, "\(g)")
    for (row, tokens) in reference.tokens.enumerated() {
      let text: [Float] = try model.encodeText(tokens)
      let t = Comparison("text \(row)", text, reference.text_features[row])
      #expect(t.maxRelative < 1e-4, "\(t)")
    }
  }

  private func config(
    _ vision: String = "", text: String = "", model: String = "", pre: String = ""
  )
    -> Data
  {
    Data(
      """
      {"model_cfg": {"embed_dim": 16, \(model) "vision_cfg": {"image_size": 16, "layers": 2, \
      "width": 32, "head_width": 16, "patch_size": 8 \(vision)}, "text_cfg": {"context_length": 8, \
      "vocab_size": 48, "width": 32, "heads": 2, "layers": 2 \(text)}}, \
      "preprocess_cfg": {"mean": [0.48145466, 0.4578275, 0.40821073], \
      "std": [0.26862954, 0.26130258, 0.27577711] \(pre)}}
      """.utf8)
  }

  @Test func theConfigurationIsReadAsOpenCLIPBuildsIt() throws {
    let plain = try OpenCLIPConfig.parse(config(), source: "c.json")
    #expect(plain.activation == .gelu)
    #expect(plain.model.vision.heads == 2)
    #expect(plain.model.vision.mlpWidth == 128)
    let quick = try OpenCLIPConfig.parse(config(model: "\"quick_gelu\": true,"), source: "c.json")
    #expect(quick.model.activation == .quickGELU)
    let ratio = try OpenCLIPConfig.parse(config(", \"mlp_ratio\": 2.5"), source: "c.json")
    #expect(ratio.model.vision.mlpWidth == 80)
    // Options that change nothing at inference are accepted.
    _ = try OpenCLIPConfig.parse(
      config(", \"patch_dropout\": 0.5, \"pool_type\": \"tok\"", pre: ", \"size\": 16"),
      source: "c.json")
    // A ResNet image tower, as open_clip builds it (heads = 32·width // 64, text heads 8).
    let resnet = try OpenCLIPConfig.parse(
      Data(
        """
        {"model_cfg": {"embed_dim": 1024, "quick_gelu": true, "vision_cfg": {"image_size": 288, \
        "layers": [3, 4, 6, 3], "width": 64, "patch_size": null}, "text_cfg": {"width": 512}}, \
        "preprocess_cfg": {"size": 288}}
        """.utf8), source: "rn.json")
    #expect(
      resnet.model.resNet == .init(imageSize: 288, width: 64, layers: [3, 4, 6, 3], heads: 32))
    #expect(resnet.model.text.heads == 8 && resnet.model.embedDimension == 1024)
    #expect(resnet.imageSize == 288)
  }

  /// OpenAI's models as open_clip writes their hub `open_clip_config.json`
  /// (scripts/open_clip_hub_configs.py): every key is accepted, and the shapes are those of
  /// OpenAI's model card (vision width, layers, heads, patch, input size, embedding); for a
  /// ResNet, clipig's own `CLIPConfig.rn50` … (whose shapes the full-size tests check).
  @Test(arguments: [
    ("ViT-B-32", 768, 12, 12, 32, 224, 512), ("ViT-B-16", 768, 12, 12, 16, 224, 512),
    ("ViT-L-14", 1024, 24, 16, 14, 224, 768), ("ViT-L-14-336", 1024, 24, 16, 14, 336, 768),
    ("RN50", 0, 0, 0, 0, 224, 1024), ("RN101", 0, 0, 0, 0, 224, 512),
    ("RN50x4", 0, 0, 0, 0, 288, 640), ("RN50x16", 0, 0, 0, 0, 384, 768),
    ("RN50x64", 0, 0, 0, 0, 448, 1024),
  ])
  func openAIModelsHubConfigurationsAreAccepted(
    name: String, width: Int, layers: Int, heads: Int, patch: Int, size: Int, embed: Int
  ) throws {
    let data = try Data(
      contentsOf: URL(
        fileURLWithPath: ModelStoreFixture.fixture("openclip/hub-configs/\(name).json")))
    let config = try OpenCLIPConfig.parse(data, source: name + ".json")
    #expect(config.activation == .quickGELU)
    #expect(config.imageSize == size)
    if width == 0 {
      let expected: [String: CLIPConfig] = [
        "RN50": .rn50, "RN101": .rn101, "RN50x4": .rn50x4, "RN50x16": .rn50x16,
        "RN50x64": .rn50x64,
      ]
      #expect(config.model == expected[name])
      #expect(config.model.embedDimension == embed && config.model.imageSize == size)
    } else {
      let model = config.model
      #expect(model.vision.width == width && model.vision.layers == layers)
      #expect(model.vision.heads == heads && model.vision.patchSize == patch)
      #expect(model.vision.imageSize == size && model.embedDimension == embed)
      #expect(model.text.width == embed && model.text.contextLength == 77)
      #expect(model.text.vocabularySize == 49408 && model.text.layers == 12)
    }
  }

  @Test(arguments: [
    (", \"attentional_pool\": true", "", "", "", "attentional_pool"),
    (", \"pool_type\": \"avg\"", "", "", "", "pool_type"),
    (", \"final_ln_after_pool\": true", "", "", "", "final_ln_after_pool"),
    (", \"no_ln_pre\": true", "", "", "", "no_ln_pre"),
    (", \"ls_init_value\": 0.1", "", "", "", "ls_init_value"),
    (", \"timm_model_name\": \"vit\"", "", "", "", "timm_model_name"),
    (", \"bogus\": 1", "", "", "", "bogus"),
    ("", ", \"proj_bias\": true", "", "", "proj_bias"),
    ("", ", \"pool_type\": \"eos\"", "", "", "text_cfg.pool_type"),
    ("", ", \"hf_model_name\": \"roberta\"", "", "", "hf_model_name"),
    ("", ", \"output_tokens\": true, \"embed_cls\": true", "", "", "embed_cls"),
    ("", "", "\"custom_text\": true,", "", "custom_text"),
    ("", "", "\"init_logit_bias\": -10,", "", "init_logit_bias"),
    ("", "", "", ", \"interpolation\": \"bilinear\"", "interpolation"),
    ("", "", "", ", \"size\": 32", "size"),
  ])
  func unimplementedOptionsAreRefusedByName(
    vision: String, text: String, model: String, pre: String, key: String
  ) {
    #expect {
      _ = try OpenCLIPConfig.parse(
        config(vision, text: text, model: model, pre: pre), source: "open_clip_config.json")
    } throws: { error in
      let message = "\(error)"
      return message.contains(key) && message.contains("open_clip_config.json")
    }
  }

  @Test func otherNormalisationsAreRefused() {
    let data = Data(
      """
      {"model_cfg": {"embed_dim": 16, "vision_cfg": {}, "text_cfg": {}}, \
      "preprocess_cfg": {"mean": [0.5, 0.5, 0.5], "std": [0.5, 0.5, 0.5]}}
      """.utf8)
    #expect {
      _ = try OpenCLIPConfig.parse(data, source: "c.json")
    } throws: { "\($0)".contains("preprocess_cfg.mean") }
  }
}
