import CLIP
import Foundation
import ModelStore
import PipelineKit
import TestSupport
import Testing

/// RN50's image tower with the deterministic weights shared with scripts/resnet_fixtures.py
/// rn50; the fixture holds only open_clip's outputs. Release builds only (38 M parameters).
@Suite(.enabled(if: isReleaseBuild, "full-size check runs in release builds"))
struct ResNetFullSizeTests {
  @Test func rn50MatchesOpenCLIP() throws {
    let ref = try SafeTensorsFile(path: Fixture.path("resnet-rn50-reference.safetensors"))
    let model = CLIPModel.deterministic(.rn50, parts: .vision)
    let encoder = try #require(model.makeImageEncoder(capacity: 2) as? ResNetEncoder)
    let e = 1024
    // Float32 noise of this deep ReLU network is larger than a ViT's: PyTorch's own fp32
    // gradient differs from its fp64 one by 1.3e-3 (norm) and 1.3e-2 (max, of max |ref|) —
    // units near a ReLU kink flip. The criterion is the cosine.
    try FullSizeComparison(name: "RN50", ref: ref).check(
      encoder, gradientMaxRelative: 5e-2, gradientRelativeNorm: 5e-3
    ) { features in
      let map = encoder.featureMap.scalars
      Comparison(
        "RN50 last stage (every 7th)", stride(from: 0, to: map.count, by: 7).map { map[$0] },
        try ref.floats("feature_map_every_7th")
      ).check(maxRelative: 1e-4)
      // The image-dependent part: the difference of the two images' features.
      let refFeatures = try ref.floats("image_features")
      let diff = (0..<e).map { features.scalars[$0] - features.scalars[e + $0] }
      let refDiff = (0..<e).map { refFeatures[$0] - refFeatures[e + $0] }
      Comparison("RN50 feature difference between the images", diff, refDiff)
        .check(maxRelative: 1e-3)
    }
  }

  /// The other OpenAI shapes (layer counts, widths, input sizes, heads 32·width/64), one image
  /// each. The fixture holds every 97th value of the last stage and of the pixel gradient.
  static func checkOpenAIShape(_ name: String, _ config: CLIPConfig) throws {
    let ref = try SafeTensorsFile(
      path: Fixture.path("resnet-\(name.lowercased())-reference.safetensors"))
    let model = CLIPModel.deterministic(config, parts: .vision)
    let encoder = try #require(model.makeImageEncoder(capacity: 1) as? ResNetEncoder)
    try FullSizeComparison(name: name, ref: ref, batch: 1, gradientEvery: 97).check(
      encoder, gradientMaxRelative: 5e-2, gradientRelativeNorm: 5e-3
    ) { _ in
      let map = encoder.featureMap.scalars
      Comparison(
        "\(name) last stage (every 97th)", stride(from: 0, to: map.count, by: 97).map { map[$0] },
        try ref.floats("feature_map_every_97th")
      ).check(maxRelative: 1e-4)
    }
  }

  @Test(arguments: [("RN101", CLIPConfig.rn101), ("RN50x4", .rn50x4)])
  func openAIShapesMatchOpenCLIP(name: String, config: CLIPConfig) throws {
    try Self.checkOpenAIShape(name, config)
  }

  /// RN50x16 and RN50x64 (0.2 and 0.8 TFLOP per step, 1.7 GB of weights for RN50x64): run
  /// when CLIPIG_LARGE_RESNETS=1 (not in CI's time budget). Features, loss and the last stage
  /// are compared with open_clip in float32 as for the other shapes; the pixel gradient is
  /// compared with PyTorch in float64 (resnet-<name>-float64-reference), because open_clip's
  /// float32 gradient of these deep towers with deterministic weights is itself off by more
  /// than the criterion (see `deepAnalogsMatchFloat64`): clipig's must reach cosine
  /// > 0.9999 and a relative norm < 1e-2 against float64 (every 97th value; RN50x16 measured
  /// 0.999996 and 2.7e-3, open_clip float32 0.99990 and 1.4e-2), its norm within 1e-3.
  @Test(
    .enabled(
      if: ProcessInfo.processInfo.environment["CLIPIG_LARGE_RESNETS"] == "1",
      "set CLIPIG_LARGE_RESNETS=1"),
    arguments: [("RN50x16", CLIPConfig.rn50x16), ("RN50x64", .rn50x64)])
  func largeOpenAIShapesMatchOpenCLIP(name: String, config: CLIPConfig) throws {
    let ref = try SafeTensorsFile(
      path: Fixture.path("resnet-\(name.lowercased())-reference.safetensors"))
    let exact = try SafeTensorsFile(
      path: Fixture.path("resnet-\(name.lowercased())-float64-reference.safetensors"))
    let model = CLIPModel.deterministic(config, parts: .vision)
    let encoder = try #require(model.makeImageEncoder(capacity: 1) as? ResNetEncoder)
    let run = FullSizeComparison.run(encoder, batch: 1)
    let map = encoder.featureMap.scalars
    Comparison(
      "\(name) last stage (every 97th)", stride(from: 0, to: map.count, by: 97).map { map[$0] },
      try ref.floats("feature_map_every_97th")
    ).check(maxRelative: 1e-4)
    Comparison("\(name) image features", run.features.scalars, try ref.floats("image_features"))
      .check(maxRelative: 1e-4)
    let refLoss = Double(try ref.floats("loss")[0])
    print("\(name) loss ours \(run.loss) ref \(refLoss)")
    #expect(abs(run.loss - refLoss) < 1e-4 * max(1, abs(refLoss)))
    let sampled = stride(from: 0, to: run.gradient.count, by: 97).map { run.gradient[$0] }
    let exactSampled = try exact.floats("pixel_grad_every_97th")
    let ours = Comparison("\(name) d loss / d pixels vs float64", sampled, exactSampled)
    print(ours)
    print(
      Comparison(
        "\(name) open_clip float32 d loss / d pixels vs float64",
        try ref.floats("pixel_grad_every_97th"), exactSampled))
    #expect(ours.cosine > 0.9999)
    #expect(ours.relativeNorm < 1e-2)
    let norm = run.gradient.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let exactNorm = Double(try exact.floats("pixel_grad_norm")[0])
    print("\(name) gradient norm ours \(norm), float64 \(exactNorm)")
    #expect(abs(norm - exactNorm) < 1e-3 * exactNorm)
  }

  /// Small deep analogs of RN50x16 and RN50x64 (their layer counts at width 16, 64 px, embed
  /// 64; scripts/resnet_fixtures.py deep-x16, deep-x64) against PyTorch in float64: features
  /// < 1e-5 relative, the whole pixel gradient at cosine > 0.9999 and relative norm < 1e-4
  /// (measured: 3.9e-6 and 6.0e-6). PyTorch's own float32 gradient, also in the fixture, is
  /// printed beside: it is off by 1.3e-3 (deep-x16) and 1.3e2 (deep-x64, cosine ≈ 0) — which is
  /// why the deep towers' gradients are judged against float64, not against open_clip's float32.
  @Test(arguments: [("deep-x16", [6, 8, 18, 8]), ("deep-x64", [3, 15, 36, 10])])
  func deepAnalogsMatchFloat64(name: String, layers: [Int]) throws {
    let ref = try SafeTensorsFile(path: Fixture.path("resnet-\(name)-reference.safetensors"))
    let config = CLIPConfig(
      resNet: .init(imageSize: 64, width: 16, layers: layers),
      text: .init(width: 32, layers: 1, heads: 1), embedDimension: 64)
    let model = CLIPModel.deterministic(config, parts: .vision)
    let encoder = try #require(model.makeImageEncoder(capacity: 1) as? ResNetEncoder)
    let run = FullSizeComparison.run(encoder, batch: 1)
    Comparison("\(name) image features", run.features.scalars, try ref.floats("image_features"))
      .check(maxRelative: 1e-5)
    let refLoss = Double(try ref.floats("loss")[0])
    print("\(name) loss ours \(run.loss) float64 \(refLoss)")
    #expect(abs(run.loss - refLoss) < 1e-5)
    let exact = try ref.floats("pixel_grad")
    let ours = Comparison("\(name) d loss / d pixels vs float64", run.gradient, exact)
    print(ours)
    print(
      Comparison(
        "\(name) PyTorch float32 d loss / d pixels vs float64", try ref.floats("pixel_grad_fp32"),
        exact))
    #expect(ours.cosine > 0.9999)
    #expect(ours.relativeNorm < 1e-4)
  }
}
