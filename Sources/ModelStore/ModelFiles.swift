import CLIP
import Formats
import Foundation

extension CLIPModel {
  /// Loads the model `ModelStore.locate` found, whatever its format.
  public static func load(files: ModelFiles, parts: Parts = .all) throws -> CLIPModel {
    switch files.format {
    case .huggingFaceDirectory:
      return try load(
        directory: (files.weights as NSString).deletingLastPathComponent, parts: parts)
    case .safetensors:
      return try load(file: files.weights, parts: parts)
    case .pytorchCheckpoint:
      return try load(checkpoint: files.weights, parts: parts)
    case .openCLIP:
      guard let config = files.config else {
        throw CLIPError.unreadable(path: files.weights, reason: "no open_clip_config.json")
      }
      return try load(openCLIP: files.weights, config: config, parts: parts)
    }
  }

  /// Loads open_clip's layout: `weights` (`open_clip_model.safetensors` or the pickled
  /// `open_clip_pytorch_model.bin`) with the `open_clip_config.json` at `config`.
  public static func load(openCLIP weights: String, config configPath: String, parts: Parts = .all)
    throws -> CLIPModel
  {
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(path: configPath, maxBytes: 16 << 20)
    } catch {
      throw CLIPError.unreadable(path: configPath, reason: error.message)
    }
    let open = try OpenCLIPConfig.parse(Data(bytes), source: configPath)
    if try ModelStore.sniff(weights) == .safetensors {
      return try load(
        archive: try SafeTensorsFile(path: weights), config: open.model, parts: parts)
    }
    return try load(
      archive: try TorchCheckpoint(path: weights), config: open.model, parts: parts)
  }

  /// Loads a Hugging Face model directory: `config.json` (optional; inferred from the tensor
  /// shapes when absent) and `model.safetensors` (or the directory's only `.safetensors` file).
  public static func load(directory: String, parts: Parts = .all) throws -> CLIPModel {
    let fm = FileManager.default
    let dir = URL(fileURLWithPath: directory)
    var weights = dir.appendingPathComponent("model.safetensors").path
    if !fm.fileExists(atPath: weights) {
      let names = (try? fm.contentsOfDirectory(atPath: directory)) ?? []
      let candidates = names.filter { $0.hasSuffix(".safetensors") }.sorted()
      guard candidates.count == 1 else {
        throw CLIPError.unreadable(
          path: directory,
          reason: candidates.isEmpty
            ? "no model.safetensors in the directory"
            : "several .safetensors files and no model.safetensors")
      }
      weights = dir.appendingPathComponent(candidates[0]).path
    }
    let configPath = dir.appendingPathComponent("config.json").path
    var config: CLIPConfig?
    if fm.fileExists(atPath: configPath) {
      let bytes: [UInt8]
      do {
        bytes = try FileIO.readBytes(path: configPath, maxBytes: 16 << 20)
      } catch {
        throw CLIPError.unreadable(path: configPath, reason: error.message)
      }
      config = try CLIPConfig.huggingFace(json: Data(bytes), source: configPath)
    }
    return try load(file: weights, config: config, parts: parts)
  }

  /// Loads a safetensors checkpoint with Hugging Face or OpenAI/open_clip tensor names, fp32,
  /// fp16 or bf16. Without `config` the shapes are inferred from the tensors (heads = width/64,
  /// as OpenAI's loader assumes); with it every tensor's shape is checked against it.
  public static func load(file path: String, config: CLIPConfig? = nil, parts: Parts = .all)
    throws -> CLIPModel
  {
    try load(archive: try SafeTensorsFile(path: path), config: config, parts: parts)
  }

  /// Loads a PyTorch checkpoint: OpenAI's TorchScript `.pt` (as in `~/.cache/clip`) or a
  /// `torch.save` state dict with OpenAI/open_clip names; shapes are inferred from the tensors.
  public static func load(checkpoint path: String, parts: Parts = .all) throws -> CLIPModel {
    try load(archive: try TorchCheckpoint(path: path), config: nil, parts: parts)
  }
}

extension CLIPConfig {
  /// Reads a Hugging Face `config.json` (`CLIPModel`: `text_config`, `vision_config`,
  /// `projection_dim`); missing keys take Hugging Face's defaults, which are ViT-B/32's.
  public static func huggingFace(json data: Data, source: String) throws -> CLIPConfig {
    guard let root = JSONValue.parse(data), case .object = root else {
      throw CLIPError.config(path: source, reason: "not a JSON object")
    }
    func int(_ object: JSONValue?, _ key: String, _ fallback: Int) throws -> Int {
      guard let v = object?[key] else { return fallback }
      guard let i = v.intValue else {
        throw CLIPError.config(path: source, reason: "'\(key)' must be an integer")
      }
      return i
    }
    let tc = root["text_config"]
    let vc = root["vision_config"]
    let projection = try int(root, "projection_dim", 512)
    var config = CLIPConfig(
      vision: Vision(
        imageSize: try int(vc, "image_size", 224), patchSize: try int(vc, "patch_size", 32),
        width: try int(vc, "hidden_size", 768), layers: try int(vc, "num_hidden_layers", 12),
        heads: try int(vc, "num_attention_heads", 12),
        mlpWidth: try int(vc, "intermediate_size", 3072)),
      text: Text(
        vocabularySize: try int(tc, "vocab_size", 49408),
        contextLength: try int(tc, "max_position_embeddings", 77),
        width: try int(tc, "hidden_size", 512), layers: try int(tc, "num_hidden_layers", 12),
        heads: try int(tc, "num_attention_heads", 8),
        mlpWidth: try int(tc, "intermediate_size", 2048)),
      embedDimension: projection)
    if let channels = vc?["num_channels"], channels.intValue != 3 {
      throw CLIPError.config(path: source, reason: "only 3-channel images are supported")
    }
    // One epsilon serves both towers: honoured when they agree, refused when they differ.
    var epsilons = [(String, Double)]()
    for (name, tower) in [("vision_config", vc), ("text_config", tc)] {
      if let eps = tower?["layer_norm_eps"] {
        guard let e = eps.doubleValue, e.isFinite, e > 0 else {
          throw CLIPError.config(
            path: source, reason: "'\(name).layer_norm_eps' must be a positive number")
        }
        epsilons.append((name, e))
      }
    }
    if let first = epsilons.first {
      if let other = epsilons.first(where: { $0.1 != first.1 }) {
        throw CLIPError.config(
          path: source,
          reason: "'\(first.0).layer_norm_eps' (\(first.1)) and '\(other.0).layer_norm_eps' "
            + "(\(other.1)) differ; clipig uses one epsilon for both towers")
      }
      config.layerNormEpsilon = Float(first.1)
    }
    let acts = [vc?["hidden_act"], tc?["hidden_act"]].compactMap { $0 }
    for act in acts {
      guard let name = act.stringValue, let a = Activation(rawValue: name) else {
        throw CLIPError.config(
          path: source, reason: "unsupported hidden_act (quick_gelu and gelu are supported)")
      }
      if a != acts.first.flatMap({ $0.stringValue }).flatMap(Activation.init) {
        throw CLIPError.config(path: source, reason: "towers with different activations")
      }
      config.activation = a
    }
    try config.validate(source: source)
    return config
  }
}
