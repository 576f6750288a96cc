import PipelineKit

/// The colour space the parameters live in.
public enum ColorBasis: String, Sendable, CaseIterable {
  /// The planes are red, green and blue.
  case rgb
  /// The planes are decorrelated colour components; RGB = M · planes per pixel.
  ///
  /// M is the square root of the colour correlation of natural images as published with Lucid
  /// (tensorflow/lucid, `lucid/optvis/param/color.py`, `color_correlation_svd_sqrt`; used by the
  /// Distill article "Differentiable Image Parameterizations", Mordvintsev et al. 2018), divided
  /// by its largest column norm so that no component is amplified.
  case decorrelated

  /// Lucid's published 3×3 matrix (rows: R, G, B; columns: components), before normalisation.
  static let correlationSquareRoot: [[Double]] = [
    [0.26, 0.09, 0.02],
    [0.27, 0.00, -0.05],
    [0.27, -0.09, 0.03],
  ]

  /// M, row-major (3, 3): the published matrix divided by its largest column norm.
  static let mixing: [Float] = {
    let c = correlationSquareRoot
    var largest = 0.0
    for j in 0..<3 {
      largest = max(largest, (0..<3).map { c[$0][j] * c[$0][j] }.reduce(0, +).squareRoot())
    }
    return (0..<9).map { Float(c[$0 / 3][$0 % 3] / largest) }
  }()

  /// M⁻¹, row-major (3, 3), computed in Double.
  static let unmixing: [Float] = {
    let c = correlationSquareRoot
    var largest = 0.0
    for j in 0..<3 {
      largest = max(largest, (0..<3).map { c[$0][j] * c[$0][j] }.reduce(0, +).squareRoot())
    }
    let m = c.map { $0.map { $0 / largest } }
    func minor(_ r: Int, _ k: Int) -> Double {
      let rows = (0..<3).filter { $0 != r }
      let cols = (0..<3).filter { $0 != k }
      return m[rows[0]][cols[0]] * m[rows[1]][cols[1]] - m[rows[0]][cols[1]] * m[rows[1]][cols[0]]
    }
    let det = m[0][0] * minor(0, 0) - m[0][1] * minor(0, 1) + m[0][2] * minor(0, 2)
    // inverse[i][j] = cofactor[j][i] / det
    return (0..<9).map { index in
      let (i, j) = (index / 3, index % 3)
      let sign: Double = (i + j) % 2 == 0 ? 1 : -1
      return Float(sign * minor(j, i) / det)
    }
  }()

  /// Applies a 3×3 row-major matrix `m` to every pixel of `x` `[3,H,W]`.
  static func apply(_ m: [Float], _ x: Tensor) -> Tensor {
    let (c, h, w) = x.chw
    precondition(c == 3, "ColorBasis: expected 3 channels, got \(c)")
    let plane = h * w
    var out = Tensor(shape: x.shape)
    x.scalars.withUnsafeBufferPointer { src in
      out.scalars.withUnsafeMutableBufferPointer { dst in
        for k in 0..<plane {
          let (a, b, d) = (src[k], src[plane + k], src[2 * plane + k])
          dst[k] = m[0] * a + m[1] * b + m[2] * d
          dst[plane + k] = m[3] * a + m[4] * b + m[5] * d
          dst[2 * plane + k] = m[6] * a + m[7] * b + m[8] * d
        }
      }
    }
    return out
  }

  /// RGB from the planes `[3,H,W]`.
  func mix(_ planes: Tensor) -> Tensor {
    self == .rgb ? planes : Self.apply(Self.mixing, planes)
  }

  /// The pullback of `mix`: Mᵀ applied to an RGB cotangent.
  func mixPullback(_ dRGB: Tensor) -> Tensor {
    guard self == .decorrelated else { return dRGB }
    let m = Self.mixing
    return Self.apply([m[0], m[3], m[6], m[1], m[4], m[7], m[2], m[5], m[8]], dRGB)
  }

  /// The planes whose RGB is `rgb` `[3,H,W]`.
  func unmix(_ rgb: Tensor) -> Tensor {
    self == .rgb ? rgb : Self.apply(Self.unmixing, rgb)
  }
}

extension ColorBasis: ConfigChoice {
  /// `rgb` and `decorrelated`.
  public static let names = allCases.map { (name: $0.rawValue, value: $0) }
  /// "colour basis", in errors.
  public static var kind: String? { "colour basis" }
}
