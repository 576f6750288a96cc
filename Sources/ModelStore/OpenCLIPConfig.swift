import CLIP
import Formats
import Foundation

/// open_clip's `open_clip_config.json`: `model_cfg` (embed_dim, quick_gelu, vision_cfg,
/// text_cfg) and `preprocess_cfg` (mean, std, size, interpolation, resize_mode).
///
/// Every key is honoured or refused: the shapes become a `CLIPConfig` (activation QuickGELU when
/// `quick_gelu` is true, else exact GELU, as open_clip builds it); options clipig does not
/// implement (attentional pooling, other pool types, layer scale, custom text towers, …) are
/// refused by name with the reason, unless they have the value that changes nothing. Keys that
/// only matter for training (dropout, initial values) are accepted.
public struct OpenCLIPConfig: Sendable, Equatable {
  /// The shapes as open_clip builds them: a ViT, or a modified ResNet when `vision_cfg.layers`
  /// is a list (heads = 32·width // head_width); the text tower from `text_cfg` (its `heads`,
  /// not width/64), the activation from `quick_gelu`. The weights are checked against it.
  public var model: CLIPConfig
  /// The input size the model expects (`preprocess_cfg.size`, else `vision_cfg.image_size`).
  public var imageSize: Int
  /// MLP activation (`quick_gelu`).
  public var activation: CLIPConfig.Activation

  /// Reads `data` (the file at `source`, named in errors).
  public static func parse(_ data: Data, source: String) throws -> OpenCLIPConfig {
    guard let root = JSONValue.parse(data), case .object(let top) = root else {
      throw CLIPError.config(path: source, reason: "not a JSON object")
    }
    guard case .object(let model)? = top["model_cfg"] else {
      throw CLIPError.config(path: source, reason: "'model_cfg' is missing or not an object")
    }
    let reader = Reader(source: source)
    try reader.allow(model, in: "model_cfg", keys: Self.modelKeys)
    guard case .object(let vision)? = model["vision_cfg"] else {
      throw CLIPError.config(path: source, reason: "'model_cfg.vision_cfg' is missing")
    }
    guard case .object(let text)? = model["text_cfg"] else {
      throw CLIPError.config(path: source, reason: "'model_cfg.text_cfg' is missing")
    }
    try reader.allow(vision, in: "model_cfg.vision_cfg", keys: Self.visionKeys)
    try reader.allow(text, in: "model_cfg.text_cfg", keys: Self.textKeys)
    let quick = try reader.bool(model, "quick_gelu", in: "model_cfg") ?? false
    let activation: CLIPConfig.Activation = quick ? .quickGELU : .gelu

    let embed = try reader.int(model, "embed_dim", in: "model_cfg", default: nil)
    let imageSize = try reader.size(vision, "image_size", in: "model_cfg.vision_cfg") ?? 224
    var preprocessSize: Int?
    if let pre = top["preprocess_cfg"] {
      guard case .object(let p) = pre else {
        throw CLIPError.config(path: source, reason: "'preprocess_cfg' must be an object")
      }
      preprocessSize = try reader.preprocess(p)
    }
    if let preprocessSize, preprocessSize != imageSize {
      throw CLIPError.config(
        path: source,
        reason: "preprocess_cfg.size \(preprocessSize) differs from vision_cfg.image_size "
          + "\(imageSize)")
    }

    guard let embed else {
      throw CLIPError.config(path: source, reason: "'model_cfg.embed_dim' is missing")
    }
    let headWidth =
      try reader.int(vision, "head_width", in: "model_cfg.vision_cfg", default: 64) ?? 64
    let text_ = try reader.text(text)
    let config: CLIPConfig
    if case .array(let stages) = vision["layers"] {
      // open_clip's ModifiedResNet: heads = width·32 // head_width over the 32·width channels.
      let layers = try stages.enumerated().map { i, v in
        guard let n = v.intValue, n > 0 else {
          throw reader.fail(
            "model_cfg.vision_cfg.layers[\(i)]", "must be a positive number of bottlenecks")
        }
        return n
      }
      let width =
        try reader.int(vision, "width", in: "model_cfg.vision_cfg", default: 768) ?? 768
      let heads = width * 32 / headWidth
      guard heads > 0 else {
        throw reader.fail(
          "model_cfg.vision_cfg.head_width",
          "\(headWidth) is wider than the attention pool's \(32 * width) channels (no head)")
      }
      config = CLIPConfig(
        resNet: .init(imageSize: imageSize, width: width, layers: layers, heads: heads),
        text: text_, embedDimension: embed, activation: activation)
    } else {
      let vWidth =
        try reader.int(vision, "width", in: "model_cfg.vision_cfg", default: 768) ?? 768
      // open_clip builds heads = width // head_width (a width that is not a multiple makes
      // wider heads); PyTorch's attention then needs the width divisible by the heads.
      let heads = vWidth / headWidth
      guard heads > 0 else {
        throw reader.fail(
          "model_cfg.vision_cfg.head_width",
          "\(headWidth) is wider than vision_cfg.width \(vWidth) (no head)")
      }
      let vision_ = CLIPConfig.Vision(
        imageSize: imageSize,
        patchSize: try reader.int(vision, "patch_size", in: "model_cfg.vision_cfg", default: 16)
          ?? 16,
        width: vWidth,
        layers: try reader.int(vision, "layers", in: "model_cfg.vision_cfg", default: 12) ?? 12,
        heads: heads,
        mlpWidth: try reader.mlpWidth(vision, width: vWidth, in: "model_cfg.vision_cfg"))
      config = CLIPConfig(
        vision: vision_, text: text_, embedDimension: embed, activation: activation)
    }
    try config.validate(source: source)
    return OpenCLIPConfig(model: config, imageSize: imageSize, activation: activation)
  }

  /// What a key may hold.
  enum Rule {
    /// Read into the configuration.
    case honoured
    /// Only matters for training, or is shown only: any value.
    case ignored
    /// Accepted only with one of these values (JSON null written as `.null`); else refused with
    /// the reason.
    case only([JSONValue], String)
  }

  static let modelKeys: [String: Rule] = [
    "embed_dim": .honoured, "quick_gelu": .honoured, "vision_cfg": .honoured,
    "text_cfg": .honoured, "cast_dtype": .ignored, "init_logit_scale": .ignored,
    "custom_text": .only([.bool(false)], "custom text towers are not implemented"),
    "init_logit_bias": .only([.null], "a logit bias (SigLIP) is not implemented"),
    "nonscalar_logit_scale": .only([.bool(false)], "a non-scalar logit scale is not implemented"),
    "multimodal_cfg": .only([.null], "multimodal decoders (CoCa) are not implemented"),
  ]

  static let visionKeys: [String: Rule] = {
    var keys: [String: Rule] = [
      "layers": .honoured, "width": .honoured, "head_width": .honoured, "mlp_ratio": .honoured,
      "patch_size": .honoured, "image_size": .honoured, "patch_dropout": .ignored,
      "attn_pooler_queries": .ignored, "attn_pooler_heads": .ignored, "output_tokens": .ignored,
      "timm_model_pretrained": .ignored, "timm_pool": .ignored, "timm_proj": .ignored,
      "timm_proj_bias": .ignored, "timm_drop": .ignored, "timm_drop_path": .ignored,
      "ls_init_value": .only([.null], "layer scale is not implemented"),
      "attentional_pool": .only([.bool(false)], "attentional pooling is not implemented"),
      "no_ln_pre": .only([.bool(false)], "clipig's image tower always has ln_pre"),
      "pos_embed_type": .only(
        [.string("learnable")], "only learnable position embeddings are implemented"),
      "final_ln_after_pool": .only(
        [.bool(false)], "clipig applies the final LayerNorm before pooling"),
      "pool_type": .only(
        [.string("tok")], "only class-token pooling ('tok') is implemented"),
      "timm_model_name": .only([.null], "timm image towers are not implemented"),
      "block_type": .only(
        [.null, .string("default")], "only the default attention block is implemented"),
    ]
    for key in commonCustomKeys { keys[key] = .only([.bool(false)], "\(key) is not implemented") }
    for key in ["act_kwargs", "norm_kwargs"] {
      keys[key] = .only([.null], "custom activation or norm arguments are not implemented")
    }
    return keys
  }()

  static let textKeys: [String: Rule] = {
    var keys: [String: Rule] = [
      "context_length": .honoured, "vocab_size": .honoured, "width": .honoured,
      "heads": .honoured, "layers": .honoured, "mlp_ratio": .honoured, "output_tokens": .ignored,
      "pad_id": .ignored, "eos_id": .ignored, "hf_model_pretrained": .ignored,
      "hf_proj_type": .ignored, "hf_pooler_type": .ignored,
      "ls_init_value": .only([.null], "layer scale is not implemented"),
      "embed_cls": .only([.bool(false)], "a text class token is not implemented"),
      "no_causal_mask": .only([.bool(false)], "clipig's text tower is always causal"),
      "final_ln_after_pool": .only(
        [.bool(false)], "clipig applies the final LayerNorm before pooling"),
      "pool_type": .only(
        [.string("argmax")], "only pooling at the end-of-text token ('argmax') is implemented"),
      "proj_bias": .only([.bool(false)], "a text projection bias is not implemented"),
      "proj_type": .only([.string("linear")], "only a linear text projection is implemented"),
      "hf_model_name": .only([.null], "Hugging Face text towers are not implemented"),
      "hf_tokenizer_name": .only([.null], "clipig's tokenizer is CLIP's BPE"),
      "tokenizer_mode": .only([.null], "clipig's tokenizer is CLIP's BPE"),
      "tokenizer_kwargs": .only([.null], "clipig's tokenizer takes no options"),
      "block_type": .only(
        [.null, .string("default")], "only the default attention block is implemented"),
    ]
    for key in commonCustomKeys { keys[key] = .only([.bool(false)], "\(key) is not implemented") }
    for key in ["act_kwargs", "norm_kwargs"] {
      keys[key] = .only([.null], "custom activation or norm arguments are not implemented")
    }
    return keys
  }()

  static let commonCustomKeys = [
    "qk_norm", "scaled_cosine_attn", "scale_heads", "scale_attn_inner", "scale_attn", "scale_fc",
  ]

  /// Typed access with errors naming the key.
  struct Reader {
    let source: String

    func fail(_ key: String, _ reason: String) -> CLIPError {
      .config(path: source, reason: "'\(key)' \(reason)")
    }

    func allow(_ object: [String: JSONValue], in scope: String, keys: [String: Rule]) throws {
      for (key, value) in object.sorted(by: { $0.key < $1.key }) {
        guard let rule = keys[key] else {
          throw fail("\(scope).\(key)", "is not an open_clip option clipig knows; it is refused")
        }
        if case .only(let allowed, let reason) = rule, !allowed.contains(value) {
          throw fail("\(scope).\(key)", "is refused: \(reason)")
        }
      }
    }

    func int(_ o: [String: JSONValue], _ key: String, in scope: String, default: Int?) throws
      -> Int?
    {
      guard let v = o[key], v != .null else { return `default` }
      guard let i = v.intValue, i > 0 else {
        throw fail("\(scope).\(key)", "must be a positive integer")
      }
      return i
    }

    func bool(_ o: [String: JSONValue], _ key: String, in scope: String) throws -> Bool? {
      guard let v = o[key], v != .null else { return nil }
      guard case .bool(let b) = v else { throw fail("\(scope).\(key)", "must be true or false") }
      return b
    }

    /// An int or a square `[h, w]`.
    func size(_ o: [String: JSONValue], _ key: String, in scope: String) throws -> Int? {
      guard let v = o[key], v != .null else { return nil }
      if let i = v.intValue, i > 0 { return i }
      if case .array(let a) = v, a.count == 2, let h = a[0].intValue, let w = a[1].intValue,
        h == w, h > 0
      {
        return h
      }
      throw fail("\(scope).\(key)", "must be a positive integer or a square [size, size]")
    }

    /// `text_cfg`'s shapes, with open_clip's defaults (`CLIPTextCfg`).
    func text(_ text: [String: JSONValue]) throws -> CLIPConfig.Text {
      let scope = "model_cfg.text_cfg"
      let width = try int(text, "width", in: scope, default: 512) ?? 512
      return CLIPConfig.Text(
        vocabularySize: try int(text, "vocab_size", in: scope, default: 49408) ?? 49408,
        contextLength: try int(text, "context_length", in: scope, default: 77) ?? 77,
        width: width,
        layers: try int(text, "layers", in: scope, default: 12) ?? 12,
        heads: try int(text, "heads", in: scope, default: 8) ?? 8,
        mlpWidth: try mlpWidth(text, width: width, in: scope))
    }

    /// `mlp_ratio × width`, which must be a whole number.
    func mlpWidth(_ o: [String: JSONValue], width: Int, in scope: String) throws -> Int {
      guard let v = o["mlp_ratio"], v != .null else { return 4 * width }
      guard let r = v.doubleValue, r.isFinite, r > 0, r < 1000 else {
        throw fail("\(scope).mlp_ratio", "must be a positive number")
      }
      let hidden = r * Double(width)
      guard hidden == hidden.rounded() else {
        throw fail("\(scope).mlp_ratio", "times width \(width) is not a whole number")
      }
      return Int(hidden)
    }

    /// Checks `preprocess_cfg`; returns its size.
    func preprocess(_ p: [String: JSONValue]) throws -> Int? {
      for (key, value) in p.sorted(by: { $0.key < $1.key }) {
        switch key {
        case "mean", "std":
          let expected = key == "mean" ? CLIPImageNormalization.mean : CLIPImageNormalization.std
          guard case .array(let a) = value, a.count == 3,
            zip(a, expected).allSatisfy({ v, e in
              v.doubleValue.map { abs($0 - Double(e)) < 1e-6 } ?? false
            })
          else {
            throw fail(
              "preprocess_cfg.\(key)",
              "is refused: clipig normalises with OpenAI's \(key) \(expected)")
          }
        case "size": continue
        case "interpolation":
          guard value == .string("bicubic") || value == .null else {
            throw fail("preprocess_cfg.interpolation", "is refused: clipig resizes bicubically")
          }
        case "resize_mode", "fill_color": continue
        case "mode":
          guard value == .string("RGB") else {
            throw fail("preprocess_cfg.mode", "is refused: clipig's images are RGB")
          }
        default:
          throw fail(
            "preprocess_cfg.\(key)", "is not an open_clip option clipig knows; it is refused")
        }
      }
      return try size(p, "size", in: "preprocess_cfg")
    }
  }
}
