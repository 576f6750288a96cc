import ExprEval
import Foundation
import PipelineKit

/// `clipig preview`: the views each target would show CLIP at one moment of training, after its
/// transforms and before CLIP's normalisation — the tool for tuning augmentation chains.
public enum Preview {
  /// One view: which target, which batch index, the image.
  public struct View: Sendable {
    /// Target index in the configuration (after dropping inactive targets).
    public var target: Int
    /// Target name.
    public var targetName: String
    /// View index within the target's batch.
    public var index: Int
    /// The transformed view `[3, H, W]`.
    public var image: Tensor
  }

  /// The views at `epoch`, starting from `image` (or the experiment's initial pixels).
  public static func views(
    _ experiment: Experiment, epoch: Int, image: Tensor? = nil, seed: UInt64,
    baseDirectory: String = "."
  ) throws -> [View] {
    var random = SeededRandom(seed: seed)
    let context = try experiment.variables(atEpoch: epoch, random: &random)
    let (w, h) = (Int(context.width), Int(context.height))
    var pixels: Tensor
    if let image {
      pixels = image
      if image.chw.h != h || image.chw.w != w {
        pixels = Resampler(
          from: image.chw.h, image.chw.w, to: h, w, filter: experiment.interpolation
        ).apply(image)
      }
    } else {
      pixels = try Trainer.initialPixels(
        experiment, width: w, height: h, random: &random, baseDirectory: baseDirectory)
    }
    let current = ImageOps.clamp(pixels, 0, 1)
    var result: [View] = []
    for (ti, target) in experiment.targets.enumerated()
    where target.window.contains(epoch: epoch, t: context.t) {
      for b in 0..<target.viewsPerEpoch {
        var c = StageContext(variables: context, random: random.fork(UInt64(ti) << 32 | UInt64(b)))
        let y = try Pipeline(target.transforms.map(\.stage)).forward(current, in: &c).value
        result.append(View(target: ti, targetName: target.name, index: b, image: y))
      }
    }
    return result
  }
}
