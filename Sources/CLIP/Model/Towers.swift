/// Parameter naming schemes of CLIP checkpoints.
public enum CheckpointNaming: String, Sendable {
  /// Hugging Face `CLIPModel` (`vision_model.encoder.layers.0.self_attn.q_proj.weight`, …).
  case huggingFace
  /// OpenAI's and open_clip's state dict (`visual.transformer.resblocks.0.attn.in_proj_weight`, …).
  case openAI
}

/// Weights of CLIP's image tower (ViT): patch embedding, class token, positions, ln_pre,
/// residual blocks, ln_post, projection. Immutable and shareable between encoders.
public final class VisionTower: Sendable {
  /// The model's configuration (the vision part, epsilon, activation and embed dimension apply).
  public let config: CLIPConfig
  let storage: ParameterStorage
  let specs: [ParameterSpec]
  let patch: Int  // (C, 3, p, p)
  let classEmbedding: Int  // (C)
  let positions: Int  // (T, C)
  let lnPreWeight: Int
  let lnPreBias: Int
  let blocks: [BlockOffsets]
  let lnPostWeight: Int
  let lnPostBias: Int
  let projection: Int  // (E, C)
  /// The weights in bf16 when the tower's GEMMs run in bf16.
  let bf16: BF16Weights?

  /// Number of Float32 parameters.
  public var parameterCount: Int { storage.count }
  /// The bf16 path of the tower's GEMMs; nil when they run in fp32.
  public var bf16Path: BF16Path? { bf16?.path }

  init(config: CLIPConfig) {
    let (l, o) = Self.plan(config)
    self.config = config
    (patch, classEmbedding, positions, lnPreWeight, lnPreBias) = (
      o.patch, o.classEmbedding, o.positions, o.lnPreWeight, o.lnPreBias
    )
    (blocks, lnPostWeight, lnPostBias, projection) = (
      o.blocks, o.lnPostWeight, o.lnPostBias, o.projection
    )
    specs = l.specs
    storage = ParameterStorage(count: l.total)
    bf16 = nil
  }

  /// The same weights (shared, not copied) with the GEMMs in bf16 on `path` — the weights
  /// rounded once here — or in fp32 when `path` is nil.
  public func converted(to path: BF16Path?) -> VisionTower { VisionTower(self, path: path) }

  private init(_ other: VisionTower, path: BF16Path?) {
    config = other.config
    storage = other.storage
    specs = other.specs
    (patch, classEmbedding, positions, lnPreWeight, lnPreBias) = (
      other.patch, other.classEmbedding, other.positions, other.lnPreWeight, other.lnPreBias
    )
    (blocks, lnPostWeight, lnPostBias, projection) = (
      other.blocks, other.lnPostWeight, other.lnPostBias, other.projection
    )
    bf16 = path.map { BF16Weights.reusing(other.bf16, storage: other.storage, path: $0) }
  }

  struct Offsets {
    var patch = 0
    var classEmbedding = 0
    var positions = 0
    var lnPreWeight = 0
    var lnPreBias = 0
    var blocks = [BlockOffsets]()
    var lnPostWeight = 0
    var lnPostBias = 0
    var projection = 0
  }

  /// The parameter list and offsets of a tower of this configuration (nothing allocated).
  static func plan(_ config: CLIPConfig) -> (LayoutBuilder, Offsets) {
    let v = config.vision
    let c = v.width
    var l = LayoutBuilder()
    var o = Offsets()
    o.patch = l.add(
      "patch", [c, 3, v.patchSize, v.patchSize], .weight(fanIn: 3 * v.patchSize * v.patchSize),
      hf: .tensor("vision_model.embeddings.patch_embedding.weight"),
      openAI: .tensor("visual.conv1.weight"))
    o.classEmbedding = l.add(
      "cls", [c], .embedding(scale: 0.5), hf: .tensor("vision_model.embeddings.class_embedding"),
      openAI: .tensor("visual.class_embedding"))
    o.positions = l.add(
      "pos", [v.tokens, c], .embedding(scale: 0.25),
      hf: .tensor("vision_model.embeddings.position_embedding.weight"),
      openAI: .tensor("visual.positional_embedding"))
    o.lnPreWeight = l.add(
      "ln_pre.w", [c], .normWeight, hf: .tensor("vision_model.pre_layrnorm.weight"),
      openAI: .tensor("visual.ln_pre.weight"))
    o.lnPreBias = l.add(
      "ln_pre.b", [c], .normBias, hf: .tensor("vision_model.pre_layrnorm.bias"),
      openAI: .tensor("visual.ln_pre.bias"))
    o.blocks = (0..<v.layers).map {
      l.addBlock($0, width: c, mlp: v.mlpWidth, hf: "vision_model.", openAI: "visual.")
    }
    o.lnPostWeight = l.add(
      "ln_post.w", [c], .normWeight, hf: .tensor("vision_model.post_layernorm.weight"),
      openAI: .tensor("visual.ln_post.weight"))
    o.lnPostBias = l.add(
      "ln_post.b", [c], .normBias, hf: .tensor("vision_model.post_layernorm.bias"),
      openAI: .tensor("visual.ln_post.bias"))
    o.projection = l.add(
      "proj", [config.embedDimension, c], .weight(fanIn: c),
      hf: .tensor("visual_projection.weight"), openAI: .transposed("visual.proj"))
    return (l, o)
  }

  @inline(__always) func p(_ offset: Int) -> UnsafePointer<Float> {
    UnsafePointer(storage.base + offset)
  }

  /// The GEMM operand of the weight at `offset` (bf16 when the tower runs in bf16).
  @inline(__always) func w(_ offset: Int) -> GEMMOperand { storage.operand(offset, bf16) }
}

/// Weights of CLIP's text tower: token and position embeddings, causal residual blocks,
/// ln_final, projection. Immutable and shareable.
public final class TextTower: Sendable {
  /// The model's configuration (the text part, epsilon, activation and embed dimension apply).
  public let config: CLIPConfig
  let storage: ParameterStorage
  let specs: [ParameterSpec]
  let tokenEmbedding: Int  // (V, C)
  let positions: Int  // (ctx, C)
  let blocks: [BlockOffsets]
  let lnFinalWeight: Int
  let lnFinalBias: Int
  let projection: Int  // (E, C)
  /// The weights in bf16 when the tower's GEMMs run in bf16.
  let bf16: BF16Weights?

  /// Number of Float32 parameters.
  public var parameterCount: Int { storage.count }
  /// The bf16 path of the tower's GEMMs; nil when they run in fp32.
  public var bf16Path: BF16Path? { bf16?.path }

  init(config: CLIPConfig) {
    let (l, o) = Self.plan(config)
    self.config = config
    (tokenEmbedding, positions, blocks) = (o.tokenEmbedding, o.positions, o.blocks)
    (lnFinalWeight, lnFinalBias, projection) = (o.lnFinalWeight, o.lnFinalBias, o.projection)
    specs = l.specs
    storage = ParameterStorage(count: l.total)
    bf16 = nil
  }

  /// The same weights (shared, not copied) with the GEMMs in bf16 on `path` — the weights
  /// rounded once here — or in fp32 when `path` is nil.
  public func converted(to path: BF16Path?) -> TextTower { TextTower(self, path: path) }

  private init(_ other: TextTower, path: BF16Path?) {
    config = other.config
    storage = other.storage
    specs = other.specs
    (tokenEmbedding, positions, blocks) = (other.tokenEmbedding, other.positions, other.blocks)
    (lnFinalWeight, lnFinalBias, projection) = (
      other.lnFinalWeight, other.lnFinalBias, other.projection
    )
    bf16 = path.map { BF16Weights.reusing(other.bf16, storage: other.storage, path: $0) }
  }

  struct Offsets {
    var tokenEmbedding = 0
    var positions = 0
    var blocks = [BlockOffsets]()
    var lnFinalWeight = 0
    var lnFinalBias = 0
    var projection = 0
  }

  /// The parameter list and offsets of a tower of this configuration (nothing allocated).
  static func plan(_ config: CLIPConfig) -> (LayoutBuilder, Offsets) {
    let t = config.text
    let c = t.width
    var l = LayoutBuilder()
    var o = Offsets()
    o.tokenEmbedding = l.add(
      "token", [t.vocabularySize, c], .embedding(scale: 0.5),
      hf: .tensor("text_model.embeddings.token_embedding.weight"),
      openAI: .tensor("token_embedding.weight"))
    o.positions = l.add(
      "pos", [t.contextLength, c], .embedding(scale: 0.25),
      hf: .tensor("text_model.embeddings.position_embedding.weight"),
      openAI: .tensor("positional_embedding"))
    o.blocks = (0..<t.layers).map {
      l.addBlock($0, width: c, mlp: t.mlpWidth, hf: "text_model.", openAI: "")
    }
    o.lnFinalWeight = l.add(
      "ln_final.w", [c], .normWeight, hf: .tensor("text_model.final_layer_norm.weight"),
      openAI: .tensor("ln_final.weight"))
    o.lnFinalBias = l.add(
      "ln_final.b", [c], .normBias, hf: .tensor("text_model.final_layer_norm.bias"),
      openAI: .tensor("ln_final.bias"))
    o.projection = l.add(
      "proj", [config.embedDimension, c], .weight(fanIn: c),
      hf: .tensor("text_projection.weight"), openAI: .transposed("text_projection"))
    return (l, o)
  }

  @inline(__always) func p(_ offset: Int) -> UnsafePointer<Float> {
    UnsafePointer(storage.base + offset)
  }

  /// The GEMM operand of the weight at `offset` (bf16 when the tower runs in bf16).
  @inline(__always) func w(_ offset: Int) -> GEMMOperand { storage.operand(offset, bf16) }
}

extension TensorArchive {
  /// Checks that every parameter in `specs` is present with the right shape before any
  /// parameter memory is allocated (so a header cannot make clipig allocate more than the file
  /// holds); dtypes are checked when the tensors are read.
  func checkContains(_ specs: [ParameterSpec], naming: CheckpointNaming) throws {
    func check(_ name: String, _ shape: [Int]) throws {
      let stored = try self.shape(of: name)
      guard stored == shape else {
        throw CLIPError.safetensors(
          path: path, tensor: name, reason: "shape \(stored), expected \(shape)")
      }
    }
    for spec in specs {
      switch naming == .huggingFace ? spec.huggingFace : spec.openAI {
      case .tensor(let name): try check(name, spec.shape)
      case .rows(let names):
        for name in names {
          try check(name, [spec.shape[0] / names.count] + spec.shape.dropFirst())
        }
      case .transposed(let name): try check(name, [spec.shape[1], spec.shape[0]])
      }
    }
  }
}

extension ParameterStorage {
  /// Reads every parameter in `specs` from `file` under `naming`, checking shapes.
  func load(_ specs: [ParameterSpec], from file: some TensorArchive, naming: CheckpointNaming)
    throws
  {
    for spec in specs {
      let dst = UnsafeMutableBufferPointer(start: base + spec.offset, count: spec.count)
      switch naming == .huggingFace ? spec.huggingFace : spec.openAI {
      case .tensor(let name):
        try file.read(name, expectedShape: spec.shape, into: dst)
      case .rows(let names):
        let part = spec.count / names.count
        let partShape = [spec.shape[0] / names.count] + spec.shape.dropFirst()
        for (i, name) in names.enumerated() {
          try file.read(
            name, expectedShape: partShape,
            into: UnsafeMutableBufferPointer(rebasing: dst[(i * part)..<((i + 1) * part)]))
        }
      case .transposed(let name):
        let (rows, cols) = (spec.shape[0], spec.shape[1])
        var stored = [Float](repeating: 0, count: spec.count)
        try stored.withUnsafeMutableBufferPointer {
          try file.read(name, expectedShape: [cols, rows], into: $0)
        }
        for r in 0..<rows { for c in 0..<cols { dst[r * cols + c] = stored[c * rows + r] } }
      }
    }
  }

  /// Fills every parameter with the deterministic generator; tensor ids start at `firstTensor`.
  func fillDeterministic(_ specs: [ParameterSpec], seed: UInt64, firstTensor: UInt64) {
    for (i, spec) in specs.enumerated() {
      DeterministicWeights.fill(
        UnsafeMutableBufferPointer(start: base + spec.offset, count: spec.count), kind: spec.kind,
        seed: seed, tensor: firstTensor + UInt64(i))
    }
  }
}
