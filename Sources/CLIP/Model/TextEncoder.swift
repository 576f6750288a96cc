extension TextTower {
  /// Text features (E) of one tokenized prompt (start token, ids, end token, padding), taken at
  /// the end token (the largest id, as CLIP's argmax does). Not normalised.
  ///
  /// The causal mask means tokens after the end token cannot change it, so only the prefix up
  /// to it is computed.
  public func encode(tokens: [Int32]) throws -> [Float] {
    let cfg = config.text
    guard !tokens.isEmpty, tokens.count <= cfg.contextLength else {
      throw CLIPError.invalidInput(
        "a prompt must have 1…\(cfg.contextLength) tokens, got \(tokens.count)")
    }
    if let bad = tokens.first(where: { $0 < 0 || Int($0) >= cfg.vocabularySize }) {
      throw CLIPError.invalidInput(
        "token id \(bad) outside the model's vocabulary of \(cfg.vocabularySize)")
    }
    let c = cfg.width
    let m = cfg.mlpWidth
    let e = config.embedDimension
    let eps = config.layerNormEpsilon
    var end = 0
    for (i, id) in tokens.enumerated() where id > tokens[end] { end = i }
    let n = end + 1

    var plan = ArenaPlan()
    let xOffset = plan.reserve(n * c)  // (T, C) residual stream
    let aOffset = plan.reserve(n * c)  // (T, C) layer-norm output
    let qkvOffset = plan.reserve(n * 3 * c)  // (T, 3C)
    let probsOffset = plan.reserve(cfg.heads * n * n)  // (H, T, T)
    let attnOffset = plan.reserve(n * c)  // (T, C)
    let hiddenOffset = plan.reserve(n * m)  // (T, M)
    let meanOffset = plan.reserve(n)
    let rstdOffset = plan.reserve(n)
    let featureOffset = plan.reserve(e)  // (E)
    let arena = Arena(sizes: plan.sizes)
    let base = arena.base
    let (x, a, q, pr, at, h) = (
      base + xOffset, base + aOffset, base + qkvOffset, base + probsOffset, base + attnOffset,
      base + hiddenOffset
    )
    let (mu, rs, f) = (base + meanOffset, base + rstdOffset, base + featureOffset)

    let tok = p(tokenEmbedding)
    let pos = p(positions)
    for i in 0..<n {
      let row = tok + Int(tokens[i]) * c
      for j in 0..<c { x[i * c + j] = row[j] + pos[i * c + j] }
    }
    for w in blocks {
      CLIPKernels.layerNormForward(
        x: x, weight: p(w.ln1Weight), bias: p(w.ln1Bias), out: a, mean: mu, rstd: rs, rows: n,
        width: c, epsilon: eps)
      CLIPKernels.linearForward(
        x: a, weight: self.w(w.qkvWeight), bias: p(w.qkvBias), out: q, rows: n, inWidth: c,
        outWidth: 3 * c)
      CLIPKernels.attentionForward(
        qkv: q, out: at, probs: pr, batch: 1, tokens: n, queries: n,
        heads: cfg.heads, width: c,
        causal: true)
      CLIPKernels.linearForward(
        x: at, weight: self.w(w.outWeight), bias: p(w.outBias), out: x, rows: n, inWidth: c,
        outWidth: c, accumulate: true)
      CLIPKernels.layerNormForward(
        x: x, weight: p(w.ln2Weight), bias: p(w.ln2Bias), out: a, mean: mu, rstd: rs, rows: n,
        width: c, epsilon: eps)
      CLIPKernels.linearForward(
        x: a, weight: self.w(w.fc1Weight), bias: p(w.fc1Bias), out: h, rows: n, inWidth: c,
        outWidth: m)
      CLIPKernels.activationForward(config.activation, x: h, out: h, count: n * m)
      CLIPKernels.linearForward(
        x: h, weight: self.w(w.fc2Weight), bias: p(w.fc2Bias), out: x, rows: n, inWidth: m,
        outWidth: c, accumulate: true)
    }
    // ln_final and projection at the end token only.
    CLIPKernels.layerNormForward(
      x: x + end * c, weight: p(lnFinalWeight), bias: p(lnFinalBias), out: a, mean: mu, rstd: rs,
      rows: 1, width: c, epsilon: eps)
    CLIPKernels.linearForward(
      x: a, weight: self.w(projection), bias: nil, out: f, rows: 1, inWidth: c, outWidth: e)
    return Array(UnsafeBufferPointer(start: f, count: e))
  }
}
