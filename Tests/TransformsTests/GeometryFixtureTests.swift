import Foundation
import PipelineKit
import PipelineKitTesting
import Testing
import Transforms

/// One case of `Fixtures/geometry.json` (made by scripts/transform_fixtures.py with PyTorch).
struct GeometryFixtureCase: Decodable, CustomTestStringConvertible {
  var name: String
  var stage: String?
  var value: FixtureJSON?
  var scale: Double?
  var translate: [Double]?
  var input_shape: [Int]
  var input: [Float]
  var output_shape: [Int]
  var output: [Float]
  var cotangent: [Float]
  var grad: [Float]

  var testDescription: String { name }

  var x: Tensor { Tensor(shape: input_shape, scalars: input) }
  var y: Tensor { Tensor(shape: output_shape, scalars: output) }
  var v: Tensor { Tensor(shape: output_shape, scalars: cotangent) }
  var g: Tensor { Tensor(shape: input_shape, scalars: grad) }
}

enum GeometryFixtures {
  static let cases: [GeometryFixtureCase] =
    (try? FixtureJSON.load(File.self, named: "geometry", from: .module).cases) ?? []

  private struct File: Decodable { var cases: [GeometryFixtureCase] }
}

/// `nil` when `actual` matches `expected` within `tolerance` (absolute, per element), else the
/// largest difference, how many elements differ and the first mismatching pairs.
func compare(_ actual: Tensor, _ expected: Tensor, tolerance: Float) -> String? {
  guard actual.shape == expected.shape else { return "shape \(actual.shape) ≠ \(expected.shape)" }
  var maxDiff: Float = 0
  var bad: [String] = []
  var count = 0
  for i in 0..<actual.count {
    let d = abs(actual.scalars[i] - expected.scalars[i])
    maxDiff = max(maxDiff, d)
    if !(d <= tolerance) {
      count += 1
      if bad.count < 4 { bad.append("[\(i)] \(actual.scalars[i]) vs \(expected.scalars[i])") }
    }
  }
  return count == 0
    ? nil : "\(count) of \(actual.count) differ, max |Δ| \(maxDiff): " + bad.joined(separator: ", ")
}

@Suite("Geometric transforms against PyTorch fixtures")
struct GeometryFixtureTests {
  @Test func fixturesAreBundled() {
    #expect(GeometryFixtures.cases.count >= 25)
  }

  /// Bilinear resizing does arithmetic (PyTorch's in Float32 with a Float32 scale, ours with a
  /// Double scale; observed max |Δ| 5e-7 on outputs, 1e-6 on gradients): 1e-5 absolute.
  /// Everything else only copies and sums pixels: outputs must be identical, input gradients (sums
  /// of a few cotangents in another order, observed 2.4e-7) within 1e-5. Nearest sampling agrees
  /// exactly away from ties; at an exact tie torchvision's Float32 grid decides arbitrarily, so the
  /// script picks parameters clear of ties (and checks spec §5.15's rule against torchvision).
  @Test(arguments: GeometryFixtures.cases)
  func stageMatchesPyTorch(_ fixture: GeometryFixtureCase) throws {
    let tolerance: Float = fixture.stage == "resize" ? 1e-5 : 0
    var results: [(Tensor, Pullback)] = []
    if let name = fixture.stage, let value = fixture.value {
      results.append(try run(try makeTransform(name, value.node), fixture.x))
    }
    let (_, h, w) = fixture.x.chw
    if let s = fixture.scale {
      let sampler = AffineSampler(
        sourceFromOutput: .scaling(s, centerX: Double(w) / 2, centerY: Double(h) / 2),
        inputHeight: h,
        inputWidth: w)
      results.append((sampler.apply(fixture.x), { sampler.adjoint($0) }))
    }
    if let t = fixture.translate {
      let sampler = AffineSampler(
        sourceFromOutput: .translation(x: t[0], y: t[1]), inputHeight: h, inputWidth: w)
      results.append((sampler.apply(fixture.x), { sampler.adjoint($0) }))
    }
    #expect(!results.isEmpty)
    for (y, pullback) in results {
      if let problem = compare(y, fixture.y, tolerance: tolerance) {
        Issue.record("\(fixture.name) output: \(problem)")
      }
      if let problem = compare(pullback(fixture.v), fixture.g, tolerance: 1e-5) {
        Issue.record("\(fixture.name) input gradient: \(problem)")
      }
    }
  }
}
