import Foundation
import PipelineKit

/// A CLIP model: configuration plus the weights of the towers that were loaded.
public struct CLIPModel: Sendable {
  /// Which towers to load (the runner needs the text tower only while encoding prompts).
  public struct Parts: OptionSet, Sendable {
    /// Raw bit set.
    public let rawValue: Int
    /// Creates a set from raw bits.
    public init(rawValue: Int) { self.rawValue = rawValue }
    /// The image tower.
    public static let vision = Parts(rawValue: 1)
    /// The text tower.
    public static let text = Parts(rawValue: 2)
    /// Both towers.
    public static let all: Parts = [.vision, .text]
  }

  /// Shapes and hyper-parameters.
  public let config: CLIPConfig
  /// The ViT image tower, when loaded (nil for a ResNet model).
  public let vision: VisionTower?
  /// The modified-ResNet image tower, when loaded (nil for a ViT model).
  public let resNet: ResNetTower?
  /// The text tower, when loaded.
  public let text: TextTower?
  /// The precision the towers' GEMMs run in (fp32 unless `converted(to:)` chose bf16).
  public let precision: PrecisionChoice

  /// Loads the towers in `parts` from a tensor archive (safetensors, a PyTorch checkpoint …)
  /// with Hugging Face or OpenAI/open_clip tensor names. Without `config` the shapes are inferred
  /// from the tensors; with it every tensor's shape is checked against it. `precision` picks the
  /// towers' GEMM precision for this CPU (see `converted(to:)`).
  public static func load(
    archive file: some TensorArchive, config: CLIPConfig?, parts: Parts,
    precision: CLIPPrecision = .fp32
  ) throws -> CLIPModel {
    let model = try loadFP32(archive: file, config: config, parts: parts)
    return precision == .fp32 ? model : model.converted(to: precision.resolve())
  }

  /// `load` in fp32.
  static func loadFP32(archive file: some TensorArchive, config: CLIPConfig?, parts: Parts)
    throws -> CLIPModel
  {
    let naming = try detectNaming(file)
    let config = try config ?? inferConfig(file, naming: naming)
    try config.validate(source: file.path)
    if parts.contains(.vision) {
      if let r = config.resNet { try checkStageCounts(file, r) }
      try file.checkContains(
        config.resNet != nil
          ? ResNetTower.plan(config).layout.specs : VisionTower.plan(config).0.specs,
        naming: naming)
    }
    if parts.contains(.text) {
      try file.checkContains(TextTower.plan(config).0.specs, naming: naming)
    }
    var vision: VisionTower?
    var resNet: ResNetTower?
    var text: TextTower?
    if parts.contains(.vision) {
      if config.resNet != nil {
        let tower = ResNetTower(config: config)
        try tower.storage.load(tower.specs, from: file, naming: naming)
        tower.foldBatchNorms()
        resNet = tower
      } else {
        let tower = VisionTower(config: config)
        try tower.storage.load(tower.specs, from: file, naming: naming)
        vision = tower
      }
    }
    if parts.contains(.text) {
      let tower = TextTower(config: config)
      try tower.storage.load(tower.specs, from: file, naming: naming)
      text = tower
    }
    return CLIPModel(config: config, vision: vision, resNet: resNet, text: text)
  }

  /// A model of the given shapes with weights from `DeterministicWeights` (benchmarks and
  /// full-size checks against the PyTorch script).
  public static func deterministic(_ config: CLIPConfig, seed: UInt64 = 0, parts: Parts = .all)
    -> CLIPModel
  {
    var vision: VisionTower?
    var resNet: ResNetTower?
    var text: TextTower?
    if parts.contains(.vision), config.resNet != nil {
      let tower = ResNetTower(config: config)
      tower.storage.fillDeterministic(
        tower.specs, seed: seed, firstTensor: DeterministicWeights.visionTensorBase)
      tower.foldBatchNorms()
      resNet = tower
    } else if parts.contains(.vision) {
      let tower = VisionTower(config: config)
      tower.storage.fillDeterministic(
        tower.specs, seed: seed, firstTensor: DeterministicWeights.visionTensorBase)
      vision = tower
    }
    if parts.contains(.text) {
      let tower = TextTower(config: config)
      tower.storage.fillDeterministic(
        tower.specs, seed: seed, firstTensor: DeterministicWeights.textTensorBase)
      text = tower
    }
    return CLIPModel(config: config, vision: vision, resNet: resNet, text: text)
  }

  /// Creates a model from towers built for `config` (`resNet` for a ResNet configuration),
  /// recording `precision` (the towers' own bf16 paths decide what runs).
  public init(
    config: CLIPConfig, vision: VisionTower?, resNet: ResNetTower? = nil, text: TextTower?,
    precision: PrecisionChoice = .fp32
  ) {
    self.config = config
    self.vision = vision
    self.resNet = resNet
    self.text = text
    self.precision = precision
  }

  /// The same weights (shared) with every tower's GEMMs in `precision`: in bf16 the weights
  /// are rounded once, here. Converting back to fp32 gives the fp32 model bit for bit.
  public func converted(to precision: PrecisionChoice) -> CLIPModel {
    CLIPModel(
      config: config, vision: vision?.converted(to: precision.path),
      resNet: resNet?.converted(to: precision.path), text: text?.converted(to: precision.path),
      precision: precision)
  }

  /// `converted(to:)` with `precision` resolved for this CPU (`precision.note` is then on the
  /// result's `precision.note`).
  public func converted(to precision: CLIPPrecision) -> CLIPModel {
    converted(to: precision.resolve())
  }

  /// Text features (E) of a tokenized prompt; throws if the text tower was not loaded.
  public func encodeText(_ tokens: [Int32]) throws -> [Float] {
    guard let text else { throw CLIPError.invalidInput("the text tower was not loaded") }
    return try text.encode(tokens: tokens)
  }

  /// A workspace for batches of up to `capacity` images; nil if the image tower was not loaded.
  /// A `ImageEncoder` for a ViT, a `ResNetEncoder` for a ResNet.
  public func makeImageEncoder(capacity: Int, normalizesInput: Bool = true)
    -> (any ImageEncoding)?
  {
    if let resNet {
      return ResNetEncoder(tower: resNet, capacity: capacity, normalizesInput: normalizesInput)
    }
    return vision.map {
      ImageEncoder(tower: $0, capacity: capacity, normalizesInput: normalizesInput)
    }
  }

  // MARK: Checkpoint inspection

  static func detectNaming(_ file: some TensorArchive) throws -> CheckpointNaming {
    let keys = file.tensorNames
    if keys.contains(where: { $0.hasPrefix("vision_model.") || $0.hasPrefix("text_model.") }) {
      return .huggingFace
    }
    if keys.contains(where: { $0.hasPrefix("visual.") || $0 == "token_embedding.weight" }) {
      return .openAI
    }
    throw CLIPError.config(
      path: file.path,
      reason: "no CLIP tensors found (expected Hugging Face or OpenAI/open_clip names)")
  }

  /// Reads the shapes a config must have from the tensors of `file`.
  static func inferConfig(_ file: some TensorArchive, naming: CheckpointNaming) throws -> CLIPConfig
  {
    let hf = naming == .huggingFace
    if !hf && file.contains("visual.layer1.0.conv1.weight") {
      return try inferResNetConfig(file)
    }
    // Vision.
    let patchName = hf ? "vision_model.embeddings.patch_embedding.weight" : "visual.conv1.weight"
    let positionsName =
      hf ? "vision_model.embeddings.position_embedding.weight" : "visual.positional_embedding"
    let conv = try file.shape(of: patchName)
    let posV = try file.shape(of: positionsName)
    guard conv.count == 4, conv[1] == 3, conv[2] == conv[3], posV.count == 2 else {
      throw file.configError("unexpected patch embedding \(conv) or positions \(posV)")
    }
    let width = conv[0]
    let grid = Int(Double(max(0, posV[0] - 1)).squareRoot().rounded())
    guard grid * grid + 1 == posV[0] else {
      throw file.configError(
        "\(posV[0]) vision positions is not a square grid plus the class token")
    }
    let vPrefix = hf ? "vision_model.encoder.layers." : "visual.transformer.resblocks."
    let vLayers = file.countLayers(vPrefix, hf ? "layer_norm1.weight" : "ln_1.weight")
    let vMLP = try file.shape(of: vPrefix + "0." + (hf ? "mlp.fc1.weight" : "mlp.c_fc.weight"))[0]
    let vProj = try file.shape(of: hf ? "visual_projection.weight" : "visual.proj")
    guard vProj.count == 2 else { throw file.configError("projection is not a matrix") }
    let embed = hf ? vProj[0] : vProj[1]
    return CLIPConfig(
      vision: .init(
        imageSize: grid * conv[2], patchSize: conv[2], width: width, layers: vLayers,
        heads: max(1, width / 64), mlpWidth: vMLP),
      text: try inferTextConfig(file, naming: naming), embedDimension: embed)
  }

  /// The text tower's shapes from the tensors (ViT-B/32's if the file has no text tower).
  static func inferTextConfig(_ file: some TensorArchive, naming: CheckpointNaming) throws
    -> CLIPConfig.Text
  {
    let hf = naming == .huggingFace
    var text = CLIPConfig.vitB32.text
    let tokName = hf ? "text_model.embeddings.token_embedding.weight" : "token_embedding.weight"
    if file.contains(tokName) {
      let tok = try file.shape(of: tokName)
      let positionsName =
        hf ? "text_model.embeddings.position_embedding.weight" : "positional_embedding"
      let posT = try file.shape(of: positionsName)
      let tPrefix = hf ? "text_model.encoder.layers." : "transformer.resblocks."
      guard tok.count == 2, posT.count == 2 else {
        throw file.configError("unexpected text embeddings")
      }
      text = CLIPConfig.Text(
        vocabularySize: tok[0], contextLength: posT[0], width: tok[1],
        layers: file.countLayers(tPrefix, hf ? "layer_norm1.weight" : "ln_1.weight"),
        heads: max(1, tok[1] / 64),
        mlpWidth: try file.shape(of: tPrefix + "0." + (hf ? "mlp.fc1.weight" : "mlp.c_fc.weight"))[
          0])
    }
    return text
  }
}
