import CLIP
import ModelStore
import PipelineKit
import TestSupport
import Testing

/// The check both full-size fixtures share (ViT-B/32 against PyTorch, RN50 against open_clip):
/// deterministic pixels through `encoder`, the features, the loss ⟨normalize(features), w⟩ and
/// its pixel gradient against the reference file's `image_features`, `loss`,
/// `pixel_grad_every_17th`, `pixel_grad_norm` and `pixel_grad_dot_probe`.
struct FullSizeComparison {
  /// Label of every comparison ("B/32", "RN50").
  var name: String
  /// The reference outputs.
  var ref: SafeTensorsFile
  /// Images in the batch.
  var batch = 2
  /// The reference's pixel gradient holds every `gradientEvery`-th value
  /// (`pixel_grad_every_<n>th`).
  var gradientEvery = 17

  /// Runs the comparison. `intermediates` checks model-specific outputs after the forward;
  /// the sampled gradient must match within `gradientMaxRelative`, and the whole gradient
  /// within `gradientRelativeNorm` (relative norm of the sampled difference, and the probe
  /// product's bound).
  func check(
    _ encoder: any ImageEncoding, gradientMaxRelative: Double, gradientRelativeNorm: Double,
    intermediates: (Tensor) throws -> Void = { _ in }
  ) throws {
    let (n, s, e) = (batch, encoder.imageSize, encoder.embedDimension)
    let pixels = Tensor(
      shape: [n, 3, s, s],
      scalars: DeterministicWeights.values(
        count: n * 3 * s * s, seed: 0, tensor: 20_000, scale: 0.5, offset: 0.5))
    let weights = Tensor(
      shape: [n, e], scalars: DeterministicWeights.values(count: n * e, seed: 0, tensor: 20_001))
    let features = encoder.forward(pixels)
    try intermediates(features)
    Comparison("\(name) image features", features.scalars, try ref.floats("image_features"))
      .check(maxRelative: 1e-4)

    let (unit, pullback) = CLIPFeatures.normalize(features)
    let loss = unit.dot(weights)
    let refLoss = Double(try ref.floats("loss")[0])
    print("\(name) loss ours \(loss) ref \(refLoss)")
    #expect(abs(loss - refLoss) < 1e-4 * max(1, abs(refLoss)))
    let grad = encoder.backward(pullback(weights)).scalars
    let every = gradientEvery
    let sampled = stride(from: 0, to: grad.count, by: every).map { grad[$0] }
    let c = Comparison(
      "\(name) d loss / d pixels (every \(every)th)", sampled,
      try ref.floats("pixel_grad_every_\(every)th")
    )
    .check(maxRelative: gradientMaxRelative)
    #expect(c.cosine > 0.9999 && c.relativeNorm < gradientRelativeNorm)
    let norm = grad.reduce(0.0) { $0 + Double($1) * Double($1) }.squareRoot()
    let probe = DeterministicWeights.values(count: grad.count, seed: 0, tensor: 20_002)
    var dot = 0.0
    for i in 0..<grad.count { dot += Double(grad[i]) * Double(probe[i]) }
    let refNorm = Double(try ref.floats("pixel_grad_norm")[0])
    let refDot = Double(try ref.floats("pixel_grad_dot_probe")[0])
    print("\(name) full gradient: norm \(norm) vs \(refNorm), ⟨g, probe⟩ \(dot) vs \(refDot)")
    #expect(abs(norm - refNorm) / refNorm < 1e-3)
    // ⟨g, probe⟩ with a ±1 probe: |Δ| ≤ ‖Δg‖·√count, ‖Δg‖ ≤ gradientRelativeNorm·‖g‖.
    #expect(
      abs(dot - refDot) / refNorm < gradientRelativeNorm * Double(grad.count).squareRoot())
  }
}
