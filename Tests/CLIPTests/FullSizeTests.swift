import CLIP
import Foundation
import ModelStore
import PipelineKit
import Testing

/// ViT-B/32 shapes with the deterministic weights shared with scripts/clip_fixtures.py b32;
/// the fixture holds only outputs. Release builds only (150 M generated parameters).
@Suite(.enabled(if: isReleaseBuild, "full-size check runs in release builds"))
struct FullSizeTests {
  @Test func vitB32MatchesPyTorch() throws {
    let ref = try SafeTensorsFile(path: Fixture.path("b32-reference.safetensors"))
    let model = CLIPModel.deterministic(.vitB32)
    let encoder = try #require(model.makeImageEncoder(capacity: 2) as? ImageEncoder)
    let n = 2
    let pixels = Tensor(
      shape: [n, 3, 224, 224],
      scalars: DeterministicWeights.values(
        count: n * 3 * 224 * 224, seed: 0, tensor: 20_000, scale: 0.5, offset: 0.5))
    let weights = Tensor(
      shape: [n, 512], scalars: DeterministicWeights.values(count: n * 512, seed: 0, tensor: 20_001)
    )
    let features = encoder.forward(pixels)
    let block0 = encoder.blockOutput(0).scalars
    Comparison(
      "B/32 after block 0 (every 101st)",
      stride(from: 0, to: block0.count, by: 101).map { block0[$0] },
      try ref.floats("block0_every_101st")
    ).check(maxRelative: 1e-5)
    Comparison("B/32 before projection", encoder.pooledOutput.scalars, try ref.floats("pooled"))
      .check(maxRelative: 1e-4)
    Comparison("B/32 image features", features.scalars, try ref.floats("image_features"))
      .check(maxRelative: 1e-4)

    let (unit, pullback) = CLIPFeatures.normalize(features)
    let loss = unit.dot(weights)
    let refLoss = Double(try ref.floats("loss")[0])
    print("B/32 loss ours \(loss) ref \(refLoss)")
    #expect(abs(loss - refLoss) < 1e-4 * max(1, abs(refLoss)))
    let grad = encoder.backward(pullback(weights)).scalars
    let sampled = stride(from: 0, to: grad.count, by: 17).map { grad[$0] }
    let c = Comparison(
      "B/32 d loss / d pixels (every 17th)", sampled, try ref.floats("pixel_grad_every_17th")
    )
    .check(maxRelative: 1e-3)
    #expect(c.cosine > 0.9999 && c.relativeNorm < 1e-3)
    let norm = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let probe = DeterministicWeights.values(count: grad.count, seed: 0, tensor: 20_002)
    var dot = 0.0
    for i in 0..<grad.count { dot += Double(grad[i]) * Double(probe[i]) }
    let refNorm = Double(try ref.floats("pixel_grad_norm")[0])
    let refDot = Double(try ref.floats("pixel_grad_dot_probe")[0])
    print("B/32 full gradient: norm \(norm) vs \(refNorm), ⟨g, probe⟩ \(dot) vs \(refDot)")
    #expect(abs(norm - refNorm) / refNorm < 1e-3)
    #expect(abs(dot - refDot) / refNorm < 1e-3 * Double(grad.count).squareRoot())

    let tokens = try ref.floats("text_tokens").map { Int32($0) }
    var text = [Float]()
    for b in 0..<n { text += try model.encodeText(Array(tokens[(b * 77)..<((b + 1) * 77)])) }
    Comparison("B/32 text features", text, try ref.floats("text_features")).check(maxRelative: 1e-4)
  }
}
