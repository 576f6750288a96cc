import ExprEval
import PipelineKit

/// The views CLIP sees in one epoch (CLIPig's epoch step 7): for each active target, `viewsPerEpoch`
/// runs of its transform chain on the current image, each resized to CLIP's input side and
/// clamped to [0, 1] — with the pullback from the views' cotangents to the image's.
///
/// Each view's random stream comes from (seed, epoch, target, view) only, so training and
/// `clipig preview` sample identical views from identical pixels.
public struct ViewSampler: Sendable {
  /// The experiment's targets.
  public let targets: [Experiment.Target]
  /// CLIP's input side.
  public let imageSize: Int
  /// The run's random streams.
  public let streams: RandomStreams
  /// Each target's mask (nil: unmasked), by target index.
  public let masks: [TargetMask?]
  /// The experiment's `tiling`: every view's stages see a torus.
  public let tiling: Bool

  /// Where each view of a batch came from.
  public struct Origin: Sendable, Equatable {
    /// Target index in the experiment.
    public var target: Int
    /// View index within the target's views of the epoch.
    public var index: Int

    /// The `index`-th view of target `target`.
    public init(target: Int, index: Int) {
      self.target = target
      self.index = index
    }
  }

  /// One epoch's views.
  public struct Views {
    /// The CLIP inputs `[N, 3, S, S]`, clamped, not normalised.
    public var images: Tensor
    /// Target and index of each view, in batch order.
    public var origins: [Origin]
    /// From a cotangent of `images` to one of the sampled image `[3, H, W]`.
    public var pullback: Pullback
    /// The mask `[1, H, W]` of each active masked target this epoch, by target index.
    public var masks: [Int: Tensor] = [:]

    /// Number of views.
    public var count: Int { origins.count }
  }

  /// A sampler for `experiment`'s targets at CLIP's input side `imageSize`, with the targets'
  /// loaded `masks` (by target index; none by default).
  public init(
    experiment: Experiment, imageSize: Int, streams: RandomStreams, masks: [TargetMask?] = []
  ) {
    targets = experiment.targets
    self.imageSize = imageSize
    self.streams = streams
    self.masks = masks
    tiling = experiment.tiling
  }

  /// The views of `image` `[3, H, W]` (already clamped to [0, 1]) at `epoch`, with the
  /// expression variables `variables` of that epoch. A masked target's views see
  /// `TargetMask.gate(image, anchor:)` — `image` itself unless an `anchor` (the image the
  /// epoch started from, for the gradient harness) is given.
  public func sample(
    _ image: Tensor, epoch: Int, variables: ExprContext, anchor: Tensor? = nil
  ) throws(StageError) -> Views {
    let s = imageSize
    var origins: [Origin] = []
    var images: [Tensor] = []
    var pullbacks: [Pullback] = []
    var planes: [Int: Tensor] = [:]
    for (ti, target) in targets.enumerated()
    where target.window.contains(epoch: epoch, t: variables.t) {
      var input = image
      var gatePullback: Pullback?
      if ti < masks.count, let mask = masks[ti] {
        let m = try mask.plane(height: image.chw.h, width: image.chw.w, variables: variables)
        planes[ti] = m
        if let anchor {
          let gate = TargetMask.gate(image, anchor: anchor, mask: m)
          input = gate.value
          gatePullback = gate.pullback
        } else {
          // At its own anchor the gate's value is `image`, bit for bit: only its pullback.
          gatePullback = { d in TargetMask.scale(d, by: m) }
        }
      }
      for b in 0..<target.viewsPerEpoch {
        var context = StageContext(
          variables: variables, random: streams.view(epoch: epoch, target: ti, view: b),
          tiling: tiling)
        // The transform chain, each stage's error named by its path; pullbacks in reverse.
        var y = input
        var stagePullbacks: [Pullback] = []
        for entry in target.transforms {
          let (out, pullback) = try entry.stage.forward(y, at: entry.path, in: &context)
          y = out
          stagePullbacks.append(pullback)
        }
        let chainPullback: Pullback = { dy in
          stagePullbacks.reversed().reduce(dy) { d, pullback in pullback(d) }
        }
        let resize = Resampler(from: y.chw.h, y.chw.w, to: s, s, filter: .cubic)
        let resized = resize.apply(y)
        origins.append(Origin(target: ti, index: b))
        images.append(ImageOps.clamp(resized, 0, 1))
        pullbacks.append { d in
          let dInput = chainPullback(
            resize.adjoint(ImageOps.clampPullback(d, input: resized, 0, 1)))
          return gatePullback?(dInput) ?? dInput
        }
      }
    }
    let shape = image.shape
    let batch = images.isEmpty ? Tensor(shape: [0, 3, s, s]) : Tensor.stack(images)
    return Views(
      images: batch, origins: origins,
      pullback: { dViews in
        var dImage = Tensor(shape: shape)
        for (i, pullback) in pullbacks.enumerated() { dImage.add(pullback(dViews.view(i))) }
        return dImage
      }, masks: planes)
  }
}
