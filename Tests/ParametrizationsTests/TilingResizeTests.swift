import Parametrizations
import PipelineKit
import Testing

/// Rolls every plane of `x` down by `dy` and right by `dx` (wrap-around).
private func roll(_ x: Tensor, _ dy: Int, _ dx: Int) -> Tensor {
  let (_, h, w) = x.chw
  return IndexMap(
    rows: AxisIndex.roll(by: dy, length: h), columns: AxisIndex.roll(by: dx, length: w),
    inputHeight: h, inputWidth: w
  ).gather(x)
}

/// The largest |a − b|.
private func maxDifference(_ a: [Float], _ b: [Float]) -> Float {
  zip(a, b).map { abs($0 - $1) }.max() ?? 0
}

/// `tiling: true` resizes the parameters on a torus: the resolution change commutes with
/// rolling the image (rolling by k before a doubling is rolling by 2k after), which a resize
/// with clamped edges does not.
@Suite("Resolution changes on a torus")
struct TilingResizeTests {
  let image: Tensor = {
    var random = SeededRandom(seed: 11)
    return Tensor(shape: [3, 6, 8]) { _ in Float(random.uniform()) }
  }()

  @Test func pixelsResizeCommutesWithRollingOnlyWhenWrapping() {
    let p = PixelParametrization(width: 8, height: 6)
    func resized(_ x: Tensor, wrap: Bool) -> Tensor {
      let r = p.resized(p.encode(x), width: 16, height: 12, filter: .cubic, wrap: wrap)
      return r.parametrization.editableImage(r.parameters)
    }
    let rolledFirst = resized(roll(image, 1, 3), wrap: true)
    let rolledAfter = roll(resized(image, wrap: true), 2, 6)
    #expect(maxDifference(rolledFirst.scalars, rolledAfter.scalars) < 1e-5)
    let clampedFirst = resized(roll(image, 1, 3), wrap: false)
    let clampedAfter = roll(resized(image, wrap: false), 2, 6)
    #expect(maxDifference(clampedFirst.scalars, clampedAfter.scalars) > 1e-2)
  }

  /// The spectrum's image is periodic, so its band-limited resize is a torus's whether or not
  /// `wrap` is asked for.
  @Test(arguments: [false, true])
  func fourierResizeCommutesWithRolling(wrap: Bool) {
    let p = FourierParametrization(width: 8, height: 6, decay: 1)
    func resized(_ x: Tensor) -> Tensor {
      let r = p.resized(p.encode(x), width: 16, height: 12, filter: .cubic, wrap: wrap)
      return r.parametrization.editableImage(r.parameters)
    }
    let error = maxDifference(
      resized(roll(image, 1, 3)).scalars, roll(resized(image), 2, 6).scalars)
    #expect(error < 1e-5, "max |Δ| \(error)")
  }
}
