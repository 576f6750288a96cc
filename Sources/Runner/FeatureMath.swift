/// Vector maths of the feature losses (spec §8.7), with their gradients.
enum FeatureMath {
  /// Σ a_k b_k in Double.
  static func dot(_ a: [Float], _ b: [Float]) -> Double {
    var s = 0.0
    for k in a.indices { s += Double(a[k]) * Double(b[k]) }
    return s
  }

  /// a / ‖a‖ (zero stays zero).
  static func normalized(_ a: [Float]) -> [Float] {
    let n = dot(a, a).squareRoot()
    return n > 0 ? a.map { Float(Double($0) / n) } : a
  }

  /// weight × loss(x, f); adds weight × ∂loss/∂x to `dx`.
  static func loss(_ kind: FeatureLoss, x: [Float], f: [Float], weight: Double, dx: inout [Float])
    -> Double
  {
    let n = Double(x.count)
    switch kind {
    case .cosine:
      // x is a unit vector; f need not be (mix): cos = x·f / ‖f‖.
      let fn = dot(f, f).squareRoot()
      guard fn > 0 else { return weight }
      let cos = dot(x, f) / fn
      for k in x.indices { dx[k] -= Float(weight * Double(f[k]) / fn) }
      return weight * (1 - cos)
    case .l1:
      var s = 0.0
      for k in x.indices {
        let diff = Double(x[k] - f[k])
        s += abs(diff)
        dx[k] += Float(weight * 100 / n * (diff > 0 ? 1 : diff < 0 ? -1 : 0))
      }
      return weight * 100 * s / n
    case .l2:
      var s = 0.0
      for k in x.indices {
        let diff = Double(x[k] - f[k])
        s += diff * diff
        dx[k] += Float(weight * 200 / n * diff)
      }
      return weight * 100 * s / n
    }
  }

  /// Pullback of x = z / ‖z‖: dz = (dx − x (x·dx)) / ‖z‖.
  static func normalizePullback(z: [Float], x: [Float], dx: [Float]) -> [Float] {
    let n = dot(z, z).squareRoot()
    guard n > 0 else { return [Float](repeating: 0, count: z.count) }
    let xd = dot(x, dx)
    return x.indices.map { Float((Double(dx[$0]) - Double(x[$0]) * xd) / n) }
  }
}
