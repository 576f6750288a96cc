internal import CBF16
import PipelineKit

/// bfloat16 numbers and the bf16 GEMM (bf16 products, fp32 sums) the towers run in bf16
/// precision: conversion rounded to nearest even, and two ways to multiply — the AVX512_BF16
/// microkernel (`vdpbf16ps`), chosen at run time from cpuid, and a portable emulation of the
/// same instruction (same packing, same order of additions) that any CPU runs, so that tests
/// check the arithmetic everywhere.
public enum BFloat16 {
  /// Whether this CPU has native bf16 dot products (AVX512_BF16 with AVX-512 F/BW/VL, enabled
  /// by the operating system).
  public static let hasNativeDotProducts: Bool = cbf16_native_available() != 0

  /// The bfloat16 bits of `x`: round to nearest, ties to even; NaN stays NaN (quietened, sign
  /// kept), ±∞ stays ±∞, finite values past the largest bf16 become ±∞.
  public static func round(_ x: Float) -> UInt16 { cbf16_round(x) }

  /// The Float value of bfloat16 bits (exact).
  public static func widen(_ bits: UInt16) -> Float { cbf16_widen(bits) }

  /// `x` rounded to the nearest bfloat16, as a Float.
  public static func rounded(_ x: Float) -> Float { widen(round(x)) }

  /// dst[i] = round(src[i]) for `count` elements, in parallel chunks.
  public static func convert(
    _ src: UnsafePointer<Float>, into dst: UnsafeMutablePointer<UInt16>, count: Int
  ) {
    let chunk = 1 << 16
    let chunks = (count + chunk - 1) / chunk
    parallelFor(chunks) { i in
      let start = i * chunk
      cbf16_convert(src + start, dst + start, min(chunk, count - start))
    }
  }

  /// The microkernel's tile: rows × columns of C one call computes.
  public static var tile: (rows: Int, columns: Int) {
    (cbf16_tile_rows(), cbf16_tile_columns())
  }

  /// What the kernels of `path` are, for benchmark reports.
  public static func kernelName(_ path: BF16Path) -> String {
    switch path {
    case .native: "clipig bf16 microkernel (AVX512_BF16 vdpbf16ps, 12×32 tile, fp32 sums)"
    case .emulated: "clipig bf16 emulation (portable C, vdpbf16ps's rounding and order)"
    }
  }

  /// C (m×n) = alpha · op(A) · op(B) + beta · C, row-major like `BLAS.sgemm`, with A and B
  /// rounded to bf16 (fp32 operands while they are packed, bf16 operands as stored) and the
  /// products summed in fp32 by `path`. Splits C over the cores by column blocks (or row
  /// blocks when there are few columns); beta == 0 never reads C. `.native` on a CPU without
  /// the instructions traps: callers resolve the path with `CLIPPrecision.resolve`.
  public static func gemm(
    path: BF16Path, transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: GEMMOperand, lda: Int, b: GEMMOperand, ldb: Int, beta: Float = 0,
    c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    precondition(m >= 0 && n >= 0 && k >= 0, "BFloat16.gemm: negative dimension")
    precondition(path == .emulated || hasNativeDotProducts, "BFloat16.gemm: no AVX512_BF16")
    if m == 0 || n == 0 { return }
    let opA = a.operand(ld: lda, trans: transA)
    let opB = b.operand(ld: ldb, trans: transB)
    let native: Int32 = path == .native ? 1 : 0
    let (mr, nr) = tile
    // One task per core when there is work for it; column blocks of NR, else row blocks of MR.
    let work = Double(m) * Double(n) * Double(k)
    let cores = work < 2e6 ? 1 : ProcessorCount.active
    let columnBlocks = (n + nr - 1) / nr
    let rowBlocks = (m + mr - 1) / mr
    let byColumns = columnBlocks >= 2 * cores || columnBlocks >= rowBlocks
    let blocks = byColumns ? columnBlocks : rowBlocks
    let tasks = max(1, min(cores, blocks))
    let step = byColumns ? nr : mr
    parallelFor(tasks) { t in
      let first = blocks * t / tasks * step
      let last = blocks * (t + 1) / tasks * step
      let status =
        byColumns
        ? cbf16_gemm(
          native, m, n, k, alpha, opA, opB, beta, c, ldc, 0, m, first, min(n, last))
        : cbf16_gemm(
          native, m, n, k, alpha, opA, opB, beta, c, ldc, first, min(m, last), 0, n)
      precondition(status == 0, "BFloat16.gemm: out of memory for packing buffers")
    }
  }
}

/// How bf16 products are computed.
public enum BF16Path: String, Sendable, Equatable {
  /// The AVX512_BF16 microkernel.
  case native
  /// The portable emulation of `vdpbf16ps` (same results, far slower; tests and CPUs without
  /// the instructions when bf16 is forced).
  case emulated
}

/// One GEMM input as the tower kernels pass it: the fp32 matrix, optionally its bf16 copy
/// (weights converted at load), and the bf16 path when the product runs in bf16 (nil: fp32,
/// OpenBLAS). `+` offsets both pointers alike.
public struct GEMMOperand {
  /// The fp32 values.
  public var fp32: UnsafePointer<Float>
  /// The same values rounded to bf16 (same layout), when converted ahead.
  public var bf16: UnsafePointer<UInt16>?
  /// The bf16 path of products with this operand; nil for fp32.
  public var path: BF16Path?

  /// An operand of fp32 values, multiplied in `path`'s bf16 (converted while packing), or in
  /// fp32 when `path` is nil.
  public init(
    _ fp32: UnsafePointer<Float>, bf16: UnsafePointer<UInt16>? = nil, path: BF16Path? = nil
  ) {
    self.fp32 = fp32
    self.bf16 = bf16
    self.path = path
  }

  /// The same operand starting `offset` elements further.
  public static func + (lhs: GEMMOperand, offset: Int) -> GEMMOperand {
    GEMMOperand(lhs.fp32 + offset, bf16: lhs.bf16.map { $0 + offset }, path: lhs.path)
  }

  /// An activation operand multiplied in the same precision as this one.
  func sibling(_ pointer: UnsafePointer<Float>) -> GEMMOperand {
    GEMMOperand(pointer, path: path)
  }

  func operand(ld: Int, trans: Bool) -> cbf16_operand {
    if let bf16 {
      return cbf16_operand(data: UnsafeRawPointer(bf16), ld: ld, bf16: 1, trans: trans ? 1 : 0)
    }
    return cbf16_operand(data: UnsafeRawPointer(fp32), ld: ld, bf16: 0, trans: trans ? 1 : 0)
  }
}

extension CLIPKernels {
  /// The towers' GEMM: C = alpha · op(A) · op(B) + beta · C in bf16 when either operand carries
  /// a bf16 path, else OpenBLAS's sgemm on the fp32 values (bit for bit the fp32 model).
  @inline(__always)
  static func gemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1, a: GEMMOperand,
    lda: Int, b: GEMMOperand, ldb: Int, beta: Float = 0, c: UnsafeMutablePointer<Float>,
    ldc: Int
  ) {
    if let path = a.path ?? b.path {
      BFloat16.gemm(
        path: path, transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a,
        lda: lda, b: b, ldb: ldb, beta: beta, c: c, ldc: ldc)
    } else {
      BLAS.sgemm(
        transA: transA, transB: transB, m: m, n: n, k: k, alpha: alpha, a: a.fp32, lda: lda,
        b: b.fp32, ldb: ldb, beta: beta, c: c, ldc: ldc)
    }
  }
}
