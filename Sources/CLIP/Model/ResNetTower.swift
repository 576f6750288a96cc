/// Weights of OpenAI's modified-ResNet image tower (RN50, RN101, RN50x4, …): the three stem
/// convolutions, the bottleneck stages and the attention pool. Every batch norm is folded into
/// the convolution before it when the weights load (the convolution gets the bias). Immutable
/// and shareable between encoders.
public final class ResNetTower: Sendable {
  /// The model's configuration (`resNet` and the embed dimension apply).
  public let config: CLIPConfig
  /// The ResNet's shapes.
  public let shape: CLIPConfig.ResNetVision
  let storage: ParameterStorage
  let specs: [ParameterSpec]
  /// The stem's three convolutions.
  let stem: [ConvBN]
  /// The bottlenecks of all four stages, in order.
  let blocks: [Bottleneck]
  let positions: Int  // (T, C)
  let qkvWeight: Int  // (3C, C): q, k, v stacked
  let qkvBias: Int  // (3C)
  let projWeight: Int  // (E, C)
  let projBias: Int  // (E)
  /// The (folded) weights in bf16 when the tower's GEMMs run in bf16.
  let bf16: BF16Weights?

  /// Number of Float32 parameters (including the folded batch norms' leftover statistics).
  public var parameterCount: Int { storage.count }
  /// The bf16 path of the tower's GEMMs; nil when they run in fp32.
  public var bf16Path: BF16Path? { bf16?.path }

  /// A convolution (no bias) followed by an inference-mode batch norm; after folding the
  /// weight is scaled and `beta` holds the convolution's bias.
  struct ConvBN: Sendable {
    var weight = 0  // (Cout, Cin, k, k)
    var gamma = 0  // (Cout)
    var beta = 0  // (Cout); the folded bias
    var mean = 0  // (Cout)
    var variance = 0  // (Cout)
    var inChannels = 0
    var outChannels = 0
    var kernel = 1
  }

  /// One bottleneck: 1×1 → 3×3 → (avg pool) → 1×1 with ×4 channels, plus the identity or
  /// the downsample (avg pool, 1×1, batch norm), then ReLU.
  struct Bottleneck: Sendable {
    var conv1 = ConvBN()
    var conv2 = ConvBN()
    var conv3 = ConvBN()
    var downsample: ConvBN?
    var inChannels = 0
    var planes = 0
    var stride = 1
  }

  init(config: CLIPConfig) {
    guard let r = config.resNet else { preconditionFailure("ResNetTower: not a ResNet config") }
    let plan = Self.plan(config)
    self.config = config
    shape = r
    specs = plan.layout.specs
    stem = plan.stem
    blocks = plan.blocks
    (positions, qkvWeight, qkvBias, projWeight, projBias) = (
      plan.positions, plan.qkvWeight, plan.qkvBias, plan.projWeight, plan.projBias
    )
    storage = ParameterStorage(count: plan.layout.total)
    bf16 = nil
  }

  /// The same (folded) weights, shared, with the GEMMs in bf16 on `path` — the weights rounded
  /// once here — or in fp32 when `path` is nil.
  public func converted(to path: BF16Path?) -> ResNetTower { ResNetTower(self, path: path) }

  private init(_ other: ResNetTower, path: BF16Path?) {
    config = other.config
    shape = other.shape
    storage = other.storage
    specs = other.specs
    stem = other.stem
    blocks = other.blocks
    (positions, qkvWeight, qkvBias, projWeight, projBias) = (
      other.positions, other.qkvWeight, other.qkvBias, other.projWeight, other.projBias
    )
    bf16 = path.map { BF16Weights.reusing(other.bf16, storage: other.storage, path: $0) }
  }

  struct Plan {
    var layout = LayoutBuilder()
    var stem = [ConvBN]()
    var blocks = [Bottleneck]()
    var positions = 0
    var qkvWeight = 0
    var qkvBias = 0
    var projWeight = 0
    var projBias = 0
  }

  /// The parameter list (canonical order = deterministic tensor ids, mirrored by
  /// `scripts/resnet_fixtures.py`) and offsets (nothing allocated).
  static func plan(_ config: CLIPConfig) -> Plan {
    guard let r = config.resNet else { preconditionFailure("ResNetTower: not a ResNet config") }
    var p = Plan()
    func convBN(_ conv: String, _ bn: String, _ cin: Int, _ cout: Int, _ k: Int) -> ConvBN {
      var u = ConvBN()
      func add(_ name: String, _ shape: [Int], _ kind: ParameterKind) -> Int {
        p.layout.add(name, shape, kind, hf: .tensor(name), openAI: .tensor(name))
      }
      // Generated convolution weights are u/√(fanIn/4) (He-like), so that the deterministic
      // model's features depend on the image as much as a trained one's do.
      u.weight = add(
        conv + ".weight", [cout, cin, k, k], .weight(fanIn: max(1, cin * k * k / 4)))
      u.gamma = add(bn + ".weight", [cout], .normWeight)
      u.beta = add(bn + ".bias", [cout], .normBias)
      u.mean = add(bn + ".running_mean", [cout], .embedding(scale: 0.125))
      u.variance = add(bn + ".running_var", [cout], .variance)
      (u.inChannels, u.outChannels, u.kernel) = (cin, cout, k)
      return u
    }
    let w = r.width
    p.stem = [
      convBN("visual.conv1", "visual.bn1", 3, w / 2, 3),
      convBN("visual.conv2", "visual.bn2", w / 2, w / 2, 3),
      convBN("visual.conv3", "visual.bn3", w / 2, w, 3),
    ]
    var inplanes = w
    for (stage, count) in r.layers.enumerated() {
      let planes = w << stage
      for j in 0..<count {
        let prefix = "visual.layer\(stage + 1).\(j)."
        var b = Bottleneck()
        b.inChannels = inplanes
        b.planes = planes
        b.stride = stage > 0 && j == 0 ? 2 : 1
        b.conv1 = convBN(prefix + "conv1", prefix + "bn1", inplanes, planes, 1)
        b.conv2 = convBN(prefix + "conv2", prefix + "bn2", planes, planes, 3)
        b.conv3 = convBN(prefix + "conv3", prefix + "bn3", planes, 4 * planes, 1)
        if b.stride > 1 || inplanes != 4 * planes {
          b.downsample = convBN(
            prefix + "downsample.0", prefix + "downsample.1", inplanes, 4 * planes, 1)
        }
        p.blocks.append(b)
        inplanes = 4 * planes
      }
    }
    let c = r.featureWidth
    let e = config.embedDimension
    let a = "visual.attnpool."
    func add(_ key: String, _ shape: [Int], _ kind: ParameterKind, _ source: ParameterSource)
      -> Int
    {
      p.layout.add(key, shape, kind, hf: source, openAI: source)
    }
    p.positions = add(
      a + "positional_embedding", [r.grid * r.grid + 1, c], .embedding(scale: 0.25),
      .tensor(a + "positional_embedding"))
    p.qkvWeight = add(
      a + "qkv.weight", [3 * c, c], .weight(fanIn: c),
      .rows(["q", "k", "v"].map { a + "\($0)_proj.weight" }))
    p.qkvBias = add(
      a + "qkv.bias", [3 * c], .bias, .rows(["q", "k", "v"].map { a + "\($0)_proj.bias" }))
    p.projWeight = add(
      a + "c_proj.weight", [e, c], .weight(fanIn: c), .tensor(a + "c_proj.weight"))
    p.projBias = add(a + "c_proj.bias", [e], .bias, .tensor(a + "c_proj.bias"))
    return p
  }

  /// Folds every batch norm into its convolution; called once after the weights are filled.
  func foldBatchNorms() {
    let eps = shape.batchNormEpsilon
    let base = storage.base
    var all = stem
    for b in blocks { all += [b.conv1, b.conv2, b.conv3] + (b.downsample.map { [$0] } ?? []) }
    for u in all {
      CLIPKernels.foldBatchNorm(
        weight: base + u.weight, gamma: base + u.gamma, beta: base + u.beta, mean: base + u.mean,
        variance: base + u.variance, epsilon: eps, outChannels: u.outChannels,
        perOutput: u.inChannels * u.kernel * u.kernel)
    }
  }

  @inline(__always) func p(_ offset: Int) -> UnsafePointer<Float> {
    UnsafePointer(storage.base + offset)
  }

  /// The GEMM operand of the weight at `offset` (bf16 when the tower runs in bf16).
  @inline(__always) func w(_ offset: Int) -> GEMMOperand { storage.operand(offset, bf16) }
}
