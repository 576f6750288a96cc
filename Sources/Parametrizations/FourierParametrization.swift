import PipelineKit

#if canImport(Glibc)
  import Glibc
#else
  import Foundation
#endif

/// The parameters are the image's half spectrum (the layout of a 2-D real FFT), scaled by
/// 1/f^decay so that coarse structure learns first: Lucid's `fft_image`, the Distill article
/// "Differentiable Image Parameterizations" and Aphantasia.
///
/// Layout: `[3, H, W/2+1, 2]`, the real and imaginary part of each coefficient. For plane c,
/// coefficient (ky, kx) is `scale[ky,kx] · (p_re + i·p_im)` with
/// `scale ∝ 1 / max(f, 1/max(W,H))^decay` (Lucid's scale) normalised to unit root mean square
/// over the full spectrum, `f = √((kx/W)² + (ky'/H)²)` in cycles per pixel and `ky'` the signed
/// frequency of row ky. The plane is the orthonormal inverse real FFT
/// (`torch.fft.irfft2(…, s=(H, W), norm="ortho")`) of the scaled spectrum, with the first
/// column (and, for even W, the last) made Hermitian first so that the image does not depend
/// on how an FFT library treats a non-Hermitian input. Then the colour basis and the value
/// mapping make the image.
///
/// The pullback is the adjoint: the orthonormal forward real FFT of the plane's cotangent,
/// doubled in the columns that stand for two conjugate columns of the full spectrum, times
/// `scale`.
public struct FourierParametrization: ImageParametrization {
  /// Columns of the image.
  public let width: Int
  /// Rows of the image.
  public let height: Int
  /// Exponent of the 1/f spectrum scale (0: every frequency equal).
  public let decay: Double
  /// Colour space of the planes.
  public let colors: ColorBasis
  /// How values are brought into [0, 1].
  public let mapping: ValueMapping
  let fft: RealFFT2D
  /// Per coefficient, (H, W/2+1).
  let scale: [Float]

  /// A Fourier parametrization of `width` × `height`; plans its FFTs once.
  public init(
    width: Int, height: Int, decay: Double = 1, colors: ColorBasis = .rgb,
    mapping: ValueMapping = .clamp
  ) {
    precondition(width >= 1 && height >= 1, "FourierParametrization: empty image")
    self.width = width
    self.height = height
    self.decay = decay
    self.colors = colors
    self.mapping = mapping
    fft = RealFFT2D(height: height, width: width)
    scale = Self.scale(height: height, width: width, decay: decay)
  }

  /// The spectrum scale (H, W/2+1): 1/max(f, 1/max(W,H))^decay divided by its root mean square
  /// over the full H × W spectrum, so that a step of the same size in every coefficient moves
  /// the image as much as with pixels (whatever the decay and size); decay 0 gives all ones.
  static func scale(height: Int, width: Int, decay: Double) -> [Float] {
    let wf = width / 2 + 1
    let floor = 1 / Double(max(width, height))
    var raw = [Double](repeating: 0, count: height * wf)
    var sumSquares = 0.0
    for ky in 0..<height {
      let fy = Double(signedFrequency(ky, height)) / Double(height)
      for kx in 0..<wf {
        let fx = Double(kx) / Double(width)
        let f = (fx * fx + fy * fy).squareRoot()
        let v = 1 / pow(max(f, floor), decay)
        raw[ky * wf + kx] = v
        // Columns 1 ..< ⌈W/2⌉ stand for themselves and their mirror in the full spectrum.
        sumSquares += (kx >= 1 && kx < (width + 1) / 2 ? 2 : 1) * v * v
      }
    }
    let rms = (sumSquares / Double(height * width)).squareRoot()
    return raw.map { Float($0 / rms) }
  }

  /// The signed frequency of index k of an n-point DFT (NumPy's `fftfreq(n) · n`).
  static func signedFrequency(_ k: Int, _ n: Int) -> Int { k <= (n - 1) / 2 ? k : k - n }

  /// 3 · H · (W/2+1) · 2.
  public var parameterCount: Int { 3 * height * fft.spectrumWidth * 2 }

  /// Floats of one plane's half spectrum.
  var spectrumCount: Int { height * fft.spectrumWidth * 2 }

  /// The unmapped planes `[3,H,W]` of `parameters`.
  func planes(_ parameters: [Float]) -> Tensor {
    precondition(
      parameters.count == parameterCount, "FourierParametrization: wrong parameter count")
    let (h, w, wf, n) = (height, width, fft.spectrumWidth, spectrumCount)
    var out = Tensor(shape: [3, h, w])
    var spectrum = [Float](repeating: 0, count: 3 * n)  // (3, H, W/2+1, 2)
    parameters.withUnsafeBufferPointer { p in
      scale.withUnsafeBufferPointer { s in
        spectrum.withUnsafeMutableBufferPointer { x in
          for c in 0..<3 {
            for k in 0..<(h * wf) {
              x[c * n + 2 * k] = p[c * n + 2 * k] * s[k]
              x[c * n + 2 * k + 1] = p[c * n + 2 * k + 1] * s[k]
            }
          }
        }
      }
    }
    let fft = fft
    spectrum.withUnsafeMutableBufferPointer { x in
      out.scalars.withUnsafeMutableBufferPointer { o in
        let (xb, ob) = (UncheckedPointer(x.baseAddress!), UncheckedPointer(o.baseAddress!))
        parallelFor(3) { c in
          let plane = xb.pointer + c * n
          Self.makeHermitian(plane, height: h, column: 0, spectrumWidth: wf)
          if w % 2 == 0 && wf > 1 {
            Self.makeHermitian(plane, height: h, column: wf - 1, spectrumWidth: wf)
          }
          fft.inverse(plane, ob.pointer + c * h * w)
        }
      }
    }
    return out
  }

  /// Replaces column `column` of a half spectrum (H, W/2+1, 2) by its Hermitian part:
  /// X[ky] ← (X[ky] + conj X[−ky]) / 2.
  static func makeHermitian(
    _ x: UnsafeMutablePointer<Float>, height h: Int, column: Int, spectrumWidth wf: Int
  ) {
    for ky in 0...(h / 2) {
      let partner = (h - ky) % h
      let a = 2 * (ky * wf + column)
      let b = 2 * (partner * wf + column)
      if partner == ky {
        x[a + 1] = 0
      } else {
        let re = (x[a] + x[b]) / 2
        let im = (x[a + 1] - x[b + 1]) / 2
        x[a] = re
        x[a + 1] = im
        x[b] = re
        x[b + 1] = -im
      }
    }
  }

  /// The half spectra of planes `[3,H,W]`, doubled in the columns standing for two (the
  /// adjoint of the inverse transform) when `adjoint` is true.
  func spectra(_ planes: Tensor, adjoint: Bool) -> [Float] {
    let (h, w, wf, n) = (height, width, fft.spectrumWidth, spectrumCount)
    var input = planes.scalars  // (3, H, W), copied: FFTW's input is not const
    var out = [Float](repeating: 0, count: 3 * n)  // (3, H, W/2+1, 2)
    let fft = fft
    input.withUnsafeMutableBufferPointer { i in
      out.withUnsafeMutableBufferPointer { o in
        let (ib, ob) = (UncheckedPointer(i.baseAddress!), UncheckedPointer(o.baseAddress!))
        parallelFor(3) { c in
          let spectrum = ob.pointer + c * n
          fft.forward(ib.pointer + c * h * w, spectrum)
          guard adjoint else { return }
          // Columns 1 ..< ⌈W/2⌉ stand for themselves and their conjugate mirror.
          let doubled = (w + 1) / 2
          if doubled > 1 {
            for ky in 0..<h {
              for kx in 1..<doubled {
                spectrum[2 * (ky * wf + kx)] *= 2
                spectrum[2 * (ky * wf + kx) + 1] *= 2
              }
            }
          }
        }
      }
    }
    return out
  }

  /// The image `[3,H,W]` and its pullback to the spectrum parameters.
  public func image(_ parameters: [Float])
    -> (value: Tensor, pullback: @Sendable (Tensor) -> [Float])
  {
    let (y, mapPullback) = mapping.apply(colors.mix(planes(parameters)))
    let me = self
    return (
      y,
      { dy in
        let dPlanes = me.colors.mixPullback(mapPullback(dy))
        var g = me.spectra(dPlanes, adjoint: true)
        let hw = me.height * me.fft.spectrumWidth
        for c in 0..<3 {
          for k in 0..<hw {
            g[c * 2 * hw + 2 * k] *= me.scale[k]
            g[c * 2 * hw + 2 * k + 1] *= me.scale[k]
          }
        }
        return g
      }
    )
  }

  /// The unclamped image (`clamp`) or the image (`sigmoid`).
  public func editableImage(_ parameters: [Float]) -> Tensor {
    mapping.editable(colors.mix(planes(parameters)))
  }

  /// The spectrum parameters of `image` `[3,H,W]`: exact up to rounding.
  public func encode(_ image: Tensor) -> [Float] {
    precondition(image.shape == [3, height, width], "encode: expected [3,\(height),\(width)]")
    var p = spectra(colors.unmix(mapping.unmapped(image)), adjoint: false)
    let hw = height * fft.spectrumWidth
    for c in 0..<3 {
      for k in 0..<hw {
        p[c * 2 * hw + 2 * k] /= scale[k]
        p[c * 2 * hw + 2 * k + 1] /= scale[k]
      }
    }
    return p
  }

  /// Band-limited resampling: the spectrum is cropped or padded with zeros.
  ///
  /// Coefficients of the frequencies both sizes represent unambiguously (|ky'| < H/2 and
  /// kx < W/2 in both; a Nyquist row or column is dropped) are kept — rescaled so that the
  /// image keeps its values — and reported as kept; all others are zero. `filter` is unused,
  /// and so is `wrap`: a spectrum's image is periodic, so this resampling is a torus's already.
  public func resized(
    _ parameters: [Float], width: Int, height: Int, filter: Interpolation, wrap: Bool
  ) -> (parametrization: any ImageParametrization, parameters: [Float], kept: KeptParameters) {
    let next = FourierParametrization(
      width: width, height: height, decay: decay, colors: colors, mapping: mapping)
    let (oldWf, newWf) = (fft.spectrumWidth, next.fft.spectrumWidth)
    let (oldN, newN) = (spectrumCount, next.spectrumCount)
    // The orthonormal transform's DC is mean · √(HW): keep pixel values.
    let gain = Float((Double(width * height) / Double(self.width * self.height)).squareRoot())
    let minH = min(self.height, height)
    let minW = min(self.width, width)
    var p = [Float](repeating: 0, count: next.parameterCount)
    var old: [Int] = []
    var new: [Int] = []
    for newKy in 0..<height {
      let fy = Self.signedFrequency(newKy, height)
      guard 2 * abs(fy) < minH else { continue }
      let oldKy = fy >= 0 ? fy : fy + self.height
      for kx in 0..<newWf where 2 * kx < minW && kx < oldWf {
        let o = oldKy * oldWf + kx
        let n = newKy * newWf + kx
        let factor = gain * scale[o] / next.scale[n]
        for c in 0..<3 {
          for part in 0..<2 {
            let oi = c * oldN + 2 * o + part
            let ni = c * newN + 2 * n + part
            p[ni] = parameters[oi] * factor
            old.append(oi)
            new.append(ni)
          }
        }
      }
    }
    return (next, p, KeptParameters(old: old, new: new))
  }
}
