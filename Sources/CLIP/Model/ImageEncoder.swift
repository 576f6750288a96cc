import PipelineKit

/// CLIP's image tower as a reusable workspace: forward a batch of images to features, then
/// back-propagate a feature gradient to the input pixels (no weight gradients).
///
/// All activations live in one arena sized for `capacity` images at construction; `forward`
/// and `backward` allocate nothing but their returned tensors (the `into:` variants allocate
/// nothing at all). Input pixels are CLIP-normalised inside unless `normalizesInput` is false
/// (then they must already be (x − mean)/std). The last block is computed for the class token
/// only — its query, attention output, MLP and their pullbacks — since nothing else reaches
/// the features (keys and values still cover every token).
///
/// Not thread-safe: one encoder per task; many encoders may share one `VisionTower`.
public final class ImageEncoder {
  /// The weights.
  public let tower: VisionTower
  /// Largest batch this workspace holds.
  public let capacity: Int
  /// Whether `forward` applies CLIP's mean/std normalisation (and `backward` its pullback).
  public let normalizesInput: Bool
  /// Number of images in the last forward pass.
  public private(set) var batch = 0

  private let arena: Arena
  private let c: Int  // width
  private let t: Int  // tokens per image
  private let m: Int  // MLP width
  private let e: Int  // embed dimension
  private let heads: Int
  private let size: Int  // image side
  private let patch: Int
  private let g2: Int  // patches per image
  private let k: Int  // 3·patch²
  private let layers: Int

  // Buffer offsets into the arena.
  private struct Layer {
    var ln1Mean = 0  // (B·T)
    var ln1Rstd = 0  // (B·T)
    var qkv = 0  // (B, T, 3C)
    var probs = 0  // (B, H, Tq, T)
    var mid = 0  // (B, Tq, C) residual after attention
    var ln2Mean = 0  // (B·Tq)
    var ln2Rstd = 0  // (B·Tq)
    var fc1 = 0  // (B, Tq, M) pre-activation
  }
  private var layerBuffers = [Layer]()
  private var residuals = [Int]()  // block inputs (B, T, C); [0] = ln_pre output
  private var normalized = 0  // (B, 3, S, S)
  private var patches = 0  // (B·G², K), reused as dPatches
  private var x0 = 0  // (B, T, C) embeddings before ln_pre
  private var lnPreMean = 0  // (B·T)
  private var lnPreRstd = 0  // (B·T)
  private var classOut = 0  // (B, C) last block output, class token
  private var lnPostMean = 0  // (B)
  private var lnPostRstd = 0  // (B)
  private var pooled = 0  // (B, C)
  private var featureBuffer = 0  // (B, E)
  // Scratch shared by all layers.
  private var scratchA = 0  // (B, T, C) LN outputs, patch embeddings, dA
  private var scratchAttn = 0  // (B, T, C) attention output, dAttn
  private var scratchG = 0  // (B, T, M) activation output, dG
  private var dR = 0  // (B, T, C) residual gradient
  private var dQKV = 0  // (B, T, 3C)
  private var dSmall = 0  // (B, C) dPooled
  private var dMid = 0  // (B, C)
  private var attentionScratch = 0  // (B, H, T, T) dS

  /// Bytes held by the activation arena.
  public var arenaBytes: Int { arena.count * MemoryLayout<Float>.size }

  /// A workspace for up to `capacity` images of the tower's input size.
  public init(tower: VisionTower, capacity: Int, normalizesInput: Bool = true) {
    precondition(capacity >= 1, "ImageEncoder: capacity must be at least 1")
    precondition(tower.config.vision.layers >= 1, "ImageEncoder: the tower has no blocks")
    self.tower = tower
    self.capacity = capacity
    self.normalizesInput = normalizesInput
    let v = tower.config.vision
    c = v.width
    t = v.tokens
    m = v.mlpWidth
    e = tower.config.embedDimension
    heads = v.heads
    size = v.imageSize
    patch = v.patchSize
    g2 = v.grid * v.grid
    k = 3 * v.patchSize * v.patchSize
    layers = v.layers
    let b = capacity
    var plan = ArenaPlan()
    normalized = plan.reserve(b * 3 * size * size)
    patches = plan.reserve(b * g2 * k)
    x0 = plan.reserve(b * t * c)
    lnPreMean = plan.reserve(b * t)
    lnPreRstd = plan.reserve(b * t)
    for l in 0..<layers {
      residuals.append(plan.reserve(b * t * c))
      let tq = l == layers - 1 ? 1 : t
      var layer = Layer()
      layer.ln1Mean = plan.reserve(b * t)
      layer.ln1Rstd = plan.reserve(b * t)
      layer.qkv = plan.reserve(b * t * 3 * c)
      layer.probs = plan.reserve(b * heads * tq * t)
      layer.mid = plan.reserve(b * tq * c)
      layer.ln2Mean = plan.reserve(b * tq)
      layer.ln2Rstd = plan.reserve(b * tq)
      layer.fc1 = plan.reserve(b * tq * m)
      layerBuffers.append(layer)
    }
    classOut = plan.reserve(b * c)
    lnPostMean = plan.reserve(b)
    lnPostRstd = plan.reserve(b)
    pooled = plan.reserve(b * c)
    featureBuffer = plan.reserve(b * e)
    scratchA = plan.reserve(b * max(t * c, g2 * c))
    scratchAttn = plan.reserve(b * t * c)
    scratchG = plan.reserve(b * t * m)
    dR = plan.reserve(b * t * c)
    dQKV = plan.reserve(b * t * 3 * c)
    dSmall = plan.reserve(b * c)
    dMid = plan.reserve(b * c)
    attentionScratch = plan.reserve(
      CLIPKernels.attentionScratchCount(batch: b, tokens: t, queries: t, heads: heads, width: c))
    arena = Arena(sizes: plan.sizes)
  }

  @inline(__always) private func buf(_ offset: Int) -> UnsafeMutablePointer<Float> {
    arena.base + offset
  }

  // MARK: Forward

  /// The forward pass on raw memory: `count` images (count, 3, S, S) at `pixels`. The features
  /// are then in `features`.
  public func forward(pixels: UnsafePointer<Float>, count n: Int) {
    precondition(n >= 1 && n <= capacity, "ImageEncoder: batch \(n) outside 1…\(capacity)")
    batch = n
    let tower = self.tower
    let eps = tower.config.layerNormEpsilon
    let act = tower.config.activation
    let (c, t, m, e, s) = (c, t, m, e, size)
    var input = pixels
    if normalizesInput {
      CLIPImageNormalization.normalize(pixels, into: buf(normalized), count: n, size: s)
      input = UnsafePointer(buf(normalized))
    }
    // Patch embedding: one rearrangement and one GEMM, then class token and positions.
    CLIPKernels.patchesForward(
      pixels: input, patches: buf(patches), batch: n, size: s, patch: patch)
    let emb = buf(scratchA)  // (B·G², C)
    CLIPKernels.linearForward(
      x: buf(patches), weight: tower.w(tower.patch), bias: nil, out: emb, rows: n * g2,
      inWidth: k, outWidth: c)
    let x = buf(x0)
    let g2 = self.g2
    let cls = tower.p(tower.classEmbedding)
    let pos = tower.p(tower.positions)
    parallelFor(n) { b in
      let xb = x + b * t * c  // (T, C)
      for i in 0..<c { xb[i] = cls[i] + pos[i] }
      for j in 0..<g2 {
        let dst = xb + (1 + j) * c
        let src = emb + (b * g2 + j) * c
        let p = pos + (1 + j) * c
        for i in 0..<c { dst[i] = src[i] + p[i] }
      }
    }
    CLIPKernels.layerNormForward(
      x: x, weight: tower.p(tower.lnPreWeight), bias: tower.p(tower.lnPreBias),
      out: buf(residuals[0]), mean: buf(lnPreMean), rstd: buf(lnPreRstd), rows: n * t, width: c,
      epsilon: eps)

    for l in 0..<layers {
      let w = tower.blocks[l]
      let L = layerBuffers[l]
      let last = l == layers - 1
      let tq = last ? 1 : t
      let r = buf(residuals[l])  // (B, T, C)
      let a = buf(scratchA)  // (B, T, C)
      CLIPKernels.layerNormForward(
        x: r, weight: tower.p(w.ln1Weight), bias: tower.p(w.ln1Bias), out: a, mean: buf(L.ln1Mean),
        rstd: buf(L.ln1Rstd), rows: n * t, width: c, epsilon: eps)
      if last {
        // Keys and values for every token, the query for the class token only.
        CLIPKernels.linearForward(
          x: a, weight: tower.w(w.qkvWeight) + c * c, bias: tower.p(w.qkvBias) + c,
          out: buf(L.qkv) + c, rows: n * t, inWidth: c, outWidth: 2 * c, outStride: 3 * c)
        CLIPKernels.linearForward(
          x: a, weight: tower.w(w.qkvWeight), bias: tower.p(w.qkvBias), out: buf(L.qkv), rows: n,
          inWidth: c, outWidth: c, xStride: t * c, outStride: t * 3 * c)
      } else {
        CLIPKernels.linearForward(
          x: a, weight: tower.w(w.qkvWeight), bias: tower.p(w.qkvBias), out: buf(L.qkv),
          rows: n * t, inWidth: c, outWidth: 3 * c)
      }
      let attn = buf(scratchAttn)  // (B, Tq, C)
      CLIPKernels.attentionForward(
        qkv: buf(L.qkv), out: attn, probs: buf(L.probs), batch: n,
        tokens: t, queries: tq,
        heads: heads, width: c, causal: false)
      // mid = r (query rows) + attn · Woutᵀ + b
      let mid = buf(L.mid)  // (B, Tq, C)
      if last {
        for b in 0..<n { (mid + b * c).update(from: r + b * t * c, count: c) }
      } else {
        mid.update(from: r, count: n * t * c)
      }
      CLIPKernels.linearForward(
        x: attn, weight: tower.w(w.outWeight), bias: tower.p(w.outBias), out: mid, rows: n * tq,
        inWidth: c, outWidth: c, accumulate: true)
      CLIPKernels.layerNormForward(
        x: mid, weight: tower.p(w.ln2Weight), bias: tower.p(w.ln2Bias), out: a,
        mean: buf(L.ln2Mean), rstd: buf(L.ln2Rstd), rows: n * tq, width: c, epsilon: eps)
      CLIPKernels.linearForward(
        x: a, weight: tower.w(w.fc1Weight), bias: tower.p(w.fc1Bias), out: buf(L.fc1),
        rows: n * tq, inWidth: c, outWidth: m)
      let gelu = buf(scratchG)  // (B, Tq, M)
      CLIPKernels.activationForward(act, x: buf(L.fc1), out: gelu, count: n * tq * m)
      let next = last ? buf(classOut) : buf(residuals[l + 1])  // (B, Tq, C)
      next.update(from: mid, count: n * tq * c)
      CLIPKernels.linearForward(
        x: gelu, weight: tower.w(w.fc2Weight), bias: tower.p(w.fc2Bias), out: next, rows: n * tq,
        inWidth: m, outWidth: c, accumulate: true)
    }
    CLIPKernels.layerNormForward(
      x: buf(classOut), weight: tower.p(tower.lnPostWeight), bias: tower.p(tower.lnPostBias),
      out: buf(pooled), mean: buf(lnPostMean), rstd: buf(lnPostRstd), rows: n, width: c,
      epsilon: eps)
    CLIPKernels.linearForward(
      x: buf(pooled), weight: tower.w(tower.projection), bias: nil, out: buf(featureBuffer),
      rows: n, inWidth: c, outWidth: e)
  }

  // MARK: Backward

  /// The backward pass on raw memory: dFeatures (N, E) → dPixels (N, 3, S, S), overwritten.
  public func backward(dFeatures: UnsafePointer<Float>, dPixels: UnsafeMutablePointer<Float>) {
    let n = batch
    precondition(n > 0, "ImageEncoder.backward before forward")
    let tower = self.tower
    let act = tower.config.activation
    let (c, t, m, e) = (c, t, m, e)
    // Projection and ln_post: dClass (B, C).
    let dPooled = buf(dSmall)
    CLIPKernels.linearBackward(
      dOut: dFeatures, weight: tower.w(tower.projection), dX: dPooled, rows: n, inWidth: c,
      outWidth: e, accumulate: false)
    let dCls = buf(dMid)  // (B, C) gradient at the last block's output, class rows
    dCls.update(repeating: 0, count: n * c)
    CLIPKernels.layerNormBackward(
      dOut: dPooled, x: buf(classOut), mean: buf(lnPostMean), rstd: buf(lnPostRstd),
      weight: tower.p(tower.lnPostWeight), dX: dCls, rows: n, width: c)

    let dr = buf(dR)  // (B, T, C)
    for l in stride(from: layers - 1, through: 0, by: -1) {
      let w = tower.blocks[l]
      let L = layerBuffers[l]
      let last = l == layers - 1
      let tq = last ? 1 : t
      // dOut of this block: rows (B, Tq, C).
      let dOut = last ? dCls : dr
      // MLP: dG = dOut · W2 ; dF = dG ⊙ f′(fc1) ; dA = dF · W1 ; dMid = dOut + LN2ᵀ(dA)
      let dG = buf(scratchG)  // (B, Tq, M)
      CLIPKernels.linearBackward(
        dOut: dOut, weight: tower.w(w.fc2Weight), dX: dG, rows: n * tq, inWidth: m, outWidth: c,
        accumulate: false)
      CLIPKernels.activationBackward(act, x: buf(L.fc1), dOut: dG, dX: dG, count: n * tq * m)
      let dA = buf(scratchA)  // (B, Tq, C)
      CLIPKernels.linearBackward(
        dOut: dG, weight: tower.w(w.fc1Weight), dX: dA, rows: n * tq, inWidth: c, outWidth: m,
        accumulate: false)
      // dOut becomes the gradient at `mid` in place (dCls or dr).
      CLIPKernels.layerNormBackward(
        dOut: dA, x: buf(L.mid), mean: buf(L.ln2Mean), rstd: buf(L.ln2Rstd),
        weight: tower.p(w.ln2Weight), dX: dOut, rows: n * tq, width: c)
      // Attention: dAttn = dMid · Wout ; dQKV ; dA = dQKV · Wqkv ; dR = dMid + LN1ᵀ(dA)
      let dAttn = buf(scratchAttn)  // (B, Tq, C)
      CLIPKernels.linearBackward(
        dOut: dOut, weight: tower.w(w.outWeight), dX: dAttn, rows: n * tq, inWidth: c,
        outWidth: c, accumulate: false)
      CLIPKernels.attentionBackward(
        dOut: dAttn, qkv: buf(L.qkv), probs: buf(L.probs), dQKV: buf(dQKV),
        scratch: buf(attentionScratch), batch: n, tokens: t,
        queries: tq, heads: heads, width: c, causal: false)
      if last {
        // dA = dK·Wk + dV·Wv for every token, + dQ·Wq for the class token (the only query).
        CLIPKernels.linearBackward(
          dOut: buf(dQKV) + c, weight: tower.w(w.qkvWeight) + c * c, dX: dA, rows: n * t,
          inWidth: c, outWidth: 2 * c, accumulate: false, dOutStride: 3 * c)
        let wq = tower.w(w.qkvWeight)
        CLIPKernels.gemm(
          transA: false, transB: false, m: n, n: c, k: c, a: wq.sibling(buf(dQKV)),
          lda: t * 3 * c, b: wq, ldb: c, beta: 1, c: dA, ldc: t * c)
      } else {
        CLIPKernels.linearBackward(
          dOut: buf(dQKV), weight: tower.w(w.qkvWeight), dX: dA, rows: n * t, inWidth: c,
          outWidth: 3 * c, accumulate: false)
      }
      if last {
        // The residual path reaches only the class rows.
        dr.update(repeating: 0, count: n * t * c)
        for b in 0..<n { (dr + b * t * c).update(from: dCls + b * c, count: c) }
      }
      CLIPKernels.layerNormBackward(
        dOut: dA, x: buf(residuals[l]), mean: buf(L.ln1Mean), rstd: buf(L.ln1Rstd),
        weight: tower.p(w.ln1Weight), dX: dr, rows: n * t, width: c)
    }
    // ln_pre, then the patch embedding's input gradient.
    let dx0 = buf(scratchAttn)  // (B, T, C)
    dx0.update(repeating: 0, count: n * t * c)
    CLIPKernels.layerNormBackward(
      dOut: dr, x: buf(x0), mean: buf(lnPreMean), rstd: buf(lnPreRstd),
      weight: tower.p(tower.lnPreWeight), dX: dx0, rows: n * t, width: c)
    let dEmb = buf(scratchA)  // (B·G², C)
    let g2 = self.g2
    parallelFor(n) { b in
      (dEmb + b * g2 * c).update(from: dx0 + (b * t + 1) * c, count: g2 * c)
    }
    CLIPKernels.linearBackward(
      dOut: dEmb, weight: tower.w(tower.patch), dX: buf(patches), rows: n * g2, inWidth: k,
      outWidth: c, accumulate: false)
    CLIPKernels.patchesBackward(
      dPatches: buf(patches), dPixels: dPixels, batch: n, size: size, patch: patch)
    if normalizesInput {
      CLIPImageNormalization.normalizeBackward(dPixels, count: n, size: size)
    }
  }

  // MARK: Inspection

  /// Features (N, E) of the last forward pass.
  public var features: Tensor { copy(featureBuffer, [batch, e]) }
  /// The input side S.
  public var imageSize: Int { size }
  /// The feature width E.
  public var embedDimension: Int { e }
  /// Embeddings (N, T, C) after patch embedding, class token and positions (before ln_pre).
  public var embeddings: Tensor { copy(x0, [batch, t, c]) }
  /// The residual stream (N, T, C) after ln_pre.
  public var afterPreNorm: Tensor { copy(residuals[0], [batch, t, c]) }
  /// Output of block `l`: (N, T, C), or (N, C) — class token only — for the last block.
  public func blockOutput(_ l: Int) -> Tensor {
    precondition(l >= 0 && l < layers, "ImageEncoder.blockOutput: no block \(l)")
    return l == layers - 1 ? copy(classOut, [batch, c]) : copy(residuals[l + 1], [batch, t, c])
  }
  /// The class token after ln_post (N, C): the input of the projection.
  public var pooledOutput: Tensor { copy(pooled, [batch, c]) }

  private func copy(_ offset: Int, _ shape: [Int]) -> Tensor { arena.tensor(offset, shape) }
}
