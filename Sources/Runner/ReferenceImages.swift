import PipelineKit
import Synchronization

/// The images a run's reference-image constraints (`content`, see `ReferenceImageStage`)
/// compare with, by target and constraint: each file or URL loaded once (errors name the place
/// it was written and its key), an animation's current input frame for those without `image`,
/// each resized to the image's size when that size is first needed — CLIPig's resize-crop
/// (`ImageOps.resizeCrop`: scaled bicubic to cover the size, the centre cut out), as
/// `init.image` is. The images of the last size asked for are kept.
public final class ReferenceImages: Sendable {
  /// `[target][constraint]`: the images as loaded, nil where a constraint compares with none.
  public let originals: [[Tensor?]]
  /// The last size asked for and its images.
  private let cache = Mutex<(width: Int, height: Int, images: [[Tensor?]])?>(nil)

  /// The images `originals`, by target and constraint.
  public init(originals: [[Tensor?]]) {
    self.originals = originals
  }

  /// None: a run without reference-image constraints.
  public static let none = ReferenceImages(originals: [])

  /// The images of `experiment`'s reference-image constraints: files and URLs relative to
  /// `baseDirectory` (taken from `loaded` when given: an animation loads them once), and
  /// `frame`, the animation's current input frame, for constraints without `image`.
  public static func load(
    _ experiment: Experiment, baseDirectory: String, frame: Tensor? = nil,
    loaded: ReferenceImages? = nil
  ) throws -> ReferenceImages {
    var originals: [[Tensor?]] = []
    for (ti, target) in experiment.targets.enumerated() {
      var row: [Tensor?] = []
      for (ci, constraint) in target.constraints.enumerated() {
        guard let stage = constraint.stage as? any ReferenceImageStage else {
          row.append(nil)
          continue
        }
        if let image = stage.referenceImage {
          if let kept = loaded?.originals[ti][ci] {
            row.append(kept)
            continue
          }
          guard let reference = image.constantValue else {
            preconditionFailure("a string parameter is a constant")
          }
          row.append(
            try ConfiguredImage.load(
              reference, baseDirectory: baseDirectory, key: image.path, location: image.location))
        } else {
          guard let frame else {
            throw ConfigError(
              "content without 'image' compares with the current frame of init.video, which "
                + "only 'clipig render' of the animation reads",
              at: experiment.initialization.video?.location ?? experiment.source.location,
              path: constraint.path)
          }
          row.append(frame)
        }
      }
      originals.append(row)
    }
    return ReferenceImages(originals: originals)
  }

  /// The reference of constraint `ci` of target `ti` at `width` × `height`.
  public func image(target ti: Int, constraint ci: Int, width: Int, height: Int) -> Tensor {
    let images = cache.withLock { cached in
      if let cached, cached.width == width, cached.height == height { return cached.images }
      let resized = originals.map { row in
        row.map { image in image.map { ImageOps.resizeCrop($0, width: width, height: height) } }
      }
      cached = (width, height, resized)
      return resized
    }
    guard ti < images.count, ci < images[ti].count, let image = images[ti][ci] else {
      preconditionFailure("no reference image for constraint \(ci) of target \(ti)")
    }
    return image
  }
}
