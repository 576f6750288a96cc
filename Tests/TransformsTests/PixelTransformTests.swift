import Foundation
import PipelineKit
import PipelineKitTesting
import Testing
import Transforms

/// One case of `Fixtures/pixel.json` (see scripts/pixel_fixtures.py).
struct PixelCase: Decodable {
  var name: String
  var params: FixtureJSON
  var shape: [Int]
  var input: [Float]
  var output: [Float]
  var v: [Float]
  var grad: [Float]
  var noise: [Float]?
  var noiseShape: [Int]?
  /// saturation/contrast: torchvision's blend before its clamp to [0, 1].
  var unclamped: [Float]?
}

/// The cases of `Fixtures/pixel.json`.
struct PixelFixtures: Decodable {
  var cases: [PixelCase]

  static func load() throws -> PixelFixtures {
    try FixtureJSON.load(PixelFixtures.self, named: "pixel", from: .module)
  }
}

private func make(_ name: String, _ parameters: ConfigNode) throws -> any Stage {
  try StageRegistry.transforms.make(
    name: name, parameters: parameters, path: name, keyLocation: .synthetic("test"))
}

private func run(_ name: String, _ parameters: ConfigNode, _ x: Tensor) throws -> (Tensor, Pullback)
{
  var context = StageContext()
  let (y, pb) = try make(name, parameters).forward(x, in: &context)
  return (y, pb)
}

/// A `[3,H,W]` image with 1 at (row, col) of every channel.
private func impulse(h: Int, w: Int, row: Int, col: Int) -> Tensor {
  var x = Tensor(shape: [3, h, w])
  for c in 0..<3 { x.scalars[(c * h + row) * w + col] = 1 }
  return x
}

@Suite("Pixel transforms against PyTorch fixtures")
struct PixelFixtureTests {
  /// Forward within 2e-6 absolute (values are O(1), float32), input gradients of ⟨v, out⟩
  /// within 1e-5 absolute (cotangents are O(1) normals).
  @Test func stagesMatchTorch() throws {
    let fixtures = try PixelFixtures.load()
    #expect(fixtures.cases.count >= 20)
    for fixture in fixtures.cases {
      let x = Tensor(shape: fixture.shape, scalars: fixture.input)
      let label = "\(fixture.name) \(fixture.params)"
      if fixture.name == "rnoise" {
        let noise = Tensor(
          shape: try #require(fixture.noiseShape), scalars: try #require(fixture.noise))
        guard case .array(let s)? = fixture.params["std"] else {
          Issue.record("rnoise fixture without std")
          continue
        }
        let std = s.map { $0.number.map(Float.init) ?? .nan }
        let y = RNoise.add(noise: noise, to: x, std: std)
        #expect(
          maxAbsDiff(y.scalars, fixture.output) < 2e-6,
          "\(label): max |Δ| \(maxAbsDiff(y.scalars, fixture.output))")
        // The stage itself: right shape, identity pullback.
        let (ys, pb) = try run("rnoise", fixture.params.node, x)
        #expect(ys.shape == x.shape)
        #expect(pb(Tensor(shape: x.shape, scalars: fixture.v)).scalars == fixture.v)
        #expect(maxAbsDiff(fixture.v, fixture.grad) < 1e-6)
        continue
      }
      let (y, pb) = try run(fixture.name, fixture.params.node, x)
      #expect(y.shape == x.shape)
      #expect(
        maxAbsDiff(y.scalars, fixture.output) < 2e-6,
        "\(label): max |Δ| \(maxAbsDiff(y.scalars, fixture.output))")
      if let blend = fixture.unclamped {
        // torchvision's result is exactly its blend clamped to [0, 1].
        let clamped = blend.map { min(max($0, 0), 1) }
        #expect(maxAbsDiff(clamped, fixture.output) < 1e-6, "\(label): torch blend")
        #expect(maxAbsDiff(y.scalars, clamped) < 2e-6, "\(label): blend")
      }
      let g = pb(Tensor(shape: x.shape, scalars: fixture.v))
      #expect(
        maxAbsDiff(g.scalars, fixture.grad) < 1e-5,
        "\(label) gradient: max |Δ| \(maxAbsDiff(g.scalars, fixture.grad))")
    }
  }
}

@Suite("Pixel transforms: golden values (spec §15)")
struct PixelGoldenTests {
  @Test func quantizeVector() throws {
    let r: [Float] = [0.11, 0.21, 0.31, 0.41, 0.51, 0.61, 0.71, 0.81, 0.91]
    let g: [Float] = [0.13, 0.23, 0.33, 0.43, 0.53, 0.63, 0.73, 0.83, 0.93]
    let b: [Float] = [0.16, 0.26, 0.36, 0.46, 0.56, 0.66, 0.76, 0.86, 0.96]
    let (y, pb) = try run("quantize", "0.1 0.3 0.5", Tensor(shape: [3, 3, 3], scalars: r + g + b))
    let expected: [Float] =
      [0.1, 0.2, 0.3, 0.4, 0.5, 0.6, 0.7, 0.8, 0.9]
      + [0, 0, 0.3, 0.3, 0.3, 0.6, 0.6, 0.6, 0.9]
      + [0, 0, 0, 0, 0.5, 0.5, 0.5, 0.5, 0.5]
    #expect(maxAbsDiff(y.scalars, expected) < 1e-4)
    #expect(pb(Tensor(shape: [3, 3, 3], repeating: 1)).scalars.allSatisfy { $0 == 0 })
    let (neg, _) = try run("quantize", 0.25, Tensor(shape: [3, 1, 1], repeating: -0.1))
    #expect(neg.scalars == [-0.25, -0.25, -0.25])
  }

  @Test func gaussianKernels() {
    #expect(abs(GaussianKernel.defaultSigma(3) - 0.8) < 1e-12)
    #expect(abs(GaussianKernel.defaultSigma(5) - 1.1) < 1e-12)
    #expect(abs(GaussianKernel.defaultSigma(11) - 2.0) < 1e-12)
    #expect(abs(GaussianKernel.defaultSigma(51) - 8.0) < 1e-12)
    let w = GaussianKernel.weights(size: 3, sigma: 0.8)
    #expect(maxAbsDiff(w, [0.2390, 0.5220, 0.2390]) < 1e-4)
    #expect([4, 0, -2, 3, 1].map(GaussianKernel.sanitizedSize) == [5, 1, 1, 3, 1])
    #expect(GaussianKernel.sanitizedSigma(-1) == 0.0001)
    #expect(GaussianKernel.weights(size: 5, sigma: .infinity) == [Float](repeating: 0.2, count: 5))
  }

  @Test func blurImpulse() throws {
    let (y, _) = try run("blur", ["kernel_size": 3], impulse(h: 5, w: 5, row: 2, col: 2))
    for c in 0..<3 {
      let p = Array(y.scalars[c * 25..<(c + 1) * 25])
      #expect(abs(p[12] - 0.2725) < 1e-4)
      for i in [7, 11, 13, 17] { #expect(abs(p[i] - 0.1248) < 1e-4) }
      for i in [6, 8, 16, 18] { #expect(abs(p[i] - 0.0571) < 1e-4) }
      #expect(abs(p.reduce(0, +) - 1) < 1e-5)
    }
    let (y5, _) = try run("blur", ["kernel_size": 4], impulse(h: 7, w: 7, row: 3, col: 3))
    #expect(abs(y5.scalars[24] - 0.1366) < 1e-4)
  }

  @Test func reflectIndices() {
    #expect((-3...6).map { SeparableConvolution.reflect($0, 4) } == [3, 2, 1, 0, 1, 2, 3, 2, 1, 0])
    #expect((-2...2).map { SeparableConvolution.reflect($0, 1) } == [0, 0, 0, 0, 0])
    #expect((-4...5).map { SeparableConvolution.reflect($0, 2) } == [0, 1, 0, 1, 0, 1, 0, 1, 0, 1])
  }

  @Test func blurAdjointFoldsThePadding() {
    // [a b c d] with kernel [0 0 1] (reads the right neighbour): the last output reads
    // reflect(4) = 2, so the adjoint sends the last cotangent to index 2.
    let f = SeparableConvolution(kernelX: [0, 0, 1], kernelY: [1])
    let x = Tensor(shape: [1, 1, 4], scalars: [1, 2, 3, 4])
    #expect(f.apply(x).scalars == [2, 3, 4, 3])
    #expect(
      f.adjoint(Tensor(shape: [1, 1, 4], scalars: [1, 10, 100, 1000])).scalars == [0, 1, 1010, 100])
  }

  @Test func meanSetsChannelAverages() throws {
    var r = SeededRandom(seed: 1)
    let x = Tensor(shape: [3, 4, 5]) { _ in Float(r.uniform()) }
    let (y, pb) = try run("mean", "0.2 0.5 0.8", x)
    let m = ImageStatistics.channelMeans(y)
    #expect(abs(m[0] - 0.2) < 1e-6 && abs(m[1] - 0.5) < 1e-6 && abs(m[2] - 0.8) < 1e-6)
    #expect(pb(Tensor(shape: [3, 4, 5], repeating: 3)).scalars.allSatisfy { abs($0) < 1e-6 })
  }

  @Test func noiseStrengths() throws {
    let x = Tensor(shape: [3, 64, 63])
    let (n, _) = try run("noise", "0.1 0.2 0.3", x)
    let std = channelStd(n)
    #expect(abs(std[0] - 0.1) < 0.005 && abs(std[1] - 0.2) < 0.01 && abs(std[2] - 0.3) < 0.015)
    let (bw, _) = try run("bwnoise", 0.2, x)
    let plane = 64 * 63
    #expect(Array(bw.scalars[0..<plane]) == Array(bw.scalars[plane..<2 * plane]))
    #expect(abs(channelStd(bw)[0] - 0.2) < 0.01)
    // fnoise: per-pixel std = std at any resolution, odd pixel counts included (CLIPig: crash,
    // and 15·std·√(2/(H·W))).
    for shape in [[3, 64, 63], [3, 80, 80]] {
      let (f, _) = try run("fnoise", "0.1 0.2 0.3", Tensor(shape: shape))
      let s = channelStd(f)
      #expect(
        abs(s[0] - 0.1) < 0.005 && abs(s[1] - 0.2) < 0.01 && abs(s[2] - 0.3) < 0.015,
        "\(shape): \(s)")
    }
  }

  /// fnoise has exactly the covariance of CLIPig's construction (noise on the real-FFT bins of
  /// the flattened channel, inverse real FFT), up to the overall scale.
  @Test(arguments: [1, 2, 6, 7, 12])
  func fnoiseCovarianceMatchesTheFourierConstruction(n: Int) {
    // CLIPig: x = irfft(a + ib) of length n; columns of B = responses to each real/imag bin.
    let bins = n / 2 + 1
    var columns: [[Double]] = []
    for k in 0..<bins {
      for imaginary in [false, true] {
        var col = [Double](repeating: 0, count: n)
        for t in 0..<n {
          let angle = 2 * Double.pi * Double(k * t) / Double(n)
          let edge = k == 0 || (n % 2 == 0 && k == n / 2)
          if imaginary && edge { continue }  // dropped by the inverse
          let factor = edge ? 1.0 : 2.0
          col[t] = factor * (imaginary ? -sin(angle) : cos(angle)) / Double(n)
        }
        columns.append(col)
      }
    }
    var reference = [Double](repeating: 0, count: n * n)
    for col in columns {
      for i in 0..<n { for j in 0..<n { reference[i * n + j] += col[i] * col[j] } }
    }
    // clipig: the linear map applied to unit vectors; covariance = A·Aᵀ.
    var a = [[Double]]()
    for j in 0..<n {
      var e = [Float](repeating: 0, count: n)
      e[j] = 1
      e.withUnsafeMutableBufferPointer { FrequencyNoise.shape($0, std: 1) }
      a.append(e.map(Double.init))  // column j
    }
    var ours = [Double](repeating: 0, count: n * n)
    for col in a {
      for i in 0..<n { for j in 0..<n { ours[i * n + j] += col[i] * col[j] } }
    }
    for i in 0..<n { #expect(abs(ours[i * n + i] - 1) < 1e-5) }
    let scale = reference[0]
    for i in 0..<(n * n) {
      #expect(abs(ours[i] - reference[i] / scale) < 1e-5, "n=\(n) entry \(i)")
    }
  }

  @Test func clampAndSaturationBehaviour() throws {
    let x = Tensor(shape: [3, 1, 2], scalars: [-0.5, 0.5, 0.2, 1.5, 0.3, 0.9])
    let (y, pb) = try run("clamp", "0 1", x)
    #expect(y.scalars == [0, 0.5, 0.2, 1, 0.3, 0.9])
    #expect(pb(Tensor(shape: [3, 1, 2], repeating: 1)).scalars == [0, 1, 1, 0, 1, 1])
    // saturation 1 leaves an image in [0, 1] unchanged; 0 gives its gray value everywhere.
    let z = Tensor(shape: [3, 1, 1], scalars: [0.2, 0.4, 0.6])
    #expect(try run("saturation", 1, z).0.scalars == z.scalars)
    let gray: Float = 0.2989 * 0.2 + 0.587 * 0.4 + 0.114 * 0.6
    #expect(maxAbsDiff(try run("saturation", 0, z).0.scalars, [gray, gray, gray]) < 1e-6)
    #expect(maxAbsDiff(try run("contrast", 0, z).0.scalars, [gray, gray, gray]) < 1e-6)
  }
}

@Suite("Pixel transforms: bad parameters")
struct PixelParameterErrorTests {
  private func loadError(_ name: String, _ parameters: ConfigNode) -> String? {
    do {
      _ = try make(name, parameters)
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test func negativeFactorsAndStdsFailAtLoad() {
    let at = SourceLocation(file: "x.yaml", line: 4, column: 17)
    #expect(
      loadError("saturation", ConfigNode(.float(-1), at: at))
        == "x.yaml:4:17: error: 'saturation': saturation factor must not be negative, got -1.0")
    #expect(
      loadError("contrast", ConfigNode(.int(-2), at: at))?.contains(
        "contrast factor must not be negative") == true)
    #expect(
      loadError("noise", "0.1 -0.1 0.1")?.contains("'noise[1]': noise std must not be negative")
        == true)
    #expect(loadError("bwnoise", -0.5) != nil)
    #expect(loadError("fnoise", "-1") != nil)
    #expect(loadError("rnoise", ["std": -1, "resolution": 3]) != nil)
    #expect(loadError("rnoise", ["std": 1, "resolution": "0 3"])?.contains("at least 1") == true)
    #expect(
      loadError("rnoise", ["std": 1])?.contains("missing required parameter 'resolution'") == true)
    #expect(loadError("quantize", "0.1 0 0.1")?.contains("positive") == true)
    #expect(loadError("clamp", "1 0")?.contains("greater than max") == true)
    #expect(loadError("clamp", "0 1 2")?.contains("length") == true)
    #expect(loadError("edge", ["amount": "1 2"])?.contains("length") == true)
    #expect(loadError("blur", ["kernel_size": 20001])?.contains("at most") == true)
    #expect(loadError("blur", ["kernel": 3])?.contains("did you mean 'kernel_size'") == true)
    #expect(loadError("saturation", ["factor": 2])?.contains("takes its value directly") == true)
  }

  @Test func runTimeValuesAreCheckedWithoutTrapping() throws {
    let stage = try make("saturation", "1 - 2*t")
    var context = StageContext()
    context.variables.t = 1
    #expect(throws: StageError.self) {
      _ = try stage.forward(Tensor(shape: [3, 2, 2]), in: &context)
    }
    let quantize = try make("quantize", "t")
    context.variables.t = 0
    #expect(throws: StageError.self) {
      _ = try quantize.forward(Tensor(shape: [3, 2, 2]), in: &context)
    }
  }

  @Test func nullValueMeansTheDefault() throws {
    let x = Tensor(shape: [3, 1, 1], scalars: [0.2, 0.4, 0.6])
    #expect(try run("saturation", nil, x).0.scalars == x.scalars)
    #expect(try run("contrast", nil, x).0.scalars == x.scalars)
  }
}

private func channelStd(_ x: Tensor) -> [Double] {
  let (c, h, w) = x.chw
  let n = h * w
  return (0..<c).map { ch in
    let p = x.scalars[ch * n..<(ch + 1) * n].map(Double.init)
    let m = p.reduce(0, +) / Double(n)
    return (p.map { ($0 - m) * ($0 - m) }.reduce(0, +) / Double(n - 1)).squareRoot()
  }
}
