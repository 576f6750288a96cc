import Foundation
import PipelineKit

/// The CLIP transformer's kernels, each a forward and a backward to its input (no weight
/// gradients), on row-major `Float` buffers. Public so that tests and benchmarks can check each
/// one alone (finite differences, naive references); the encoders compose them.
///
/// Conventions: `rows` is the number of independent vectors (batch × tokens), buffers are
/// contiguous, `d` prefixes gradients, backward functions *accumulate* into `dX` unless they say
/// otherwise. Non-GEMM work is spread over rows with `parallelFor`; GEMMs thread inside OpenBLAS.
public enum CLIPKernels {
  typealias V = VectorMath.V

  /// Splits `rows` into contiguous ranges of at least `minimum` rows and runs them in parallel.
  @inline(__always)
  static func parallelRows(_ rows: Int, minimum: Int = 8, _ body: (Range<Int>) -> Void) {
    let tasks = max(1, min(ProcessorCount.active * 4, rows / max(1, minimum)))
    if tasks == 1 {
      body(0..<rows)
      return
    }
    parallelFor(tasks) { t in
      let start = rows * t / tasks
      let end = rows * (t + 1) / tasks
      if start < end { body(start..<end) }
    }
  }

  // MARK: Layer norm

  /// out = (x − mean) / √(var + ε) · weight + bias per row of `x` (rows, width); saves each row's
  /// mean and 1/√(var + ε) (rows) for the backward.
  public static func layerNormForward(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>,
    out: UnsafeMutablePointer<Float>, mean: UnsafeMutablePointer<Float>,
    rstd: UnsafeMutablePointer<Float>, rows: Int, width: Int, epsilon: Float
  ) {
    let c = width
    parallelRows(rows) { range in
      for r in range {
        let xr = x + r * c  // (C)
        let orow = out + r * c  // (C)
        let m = VectorMath.sum(xr, c) / Float(c)
        var acc = V()
        let mv = V(repeating: m)
        var i = 0
        while i + 16 <= c {
          let d = VectorMath.load(xr + i) - mv
          acc += d * d
          i += 16
        }
        var v = acc.sum()
        while i < c {
          v += (xr[i] - m) * (xr[i] - m)
          i += 1
        }
        let s = 1 / (v / Float(c) + epsilon).squareRoot()
        mean[r] = m
        rstd[r] = s
        let sv = V(repeating: s)
        i = 0
        while i + 16 <= c {
          let n = (VectorMath.load(xr + i) - mv) * sv
          VectorMath.store(n * VectorMath.load(weight + i) + VectorMath.load(bias + i), orow + i)
          i += 16
        }
        while i < c {
          orow[i] = (xr[i] - m) * s * weight[i] + bias[i]
          i += 1
        }
      }
    }
  }

  /// dX += ∂LN/∂x applied to dOut (rows, width), from the forward's input `x`, `mean`, `rstd`:
  /// with x̂ = (x − mean)·rstd and g = dOut·weight, dX += rstd·(g − mean(g) − x̂·mean(g·x̂)).
  public static func layerNormBackward(
    dOut: UnsafePointer<Float>, x: UnsafePointer<Float>, mean: UnsafePointer<Float>,
    rstd: UnsafePointer<Float>, weight: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
    rows: Int, width: Int
  ) {
    let c = width
    parallelRows(rows) { range in
      for r in range {
        let dy = dOut + r * c  // (C)
        let xr = x + r * c  // (C)
        let dx = dX + r * c  // (C)
        let mv = V(repeating: mean[r])
        let sv = V(repeating: rstd[r])
        var accG = V()
        var accGX = V()
        var i = 0
        while i + 16 <= c {
          let g = VectorMath.load(dy + i) * VectorMath.load(weight + i)
          let xh = (VectorMath.load(xr + i) - mv) * sv
          accG += g
          accGX += g * xh
          i += 16
        }
        var sumG = accG.sum()
        var sumGX = accGX.sum()
        let tail = i
        while i < c {
          let g = dy[i] * weight[i]
          sumG += g
          sumGX += g * (xr[i] - mean[r]) * rstd[r]
          i += 1
        }
        let meanG = V(repeating: sumG / Float(c))
        let meanGX = V(repeating: sumGX / Float(c))
        i = 0
        while i + 16 <= c {
          let g = VectorMath.load(dy + i) * VectorMath.load(weight + i)
          let xh = (VectorMath.load(xr + i) - mv) * sv
          VectorMath.store(VectorMath.load(dx + i) + sv * (g - meanG - xh * meanGX), dx + i)
          i += 16
        }
        i = tail
        while i < c {
          let g = dy[i] * weight[i]
          let xh = (xr[i] - mean[r]) * rstd[r]
          dx[i] += rstd[r] * (g - sumG / Float(c) - xh * sumGX / Float(c))
          i += 1
        }
      }
    }
  }

  // MARK: Linear

  /// out (rows, outWidth) (+)= x (rows, inWidth) · weightᵀ + bias, with PyTorch's (out, in)
  /// weight; `accumulate` adds to `out` (a residual connection) instead of overwriting it.
  /// `xStride`/`outStride` are row strides (default: the widths).
  public static func linearForward(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>, rows: Int, inWidth: Int, outWidth: Int,
    accumulate: Bool = false, xStride: Int? = nil, outStride: Int? = nil
  ) {
    linearForward(
      x: x, weight: GEMMOperand(weight), bias: bias, out: out, rows: rows, inWidth: inWidth,
      outWidth: outWidth, accumulate: accumulate, xStride: xStride, outStride: outStride)
  }

  /// `linearForward` with a weight that may carry a bf16 copy and path: the product then runs
  /// in bf16 (x converted while packed), else in fp32 exactly as above.
  public static func linearForward(
    x: UnsafePointer<Float>, weight: GEMMOperand, bias: UnsafePointer<Float>?,
    out: UnsafeMutablePointer<Float>, rows: Int, inWidth: Int, outWidth: Int,
    accumulate: Bool = false, xStride: Int? = nil, outStride: Int? = nil
  ) {
    let ldo = outStride ?? outWidth
    gemm(
      transA: false, transB: true, m: rows, n: outWidth, k: inWidth, a: weight.sibling(x),
      lda: xStride ?? inWidth, b: weight, ldb: inWidth, beta: accumulate ? 1 : 0, c: out,
      ldc: ldo)
    guard let bias else { return }
    parallelRows(rows, minimum: 16) { range in
      for r in range { VectorMath.axpy(1, bias, out + r * ldo, outWidth) }
    }
  }

  /// dX (rows, inWidth) (+)= dOut (rows, outWidth) · weight — the input gradient of a linear.
  public static func linearBackward(
    dOut: UnsafePointer<Float>, weight: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
    rows: Int, inWidth: Int, outWidth: Int, accumulate: Bool, dOutStride: Int? = nil
  ) {
    linearBackward(
      dOut: dOut, weight: GEMMOperand(weight), dX: dX, rows: rows, inWidth: inWidth,
      outWidth: outWidth, accumulate: accumulate, dOutStride: dOutStride)
  }

  /// `linearBackward` with a weight that may carry a bf16 copy and path (the same precision
  /// as the forward).
  public static func linearBackward(
    dOut: UnsafePointer<Float>, weight: GEMMOperand, dX: UnsafeMutablePointer<Float>,
    rows: Int, inWidth: Int, outWidth: Int, accumulate: Bool, dOutStride: Int? = nil
  ) {
    gemm(
      transA: false, transB: false, m: rows, n: inWidth, k: outWidth, a: weight.sibling(dOut),
      lda: dOutStride ?? outWidth, b: weight, ldb: inWidth, beta: accumulate ? 1 : 0, c: dX,
      ldc: inWidth)
  }

  // MARK: Activations

  /// out = f(x) elementwise for `count` elements (`out` may alias `x`).
  public static func activationForward(
    _ kind: CLIPConfig.Activation, x: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    count: Int
  ) {
    parallelRows(count / 16 + 1, minimum: 256) { range in
      let start = range.lowerBound * 16
      let end = min(count, range.upperBound * 16)
      var i = start
      switch kind {
      case .quickGELU:
        // x · σ(1.702x) = x / (1 + e^(−1.702x))
        while i + 16 <= end {
          let v = VectorMath.load(x + i)
          let e = VectorMath.exp(V(repeating: -1.702) * v)
          VectorMath.store(v / (V(repeating: 1) + e), out + i)
          i += 16
        }
        while i < end {
          out[i] = x[i] / (1 + VectorMath.exp(-1.702 * x[i]))
          i += 1
        }
      case .gelu:
        while i < end {
          let v = x[i]
          out[i] = 0.5 * v * (1 + erf(v * 0.707_106_77))
          i += 1
        }
      }
    }
  }

  /// dX = dOut · f′(x) elementwise (overwrites; `dX` may alias `dOut`).
  public static func activationBackward(
    _ kind: CLIPConfig.Activation, x: UnsafePointer<Float>, dOut: UnsafePointer<Float>,
    dX: UnsafeMutablePointer<Float>, count: Int
  ) {
    parallelRows(count / 16 + 1, minimum: 256) { range in
      let start = range.lowerBound * 16
      let end = min(count, range.upperBound * 16)
      var i = start
      switch kind {
      case .quickGELU:
        // s = σ(1.702x); d/dx x·s = s + 1.702·x·s·(1 − s)
        let one = V(repeating: 1)
        while i + 16 <= end {
          let v = VectorMath.load(x + i)
          let s = one / (one + VectorMath.exp(V(repeating: -1.702) * v))
          let d = s + V(repeating: 1.702) * v * s * (one - s)
          VectorMath.store(VectorMath.load(dOut + i) * d, dX + i)
          i += 16
        }
        while i < end {
          let s = 1 / (1 + VectorMath.exp(-1.702 * x[i]))
          dX[i] = dOut[i] * (s + 1.702 * x[i] * s * (1 - s))
          i += 1
        }
      case .gelu:
        while i < end {
          let v = x[i]
          let cdf = 0.5 * (1 + erf(v * 0.707_106_77))
          let pdf = Foundation.exp(-0.5 * v * v) * 0.398_942_3
          dX[i] = dOut[i] * (cdf + v * pdf)
          i += 1
        }
      }
    }
  }

  // MARK: Attention

  /// Floats of scratch memory `attentionBackward` needs for these shapes (`attentionForward`
  /// needs none).
  public static func attentionScratchCount(
    batch: Int, tokens: Int, queries: Int, heads: Int, width: Int
  ) -> Int {
    batch * heads * queries * tokens
  }

  /// Multi-head scaled dot-product attention on a packed `qkv` (batch, tokens, 3·width) buffer
  /// (query, key, value blocks of `width`, heads side by side in each).
  ///
  /// Only the first `queries` tokens are queried (1 for the vision tower's last block, whose
  /// other rows nobody reads). Writes `out` (batch, queries, width) and saves the softmax
  /// `probs` (batch, heads, queries, tokens). `causal` masks keys after each query.
  ///
  /// The per-head products S = Q·Kᵀ and O = P·V are OpenBLAS calls on strided views of `qkv`,
  /// issued one after another from the calling thread (never from inside `parallelFor`); the
  /// softmax runs in parallel over (image, head).
  public static func attentionForward(
    qkv: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    probs: UnsafeMutablePointer<Float>, batch: Int, tokens: Int, queries: Int, heads: Int,
    width: Int, causal: Bool
  ) {
    let t = tokens
    let tq = queries
    let c = width
    let hd = c / heads
    let scale = 1 / Float(hd).squareRoot()
    for task in 0..<(batch * heads) {
      let (b, h) = (task / heads, task % heads)
      let base = qkv + b * t * 3 * c  // (T, 3C)
      BLAS.sgemm(
        transA: false, transB: true, m: tq, n: t, k: hd, alpha: scale, a: base + h * hd,
        lda: 3 * c, b: base + c + h * hd, ldb: 3 * c, c: probs + task * tq * t, ldc: t)
    }
    parallelFor(batch * heads) { task in
      for i in 0..<tq {
        let row = probs + (task * tq + i) * t  // (T)
        let keys = causal ? i + 1 : t
        var maxS = -Float.infinity
        for j in 0..<keys { maxS = max(maxS, row[j]) }
        softmaxInPlace(row, count: keys, max: maxS)
        if keys < t { (row + keys).update(repeating: 0, count: t - keys) }
      }
    }
    for task in 0..<(batch * heads) {
      let (b, h) = (task / heads, task % heads)
      let base = qkv + b * t * 3 * c  // (T, 3C)
      BLAS.sgemm(
        transA: false, transB: false, m: tq, n: hd, k: t, a: probs + task * tq * t, lda: t,
        b: base + 2 * c + h * hd, ldb: 3 * c, c: out + b * tq * c + h * hd, ldc: c)
    }
  }

  @inline(__always)
  static func softmaxInPlace(_ row: UnsafeMutablePointer<Float>, count: Int, max m: Float) {
    var total: Float = 0
    var j = 0
    let mv = V(repeating: m)
    var acc = V()
    while j + 16 <= count {
      let e = VectorMath.exp(VectorMath.load(row + j) - mv)
      VectorMath.store(e, row + j)
      acc += e
      j += 16
    }
    total = acc.sum()
    while j < count {
      let e = VectorMath.exp(row[j] - m)
      row[j] = e
      total += e
      j += 1
    }
    let inv = 1 / total
    for k in 0..<count { row[k] *= inv }
  }

  /// The input gradient of `attentionForward`: from dOut (batch, queries, width) and the saved
  /// `qkv` and `probs`, writes dQKV (batch, tokens, 3·width) — overwriting it; query rows at or
  /// after `queries` get zero. `scratch` holds `attentionScratchCount(…)` floats.
  ///
  /// Per (image, head), with dP = dO·Vᵀ and dS = P ⊙ (dP − rowsum(P ⊙ dP))·scale:
  /// dV = Pᵀ·dO, dQ = dS·K, dK = dSᵀ·Q — OpenBLAS calls from the calling thread, the
  /// element-wise part in parallel.
  public static func attentionBackward(
    dOut: UnsafePointer<Float>, qkv: UnsafePointer<Float>, probs: UnsafePointer<Float>,
    dQKV: UnsafeMutablePointer<Float>, scratch: UnsafeMutablePointer<Float>, batch: Int,
    tokens: Int, queries: Int, heads: Int, width: Int, causal: Bool
  ) {
    let t = tokens
    let tq = queries
    let c = width
    let hd = c / heads
    let scale = 1 / Float(hd).squareRoot()
    for task in 0..<(batch * heads) {
      let (b, h) = (task / heads, task % heads)
      // dP = dO·Vᵀ (Tq, T)
      BLAS.sgemm(
        transA: false, transB: true, m: tq, n: t, k: hd, a: dOut + b * tq * c + h * hd, lda: c,
        b: qkv + b * t * 3 * c + 2 * c + h * hd, ldb: 3 * c, c: scratch + task * tq * t, ldc: t)
    }
    parallelFor(batch * heads) { task in
      for i in 0..<tq {
        let keys = causal ? i + 1 : t
        let ds = scratch + (task * tq + i) * t  // (T)
        let p = probs + (task * tq + i) * t  // (T)
        var dot: Float = 0
        for j in 0..<keys { dot += p[j] * ds[j] }
        for j in 0..<keys { ds[j] = p[j] * (ds[j] - dot) * scale }
        if keys < t { (ds + keys).update(repeating: 0, count: t - keys) }
      }
    }
    for task in 0..<(batch * heads) {
      let (b, h) = (task / heads, task % heads)
      let base = qkv + b * t * 3 * c  // (T, 3C)
      let dbase = dQKV + b * t * 3 * c  // (T, 3C)
      let p = probs + task * tq * t  // (Tq, T)
      let ds = scratch + task * tq * t  // (Tq, T)
      // dV = Pᵀ·dO (T, hd)
      BLAS.sgemm(
        transA: true, transB: false, m: t, n: hd, k: tq, a: p, lda: t,
        b: dOut + b * tq * c + h * hd, ldb: c, c: dbase + 2 * c + h * hd, ldc: 3 * c)
      // dQ = dS·K (Tq, hd)
      BLAS.sgemm(
        transA: false, transB: false, m: tq, n: hd, k: t, a: ds, lda: t, b: base + c + h * hd,
        ldb: 3 * c, c: dbase + h * hd, ldc: 3 * c)
      // dK = dSᵀ·Q (T, hd)
      BLAS.sgemm(
        transA: true, transB: false, m: t, n: hd, k: tq, a: ds, lda: t, b: base + h * hd,
        ldb: 3 * c, c: dbase + c + h * hd, ldc: 3 * c)
    }
    if tq < t {
      parallelFor(batch) { b in
        for j in tq..<t {
          let row = dQKV + (b * t + j) * 3 * c
          row.update(repeating: 0, count: c)
        }
      }
    }
  }

  // MARK: Patch embedding

  /// Rearranges images (batch, 3, size, size) into patch rows (batch·grid², 3·patch²), each
  /// row ordered (channel, y, x) like the convolution weight (width, 3, patch, patch); the
  /// patch embedding is then one GEMM with that weight.
  public static func patchesForward(
    pixels: UnsafePointer<Float>, patches: UnsafeMutablePointer<Float>, batch: Int, size: Int,
    patch: Int
  ) {
    let g = size / patch
    let k = 3 * patch * patch
    parallelFor(batch) { b in
      for gy in 0..<g {
        for gx in 0..<g {
          let row = patches + ((b * g + gy) * g + gx) * k  // (3·p·p)
          for ch in 0..<3 {
            for y in 0..<patch {
              let src = pixels + ((b * 3 + ch) * size + gy * patch + y) * size + gx * patch
              let dst = row + (ch * patch + y) * patch
              dst.update(from: src, count: patch)
            }
          }
        }
      }
    }
  }

  /// The adjoint of `patchesForward`: scatters patch-row gradients back to an image gradient
  /// (batch, 3, size, size), overwriting it (pixels outside whole patches get zero).
  public static func patchesBackward(
    dPatches: UnsafePointer<Float>, dPixels: UnsafeMutablePointer<Float>, batch: Int, size: Int,
    patch: Int
  ) {
    let g = size / patch
    let k = 3 * patch * patch
    parallelFor(batch) { b in
      let image = dPixels + b * 3 * size * size
      if g * patch != size { image.update(repeating: 0, count: 3 * size * size) }
      for gy in 0..<g {
        for gx in 0..<g {
          let row = dPatches + ((b * g + gy) * g + gx) * k
          for ch in 0..<3 {
            for y in 0..<patch {
              let dst = image + (ch * size + gy * patch + y) * size + gx * patch
              dst.update(from: row + (ch * patch + y) * patch, count: patch)
            }
          }
        }
      }
    }
  }
}
