import PipelineKit

#if canImport(Glibc)
  import Glibc
#else
  import Foundation
#endif

/// How the parametrization's values are brought into [0, 1].
public enum ValueMapping: String, Sendable, CaseIterable {
  /// Clamped to [0, 1], as CLIPig does; no gradient where a value is outside.
  case clamp
  /// The logistic function 1 / (1 + e^(−x)); smooth, never saturates completely.
  case sigmoid

  /// Encoding for `sigmoid` limits values to [ε, 1 − ε] before the logit.
  public static let sigmoidEpsilon: Float = 1e-3

  /// The image in [0, 1] and the pullback to the unmapped values.
  func apply(_ x: Tensor) -> (value: Tensor, pullback: @Sendable (Tensor) -> Tensor) {
    switch self {
    case .clamp:
      return (ImageOps.clamp(x, 0, 1), { ImageOps.clampPullback($0, input: x, 0, 1) })
    case .sigmoid:
      var y = x
      y.scalars.withUnsafeMutableBufferPointer { v in
        for i in v.indices { v[i] = 1 / (1 + expf(-v[i])) }
      }
      let s = y
      return (
        y,
        { dy in
          var d = dy
          d.scalars.withUnsafeMutableBufferPointer { g in
            s.scalars.withUnsafeBufferPointer { s in
              for i in g.indices { g[i] *= s[i] * (1 - s[i]) }
            }
          }
          return d
        }
      )
    }
  }

  /// What post-processing edits, from the unmapped values `x`: `x` itself for `clamp`, the
  /// image for `sigmoid`.
  func editable(_ x: Tensor) -> Tensor {
    self == .clamp ? x : apply(x).value
  }

  /// The unmapped values whose editable image is `image`.
  func unmapped(_ image: Tensor) -> Tensor {
    guard self == .sigmoid else { return image }
    let e = Self.sigmoidEpsilon
    var x = image
    x.scalars.withUnsafeMutableBufferPointer { v in
      for i in v.indices {
        let p = min(max(v[i], e), 1 - e)
        v[i] = logf(p / (1 - p))
      }
    }
    return x
  }
}

extension ValueMapping: ConfigChoice {
  /// `clamp` and `sigmoid`.
  public static let names = allCases.map { (name: $0.rawValue, value: $0) }
  /// "value mapping", in errors.
  public static var kind: String? { "value mapping" }
}
