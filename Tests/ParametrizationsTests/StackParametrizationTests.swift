import Formats
import Foundation
import Parametrizations
import PipelineKit
import PipelineKitTesting
import Testing

/// One case of Fixtures/stack.json (scripts/stack_fixtures.py, PyTorch `F.interpolate`).
private struct StackCase: Decodable {
  var name: String
  var height: Int
  var width: Int
  var colors: String
  var mapping: String
  var levels: [[Int]]
  var parameters: [Float]
  var cotangent: [Float]
  var image: [Float]
  var gradient: [Float]
}

private struct StackFixture: Decodable {
  var cases: [StackCase]
}

/// The stack parametrization (Direct Ascent Synthesis): against PyTorch, its levels, and the
/// image kept across post-processing and resolution changes. (The gradient harness and exact
/// encoding run over every variant in ParametrizationPropertyTests.)
@Suite("Stack parametrization")
struct StackParametrizationTests {
  @Test func imageAndGradientMatchTorch() throws {
    let fixture = try JSONValue.load(StackFixture.self, named: "stack", from: .module)
    #expect(fixture.cases.count == 4)
    for c in fixture.cases {
      let p = StackParametrization(
        width: c.width, height: c.height, colors: try #require(ColorBasis(rawValue: c.colors)),
        mapping: try #require(ValueMapping(rawValue: c.mapping)))
      #expect(p.levels.map { [$0.height, $0.width] } == c.levels, "\(c.name)")
      #expect(p.parameterCount == c.parameters.count, "\(c.name)")
      let (image, pullback) = p.image(c.parameters)
      let imageError = GradientHarness.relativeError(image.scalars, c.image)
      #expect(imageError < 1e-5, "\(c.name): image relative error \(imageError)")
      let g = pullback(Tensor(shape: image.shape, scalars: c.cotangent))
      let gradientError = GradientHarness.relativeError(g, c.gradient)
      #expect(gradientError < 1e-5, "\(c.name): gradient relative error \(gradientError)")
    }
  }

  @Test func levelsArePowersOfTwoEndingAtTheImage() {
    func sizes(_ w: Int, _ h: Int) -> [String] {
      StackParametrization.levels(width: w, height: h).map { "\($0.height)x\($0.width)" }
    }
    #expect(
      sizes(224, 224) == [
        "1x1", "2x2", "4x4", "8x8", "16x16", "32x32", "64x64", "128x128", "224x224",
      ])
    #expect(sizes(7, 5) == ["1x1", "2x2", "4x4", "5x7"])
    #expect(sizes(1, 1) == ["1x1"])
    #expect(sizes(3, 12) == ["1x1", "2x2", "4x3", "8x3", "12x3"])
    // 3·(1 + 4 + 16) + 3·35 coefficients for 5 × 7.
    #expect(StackParametrization(width: 7, height: 5).parameterCount == 3 * (1 + 4 + 16 + 35))
  }

  /// Random parameters at every level.
  private func randomParameters(_ p: StackParametrization, seed: UInt64) -> [Float] {
    var rng = SeededRandom(seed: seed)
    var x = [Float](repeating: 0, count: p.parameterCount)
    rng.fillNormal(&x)
    return x.map { 0.3 * $0 }
  }

  @Test func resolutionChangeKeepsTheImageAndTheCoarseLevels() {
    for colors in ColorBasis.allCases {
      let p = StackParametrization(width: 12, height: 10, colors: colors, mapping: .clamp)
      let x = randomParameters(p, seed: 4)
      for (w, h, filter) in [(24, 20, Interpolation.linear), (7, 9, .cubic), (12, 10, .linear)] {
        let r = p.resized(x, width: w, height: h, filter: filter)
        // With `clamp`, the editable image is the mixed planes: the new one is the old one
        // resampled, by the linearity of the mix.
        let expected = Resampler(from: 10, 12, to: h, w, filter: filter).apply(p.editableImage(x))
        let got = r.parametrization.editableImage(r.parameters)
        let err = zip(got.scalars, expected.scalars).map { abs($0 - $1) }.max() ?? 0
        #expect(err < 1e-5, "\(colors) \(w)×\(h): max |Δ| \(err)")
        // Levels whose size exists in both stacks continue: 1×1, 2×2, 4×4, 8×8 (and, for the
        // same size, everything but the finest, which is recomputed).
        let kept = r.kept
        #expect(kept.old.count == kept.new.count && !kept.old.isEmpty)
        for (o, n) in zip(kept.old, kept.new) { #expect(x[o] == r.parameters[n]) }
        let coarse = 3 * (1 + 4 + 16 + 64)
        #expect(kept.old.count == (w >= 8 && h >= 8 ? coarse : 3 * (1 + 4 + 16)))
      }
    }
  }

  /// With `tiling: true` the levels upsample periodically: across the wrap edge the image
  /// changes no more than between interior neighbours (without wrap far more), and the
  /// periodic pullback passes the harness.
  @Test func aWrappedStackIsATorus() {
    for wrap in [false, true] {
      let p = StackParametrization(width: 16, height: 12, colors: .rgb, mapping: .clamp, wrap: wrap)
      var x = randomParameters(p, seed: 12)
      let coarse = 3 * (1 + 4 + 16)  // levels 1, 2, 4; the finer ones zero
      for i in coarse..<x.count { x[i] = 0 }
      x[0] += 0.5
      x[1] += 0.5
      x[2] += 0.5
      let image = p.editableImage(x)
      var interior: Float = 0
      var edge: Float = 0
      for c in 0..<3 {
        for y in 0..<12 {
          let row = (c * 12 + y) * 16
          for i in 0..<15 {
            interior = max(interior, abs(image.scalars[row + i + 1] - image.scalars[row + i]))
          }
          edge = max(edge, abs(image.scalars[row + 15] - image.scalars[row]))
        }
      }
      if wrap {
        #expect(edge <= interior * 1.0001 + 1e-6, "edge \(edge), interior \(interior)")
        let t = Tensor(shape: [x.count], scalars: x)
        let failures = GradientHarness.check("stack wrap", at: t, policy: .piecewise) { t in
          let (y, pb) = p.image(t.scalars)
          return (y, { Tensor(shape: [t.count], scalars: pb($0)) })
        }
        #expect(failures.isEmpty, "\(failures)")
      } else {
        #expect(edge > 2 * interior, "edge \(edge), interior \(interior)")
      }
    }
  }

  @Test func reencodingAfterPostprocessingKeepsTheCoarseLevels() {
    let p = StackParametrization(width: 9, height: 6, colors: .decorrelated, mapping: .sigmoid)
    let x = randomParameters(p, seed: 9)
    var edited = p.editableImage(x)
    edited.scalars = edited.scalars.map { 0.9 * $0 + 0.05 }  // a post-processing edit
    let y = p.encode(edited, replacing: x)
    let finest = p.parameterCount - 3 * 6 * 9
    #expect(Array(y[..<finest]) == Array(x[..<finest]))
    let back = p.editableImage(y)
    let err = zip(back.scalars, edited.scalars).map { abs($0 - $1) }.max() ?? 0
    #expect(err < 2e-6, "max |Δ| \(err)")
  }
}
