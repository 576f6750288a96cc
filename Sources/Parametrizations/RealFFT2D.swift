internal import CFFTW
import Foundation

/// An orthonormal two-dimensional real FFT of one size, backed by FFTW in single precision.
///
/// The plans are made once, when the value is created (FFTW's planner is not thread-safe, so
/// planning and destroying plans hold one lock), and executed with FFTW's new-array functions,
/// which may run concurrently. Both directions are scaled by 1/√(HW) (NumPy's and PyTorch's
/// `norm="ortho"`), so the inverse undoes the forward exactly and each is the other's adjoint on
/// Hermitian spectra.
final class RealFFT2D: @unchecked Sendable {
  /// Rows of the real plane.
  let height: Int
  /// Columns of the real plane.
  let width: Int
  /// Columns of the half spectrum: width / 2 + 1.
  let spectrumWidth: Int
  /// 1/√(HW).
  let normalization: Float
  private let forwardPlan: OpaquePointer  // r2c (H, W) → (H, W/2+1)
  private let inversePlan: OpaquePointer  // c2r (H, W/2+1) → (H, W)

  /// Serialises FFTW's planner, which keeps process-wide state.
  private static let planner = NSLock()

  /// Plans both directions for planes of `height` × `width`.
  init(height: Int, width: Int) {
    precondition(height >= 1 && width >= 1, "RealFFT2D: empty plane \(height)×\(width)")
    self.height = height
    self.width = width
    spectrumWidth = width / 2 + 1
    normalization = Float(1 / Double(height * width).squareRoot())
    let flags = UInt32(FFTW_ESTIMATE | FFTW_UNALIGNED)
    Self.planner.lock()
    defer { Self.planner.unlock() }
    let real = fftwf_alloc_real(height * width)!  // (H, W)
    let complex = fftwf_alloc_complex(height * (width / 2 + 1))!  // (H, W/2+1)
    defer {
      fftwf_free(real)
      fftwf_free(complex)
    }
    forwardPlan = fftwf_plan_dft_r2c_2d(Int32(height), Int32(width), real, complex, flags)!
    inversePlan = fftwf_plan_dft_c2r_2d(
      Int32(height), Int32(width), complex, real, flags | UInt32(FFTW_DESTROY_INPUT))!
  }

  deinit {
    Self.planner.lock()
    fftwf_destroy_plan(forwardPlan)
    fftwf_destroy_plan(inversePlan)
    Self.planner.unlock()
  }

  /// Real plane `input` (H, W) → half spectrum `output` (H, W/2+1) of interleaved (re, im),
  /// scaled by 1/√(HW).
  func forward(_ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
    let n = height * spectrumWidth * 2
    output.withMemoryRebound(to: fftwf_complex.self, capacity: n / 2) { out in
      fftwf_execute_dft_r2c(forwardPlan, input, out)
    }
    for i in 0..<n { output[i] *= normalization }
  }

  /// Half spectrum `input` (H, W/2+1) of interleaved (re, im) → real plane `output` (H, W),
  /// scaled by 1/√(HW). The input must be Hermitian in its first (and, for even W, last) column;
  /// it is overwritten.
  func inverse(_ input: UnsafeMutablePointer<Float>, _ output: UnsafeMutablePointer<Float>) {
    input.withMemoryRebound(to: fftwf_complex.self, capacity: height * spectrumWidth) { spectrum in
      fftwf_execute_dft_c2r(inversePlan, spectrum, output)
    }
    for i in 0..<(height * width) { output[i] *= normalization }
  }
}
