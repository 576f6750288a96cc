import PipelineKit

/// Operations on feature rows shared by training and rating: the one L2 normalisation (with its
/// pullback) and the similarity score.
public enum CLIPFeatures {
  /// Σ a_k b_k in Double.
  public static func dot(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "CLIPFeatures.dot: lengths differ")
    var s = 0.0
    for k in a.indices { s += Double(a[k]) * Double(b[k]) }
    return s
  }

  /// a / ‖a‖, each element divided in Double (a zero vector stays zero).
  public static func unit(_ a: [Float]) -> [Float] {
    let n = dot(a, a).squareRoot()
    return n > 0 ? a.map { Float(Double($0) / n) } : a
  }

  /// Each row of `features` (N, E) divided by its L2 norm (as `unit`), with the pullback
  /// d x = (d y − y·⟨y, d y⟩) / ‖x‖ per row (zero for a zero row), computed in Double.
  public static func normalize(_ features: Tensor) -> (value: Tensor, pullback: Pullback) {
    precondition(
      features.rank == 2, "CLIPFeatures.normalize: expected [N, E], got \(features.shape)")
    let (n, e) = (features.shape[0], features.shape[1])
    var unitRows = [Float]()
    unitRows.reserveCapacity(n * e)
    var norms = [Double](repeating: 0, count: n)
    for r in 0..<n {
      let row = Array(features.scalars[r * e..<(r + 1) * e])
      norms[r] = dot(row, row).squareRoot()
      unitRows += unit(row)
    }
    let y = Tensor(shape: [n, e], scalars: unitRows)
    return (
      y,
      { dy in
        precondition(dy.shape == y.shape, "CLIPFeatures.normalize pullback: shape \(dy.shape)")
        var dx = Tensor(shape: dy.shape)
        for r in 0..<n where norms[r] > 0 {
          let rows = r * e..<(r + 1) * e
          let yd = dot(Array(y.scalars[rows]), Array(dy.scalars[rows]))
          for j in rows {
            dx.scalars[j] = Float(
              (Double(dy.scalars[j]) - Double(y.scalars[j]) * yd) / norms[r])
          }
        }
        return dx
      }
    )
  }

  /// 100 × cosine similarity of two feature vectors (CLIPig's `rate.py` score).
  public static func similarity(_ a: [Float], _ b: [Float]) -> Double {
    precondition(a.count == b.count, "CLIPFeatures.similarity: lengths differ")
    let aa = dot(a, a)
    let bb = dot(b, b)
    return aa > 0 && bb > 0 ? 100 * dot(a, b) / (aa * bb).squareRoot() : 0
  }
}
