import CLIP
import Foundation
import ModelStore
import PipelineKit
import Testing

/// RN50's image tower with the deterministic weights shared with scripts/resnet_fixtures.py
/// rn50; the fixture holds only open_clip's outputs. Release builds only (38 M parameters).
@Suite(.enabled(if: isReleaseBuild, "full-size check runs in release builds"))
struct ResNetFullSizeTests {
  @Test func rn50MatchesOpenCLIP() throws {
    let ref = try SafeTensorsFile(path: Fixture.path("resnet-rn50-reference.safetensors"))
    let model = CLIPModel.deterministic(.rn50, parts: .vision)
    let encoder = try #require(model.makeImageEncoder(capacity: 2) as? ResNetEncoder)
    let (n, s, e) = (2, 224, 1024)
    let pixels = Tensor(
      shape: [n, 3, s, s],
      scalars: DeterministicWeights.values(
        count: n * 3 * s * s, seed: 0, tensor: 20_000, scale: 0.5, offset: 0.5))
    let weights = Tensor(
      shape: [n, e], scalars: DeterministicWeights.values(count: n * e, seed: 0, tensor: 20_001))
    let features = encoder.forward(pixels)
    let map = encoder.featureMap.scalars
    Comparison(
      "RN50 last stage (every 7th)", stride(from: 0, to: map.count, by: 7).map { map[$0] },
      try ref.floats("feature_map_every_7th")
    ).check(maxRelative: 1e-4)
    let refFeatures = try ref.floats("image_features")
    Comparison("RN50 image features", features.scalars, refFeatures).check(maxRelative: 1e-4)
    // The image-dependent part: the difference of the two images' features.
    let diff = (0..<e).map { features.scalars[$0] - features.scalars[e + $0] }
    let refDiff = (0..<e).map { refFeatures[$0] - refFeatures[e + $0] }
    Comparison("RN50 feature difference between the images", diff, refDiff)
      .check(maxRelative: 1e-3)

    let (unit, pullback) = CLIPFeatures.normalize(features)
    let loss = unit.dot(weights)
    let refLoss = Double(try ref.floats("loss")[0])
    print("RN50 loss ours \(loss) ref \(refLoss)")
    #expect(abs(loss - refLoss) < 1e-4 * max(1, abs(refLoss)))
    // Float32 noise of this deep ReLU network is larger than a ViT's: PyTorch's own fp32
    // gradient differs from its fp64 one by 1.3e-3 (norm) and 1.3e-2 (max, of max |ref|) —
    // units near a ReLU kink flip. The criterion is the cosine.
    let grad = encoder.backward(pullback(weights)).scalars
    let sampled = stride(from: 0, to: grad.count, by: 17).map { grad[$0] }
    let c = Comparison(
      "RN50 d loss / d pixels (every 17th)", sampled, try ref.floats("pixel_grad_every_17th")
    )
    .check(maxRelative: 5e-2)
    #expect(c.cosine > 0.9999 && c.relativeNorm < 5e-3)
    let norm = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let probe = DeterministicWeights.values(count: grad.count, seed: 0, tensor: 20_002)
    var dot = 0.0
    for i in 0..<grad.count { dot += Double(grad[i]) * Double(probe[i]) }
    let refNorm = Double(try ref.floats("pixel_grad_norm")[0])
    let refDot = Double(try ref.floats("pixel_grad_dot_probe")[0])
    print("RN50 full gradient: norm \(norm) vs \(refNorm), ⟨g, probe⟩ \(dot) vs \(refDot)")
    #expect(abs(norm - refNorm) / refNorm < 1e-3)
    // ⟨g, probe⟩ with a ±1 probe: |Δ| ≤ ‖Δg‖·√count, ‖Δg‖ ≤ 5e-3·‖g‖.
    #expect(abs(dot - refDot) / refNorm < 5e-3 * Double(grad.count).squareRoot())
  }
}
