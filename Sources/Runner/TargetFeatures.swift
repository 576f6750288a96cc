import CLIP
import Formats
import ModelStore
import PipelineKit

/// The targets' features as the objective uses them: unit CLIP vectors of every text and image
/// feature, and the automatic ("fair") similarity scales of CLIPig's similarity scales and selection.
public struct TargetFeatures: Sendable {
  /// Unit feature vectors `[target][feature]` (zero for a feature with neither text nor image).
  public var vectors: [[[Float]]]
  /// Similarity scales `[target][feature]`: 1, or the fair scaling of targets that use it.
  public var scales: [[Double]]

  /// Encodes every feature of `experiment` with `model`; fair scales come from the similarity
  /// of `initialImage` `[3, H, W]` (clamped) to each feature. Image paths are resolved against
  /// `baseDirectory`.
  public init(
    experiment: Experiment, model: any FeatureModel, initialImage: Tensor, baseDirectory: String
  ) throws {
    let s = model.imageSize
    func unitImageFeatures(_ view: Tensor) throws -> [Float] {
      CLIPFeatures.unit(try model.encodeImages(Tensor.stack([view])).value.scalars)
    }
    vectors = []
    for (ti, target) in experiment.targets.enumerated() {
      var row: [[Float]] = []
      for (fi, feature) in target.features.enumerated() {
        if let text = feature.text {
          row.append(CLIPFeatures.unit(try model.encodeText(text)))
        } else if let path = feature.image {
          let image = try ConfiguredImage.load(
            path, baseDirectory: baseDirectory, key: "targets[\(ti)].features[\(fi)].image",
            location: feature.location)
          row.append(try unitImageFeatures(ImageOps.resizeCrop(image, width: s, height: s)))
        } else {
          row.append([Float](repeating: 0, count: model.featureCount))
        }
      }
      vectors.append(row)
    }
    scales = experiment.targets.map { [Double](repeating: 1, count: $0.features.count) }
    guard experiment.targets.contains(where: \.fairScaling) else { return }
    let h = initialImage.chw.h
    let w = initialImage.chw.w
    let view = ImageOps.clamp(
      Resampler(from: h, w, to: s, s, filter: .cubic).apply(initialImage), 0, 1)
    let f = try unitImageFeatures(view)
    for (ti, target) in experiment.targets.enumerated()
    where target.fairScaling && !target.features.isEmpty {
      let inverse = vectors[ti].map { 1 / CLIPFeatures.dot($0, f) }
      let m = inverse.max() ?? 1
      scales[ti] = inverse.map { $0 / m }
    }
  }
}
