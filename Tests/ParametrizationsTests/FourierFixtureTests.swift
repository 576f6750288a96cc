import Formats
import Foundation
import Parametrizations
import PipelineKit
import PipelineKitTesting
import Testing

/// One case of Fixtures/fft.json (scripts/fft_fixtures.py, PyTorch `torch.fft.irfft2`).
private struct FixtureCase: Decodable {
  var name: String
  var height: Int
  var width: Int
  var decay: Double
  var colors: String
  var mapping: String
  var parameters: [Float]
  var cotangent: [Float]
  var image: [Float]
  var gradient: [Float]
}

private struct Fixture: Decodable {
  var mixing: [Float]
  var cases: [FixtureCase]
}

@Suite("Fourier parametrization against PyTorch")
struct FourierFixtureTests {
  private let fixture: Fixture

  init() throws {
    fixture = try JSONValue.load(Fixture.self, named: "fft", from: .module)
  }

  @Test func imageAndGradientMatchTorch() throws {
    #expect(fixture.cases.count == 5)
    for c in fixture.cases {
      let colors = try #require(ColorBasis(rawValue: c.colors))
      let mapping = try #require(ValueMapping(rawValue: c.mapping))
      let p = FourierParametrization(
        width: c.width, height: c.height, decay: c.decay, colors: colors, mapping: mapping)
      #expect(p.parameterCount == c.parameters.count, "\(c.name)")
      let (image, pullback) = p.image(c.parameters)
      #expect(image.shape == [3, c.height, c.width])
      let imageError = GradientHarness.relativeError(image.scalars, c.image)
      #expect(imageError < 1e-5, "\(c.name): image relative error \(imageError)")
      let g = pullback(Tensor(shape: image.shape, scalars: c.cotangent))
      let gradientError = GradientHarness.relativeError(g, c.gradient)
      #expect(gradientError < 1e-5, "\(c.name): gradient relative error \(gradientError)")
    }
  }

  @Test func exercisesBothMappingsAndBases() {
    // The fixture would be weaker if the clamp cases never clamped or sigmoid never bent.
    let clamped = fixture.cases.filter { $0.mapping == "clamp" }
    #expect(clamped.contains { c in c.image.contains(0) || c.image.contains(1) })
    #expect(clamped.contains { c in c.image.contains { $0 > 0 && $0 < 1 } })
    #expect(Set(fixture.cases.map(\.colors)) == ["rgb", "decorrelated"])
    #expect(
      fixture.cases.contains { $0.width % 2 == 1 } && fixture.cases.contains { $0.height % 2 == 0 })
  }

  @Test func decorrelatedMatrixMatchesNumPy() throws {
    // RGB of a unit plane c is column c of M.
    for c in 0..<3 {
      var planes = Tensor(shape: [3, 1, 1])
      planes.scalars[c] = 1
      let p = PixelParametrization(width: 1, height: 1, colors: .decorrelated, mapping: .sigmoid)
      let rgb = p.editableImage(planes.scalars)  // sigmoid(M e_c)
      for r in 0..<3 {
        let expected = 1 / (1 + exp(-Double(fixture.mixing[r * 3 + c])))
        #expect(abs(Double(rgb.scalars[r]) - expected) < 1e-6)
      }
    }
  }
}
