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
  /// CLIP's input side (the first model's).
  public var imageSize: Int { inputs[0].imageSize }
  /// What each model sees: its input side and how many of each target's views.
  public let inputs: [Input]
  /// The run's random streams.
  public let streams: RandomStreams
  /// Each target's mask (nil: unmasked), by target index.
  public let masks: [TargetMask?]
  /// The experiment's `tiling`: every view's stages see a torus.
  public let tiling: Bool

  /// The views one model sees: at its input side, the first `counts[target]` views of each
  /// target (0: a target it does not judge).
  public struct Input: Sendable {
    /// The model's input side.
    public var imageSize: Int
    /// Views per target index.
    public var counts: [Int]
  }

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

  /// The CLIP inputs of one model.
  public struct Batch {
    /// `[N, 3, S, S]`, clamped, not normalised.
    public var images: Tensor
    /// Target and index of each view, in batch order.
    public var origins: [Origin]

    /// Number of views.
    public var count: Int { origins.count }
  }

  /// One epoch's views.
  public struct Views {
    /// Each model's inputs, in `models:` order (one batch for a one-model sampler).
    public var batches: [Batch]
    /// From the cotangents of the batches' images (nil: zero, skipped) to one of the sampled
    /// image `[3, H, W]`: each view's transform chain runs backward once for all models.
    public var jointPullback: ([Tensor?]) -> Tensor
    /// The mask `[1, H, W]` of each active masked target this epoch, by target index.
    public var masks: [Int: Tensor] = [:]

    /// The first model's CLIP inputs `[N, 3, S, S]`, clamped, not normalised.
    public var images: Tensor { batches[0].images }
    /// Target and index of each of the first model's views, in batch order.
    public var origins: [Origin] { batches[0].origins }
    /// From a cotangent of the first model's `images` to one of the sampled image `[3, H, W]`.
    public var pullback: Pullback { { d in jointPullback([d]) } }
    /// Number of the first model's views.
    public var count: Int { batches[0].count }
    /// Number of views over all models.
    public var total: Int { batches.reduce(0) { $0 + $1.count } }
  }

  /// A sampler for `experiment`'s targets at CLIP's input side `imageSize` (every target's
  /// views in one batch, whatever `models:` says), with the targets' loaded `masks` (by target
  /// index; none by default).
  public init(
    experiment: Experiment, imageSize: Int, streams: RandomStreams, masks: [TargetMask?] = []
  ) {
    targets = experiment.targets
    inputs = [Input(imageSize: imageSize, counts: experiment.targets.map(\.viewsPerEpoch))]
    self.streams = streams
    self.masks = masks
    tiling = experiment.tiling
  }

  /// A sampler with one batch per model of `experiment.models`, at the models' input sides
  /// `imageSizes`: each model sees its share of the views of the targets it judges.
  public init(
    experiment: Experiment, imageSizes: [Int], streams: RandomStreams, masks: [TargetMask?] = []
  ) {
    precondition(imageSizes.count == experiment.models.count, "ViewSampler: one size per model")
    targets = experiment.targets
    inputs = experiment.models.enumerated().map { m, entry in
      Input(
        imageSize: imageSizes[m],
        counts: experiment.targets.map {
          $0.models.contains(m) ? entry.viewCount(of: $0.viewsPerEpoch) : 0
        })
    }
    self.streams = streams
    self.masks = masks
    tiling = experiment.tiling
  }

  /// Where a chain view went: model `model`'s batch at `position`, resized by `resize` from
  /// the chain's output to `resized` before the clamp.
  private struct Tap {
    var model: Int
    var position: Int
    var resize: Resampler
    var resized: Tensor
  }

  /// The views of `image` `[3, H, W]` (already clamped to [0, 1]) at `epoch`, with the
  /// expression variables `variables` of that epoch. A masked target's views see
  /// `TargetMask.gate(image, anchor:)` — `image` itself unless an `anchor` (the image the
  /// epoch started from, for the gradient harness) is given. Each view's transform chain runs
  /// once; each model that sees it gets it resized to its input side.
  public func sample(
    _ image: Tensor, epoch: Int, variables: ExprContext, anchor: Tensor? = nil
  ) throws(StageError) -> Views {
    var batches: [(images: [Tensor], origins: [Origin])] = inputs.map { _ in ([], []) }
    // Per chain view: its pullback to the image and where it went.
    var chains: [(pullback: Pullback, taps: [Tap])] = []
    var planes: [Int: Tensor] = [:]
    for (ti, target) in targets.enumerated()
    where target.window.contains(epoch: epoch, t: variables.t) {
      let views = inputs.map { $0.counts[ti] }.max() ?? 0
      guard views > 0 else { continue }
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
      for b in 0..<views {
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
        var taps: [Tap] = []
        for (m, model) in inputs.enumerated() where b < model.counts[ti] {
          let s = model.imageSize
          let resize = Resampler(from: y.chw.h, y.chw.w, to: s, s, filter: .cubic)
          let resized = resize.apply(y)
          taps.append(
            Tap(model: m, position: batches[m].images.count, resize: resize, resized: resized))
          batches[m].origins.append(Origin(target: ti, index: b))
          batches[m].images.append(ImageOps.clamp(resized, 0, 1))
        }
        chains.append(
          (
            { dy in
              let dInput = stagePullbacks.reversed().reduce(dy) { d, pullback in pullback(d) }
              return gatePullback?(dInput) ?? dInput
            }, taps
          ))
      }
    }
    let shape = image.shape
    return Views(
      batches: batches.enumerated().map { m, batch in
        let s = inputs[m].imageSize
        return Batch(
          images: batch.images.isEmpty ? Tensor(shape: [0, 3, s, s]) : Tensor.stack(batch.images),
          origins: batch.origins)
      },
      jointPullback: { dBatches in
        var dImage = Tensor(shape: shape)
        for chain in chains {
          var dy: Tensor?
          for tap in chain.taps where tap.model < dBatches.count {
            guard let d = dBatches[tap.model] else { continue }
            let part = tap.resize.adjoint(
              ImageOps.clampPullback(d.view(tap.position), input: tap.resized, 0, 1))
            if dy == nil { dy = part } else { dy?.add(part) }
          }
          if let dy { dImage.add(chain.pullback(dy)) }
        }
        return dImage
      }, masks: planes)
  }
}
