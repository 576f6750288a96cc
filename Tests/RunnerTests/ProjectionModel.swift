import Foundation
import PipelineKit
import Runner

/// A stand-in for CLIP in runner tests: features are a fixed random linear projection of the
/// (normalised) image, text features a random vector chosen by the text. Linear, so its
/// backward pass is exact and cheap.
final class ProjectionModel: FeatureModel {
  let imageSize: Int
  let featureCount: Int
  let weights: [Float]  // (D, 3·S·S)

  init(imageSize: Int = 12, featureCount: Int = 8, seed: UInt64 = 11) {
    self.imageSize = imageSize
    self.featureCount = featureCount
    var r = SeededRandom(seed: seed)
    let n = 3 * imageSize * imageSize
    weights = (0..<(featureCount * n)).map { _ in Float(r.normal() / Double(n).squareRoot()) }
  }

  func encodeText(_ text: String) throws -> [Float] {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for b in text.utf8 { hash = (hash ^ UInt64(b)) &* 0x100_0000_01b3 }
    var r = SeededRandom(seed: hash)
    return (0..<featureCount).map { _ in Float(r.normal()) }
  }

  func encodeImages(_ images: Tensor) throws -> (value: Tensor, pullback: Pullback) {
    let n = images.shape[0]
    let k = 3 * imageSize * imageSize
    precondition(images.shape == [n, 3, imageSize, imageSize])
    var out = Tensor(shape: [n, featureCount])
    for i in 0..<n {
      for d in 0..<featureCount {
        var s: Float = 0
        for j in 0..<k { s += weights[d * k + j] * images.scalars[i * k + j] }
        out.scalars[i * featureCount + d] = s
      }
    }
    return (out, { [self] dFeatures in backward(dFeatures, batch: n) })
  }

  private func backward(_ dFeatures: Tensor, batch n: Int) -> Tensor {
    let k = 3 * imageSize * imageSize
    var dx = Tensor(shape: [n, 3, imageSize, imageSize])
    for i in 0..<n {
      for d in 0..<featureCount {
        let g = dFeatures.scalars[i * featureCount + d]
        for j in 0..<k { dx.scalars[i * k + j] += g * weights[d * k + j] }
      }
    }
    return dx
  }
}
