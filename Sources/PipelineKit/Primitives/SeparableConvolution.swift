/// Gaussian kernels as torchvision's `gaussian_blur` builds them (CLIPig's transforms, Gaussian blur helper).
public enum GaussianKernel {
  /// torchvision's default sigma for a kernel of `size` taps: 0.15·size + 0.35
  /// (0.8 for 3, 1.1 for 5, 2.0 for 11).
  public static func defaultSigma(_ size: Int) -> Double {
    0.15 * Double(size) + 0.35
  }

  /// CLIPig's kernel-size rule for `blur`: an even size grows by one, then at least 1
  /// (4 → 5, 0 → 1, −2 → 1).
  public static func sanitizedSize(_ size: Int) -> Int {
    max(1, size % 2 == 0 ? size + 1 : size)
  }

  /// CLIPig's sigma rule for `blur`: at least 0.0001 (NaN becomes 0.0001 too).
  public static func sanitizedSigma(_ sigma: Double) -> Double {
    sigma >= 0.0001 ? sigma : 0.0001
  }

  /// The normalised 1-D kernel: exp(−½(x/σ)²) at x = −(size−1)/2 … (size−1)/2, divided by its sum.
  ///
  /// `size` must be odd and positive, `sigma` positive (an infinite sigma gives the box filter).
  public static func weights(size: Int, sigma: Double) -> [Float] {
    precondition(size > 0 && size % 2 == 1, "GaussianKernel: size \(size) must be odd and positive")
    precondition(sigma > 0, "GaussianKernel: sigma \(sigma) must be positive")
    let half = Double(size - 1) / 2
    var pdf = [Double](repeating: 0, count: size)  // (K,)
    var sum = 0.0
    for i in 0..<size {
      let x = (Double(i) - half) / sigma
      pdf[i] = gaussianExp(-0.5 * x * x)
      sum += pdf[i]
    }
    return pdf.map { Float($0 / sum) }
  }
}

/// What a filter reads beyond the image's edge.
public enum FilterBoundary: Sendable, Equatable {
  /// The image mirrored without repeating the edge sample (torchvision's `reflect`).
  case reflect
  /// The image continued periodically (a torus, PyTorch's `circular`): what `tiling` uses.
  case wrap
}

/// A separable 2-D filter applied per plane with reflect padding: each output pixel is
/// Σ_{a,b} ky[a]·kx[b]·in[reflect(y + a − py), reflect(x + b − px)] with py = ⌊KY/2⌋,
/// px = ⌊KX/2⌋ — torchvision's `gaussian_blur` for Gaussian kernels.
///
/// Reflect padding mirrors without repeating the edge sample (`[a b c d]` padded by 1 is
/// `[b a b c d c]`). PyTorch requires the pad to be smaller than the image; here the mirror
/// simply continues (period 2·(n−1)), so any kernel works on any image size (a 1-pixel axis
/// reflects onto itself). Linear; `adjoint` is the exact transpose — it scatters every tap
/// back to the pixel it was read from, so the padded border folds back onto the pixels it
/// mirrors (the adjoint of reflect padding is not reflect padding). With `boundary: .wrap` the
/// taps beyond an edge read the opposite edge instead (index mod n), and the adjoint scatters
/// them back there.
public struct SeparableConvolution: Sendable, Equatable {
  /// Taps along the width, odd count (`(KX,)`).
  public let kernelX: [Float]
  /// Taps along the height, odd count (`(KY,)`).
  public let kernelY: [Float]
  /// What taps beyond the edge read (reflect unless the image is a torus).
  public let boundary: FilterBoundary

  /// A filter with explicit odd-length kernels (correlation: tap 0 reads the top/left).
  public init(kernelX: [Float], kernelY: [Float], boundary: FilterBoundary = .reflect) {
    precondition(
      kernelX.count % 2 == 1 && kernelY.count % 2 == 1, "SeparableConvolution: even kernel")
    self.kernelX = kernelX
    self.kernelY = kernelY
    self.boundary = boundary
  }

  /// The same taps with another boundary.
  public func with(boundary: FilterBoundary) -> SeparableConvolution {
    SeparableConvolution(kernelX: kernelX, kernelY: kernelY, boundary: boundary)
  }

  /// The Gaussian blur with kernel sizes (x, y) and sigmas (x, y); sigma nil means
  /// torchvision's default 0.15·k + 0.35. Sizes must be odd and positive, sigmas positive.
  public static func gaussian(sizeX: Int, sizeY: Int, sigmaX: Double? = nil, sigmaY: Double? = nil)
    -> SeparableConvolution
  {
    SeparableConvolution(
      kernelX: GaussianKernel.weights(
        size: sizeX, sigma: sigmaX ?? GaussianKernel.defaultSigma(sizeX)),
      kernelY: GaussianKernel.weights(
        size: sizeY, sigma: sigmaY ?? GaussianKernel.defaultSigma(sizeY)))
  }

  /// The index `i` of an axis of length `n`, mirrored into range without repeating the edge.
  @inlinable
  public static func reflect(_ i: Int, _ n: Int) -> Int {
    if i >= 0 && i < n { return i }
    if n == 1 { return 0 }
    let period = 2 * (n - 1)
    var m = i % period
    if m < 0 { m += period }
    return m < n ? m : period - m
  }

  /// The index `i` of an axis of length `n` taken modulo `n` (the periodic continuation).
  @inlinable
  public static func wrap(_ i: Int, _ n: Int) -> Int {
    let m = i % n
    return m < 0 ? m + n : m
  }

  /// The index `i` of an axis of length `n` brought into range by `boundary`.
  @inlinable
  public static func index(_ i: Int, _ n: Int, _ boundary: FilterBoundary) -> Int {
    boundary == .wrap ? wrap(i, n) : reflect(i, n)
  }

  /// Filters every plane of an image `[C,H,W]` or batch `[N,C,H,W]`.
  public func apply(_ x: Tensor) -> Tensor {
    run(x, transpose: false)
  }

  /// The transpose of `apply` (the pullback of the filter).
  public func adjoint(_ dy: Tensor) -> Tensor {
    run(dy, transpose: true)
  }

  private func run(_ x: Tensor, transpose: Bool) -> Tensor {
    let (c, h, w) = x.chw
    let planes = x.batchCount * c
    let plane = h * w
    var out = Tensor(shape: x.shape)
    if plane == 0 { return out }
    let kx = kernelX
    let ky = kernelY
    let edge = boundary
    x.scalars.withUnsafeBufferPointer { src in
      out.scalars.withUnsafeMutableBufferPointer { dst in
        guard let srcBase = src.baseAddress, let dstBase = dst.baseAddress else { return }
        let s = UncheckedSendableBox(srcBase)
        let d = UncheckedSendableBox(dstBase)
        let body: (Int) -> Void = { p in
          let tmp = UnsafeMutablePointer<Float>.allocate(capacity: plane)  // (H, W)
          defer { tmp.deallocate() }
          let input = s.value + p * plane
          let output = d.value + p * plane
          if transpose {
            // (Fy·Fx)ᵀ = Fxᵀ·Fyᵀ: columns first, then rows.
            Self.alongHeight(
              input, tmp, h: h, w: w, kernel: ky, boundary: edge, transpose: true)
            Self.alongWidth(tmp, output, h: h, w: w, kernel: kx, boundary: edge, transpose: true)
          } else {
            Self.alongWidth(
              input, tmp, h: h, w: w, kernel: kx, boundary: edge, transpose: false)
            Self.alongHeight(
              tmp, output, h: h, w: w, kernel: ky, boundary: edge, transpose: false)
          }
        }
        if planes > 1 && plane >= 16_384 {
          parallelFor(planes, body)
        } else {
          for p in 0..<planes { body(p) }
        }
      }
    }
    return out
  }

  /// Along each row: `dst[y, i] = Σ_k w[k]·src[y, b(i + k − p)]`, or its transpose
  /// `dst[y, b(i + k − p)] += w[k]·src[y, i]`, with b the boundary's index (reflect or wrap).
  /// `dst` `(H, W)` is overwritten.
  static func alongWidth(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, h: Int, w: Int,
    kernel: [Float], boundary: FilterBoundary, transpose: Bool
  ) {
    let pad = kernel.count / 2
    dst.update(repeating: 0, count: h * w)
    for y in 0..<h {
      let srow = src + y * w
      let drow = dst + y * w
      for (k, wk) in kernel.enumerated() {
        let offset = k - pad
        // Output indices whose tap stays inside the row: 0 ≤ i + offset < w; the others
        // mirror or wrap (in this order, which the transpose's sums depend on).
        let lo = min(w, max(0, -offset))
        let hi = max(lo, min(w, w - offset))
        if transpose {
          for i in lo..<hi { drow[i + offset] += wk * srow[i] }
        } else {
          for i in lo..<hi { drow[i] += wk * srow[i + offset] }
        }
        func mirrored(_ range: Range<Int>) {
          for i in range {
            let j = index(i + offset, w, boundary)
            if transpose { drow[j] += wk * srow[i] } else { drow[i] += wk * srow[j] }
          }
        }
        mirrored(0..<lo)
        mirrored(hi..<w)
      }
    }
  }

  /// Along each column: `dst[i, :] = Σ_k w[k]·src[b(i + k − p), :]`, or its transpose
  /// `dst[b(i + k − p), :] += w[k]·src[i, :]` (b: the boundary's index). `dst` `(H, W)` is
  /// overwritten.
  static func alongHeight(
    _ src: UnsafePointer<Float>, _ dst: UnsafeMutablePointer<Float>, h: Int, w: Int,
    kernel: [Float], boundary: FilterBoundary, transpose: Bool
  ) {
    let pad = kernel.count / 2
    dst.update(repeating: 0, count: h * w)
    for i in 0..<h {
      for (k, wk) in kernel.enumerated() {
        let j = index(i + k - pad, h, boundary)
        let (from, to) = transpose ? (src + i * w, dst + j * w) : (src + j * w, dst + i * w)
        for x in 0..<w { to[x] += wk * from[x] }
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
  @inline(__always) func gaussianExp(_ x: Double) -> Double { Glibc.exp(x) }
#else
  import Foundation
  @inline(__always) func gaussianExp(_ x: Double) -> Double { Foundation.exp(x) }
#endif
