import CLIP
import Foundation
import ModelStore
import PipelineKit
import TestSupport
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
    try FullSizeComparison(name: "B/32", ref: ref, batch: n).check(
      encoder, gradientMaxRelative: 1e-3, gradientRelativeNorm: 1e-3
    ) { _ in
      let block0 = encoder.blockOutput(0).scalars
      Comparison(
        "B/32 after block 0 (every 101st)",
        stride(from: 0, to: block0.count, by: 101).map { block0[$0] },
        try ref.floats("block0_every_101st")
      ).check(maxRelative: 1e-5)
      Comparison("B/32 before projection", encoder.pooledOutput.scalars, try ref.floats("pooled"))
        .check(maxRelative: 1e-4)
    }

    let tokens = try ref.floats("text_tokens").map { Int32($0) }
    var text = [Float]()
    for b in 0..<n { text += try model.encodeText(Array(tokens[(b * 77)..<((b + 1) * 77)])) }
    Comparison("B/32 text features", text, try ref.floats("text_features")).check(maxRelative: 1e-4)
  }
}
