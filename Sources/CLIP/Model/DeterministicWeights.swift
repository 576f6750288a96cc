import Foundation
import PipelineKit

/// A counter-based generator that makes CLIP-shaped weights without a file, bit-identical to
/// the one in `scripts/clip_fixtures.py` (so full-size models can be checked against PyTorch by
/// committing only inputs and outputs).
///
/// u(seed, tensor, index) ∈ [−1, 1): z = seed + tensor·0x9E3779B97F4A7C15 + index·0xD1B54A32D192ED03
/// (mod 2⁶⁴), then SplitMix64's finaliser; u = (z >> 40)·2⁻²³ − 1 (exact in Float32).
/// Parameters: layer-norm gains 1 + u/8, shifts u/16, biases u/32, weights u·fl(1/√fanIn),
/// embeddings u·scale, batch-norm running variances 1 + u/4 (running means are embeddings of
/// scale 1/8). Tensor ids number a tower's parameters in canonical order (vision from
/// 0, text from 10 000).
public enum DeterministicWeights {
  /// First tensor id of the vision tower.
  public static let visionTensorBase: UInt64 = 0
  /// First tensor id of the text tower.
  public static let textTensorBase: UInt64 = 10_000

  /// The uniform value for element `index` of tensor `tensor`.
  @inline(__always)
  public static func uniform(seed: UInt64, tensor: UInt64, index: UInt64) -> Float {
    let z = SplitMix64.mix(
      seed &+ tensor &* SplitMix64.increment &+ index &* 0xD1B5_4A32_D192_ED03)
    return Float(z >> 40) * 0x1p-23 - 1
  }

  /// `count` values u·scale + offset for tensor `tensor` (inputs of the checks use this).
  public static func values(
    count: Int, seed: UInt64, tensor: UInt64, scale: Float = 1, offset: Float = 0
  ) -> [Float] {
    var out = [Float](repeating: 0, count: count)
    out.withUnsafeMutableBufferPointer { buffer in
      guard let start = buffer.baseAddress else { return }
      let base = UncheckedPointer(start)
      parallelChunks(count) { range in
        for i in range {
          base.pointer[i] = uniform(seed: seed, tensor: tensor, index: UInt64(i)) * scale + offset
        }
      }
    }
    return out
  }

  static func fill(
    _ buffer: UnsafeMutableBufferPointer<Float>, kind: ParameterKind, seed: UInt64, tensor: UInt64
  ) {
    let (scale, offset): (Float, Float)
    switch kind {
    case .normWeight: (scale, offset) = (0.125, 1)
    case .normBias: (scale, offset) = (0.0625, 0)
    case .bias: (scale, offset) = (0.031_25, 0)
    case .weight(let fanIn): (scale, offset) = (Float(1 / Double(fanIn).squareRoot()), 0)
    case .embedding(let s): (scale, offset) = (s, 0)
    case .variance: (scale, offset) = (0.25, 1)
    }
    guard let start = buffer.baseAddress else { return }
    let base = UncheckedPointer(start)
    parallelChunks(buffer.count) { range in
      for i in range {
        base.pointer[i] = uniform(seed: seed, tensor: tensor, index: UInt64(i)) * scale + offset
      }
    }
  }

  private static func parallelChunks(_ count: Int, _ body: (Range<Int>) -> Void) {
    let chunk = 1 << 16
    let tasks = (count + chunk - 1) / chunk
    parallelFor(tasks) { t in body((t * chunk)..<min(count, (t + 1) * chunk)) }
  }
}
