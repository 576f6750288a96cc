import PipelineKit

/// The shapes of one 2-D convolution on channel-major batches (C, N, H, W): every channel's
/// planes of all images are contiguous, so the convolution of the whole batch is one GEMM
/// `out (Cout, N·Ho·Wo) = weight (Cout, Cin·k·k) · columns (Cin·k·k, N·Ho·Wo)`.
public struct ConvolutionShape: Sendable, Equatable {
  /// Input channels.
  public var inChannels: Int
  /// Output channels.
  public var outChannels: Int
  /// Images.
  public var batch: Int
  /// Input height.
  public var height: Int
  /// Input width.
  public var width: Int
  /// Kernel side (square).
  public var kernel: Int
  /// Stride (both axes).
  public var stride: Int
  /// Zero padding (both axes, both sides).
  public var padding: Int
  /// Upper bound on the unfolded columns held at once, in floats (default 2²² = 16 MB, large
  /// enough for full-speed GEMMs; tests lower it to exercise the chunking).
  public var columnLimit = 1 << 22
  /// How the convolution is computed (tests pin `.im2col` to compare the two).
  public var algorithm = ConvolutionAlgorithm.automatic

  /// Creates a shape.
  public init(
    inChannels: Int, outChannels: Int, batch: Int, height: Int, width: Int, kernel: Int,
    stride: Int = 1, padding: Int = 0
  ) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    self.batch = batch
    self.height = height
    self.width = width
    self.kernel = kernel
    self.stride = stride
    self.padding = padding
  }

  /// Output height.
  public var outHeight: Int { (height + 2 * padding - kernel) / stride + 1 }
  /// Output width.
  public var outWidth: Int { (width + 2 * padding - kernel) / stride + 1 }
  /// Length of one unfolded patch: Cin·k·k (the GEMM's inner dimension).
  public var patchLength: Int { inChannels * kernel * kernel }
  /// Input floats (Cin, N, H, W).
  public var inputCount: Int { inChannels * batch * height * width }
  /// Output floats (Cout, N, Ho, Wo).
  public var outputCount: Int { outChannels * batch * outHeight * outWidth }
  /// A 1×1, stride-1, unpadded convolution needs no unfolding: the input is the GEMM operand.
  public var isPointwise: Bool { kernel == 1 && stride == 1 && padding == 0 }
  /// Multiply-adds ×2 of the forward (the backward to the input costs the same).
  public var flops: Double {
    2 * Double(outChannels) * Double(patchLength) * Double(batch * outHeight * outWidth)
  }

  /// Output rows (image, y) unfolded at once: as many as fit `columnLimit` floats of
  /// columns, at least one.
  var chunkRows: Int {
    max(1, min(batch * outHeight, columnLimit / max(1, patchLength * outWidth)))
  }
  /// Floats of scratch the forward and backward need (the unfolded columns of one chunk).
  public var scratchCount: Int {
    if isPointwise { return 0 }
    if usesWinograd { return winogradTiling(transposed: false).scratchCount }
    return patchLength * chunkRows * outWidth
  }
}

extension ConvolutionShape {
  /// The shape as a bf16 product computes it: im2col instead of Winograd (whose transformed
  /// operands, rounded to bf16, lose far more than the direct convolution's), in chunks that
  /// fit the Winograd scratch this shape was planned with — unless not even one output row
  /// fits, then Winograd as planned. Unchanged in fp32 (`path` nil).
  func forPrecision(_ path: BF16Path?) -> ConvolutionShape {
    guard path != nil, usesWinograd else { return self }
    var direct = self
    direct.algorithm = .im2col
    direct.columnLimit = min(columnLimit, scratchCount)
    return direct.columnLimit >= patchLength * outWidth ? direct : self
  }
}

/// How `CLIPKernels.convolutionForward` and `convolutionBackward` compute a convolution.
public enum ConvolutionAlgorithm: Sendable, Equatable {
  /// Winograd's F(4×4, 3×3) for stride-1, padding-1 3×3 convolutions (a quarter of the
  /// multiplications), im2col + GEMM for every other.
  case automatic
  /// Im2col (or col2im) + GEMM always: the direct convolution, as PyTorch computes it.
  case im2col
}

extension CLIPKernels {
  // MARK: Convolution

  /// out (Cout, N, Ho, Wo) (+)= weight (Cout, Cin, k, k) ∗ x (Cin, N, H, W), no bias (see
  /// `biasActivation`). `scratch` holds `shape.scratchCount` floats; `accumulate` adds to `out`.
  ///
  /// Im2col in chunks of output rows, each followed by one OpenBLAS GEMM writing its columns of
  /// `out`; a pointwise convolution is a single GEMM on `x` itself; a `usesWinograd` shape
  /// runs Winograd's F(4×4, 3×3) (Winograd.swift).
  public static func convolutionForward(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    shape s: ConvolutionShape, scratch: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
    profile: KernelProfile? = nil
  ) {
    convolutionForward(
      x: x, weight: GEMMOperand(weight), out: out, shape: s, scratch: scratch,
      accumulate: accumulate, profile: profile)
  }

  /// `convolutionForward` with a weight that may carry a bf16 copy and path: every GEMM
  /// (pointwise, im2col, Winograd) then runs in bf16, else in fp32 exactly as above.
  public static func convolutionForward(
    x: UnsafePointer<Float>, weight: GEMMOperand, out: UnsafeMutablePointer<Float>,
    shape s: ConvolutionShape, scratch: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
    profile: KernelProfile? = nil
  ) {
    let columns = s.batch * s.outHeight * s.outWidth
    let k = s.patchLength
    if s.isPointwise {
      gemm(
        transA: false, transB: false, m: s.outChannels, n: columns, k: k, a: weight, lda: k,
        b: weight.sibling(x), ldb: columns, beta: accumulate ? 1 : 0, c: out, ldc: columns)
      return
    }
    guard let scratch else { preconditionFailure("convolutionForward: scratch required") }
    let s = s.forPrecision(weight.path)
    if s.usesWinograd {
      winogradConvolution(
        x: x, weight: weight.fp32, out: out, shape: s, transposed: false, scratch: scratch,
        accumulate: accumulate, profile: profile, path: weight.path)
      return
    }
    let rows = s.batch * s.outHeight
    var r0 = 0
    while r0 < rows {
      let r1 = min(rows, r0 + s.chunkRows)
      let count = (r1 - r0) * s.outWidth
      profile.measure("im2col", part: true) {
        unfold(x: x, columns: scratch, shape: s, rows: r0..<r1)  // (K, count)
      }
      gemm(
        transA: false, transB: false, m: s.outChannels, n: count, k: k, a: weight, lda: k,
        b: weight.sibling(scratch), ldb: count, beta: accumulate ? 1 : 0,
        c: out + r0 * s.outWidth, ldc: columns)
      r0 = r1
    }
  }

  /// The input gradient of `convolutionForward`: dX (Cin, N, H, W) (+)= the transposed
  /// convolution of dOut (Cout, N, Ho, Wo) — Wᵀ·dOut per chunk, folded back (col2im) — with
  /// the same `scratch`. Overwrites `dX` unless `accumulate`. A `usesWinograd` shape runs the
  /// forward Winograd convolution of dOut with the flipped kernel, channels swapped.
  public static func convolutionBackward(
    dOut: UnsafePointer<Float>, weight: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>,
    shape s: ConvolutionShape, scratch: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
    profile: KernelProfile? = nil
  ) {
    convolutionBackward(
      dOut: dOut, weight: GEMMOperand(weight), dX: dX, shape: s, scratch: scratch,
      accumulate: accumulate, profile: profile)
  }

  /// `convolutionBackward` with a weight that may carry a bf16 copy and path (the same
  /// precision as the forward).
  public static func convolutionBackward(
    dOut: UnsafePointer<Float>, weight: GEMMOperand, dX: UnsafeMutablePointer<Float>,
    shape s: ConvolutionShape, scratch: UnsafeMutablePointer<Float>?, accumulate: Bool = false,
    profile: KernelProfile? = nil
  ) {
    let columns = s.batch * s.outHeight * s.outWidth
    let k = s.patchLength
    if s.isPointwise {
      gemm(
        transA: true, transB: false, m: k, n: columns, k: s.outChannels, a: weight, lda: k,
        b: weight.sibling(dOut), ldb: columns, beta: accumulate ? 1 : 0, c: dX, ldc: columns)
      return
    }
    guard let scratch else { preconditionFailure("convolutionBackward: scratch required") }
    let s = s.forPrecision(weight.path)
    if s.usesWinograd {
      winogradConvolution(
        x: dOut, weight: weight.fp32, out: dX, shape: s, transposed: true, scratch: scratch,
        accumulate: accumulate, profile: profile, path: weight.path)
      return
    }
    if !accumulate { profile.measure("zero fill", part: true) { fill(dX, 0, count: s.inputCount) } }
    let rows = s.batch * s.outHeight
    var r0 = 0
    while r0 < rows {
      let r1 = min(rows, r0 + s.chunkRows)
      let count = (r1 - r0) * s.outWidth
      gemm(
        transA: true, transB: false, m: k, n: count, k: s.outChannels, a: weight, lda: k,
        b: weight.sibling(dOut + r0 * s.outWidth), ldb: columns, c: scratch, ldc: count)
      profile.measure("col2im", part: true) {
        fold(columns: scratch, dX: dX, shape: s, rows: r0..<r1)
      }
      r0 = r1
    }
  }

  /// Im2col of output rows `rows` (each an (image, y) pair): columns (Cin·k·k, rows·Wo), row
  /// (c, ky, kx) holding x[c, n, y·s + ky − p, x·s + kx − p] or 0 outside the image.
  static func unfold(
    x: UnsafePointer<Float>, columns: UnsafeMutablePointer<Float>, shape s: ConvolutionShape,
    rows: Range<Int>
  ) {
    let (kk, ho, wo, h, w) = (s.kernel, s.outHeight, s.outWidth, s.height, s.width)
    let count = rows.count * wo
    let plane = h * w
    parallelFor(s.patchLength) { krow in
      let c = krow / (kk * kk)
      let ky = (krow / kk) % kk
      let kx = krow % kk
      let dst = columns + krow * count  // (rows·Wo)
      // Valid output x range for this kx (stride 1: one contiguous copy).
      for (i, r) in rows.enumerated() {
        let n = r / ho
        let y = r % ho
        let iy = y * s.stride + ky - s.padding
        let d = dst + i * wo  // (Wo)
        if iy < 0 || iy >= h {
          d.update(repeating: 0, count: wo)
          continue
        }
        let src = x + (c * s.batch + n) * plane + iy * w  // (W)
        let shift = kx - s.padding
        if s.stride == 1 {
          let lo = min(wo, max(0, -shift))
          let hi = max(lo, min(wo, w - shift))
          if lo > 0 { d.update(repeating: 0, count: lo) }
          if hi > lo { (d + lo).update(from: src + lo + shift, count: hi - lo) }
          if hi < wo { (d + hi).update(repeating: 0, count: wo - hi) }
        } else {
          for ox in 0..<wo {
            let ix = ox * s.stride + shift
            d[ox] = ix >= 0 && ix < w ? src[ix] : 0
          }
        }
      }
    }
  }

  /// The adjoint of `unfold`: adds each column entry back to the pixel it came from
  /// (parallel over input channels, which own disjoint planes of dX).
  static func fold(
    columns: UnsafePointer<Float>, dX: UnsafeMutablePointer<Float>, shape s: ConvolutionShape,
    rows: Range<Int>
  ) {
    let (kk, ho, wo, h, w) = (s.kernel, s.outHeight, s.outWidth, s.height, s.width)
    let count = rows.count * wo
    let plane = h * w
    parallelFor(s.inChannels) { c in
      for ky in 0..<kk {
        for kx in 0..<kk {
          let src = columns + ((c * kk + ky) * kk + kx) * count  // (rows·Wo)
          let shift = kx - s.padding
          for (i, r) in rows.enumerated() {
            let n = r / ho
            let y = r % ho
            let iy = y * s.stride + ky - s.padding
            if iy < 0 || iy >= h { continue }
            let d = dX + (c * s.batch + n) * plane + iy * w  // (W)
            let g = src + i * wo  // (Wo)
            if s.stride == 1 {
              let lo = min(wo, max(0, -shift))
              let hi = max(lo, min(wo, w - shift))
              if hi > lo { VectorMath.axpy(1, g + lo, d + lo + shift, hi - lo) }
            } else {
              for ox in 0..<wo {
                let ix = ox * s.stride + shift
                if ix >= 0 && ix < w { d[ix] += g[ox] }
              }
            }
          }
        }
      }
    }
  }

  @inline(__always)
  static func fill(_ p: UnsafeMutablePointer<Float>, _ value: Float, count: Int) {
    parallelRows(count / 4096 + 1, minimum: 16) { range in
      let start = range.lowerBound * 4096
      let end = min(count, range.upperBound * 4096)
      if end > start { (p + start).update(repeating: value, count: end - start) }
    }
  }

  // MARK: Bias and ReLU

  /// x (C, plane) += bias[c] (+ bias2[c]) per channel, then ReLU when `relu` — the epilogue of
  /// a batch-norm-folded convolution (bias2: a second branch added before the ReLU).
  public static func biasActivation(
    _ x: UnsafeMutablePointer<Float>, bias: UnsafePointer<Float>,
    bias2: UnsafePointer<Float>? = nil,
    channels: Int, plane: Int, relu: Bool
  ) {
    let blocks = (plane + 4095) / 4096
    parallelFor(channels * blocks) { job in
      let c = job / blocks
      let start = (job % blocks) * 4096
      let end = min(plane, start + 4096)
      let b = bias[c] + (bias2?[c] ?? 0)
      let p = x + c * plane
      let bv = V(repeating: b)
      let zero = V()
      var i = start
      if relu {
        while i + 16 <= end {
          let v = VectorMath.load(p + i) + bv
          VectorMath.store(v.replacing(with: zero, where: v .< zero), p + i)
          i += 16
        }
        while i < end {
          p[i] = max(p[i] + b, 0)
          i += 1
        }
      } else {
        while i + 16 <= end {
          VectorMath.store(VectorMath.load(p + i) + bv, p + i)
          i += 16
        }
        while i < end {
          p[i] += b
          i += 1
        }
      }
    }
  }

  /// dX = dY where the ReLU's output y > 0, else 0 (in place on `d`), for `count` elements.
  public static func reluBackward(
    output y: UnsafePointer<Float>, gradient d: UnsafeMutablePointer<Float>, count: Int
  ) {
    parallelRows(count / 4096 + 1, minimum: 4) { range in
      let start = range.lowerBound * 4096
      let end = min(count, range.upperBound * 4096)
      var i = start
      let zero = V()
      while i + 16 <= end {
        let mask = VectorMath.load(y + i) .> zero
        VectorMath.store(
          V(repeating: 0).replacing(with: VectorMath.load(d + i), where: mask), d + i)
        i += 16
      }
      while i < end {
        if !(y[i] > 0) { d[i] = 0 }
        i += 1
      }
    }
  }

  // MARK: Batch norm

  /// Folds an inference-mode batch norm into the convolution before it: with
  /// s = γ / √(var + ε), weight[o, …] ·= s[o] (`perOutput` weights per output channel) and
  /// `beta` becomes the convolution's bias β − mean·s (in place).
  public static func foldBatchNorm(
    weight: UnsafeMutablePointer<Float>, gamma: UnsafePointer<Float>,
    beta: UnsafeMutablePointer<Float>, mean: UnsafePointer<Float>,
    variance: UnsafePointer<Float>, epsilon: Float, outChannels: Int, perOutput: Int
  ) {
    for o in 0..<outChannels {
      let scale = Float(Double(gamma[o]) / (Double(variance[o]) + Double(epsilon)).squareRoot())
      let w = weight + o * perOutput
      for i in 0..<perOutput { w[i] *= scale }
      beta[o] -= mean[o] * scale
    }
  }
}
