import Foundation

/// Where an animation's wall time went, filled in by `AnimationRender.run` when given one
/// (`clipig bench render` of an animation): the training epochs and what surrounds them.
public final class AnimationTiming {
  /// The training epochs (`Trainer.step`: views, CLIP, losses, optimizer), all frames.
  public var training = 0.0
  /// Each frame's start: the previous frame read and warped, the input frame, reference images.
  public var start = 0.0
  /// Each frame's trainer: parameters, target features (the prompts' text encodings).
  public var setup = 0.0
  /// The frame loop beyond its epochs: the frame's PNG, checkpoints, progress lines.
  public var frames = 0.0
  /// The end: the WebP, the MP4 (ffmpeg) and the sidecar.
  public var finish = 0.0

  /// Empty.
  public init() {}

  /// Everything measured.
  public var total: Double { training + start + setup + frames + finish }
  /// The time outside the training epochs.
  public var outside: Double { total - training }
}
