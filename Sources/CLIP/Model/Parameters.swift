/// How a parameter is filled by the deterministic generator (and what it is, for messages).
enum ParameterKind: Sendable, Equatable {
  /// Layer-norm gain: 1 + u/8.
  case normWeight
  /// Layer-norm shift: u/16.
  case normBias
  /// Linear or convolution bias: u/32.
  case bias
  /// Linear, convolution or projection weight: u/√fanIn.
  case weight(fanIn: Int)
  /// Embedding table or vector: u·scale (a power of two).
  case embedding(scale: Float)
  /// Batch-norm running variance: 1 + u/4.
  case variance
}

/// Where a parameter is stored in a checkpoint.
enum ParameterSource: Sendable, Equatable {
  /// One tensor of the same shape.
  case tensor(String)
  /// Tensors stacked along the first axis (Hugging Face's separate q, k, v projections).
  case rows([String])
  /// The transpose of a 2-D tensor (OpenAI's `proj`/`text_projection`, stored (in, out)).
  case transposed(String)
}

/// One parameter of a tower in clipig's canonical layout (PyTorch's (out, in) for linears).
struct ParameterSpec: Sendable {
  var key: String
  var shape: [Int]
  var kind: ParameterKind
  var huggingFace: ParameterSource
  var openAI: ParameterSource
  var offset: Int
  var count: Int { shape.reduce(1, *) }
}

/// Offsets of one residual attention block's parameters.
struct BlockOffsets: Sendable {
  var ln1Weight = 0
  var ln1Bias = 0
  var qkvWeight = 0  // (3C, C)
  var qkvBias = 0  // (3C)
  var outWeight = 0  // (C, C)
  var outBias = 0  // (C)
  var ln2Weight = 0
  var ln2Bias = 0
  var fc1Weight = 0  // (M, C)
  var fc1Bias = 0  // (M)
  var fc2Weight = 0  // (C, M)
  var fc2Bias = 0  // (C)
}

/// Builds a tower's parameter list and offsets.
struct LayoutBuilder {
  var specs = [ParameterSpec]()
  var total = 0

  mutating func add(
    _ key: String, _ shape: [Int], _ kind: ParameterKind, hf: ParameterSource,
    openAI: ParameterSource
  ) -> Int {
    let spec = ParameterSpec(
      key: key, shape: shape, kind: kind, huggingFace: hf, openAI: openAI, offset: total)
    specs.append(spec)
    total += spec.count
    return spec.offset
  }

  /// Adds the parameters of residual block `i` of width `c` and MLP width `m`.
  mutating func addBlock(_ i: Int, width c: Int, mlp m: Int, hf: String, openAI: String)
    -> BlockOffsets
  {
    let h = hf + "encoder.layers.\(i)."
    let o = openAI + "transformer.resblocks.\(i)."
    var b = BlockOffsets()
    let k = "block.\(i)."
    b.ln1Weight = add(
      k + "ln1.w", [c], .normWeight, hf: .tensor(h + "layer_norm1.weight"),
      openAI: .tensor(o + "ln_1.weight"))
    b.ln1Bias = add(
      k + "ln1.b", [c], .normBias, hf: .tensor(h + "layer_norm1.bias"),
      openAI: .tensor(o + "ln_1.bias"))
    b.qkvWeight = add(
      k + "qkv.w", [3 * c, c], .weight(fanIn: c),
      hf: .rows(["q", "k", "v"].map { h + "self_attn.\($0)_proj.weight" }),
      openAI: .tensor(o + "attn.in_proj_weight"))
    b.qkvBias = add(
      k + "qkv.b", [3 * c], .bias,
      hf: .rows(["q", "k", "v"].map { h + "self_attn.\($0)_proj.bias" }),
      openAI: .tensor(o + "attn.in_proj_bias"))
    b.outWeight = add(
      k + "out.w", [c, c], .weight(fanIn: c), hf: .tensor(h + "self_attn.out_proj.weight"),
      openAI: .tensor(o + "attn.out_proj.weight"))
    b.outBias = add(
      k + "out.b", [c], .bias, hf: .tensor(h + "self_attn.out_proj.bias"),
      openAI: .tensor(o + "attn.out_proj.bias"))
    b.ln2Weight = add(
      k + "ln2.w", [c], .normWeight, hf: .tensor(h + "layer_norm2.weight"),
      openAI: .tensor(o + "ln_2.weight"))
    b.ln2Bias = add(
      k + "ln2.b", [c], .normBias, hf: .tensor(h + "layer_norm2.bias"),
      openAI: .tensor(o + "ln_2.bias"))
    b.fc1Weight = add(
      k + "fc1.w", [m, c], .weight(fanIn: c), hf: .tensor(h + "mlp.fc1.weight"),
      openAI: .tensor(o + "mlp.c_fc.weight"))
    b.fc1Bias = add(
      k + "fc1.b", [m], .bias, hf: .tensor(h + "mlp.fc1.bias"), openAI: .tensor(o + "mlp.c_fc.bias")
    )
    b.fc2Weight = add(
      k + "fc2.w", [c, m], .weight(fanIn: m), hf: .tensor(h + "mlp.fc2.weight"),
      openAI: .tensor(o + "mlp.c_proj.weight"))
    b.fc2Bias = add(
      k + "fc2.b", [c], .bias, hf: .tensor(h + "mlp.fc2.bias"),
      openAI: .tensor(o + "mlp.c_proj.bias"))
    return b
  }
}

/// One immutable Float32 allocation holding all parameters of a tower.
final class ParameterStorage: @unchecked Sendable {
  /// Start of the buffer; written only while the tower is being built.
  let base: UnsafeMutablePointer<Float>
  /// Number of floats.
  let count: Int

  init(count: Int) {
    self.count = count
    base = .allocate(capacity: max(1, count))
    base.initialize(repeating: 0, count: max(1, count))
  }

  deinit { base.deallocate() }
}
