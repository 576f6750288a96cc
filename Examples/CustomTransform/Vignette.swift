import PipelineKit

/// `vignette: 0.5` — darkens the image towards its corners:
/// out = in · (1 − strength · r²), r = distance from the centre, 1 at the corners.
/// Linear in the image, so its pullback multiplies the cotangent by the same mask.
struct Vignette: Stage {
  static let name = "vignette"
  static let summary = "Darkens the corners: out = in · (1 − strength · r²)."
  static let traits: StageTraits = [.linear]
  static let examples = [StageExample(0.5), StageExample("0.8 * ti", inputShape: [3, 5, 8])]

  let strength: Param<Double>

  init(parameters: inout ParameterReader) throws(ConfigError) {
    strength = try parameters.directScalar(
      Double.self, default: 0.5, doc: "darkening at the corners (0 = none)")
  }

  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    let s = Float(try context.value(strength))
    let (c, h, w) = x.chw
    // mask: (H, W), shared by all channels
    var mask = [Float](repeating: 0, count: h * w)
    for y in 0..<h {
      for x in 0..<w {
        let dx = (Float(x) + 0.5) / Float(w) * 2 - 1
        let dy = (Float(y) + 0.5) / Float(h) * 2 - 1
        mask[y * w + x] = 1 - s * (dx * dx + dy * dy) / 2
      }
    }
    func apply(_ t: Tensor) -> Tensor {
      var out = t
      for ch in 0..<c {
        for i in 0..<(h * w) { out.scalars[ch * h * w + i] *= mask[i] }
      }
      return out
    }
    return (apply(x), apply)
  }
}
