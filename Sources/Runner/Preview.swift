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
  }

  /// The views at `epoch` of a run with `seed`, sampled from `image` (else the experiment's
  /// initial pixels) after the epoch's resize and post-processing, at CLIP's input side
  /// `imageSize`.
  public static func views(
    _ experiment: Experiment, epoch: Int, image: Tensor? = nil, seed: UInt64, imageSize: Int,
    baseDirectory: String = "."
  ) throws -> [View] {
    let streams = RandomStreams(seed: seed)
    let pixels =
      try image
      ?? Trainer.initialPixels(experiment, streams: streams, baseDirectory: baseDirectory)
    var parametrization = experiment.parametrization.make(
      width: pixels.chw.w, height: pixels.chw.h)
    var parameters = parametrization.encode(pixels)
    var random = streams.expressions(epoch: epoch)
    let variables = try Trainer.prepare(
      experiment, epoch: epoch, parametrization: &parametrization, parameters: &parameters,
      streams: streams, random: &random
    ).variables
    let sampler = ViewSampler(experiment: experiment, imageSize: imageSize, streams: streams)
    return views(
      try sampler.sample(
        parametrization.image(parameters).value, epoch: epoch, variables: variables),
      experiment)
  }

  /// The views the trainer `trainer` would train on at `epoch` from its current pixels.
  public static func views(of trainer: Trainer, epoch: Int) throws -> [View] {
    views(try trainer.views(atEpoch: epoch), trainer.experiment)
  }

  static func views(_ sampled: ViewSampler.Views, _ experiment: Experiment) -> [View] {
    sampled.origins.enumerated().map { i, origin in
      View(
        target: origin.target, targetName: experiment.targets[origin.target].name,
        index: origin.index, image: sampled.images.view(i))
    }
  }
}
