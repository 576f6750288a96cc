import PipelineKit

/// Operations on feature rows shared by training and rating.
public enum CLIPFeatures {
  /// Each row of `features` (N, E) divided by its L2 norm, with the pullback
  /// d x = (d y − y·⟨y, d y⟩) / |x| per row.
  public static func normalize(_ features: Tensor) -> (value: Tensor, pullback: (Tensor) -> Tensor)
  {
    precondition(
      features.rank == 2, "CLIPFeatures.normalize: expected [N, E], got \(features.shape)")
    let (n, e) = (features.shape[0], features.shape[1])
    var unit = features
    var norms = [Float](repeating: 0, count: n)
    for r in 0..<n {
      var s = 0.0
      for j in 0..<e {
        s += Double(features.scalars[r * e + j]) * Double(features.scalars[r * e + j])
      }
      let norm = Float(s.squareRoot())
      norms[r] = norm
      let inv = norm > 0 ? 1 / norm : 0
      for j in 0..<e { unit.scalars[r * e + j] *= inv }
    }
    let y = unit
    return (
      unit,
      { dy in
        precondition(dy.shape == y.shape, "CLIPFeatures.normalize pullback: shape \(dy.shape)")
        var dx = dy
        for r in 0..<n {
          var dot = 0.0
          for j in 0..<e { dot += Double(y.scalars[r * e + j]) * Double(dy.scalars[r * e + j]) }
          let inv = norms[r] > 0 ? 1 / norms[r] : 0
          for j in 0..<e {
            dx.scalars[r * e + j] =
              (dy.scalars[r * e + j] - y.scalars[r * e + j] * Float(dot)) * inv
          }
        }
        return dx
      }
    )
  }

  /// 100 × cosine similarity of two feature vectors (CLIPig's `rate.py` score).
  public static func similarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "CLIPFeatures.similarity: lengths differ")
    var ab = 0.0
    var aa = 0.0
    var bb = 0.0
    for i in 0..<a.count {
      ab += Double(a[i]) * Double(b[i])
      aa += Double(a[i]) * Double(a[i])
      bb += Double(b[i]) * Double(b[i])
    }
    return aa > 0 && bb > 0 ? 100 * ab / (aa * bb).squareRoot() : 0
  }
}
