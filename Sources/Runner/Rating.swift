import CLIP
import Formats
import Foundation
import ModelStore
import PipelineKit

/// Rates images by CLIP similarity, as CLIPig's `rate.py` does (CLIPig's rate.py): an image is
/// resize-cropped to the model's input size, CLIP-normalised and encoded; a prompt is encoded;
/// both are L2-normalised and the similarity is 100 × their cosine.
public struct Rater {
  /// The CLIP model (its image workspace is reused between calls, so a rater is used by one
  /// thread at a time).
  public let model: any FeatureModel

  /// A rater using `model`.
  public init(model: any FeatureModel) {
    self.model = model
  }

  /// Unit-length features of a prompt.
  public func textFeatures(_ text: String) throws -> [Float] {
    CLIPFeatures.unit(try model.encodeText(text))
  }

  /// Unit-length features of an image `[3, H, W]` in [0, 1] of any size.
  public func imageFeatures(_ image: Tensor) throws -> [Float] {
    try imageFeatures(batch: [image])[0]
  }

  /// Unit-length features of each image (any sizes), encoded `batchSize` at a time: each is
  /// scaled (bicubic) so its shorter side is the model's input size, centre-cropped, clamped.
  public func imageFeatures(batch images: [Tensor], batchSize: Int = 10) throws -> [[Float]] {
    let s = model.imageSize
    var out: [[Float]] = []
    var start = 0
    while start < images.count {
      let views = images[start..<min(images.count, start + batchSize)].map {
        ImageOps.clamp(ImageOps.resizeCrop($0, width: s, height: s), 0, 1)
      }
      let features = try model.encodeImages(Tensor.stack(views)).value
      let d = features.shape[1]
      for i in views.indices {
        out.append(CLIPFeatures.unit(Array(features.scalars[i * d..<(i + 1) * d])))
      }
      start += batchSize
    }
    return out
  }

  /// 100 × the cosine of two unit feature vectors.
  public static func similarity(_ a: [Float], _ b: [Float]) -> Double {
    100 * CLIPFeatures.dot(a, b)
  }
}

/// What an experiment's results are rated against: the text and image features of its
/// targets, except those with a constant weight ≤ 0 (features the run moves away from).
public struct RatingReferences {
  /// One text or reference image.
  public struct Reference {
    /// The prompt, or the image path as written.
    public var label: String
    /// True for a prompt, false for a reference image.
    public var isText: Bool
    /// Unit-length features.
    public var vector: [Float]
  }

  /// The references in configuration order.
  public var references: [Reference]

  /// The prompts among the references.
  public var prompts: [String] { references.filter(\.isText).map(\.label) }

  /// Encodes the features of `experiment`; image paths are resolved against `baseDirectory`.
  ///
  /// Throws when the experiment has nothing to rate against.
  public init(experiment: Experiment, rater: Rater, baseDirectory: String) throws {
    references = []
    for (ti, target) in experiment.targets.enumerated() {
      for (fi, feature) in target.features.enumerated() {
        if let w = feature.weight.constantValue, w <= 0 { continue }
        if let text = feature.text {
          references.append(
            Reference(label: text, isText: true, vector: try rater.textFeatures(text)))
        } else if let path = feature.image {
          let image = try ConfiguredImage.load(
            path, baseDirectory: baseDirectory, key: "targets[\(ti)].features[\(fi)].image",
            location: feature.location)
          references.append(
            Reference(label: path, isText: false, vector: try rater.imageFeatures(image)))
        }
      }
    }
    if references.isEmpty {
      throw WorkflowError(
        "nothing to rate against: the experiment has no text or image feature with a positive "
          + "weight")
    }
  }

  /// The similarity of an image (its unit features) to each reference.
  public func similarities(_ imageFeatures: [Float]) -> [Double] {
    references.map { Rater.similarity($0.vector, imageFeatures) }
  }

  /// The mean similarity to all references: the score runs are ranked by.
  public func score(_ imageFeatures: [Float]) -> Double {
    let s = similarities(imageFeatures)
    return s.reduce(0, +) / Double(max(1, s.count))
  }
}

/// A problem with a rank, batch or gallery run that is not tied to a configuration location.
public struct WorkflowError: Error, Sendable, CustomStringConvertible {
  /// One sentence for the user.
  public var description: String

  /// An error saying `description`.
  public init(_ description: String) {
    self.description = description
  }
}
