import ExprEval
import Foundation
import Parametrizations
import PipelineKit

/// `clipig preview`: the views each target shows CLIP at one moment of training — CLIP's
/// inputs after the transforms, the resize and the clamp, before CLIP's normalisation — the tool
/// for tuning augmentation chains. The views come from the trainer's own sampler and random
/// streams, so from the same pixels they are exactly the views training uses.
public enum Preview {
  /// One view: which target, which view index, the image.
  public struct View: Sendable {
    /// Target index in the configuration (after dropping inactive targets).
    public var target: Int
    /// Target name.
    public var targetName: String
    /// View index within the target's views of the epoch.
    public var index: Int
    /// CLIP's input `[3, S, S]`.
    public var image: Tensor
    /// Which model of `models:` sees it at this size (0 with one model).
    public var model = 0
  }

  /// A masked target's mask at the epoch: which target, the plane `[1, H, W]` at the image's
  /// resolution (1 where the target may change pixels).
  public struct Mask: Sendable {
    /// Target index in the configuration (after dropping inactive targets).
    public var target: Int
    /// Target name.
    public var targetName: String
    /// The mask `[1, H, W]`, in [0, 1].
    public var plane: Tensor

    /// The mask as a gray image `[3, H, W]` (to write or show).
    public var image: Tensor {
      Tensor(
        shape: [3, plane.chw.h, plane.chw.w],
        scalars: plane.scalars + plane.scalars + plane.scalars)
    }
  }

  /// What one epoch shows: the views and the active targets' masks.
  public struct Sheet: Sendable {
    /// The views, in batch order.
    public var views: [View]
    /// The masks of the active masked targets, by target order.
    public var masks: [Mask]
  }

  /// The views (and masks) at `epoch` of a run with `seed`, sampled from `image` (else the
  /// experiment's initial pixels) after the epoch's resize and post-processing, at CLIP's input
  /// side `imageSize` — or, given the input sides of every model of `models:` (`imageSizes`),
  /// each model's views at its side.
  public static func sheet(
    _ experiment: Experiment, epoch: Int, image: Tensor? = nil, seed: UInt64, imageSize: Int,
    imageSizes: [Int]? = nil, baseDirectory: String = "."
  ) throws -> Sheet {
    let streams = RandomStreams(seed: seed)
    let pixels =
      try image
      ?? Trainer.initialPixels(experiment, streams: streams, baseDirectory: baseDirectory)
    var parametrization = experiment.parametrization.make(
      width: pixels.chw.w, height: pixels.chw.h, wrap: experiment.tiling)
    var parameters = parametrization.encode(pixels)
    var random = streams.expressions(epoch: epoch)
    let variables = try Trainer.prepare(
      experiment, epoch: epoch, parametrization: &parametrization, parameters: &parameters,
      streams: streams, random: &random
    ).variables
    let masks = try TargetMask.loadAll(experiment, baseDirectory: baseDirectory)
    let sampler =
      imageSizes.map {
        ViewSampler(experiment: experiment, imageSizes: $0, streams: streams, masks: masks)
      } ?? ViewSampler(experiment: experiment, imageSize: imageSize, streams: streams, masks: masks)
    return sheet(
      try sampler.sample(
        parametrization.image(parameters).value, epoch: epoch, variables: variables),
      experiment)
  }

  /// The views (and masks) the trainer `trainer` would train on at `epoch` from its current
  /// pixels.
  public static func sheet(of trainer: Trainer, epoch: Int) throws -> Sheet {
    sheet(try trainer.views(atEpoch: epoch), trainer.experiment)
  }

  /// The views of `sheet(_:epoch:image:seed:imageSize:baseDirectory:)`.
  public static func views(
    _ experiment: Experiment, epoch: Int, image: Tensor? = nil, seed: UInt64, imageSize: Int,
    baseDirectory: String = "."
  ) throws -> [View] {
    try sheet(
      experiment, epoch: epoch, image: image, seed: seed, imageSize: imageSize,
      baseDirectory: baseDirectory
    ).views
  }

  /// The views of `sheet(of:epoch:)`.
  public static func views(of trainer: Trainer, epoch: Int) throws -> [View] {
    try sheet(of: trainer, epoch: epoch).views
  }

  static func sheet(_ sampled: ViewSampler.Views, _ experiment: Experiment) -> Sheet {
    Sheet(
      views: sampled.batches.enumerated().flatMap { m, batch in
        batch.origins.enumerated().map { i, origin in
          View(
            target: origin.target, targetName: experiment.targets[origin.target].name,
            index: origin.index, image: batch.images.view(i), model: m)
        }
      },
      masks: sampled.masks.sorted { $0.key < $1.key }.map { ti, plane in
        Mask(target: ti, targetName: experiment.targets[ti].name, plane: plane)
      })
  }
}
