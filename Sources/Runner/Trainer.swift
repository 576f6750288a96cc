import ExprEval
import Formats
import ModelStore
import Parametrizations
import PipelineKit

/// What one epoch did, for progress lines, statistics and the YAML header.
public struct EpochReport: Sendable {
  /// The epoch index.
  public var epoch: Int
  /// Training time t of the epoch.
  public var t: Double
  /// Total loss of the epoch (sum over targets and views).
  public var loss: Double
  /// Mean similarity (×100) per target and feature: `[target][feature]`, nil where inactive
  /// (with several models, the mean over the models that judged it).
  public var similarities: [[Double?]]
  /// Each model's mean similarity: `[model][target][feature]` (one element with one model).
  public var modelSimilarities: [[[Double?]]] = []
  /// Resolution of the pixels (width, height).
  public var resolution: (width: Int, height: Int)
  /// The learning rate used.
  public var learningRate: Double
  /// Number of CLIP views this epoch (over all models).
  public var views: Int
  /// Wall-clock seconds of the whole epoch.
  public var seconds: Double = 0
  /// Of which inside CLIP's image forward and backward passes.
  public var clipSeconds: Double = 0
  /// Of which in each model's passes, in `models:` order.
  public var modelClipSeconds: [Double] = []
  /// Of which in the parametrization: resize, encode, image and its pullback.
  public var parametrizationSeconds: Double = 0
}

/// CLIPig's training loop (CLIPig's training loop): owns the pixels and the optimizer, and runs one epoch at a
/// time as a composition of proven pieces — the view sampler, CLIP's image encoder and the
/// objective, each a value with its pullback — followed by the optimizer step.
public final class Trainer {
  /// The experiment being rendered.
  public let experiment: Experiment
  /// Every random stream of the run, from its one seed.
  public let streams: RandomStreams
  /// The models judging the image, in `models:` order.
  let models: [any FeatureModel]
  /// The first model.
  var model: any FeatureModel { models[0] }
  /// How the parameters make the image (`parametrization:`; CLIPig's raw pixels by default).
  public private(set) var parametrization: any ImageParametrization
  /// The trained parameters (for `pixels` the raw RGB planes `[3, H, W]`, flattened).
  public private(set) var parameters: [Float]
  /// The image post-processing edits `[3, H, W]`: for the default `pixels` parametrization
  /// CLIPig's raw pixel parameter (not clamped).
  public var pixels: Tensor { parametrization.editableImage(parameters) }
  var optimizer: Optimizer
  /// The targets' features as each model encodes them, in `models:` order.
  public let modelFeatures: [TargetFeatures]
  /// The targets' encoded features (the first model's).
  public var features: TargetFeatures { modelFeatures[0] }
  /// Samples each epoch's views (a batch per model).
  public let sampler: ViewSampler
  /// The loss of each model's views, in `models:` order.
  public let objectives: [Objective]
  /// The loss of the views (the first model's).
  public var objective: Objective { objectives[0] }
  /// Images loaded for features and init, resolved relative to this directory.
  let baseDirectory: String

  /// The seed all randomness derives from.
  public var seed: UInt64 { streams.seed }

  /// Prepares the run `plan` with `model`; `startEpoch` replaces the experiment's (the studio's
  /// Update continues a run at its current epoch); `initialImage` `[3, H, W]` replaces the
  /// initialisation (an animation frame starts from the previous frame, warped, or from its
  /// input video frame); `references` are the reference-image constraints' images (loaded here
  /// when nil; an animation loads them once and adds each frame's input frame).
  public convenience init(
    plan: RunPlan, model: any FeatureModel, startEpoch: Int? = nil, initialImage: Tensor? = nil,
    references: ReferenceImages? = nil
  ) throws {
    try self.init(
      plan: plan, models: [model], startEpoch: startEpoch, initialImage: initialImage,
      references: references)
  }

  /// Prepares the run `plan` with its `models` (one per entry of `models:`, in order; see
  /// `Experiment.loadModels`); the other arguments as `init(plan:model:…)`.
  public convenience init(
    plan: RunPlan, models: [any FeatureModel], startEpoch: Int? = nil,
    initialImage: Tensor? = nil, references: ReferenceImages? = nil
  ) throws {
    var experiment = plan.experiment
    if let startEpoch { experiment.startEpoch = startEpoch }
    try self.init(
      experiment: experiment, models: models, seed: plan.seed, baseDirectory: plan.baseDirectory,
      initialImage: initialImage, references: references)
  }

  /// Prepares a run of `experiment` with one model judging every target (whatever its
  /// `models:` says); the other arguments as `init(experiment:models:…)`.
  public convenience init(
    experiment: Experiment, model: any FeatureModel, seed: UInt64, baseDirectory: String = ".",
    recorder: StreamRecorder? = nil, initialImage: Tensor? = nil,
    references: ReferenceImages? = nil
  ) throws {
    var single = experiment
    if single.models.count != 1 {
      single.models = [single.models[0]]
      for i in single.targets.indices { single.targets[i].models = [0] }
    }
    try self.init(
      experiment: single, models: [model], seed: seed, baseDirectory: baseDirectory,
      recorder: recorder, initialImage: initialImage, references: references)
  }

  /// Prepares a run: initialises the pixels (CLIPig's initialisation) and encodes every feature
  /// once with each of `models` (one per entry of `experiment.models`, in order). A `recorder`
  /// notes every random stream the run asks for (see `RandomStreams`).
  public init(
    experiment: Experiment, models: [any FeatureModel], seed: UInt64, baseDirectory: String = ".",
    recorder: StreamRecorder? = nil, initialImage: Tensor? = nil,
    references: ReferenceImages? = nil
  ) throws {
    guard models.count == experiment.models.count else {
      throw ModelLoader.LoadError(
        description: "the experiment has \(experiment.models.count) models, "
          + "\(models.count) were loaded")
    }
    self.experiment = experiment
    self.models = models
    self.streams = RandomStreams(seed: seed, frame: experiment.frameIndex, recorder: recorder)
    self.optimizer = Optimizer(kind: experiment.optimizer)
    self.baseDirectory = baseDirectory
    try MemoryBudget.check(experiment, models: models, streams: streams)
    let initial =
      try initialImage
      ?? Self.initialPixels(experiment, streams: streams, baseDirectory: baseDirectory)
    parametrization = experiment.parametrization.make(
      width: initial.chw.w, height: initial.chw.h, wrap: experiment.tiling)
    parameters = parametrization.encode(initial)
    modelFeatures = try models.map { model in
      try TargetFeatures(
        experiment: experiment, model: model, initialImage: initial, baseDirectory: baseDirectory)
    }
    sampler = ViewSampler(
      experiment: experiment, imageSizes: models.map(\.imageSize), streams: streams,
      masks: try TargetMask.loadAll(experiment, baseDirectory: baseDirectory))
    let references =
      try references ?? ReferenceImages.load(experiment, baseDirectory: baseDirectory)
    let streams = streams
    objectives = modelFeatures.map { features in
      Objective(
        experiment: experiment, features: features, streams: streams, references: references)
    }
  }

  /// The fair-scaling factors of every model, the first model's rows first (what a checkpoint
  /// records: with one model, its `[target][feature]` rows).
  var scales: [[Double]] { modelFeatures.flatMap(\.scales) }

  // MARK: - Checkpoints

  /// The state to continue from before epoch `nextEpoch` (see `Checkpoint`).
  public func checkpoint(nextEpoch: Int, configDigest: String) -> Checkpoint {
    Checkpoint(
      seed: seed, frame: experiment.animation == nil ? nil : experiment.frameIndex,
      nextEpoch: nextEpoch, configDigest: configDigest,
      pixels: Tensor(shape: [1, 1, parameters.count], scalars: parameters),
      optimizer: optimizer.state, scales: scales, width: parametrization.width,
      height: parametrization.height)
  }

  /// Continues from `checkpoint`: its pixels and optimizer state replace the fresh ones. The
  /// seed and the fair-scaling factors (recomputed from the seed's initial image) must agree,
  /// otherwise the continuation would not be the run that was interrupted.
  public func restore(_ checkpoint: Checkpoint, path: String) throws(CheckpointError) {
    guard checkpoint.seed == seed else {
      throw CheckpointError(
        path: path, "the checkpoint has seed \(checkpoint.seed), this run \(seed)")
    }
    guard checkpoint.scales == scales else {
      throw CheckpointError(
        path: path,
        "the fair-scaling factors differ from this run's (was an image of the experiment "
          + "changed?); delete the checkpoint to start afresh")
    }
    guard checkpoint.optimizer.kind == experiment.optimizer,
      let restored = Optimizer(state: checkpoint.optimizer),
      checkpoint.optimizer.buffers[0].isEmpty
        || checkpoint.optimizer.buffers[0].count == checkpoint.pixels.count,
      checkpoint.nextEpoch >= experiment.startEpoch, checkpoint.nextEpoch <= experiment.epochs
    else {
      throw CheckpointError(
        path: path, "the checkpoint does not fit this experiment; delete it to start afresh")
    }
    var restoredParametrization = parametrization
    if checkpoint.width != parametrization.width || checkpoint.height != parametrization.height {
      restoredParametrization =
        parametrization.resized(
          parameters, width: checkpoint.width, height: checkpoint.height,
          filter: experiment.interpolation, wrap: experiment.tiling
        ).parametrization
    }
    guard restoredParametrization.parameterCount == checkpoint.pixels.count else {
      throw CheckpointError(
        path: path, "the checkpoint's parameters do not fit this experiment's parametrization")
    }
    parametrization = restoredParametrization
    parameters = checkpoint.pixels.scalars
    optimizer = restored
  }

  // MARK: - Setup

  static func resolution(_ e: Experiment, context: ExprContext, random: inout SeededRandom)
    throws(StageError) -> (Int, Int)
  {
    let w = try e.resolution[0].value(in: context, random: &random)
    let h = try e.resolution[1].value(in: context, random: &random)
    if let problem = ImageLimits.problem(width: w, height: h) {
      throw StageError(
        parameter: "resolution", location: e.resolution[0].location,
        expression: "\(e.resolution[0]) \(e.resolution[1])",
        context: context, message: "resolution \(w)×\(h) at epoch \(context.epoch + 1): \(problem)")
    }
    return (w, h)
  }

  /// The pixels a run of `e` starts from (CLIPig's initialisation): noise or the init image, at the start
  /// epoch's resolution, clamped to [0, 1].
  public static func initialPixels(
    _ e: Experiment, streams: RandomStreams, baseDirectory: String
  ) throws -> Tensor {
    var random = streams.initialization
    let context = e.context(atEpoch: e.startEpoch)
    let (width, height) = try resolution(e, context: context, random: &random)
    let i = e.initialization
    if let video = i.video {
      throw ConfigError(
        "init.video is read by 'clipig render' of the animation; this command starts no frame "
          + "from it", at: video.location, path: "init.video")
    }
    let r = i.resolution ?? [width, height]
    var image: Tensor
    if let path = i.image {
      let written = e.source["init"]?["image"]
      let loaded = try ConfiguredImage.load(
        path, baseDirectory: baseDirectory, key: "init.image",
        location: written?.location ?? e.source.location)
      image = ImageOps.resizeCrop(loaded, width: r[0], height: r[1])
      image = image.perChannel { c, v in v * Float(i.std[c]) + Float(i.mean[c]) }
    } else {
      image = Tensor(shape: [3, r[1], r[0]])
      let plane = r[0] * r[1]
      for c in 0..<3 {
        for k in 0..<plane {
          image.scalars[c * plane + k] = Float(random.normal() * i.std[c] + i.mean[c])
        }
      }
    }
    if r[0] != width || r[1] != height {
      image = Resampler(from: r[1], r[0], to: height, width, filter: .cubic, wrap: e.tiling)
        .apply(image)
    }
    return ImageOps.clamp(image, 0, 1)
  }

  /// The start of epoch `epoch` (CLIPig's epoch steps 2–6), shared by training and preview: the
  /// epoch's variables, the parameters resized when the resolution schedule changes it (then
  /// `resized` says which parameters continue old ones: none for pixels, the kept coefficients
  /// for fft), and the post-processing stages applied (without gradient) to the editable image,
  /// which is encoded back. `time` is what the parametrization itself took.
  static func prepare(
    _ e: Experiment, epoch: Int, parametrization: inout any ImageParametrization,
    parameters: inout [Float], streams: RandomStreams, random: inout SeededRandom
  ) throws -> (variables: ExprContext, resized: KeptParameters?, time: Duration) {
    let clock = ContinuousClock()
    var time = Duration.zero
    let variables = try e.variables(atEpoch: epoch, random: &random)
    let (w, h) = (Int(variables.width), Int(variables.height))
    var resized: KeptParameters?
    if w != parametrization.width || h != parametrization.height {
      let start = clock.now
      let r = parametrization.resized(
        parameters, width: w, height: h, filter: e.interpolation, wrap: e.tiling)
      parametrization = r.parametrization
      parameters = r.parameters
      resized = r.kept
      time += clock.now - start
    }
    let active = e.postproc.filter { $0.window.contains(epoch: epoch, t: variables.t) }
    if !active.isEmpty {
      var context = StageContext(
        variables: variables, random: streams.postproc(epoch: epoch), tiling: e.tiling)
      var start = clock.now
      var edited = parametrization.editableImage(parameters)
      time += clock.now - start
      for entry in active {
        edited = try entry.stage.forward(edited, at: entry.path, in: &context).value
      }
      start = clock.now
      parameters = parametrization.encode(edited, replacing: parameters)
      time += clock.now - start
    }
    return (variables, resized, time)
  }

  // MARK: - One epoch

  /// Continues from another run's image `[3, H, W]` (the studio's Update): it is encoded into
  /// this run's parametrization (at its size) and the optimizer starts afresh.
  public func resume(from image: Tensor) {
    parametrization = experiment.parametrization.make(
      width: image.chw.w, height: image.chw.h, wrap: experiment.tiling)
    parameters = parametrization.encode(image)
    optimizer = Optimizer(kind: experiment.optimizer)
  }

  /// Where an epoch's time went: CLIP's image passes and the parametrization's. Filled by the
  /// caller around the pieces, never inside a pullback.
  struct EpochTiming {
    var clip = Duration.zero
    var parametrization = Duration.zero
    /// CLIP's share per model (grown as models are timed).
    var modelClip: [Duration] = []

    /// Adds `d` to CLIP's time and to model `m`'s.
    mutating func addCLIP(_ d: Duration, model m: Int) {
      clip += d
      while modelClip.count <= m { modelClip.append(.zero) }
      modelClip[m] += d
    }
  }

  /// What one epoch's loss found: the total, the similarities (with several models, per
  /// target and feature the mean over the models that judged it) and each model's.
  struct LossValue {
    /// Σ over models of weight × the model's loss.
    var loss: Double
    /// `[target][feature]`.
    var similarities: [[Double?]]
    /// `[model][target][feature]`.
    var modelSimilarities: [[[Double?]]]
  }

  /// One model's part of an epoch's loss: its weight this epoch, its objective's value and
  /// the pullbacks through its objective and its image encoder.
  private struct ModelTerm {
    var weight: Double
    var value: Objective.Value
    var objectivePullback: (Double) -> Objective.Cotangents
    var encoderPullback: Pullback
  }

  /// The loss of one epoch as a function of the parameters (after post-processing): the
  /// parametrization (for pixels the clamp), the view sampler, each model's CLIP image encoder
  /// and objective composed — the loss is Σ over models of weight × that model's loss — with
  /// the pullback from the loss to the parameters. A model whose weight is 0 this epoch is
  /// evaluated (its similarity is reported) but gets no backward pass. The pullback is pure: it
  /// takes the timing to add to as an argument. Nil when no target is active. `anchor` is the
  /// image masked targets' gates hold (see `TargetMask`; nil: the current).
  func loss(
    of parameters: [Float], in parametrization: any ImageParametrization, epoch: Int,
    variables: ExprContext, random: inout SeededRandom, timing: inout EpochTiming,
    anchor: Tensor? = nil, observe: ((ViewSampler.Views) -> Void)? = nil
  ) throws -> (
    value: LossValue, views: Int, pullback: (Double, inout EpochTiming) -> [Float]
  )? {
    let clock = ContinuousClock()
    let imageStart = clock.now
    let (current, imagePullback) = parametrization.image(parameters)
    timing.parametrization += clock.now - imageStart
    let views = try sampler.sample(current, epoch: epoch, variables: variables, anchor: anchor)
    observe?(views)
    guard views.total > 0 else { return nil }
    var terms: [ModelTerm?] = []
    var total = 0.0
    for (m, batch) in views.batches.enumerated() {
      guard batch.count > 0 else {
        terms.append(nil)
        continue
      }
      let weight = try experiment.models[m].weight.value(in: variables, random: &random)
      let forwardStart = clock.now
      let (raw, encoderPullback) = try models[m].encodeImages(batch.images)  // (N, D)
      timing.addCLIP(clock.now - forwardStart, model: m)
      let (value, objectivePullback) = try objectives[m].evaluate(
        rawFeatures: raw, views: batch.images, origins: batch.origins, image: current,
        epoch: epoch, variables: variables, random: &random)
      total += weight * value.loss
      terms.append(
        ModelTerm(
          weight: weight, value: value, objectivePullback: objectivePullback,
          encoderPullback: encoderPullback))
    }
    let perModel = terms.map { term in
      term?.value.similarities
        ?? experiment.targets.map { [Double?](repeating: nil, count: $0.features.count) }
    }
    let value = LossValue(
      loss: total, similarities: Self.meanSimilarities(perModel), modelSimilarities: perModel)
    return (
      value, views.total,
      { seed, timing in
        var dBatches: [Tensor?] = []
        var dContent: Tensor?
        for (m, term) in terms.enumerated() {
          guard let term, term.weight != 0 else {
            dBatches.append(nil)
            continue
          }
          let cotangents = term.objectivePullback(seed * term.weight)
          let backwardStart = clock.now
          var dImages = term.encoderPullback(cotangents.features)  // (N, 3, S, S)
          timing.addCLIP(clock.now - backwardStart, model: m)
          dImages.add(cotangents.views)
          dBatches.append(dImages)
          if let part = cotangents.image {
            if dContent == nil { dContent = part } else { dContent?.add(part) }
          }
        }
        // The parametrization before the transforms (pixels: the clamp's mask).
        var dImage = views.jointPullback(dBatches)
        if let dContent { dImage.add(dContent) }
        let pullbackStart = clock.now
        defer { timing.parametrization += clock.now - pullbackStart }
        return imagePullback(dImage)
      }
    )
  }

  /// Per target and feature, the mean of the models' similarities that are not nil.
  static func meanSimilarities(_ perModel: [[[Double?]]]) -> [[Double?]] {
    guard perModel.count > 1 else { return perModel.first ?? [] }
    return perModel[0].indices.map { ti in
      perModel[0][ti].indices.map { fi in
        let values = perModel.compactMap { $0[ti][fi] }
        return values.isEmpty ? nil : values.reduce(0, +) / Double(values.count)
      }
    }
  }

  /// The loss of epoch `epoch` at parameters `x` (after the epoch's post-processing; any shape
  /// with the parameters' count, for pixels the raw pixels `[3, H, W]`), as a value-and-pullback
  /// function for the gradient harness.
  public func lossFunction(epoch: Int) throws -> (Tensor) throws -> (
    value: Tensor, pullback: Pullback
  ) {
    var random = streams.expressions(epoch: epoch)
    var copy = parameters
    var shape = parametrization
    let variables = try Self.prepare(
      experiment, epoch: epoch, parametrization: &shape, parameters: &copy,
      streams: streams, random: &random
    ).variables
    // Masked targets' gates hold the epoch's image, so the function's derivative at `copy`
    // is the masked gradient training uses.
    let anchor = shape.image(copy).value
    return { [self, shape] x in
      var r = random
      var timing = EpochTiming()
      guard
        let (value, _, pullback) = try loss(
          of: x.scalars, in: shape, epoch: epoch, variables: variables, random: &r,
          timing: &timing, anchor: anchor)
      else { return (Tensor(scalar: 0), { _ in Tensor(shape: x.shape) }) }
      return (
        Tensor(scalar: Float(value.loss)),
        { d in
          var unused = EpochTiming()
          return Tensor(shape: x.shape, scalars: pullback(Double(d.scalars[0]), &unused))
        }
      )
    }
  }

  /// Runs epoch `epoch` (CLIPig's epoch) and returns what it did; `observe` sees the views it
  /// trains on.
  @discardableResult
  public func step(epoch: Int, observe: ((ViewSampler.Views) -> Void)? = nil) throws
    -> EpochReport
  {
    let clock = ContinuousClock()
    let started = clock.now
    var random = streams.expressions(epoch: epoch)
    var preparedParametrization = parametrization
    var preparedParameters = parameters
    let (variables, resized, prepareTime) = try Self.prepare(
      experiment, epoch: epoch, parametrization: &preparedParametrization,
      parameters: &preparedParameters, streams: streams, random: &random)
    if let bad = NonFiniteError.firstNonFinite(preparedParameters) {
      throw NonFiniteError(
        epoch: epoch, what: "the pixels after post-processing", value: Double(bad))
    }
    parametrization = preparedParametrization
    parameters = preparedParameters
    var timing = EpochTiming(parametrization: prepareTime)
    // Pixels: CLIPig's reset; fft: the kept coefficients keep their state.
    if let resized {
      optimizer.carry(old: resized.old, new: resized.new, count: parameters.count)
    }
    var report = EpochReport(
      epoch: epoch, t: variables.t, loss: 0,
      similarities: experiment.targets.map { [Double?](repeating: nil, count: $0.features.count) },
      resolution: (parametrization.width, parametrization.height),
      learningRate: variables.learnrate, views: 0)
    if let (value, views, pullback) = try loss(
      of: parameters, in: parametrization, epoch: epoch, variables: variables, random: &random,
      timing: &timing, observe: observe)
    {
      guard value.loss.isFinite else {
        throw NonFiniteError(epoch: epoch, what: "the loss", value: value.loss)
      }
      report.loss = value.loss
      report.similarities = value.similarities
      report.modelSimilarities = value.modelSimilarities
      report.views = views
      if value.loss != 0 {
        let dParameters = pullback(1, &timing)
        var updated = parameters
        optimizer.update(&updated, gradient: dParameters, lr: variables.learnrate)
        if let bad = NonFiniteError.firstNonFinite(updated) {
          throw NonFiniteError(
            epoch: epoch, what: "the pixels after the optimizer step", value: Double(bad))
        }
        parameters = updated
      }
    }
    report.seconds = Self.seconds(clock.now - started)
    report.clipSeconds = Self.seconds(timing.clip)
    report.modelClipSeconds = timing.modelClip.map(Self.seconds)
    report.parametrizationSeconds = Self.seconds(timing.parametrization)
    return report
  }

  /// The views CLIP sees at `epoch` from the current pixels — those `step(epoch:)` would train
  /// on next — without changing the trainer.
  public func views(atEpoch epoch: Int) throws -> ViewSampler.Views {
    var random = streams.expressions(epoch: epoch)
    var copy = parameters
    var shape = parametrization
    let variables = try Self.prepare(
      experiment, epoch: epoch, parametrization: &shape, parameters: &copy, streams: streams,
      random: &random
    ).variables
    return try sampler.sample(shape.image(copy).value, epoch: epoch, variables: variables)
  }

  static func seconds(_ d: Duration) -> Double {
    Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
  }

  /// The current image as it is saved, in [0, 1].
  public var image: Tensor { parametrization.image(parameters).value }
}
