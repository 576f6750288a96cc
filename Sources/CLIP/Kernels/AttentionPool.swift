import PipelineKit

/// The shapes of CLIP's ResNet attention pool: a feature map (C, N, P) of P positions becomes
/// T = P + 1 tokens (their mean first) plus positions, one multi-head attention query — the
/// mean token — over all tokens, and an output projection to E.
public struct AttentionPoolShape: Sendable, Equatable {
  /// Images.
  public var batch: Int
  /// Channels C (the attention width).
  public var channels: Int
  /// Spatial positions P = h·w.
  public var positions: Int
  /// Attention heads.
  public var heads: Int
  /// Output width E.
  public var outWidth: Int

  /// Creates a shape.
  public init(batch: Int, channels: Int, positions: Int, heads: Int, outWidth: Int) {
    self.batch = batch
    self.channels = channels
    self.positions = positions
    self.heads = heads
    self.outWidth = outWidth
  }

  /// Tokens per image: the mean token plus the positions.
  public var tokens: Int { positions + 1 }
  /// Floats of the tokens buffer (N, T, C).
  public var tokenCount: Int { batch * tokens * channels }
  /// Floats of the packed q/k/v buffer (N, T, 3C) (query rows only for the mean token).
  public var qkvCount: Int { batch * tokens * 3 * channels }
  /// Floats of the saved softmax (N, H, 1, T).
  public var probsCount: Int { batch * heads * tokens }
  /// Floats of the attention output (N, C).
  public var attentionCount: Int { batch * channels }
  /// Floats of backward scratch (dAttention, dQKV, dTokens, attention scratch).
  public var backwardScratchCount: Int {
    attentionCount + qkvCount + tokenCount
      + CLIPKernels.attentionScratchCount(
        batch: batch, tokens: tokens, queries: 1, heads: heads, width: channels)
  }
  /// FLOPs of the forward (projections and attention; the backward costs about the same).
  public var flops: Double {
    let (n, t, c, e) = (Double(batch), Double(tokens), Double(channels), Double(outWidth))
    return 2 * n * (c * c + t * 2 * c * c + c * e) + 4 * n * t * c
  }
}

/// Weights of an attention pool (pointers into a tower's parameters).
public struct AttentionPoolWeights {
  /// Positional embedding (T, C).
  public var positions: UnsafePointer<Float>
  /// Stacked q, k, v projections (3C, C).
  public var qkvWeight: UnsafePointer<Float>
  /// Their biases (3C).
  public var qkvBias: UnsafePointer<Float>
  /// Output projection `c_proj` (E, C).
  public var projWeight: UnsafePointer<Float>
  /// Its bias (E).
  public var projBias: UnsafePointer<Float>
  /// `qkvWeight` as a GEMM operand (with its bf16 copy and path when the pool runs in bf16).
  public var qkvOperand: GEMMOperand
  /// `projWeight` as a GEMM operand.
  public var projOperand: GEMMOperand

  /// Bundles the pointers.
  public init(
    positions: UnsafePointer<Float>, qkvWeight: UnsafePointer<Float>,
    qkvBias: UnsafePointer<Float>, projWeight: UnsafePointer<Float>,
    projBias: UnsafePointer<Float>
  ) {
    self.positions = positions
    self.qkvWeight = qkvWeight
    self.qkvBias = qkvBias
    self.projWeight = projWeight
    self.projBias = projBias
    qkvOperand = GEMMOperand(qkvWeight)
    projOperand = GEMMOperand(projWeight)
  }
}

extension CLIPKernels {
  // MARK: Attention pool

  /// out (N, E) = the attention pool of x (C, N, P). Saves `tokens` (N, T, C), `qkv`
  /// (N, T, 3C) and `probs` (N, H, 1, T) for the backward; `attention` (N, C) is the pooled
  /// attention output before the projection.
  ///
  /// Keys and values are one GEMM over all tokens, the query one GEMM over the mean tokens;
  /// the attention is `attentionForward` with a single query.
  public static func attentionPoolForward(
    x: UnsafePointer<Float>, weights w: AttentionPoolWeights, out: UnsafeMutablePointer<Float>,
    tokens: UnsafeMutablePointer<Float>, qkv: UnsafeMutablePointer<Float>,
    probs: UnsafeMutablePointer<Float>, attention: UnsafeMutablePointer<Float>,
    shape s: AttentionPoolShape
  ) {
    let (n, c, p, t) = (s.batch, s.channels, s.positions, s.tokens)
    let invP = 1 / Float(p)
    // Tokens: transpose (C, N, P) → (N, 1 + P, C), mean token first, plus positions.
    parallelFor(n) { b in
      let tb = tokens + b * t * c  // (T, C)
      for ch in 0..<c {
        let src = x + (ch * n + b) * p  // (P)
        var sum: Float = 0
        for j in 0..<p {
          sum += src[j]
          tb[(1 + j) * c + ch] = src[j] + w.positions[(1 + j) * c + ch]
        }
        tb[ch] = sum * invP + w.positions[ch]
      }
    }
    // q for the mean tokens only; k, v for all tokens.
    linearForward(
      x: tokens, weight: w.qkvOperand, bias: w.qkvBias, out: qkv, rows: n, inWidth: c,
      outWidth: c, xStride: t * c, outStride: t * 3 * c)
    linearForward(
      x: tokens, weight: w.qkvOperand + c * c, bias: w.qkvBias + c, out: qkv + c, rows: n * t,
      inWidth: c, outWidth: 2 * c, outStride: 3 * c)
    attentionForward(
      qkv: qkv, out: attention, probs: probs, batch: n, tokens: t, queries: 1, heads: s.heads,
      width: c, causal: false)
    linearForward(
      x: attention, weight: w.projOperand, bias: w.projBias, out: out, rows: n, inWidth: c,
      outWidth: s.outWidth)
  }

  /// The input gradient of `attentionPoolForward`: dX (C, N, P) (overwritten) from dOut (N, E)
  /// and the saved `qkv`, `probs`. `scratch` holds `shape.backwardScratchCount` floats.
  public static func attentionPoolBackward(
    dOut: UnsafePointer<Float>, weights w: AttentionPoolWeights, qkv: UnsafePointer<Float>,
    probs: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
    scratch: UnsafeMutablePointer<Float>, shape s: AttentionPoolShape
  ) {
    let (n, c, p, t) = (s.batch, s.channels, s.positions, s.tokens)
    let dAttention = scratch  // (N, C)
    let dQKV = dAttention + s.attentionCount  // (N, T, 3C)
    let dTokens = dQKV + s.qkvCount  // (N, T, C)
    let attentionScratch = dTokens + s.tokenCount  // (N, H, 1, T)
    linearBackward(
      dOut: dOut, weight: w.projOperand, dX: dAttention, rows: n, inWidth: c,
      outWidth: s.outWidth, accumulate: false)
    attentionBackward(
      dOut: dAttention, qkv: qkv, probs: probs, dQKV: dQKV, scratch: attentionScratch, batch: n,
      tokens: t, queries: 1, heads: s.heads, width: c, causal: false)
    // dTokens = dK·Wk + dV·Wv for all tokens, + dQ·Wq for the mean tokens.
    linearBackward(
      dOut: dQKV + c, weight: w.qkvOperand + c * c, dX: dTokens, rows: n * t, inWidth: c,
      outWidth: 2 * c, accumulate: false, dOutStride: 3 * c)
    gemm(
      transA: false, transB: false, m: n, n: c, k: c, a: w.qkvOperand.sibling(dQKV),
      lda: t * 3 * c, b: w.qkvOperand, ldb: c, beta: 1, c: dTokens, ldc: t * c)
    // Back to (C, N, P): each position gets its token's gradient and 1/P of the mean's.
    let invP = 1 / Float(p)
    parallelFor(n) { b in
      let tb = dTokens + b * t * c  // (T, C)
      for ch in 0..<c {
        let dst = dX + (ch * n + b) * p  // (P)
        let fromMean = tb[ch] * invP
        for j in 0..<p { dst[j] = tb[(1 + j) * c + ch] + fromMean }
      }
    }
  }
}
