internal import COpenBLAS

/// Thin, C-type-free wrapper over OpenBLAS's single-precision routines.
///
/// All matrices are row-major. The weight convention follows PyTorch: a linear layer stores its
/// weight as (out, in), so `y = x · Wᵀ` is `sgemm(transA: false, transB: true, …)`.
public enum BLAS {
  /// C (M×N) = alpha · op(A) (M×K) · op(B) (K×N) + beta · C, row-major.
  ///
  /// `lda`, `ldb`, `ldc` are the row strides of A, B and C as stored (before op).
  @inlinable
  public static func sgemm(
    transA: Bool, transB: Bool, m: Int, n: Int, k: Int, alpha: Float = 1,
    a: UnsafePointer<Float>, lda: Int, b: UnsafePointer<Float>, ldb: Int,
    beta: Float = 0, c: UnsafeMutablePointer<Float>, ldc: Int
  ) {
    sgemmImpl(transA, transB, m, n, k, alpha, a, lda, b, ldb, beta, c, ldc)
  }

  @usableFromInline
  static func sgemmImpl(
    _ transA: Bool, _ transB: Bool, _ m: Int, _ n: Int, _ k: Int, _ alpha: Float,
    _ a: UnsafePointer<Float>, _ lda: Int, _ b: UnsafePointer<Float>, _ ldb: Int,
    _ beta: Float, _ c: UnsafeMutablePointer<Float>, _ ldc: Int
  ) {
    precondition(m >= 0 && n >= 0 && k >= 0, "sgemm: negative dimension")
    if m == 0 || n == 0 { return }
    cblas_sgemm(
      CblasRowMajor, transA ? CblasTrans : CblasNoTrans, transB ? CblasTrans : CblasNoTrans,
      blasint(m), blasint(n), blasint(k), alpha, a, blasint(lda), b, blasint(ldb), beta, c,
      blasint(ldc))
  }

  /// Sets how many threads OpenBLAS may use inside one call (the runner sets it once).
  public static func setThreadCount(_ count: Int) {
    openblas_set_num_threads(Int32(max(1, count)))
  }

  /// The number of threads OpenBLAS currently uses.
  public static var threadCount: Int { Int(openblas_get_num_threads()) }

  /// The name of the CPU kernels OpenBLAS runs ("Haswell", "SkylakeX", "Cooperlake", …): what
  /// it detected at load time, or what `OPENBLAS_CORETYPE` forced.
  public static var coreName: String {
    guard let name = openblas_get_corename() else { return "unknown" }
    return String(cString: name)
  }
}
