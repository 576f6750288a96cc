import ExprEval
import Formats
import PipelineKit

/// What one epoch did, for progress lines, statistics and the YAML header.
public struct EpochReport: Sendable {
  /// The epoch index.
  public var epoch: Int
  /// Training time t of the epoch.
  public var t: Double
  /// Total loss of the epoch (sum over targets and views).
  public var loss: Double
  /// Mean similarity (×100) per target and feature: `[target][feature]`, nil where inactive.
  public var similarities: [[Double?]]
  /// Resolution of the pixels (width, height).
  public var resolution: (width: Int, height: Int)
  /// The learning rate used.
  public var learningRate: Double
  /// Number of CLIP views this epoch.
  public var views: Int
  /// Wall-clock seconds of the whole epoch.
  public var seconds: Double = 0
  /// Of which inside CLIP's image forward and backward passes.
  public var clipSeconds: Double = 0
}

/// CLIPig's training loop (spec §8): owns the pixels, the optimizer and the targets' features,
/// and runs one epoch at a time.
public final class Trainer {
  /// The experiment being rendered.
  public let experiment: Experiment
  /// The seed all randomness derives from.
  public let seed: UInt64
  let model: any FeatureModel
  /// The raw pixel parameter `[3, H, W]` (not clamped).
  public private(set) var pixels: Tensor
  var optimizer: Optimizer
  let random: SeededRandom
  /// Unit feature vectors `[target][feature]`.
  var featureVectors: [[[Float]]] = []
  /// Automatic ("fair") similarity scales `[target][feature]`.
  var autoScales: [[Double]] = []
  /// Images loaded for features and init, resolved relative to this directory.
  let baseDirectory: String

  /// Prepares a run: initialises the pixels (spec §8.2) and encodes every feature once.
  public init(
    experiment: Experiment, model: any FeatureModel, seed: UInt64, baseDirectory: String = "."
  ) throws {
    self.experiment = experiment
    self.model = model
    self.seed = seed
    self.random = SeededRandom(seed: seed)
    self.optimizer = Optimizer(kind: experiment.optimizer)
    self.baseDirectory = baseDirectory
    let context = ExprContext(epoch: experiment.startEpoch, epochs: experiment.epochs)
    var r = random.fork(0x1417)
    let (w, h) = try Self.resolution(experiment, context: context, random: &r)
    pixels = try Self.initialPixels(
      experiment, width: w, height: h, random: &r, baseDirectory: baseDirectory)
    try encodeFeatures()
  }

  // MARK: - Setup

  static func resolution(_ e: Experiment, context: ExprContext, random: inout SeededRandom)
    throws(StageError) -> (Int, Int)
  {
    let w = try e.resolution[0].value(in: context, random: &random)
    let h = try e.resolution[1].value(in: context, random: &random)
    guard w >= 1, h >= 1, w <= 8192, h <= 8192 else {
      throw StageError(
        parameter: "resolution", location: e.resolution[0].location,
        expression: "\(e.resolution[0]) \(e.resolution[1])",
        context: context, message: "resolution must be between 1 and 8192, got \(w)×\(h)")
    }
    return (w, h)
  }

  static func initialPixels(
    _ e: Experiment, width: Int, height: Int, random: inout SeededRandom, baseDirectory: String
  ) throws -> Tensor {
    let i = e.initialization
    let r = i.resolution ?? [width, height]
    var image: Tensor
    if let path = i.image {
      let loaded = try PNG.read(path: resolve(path, in: baseDirectory))
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
      image = Resampler(from: r[1], r[0], to: height, width, filter: .cubic).apply(image)
    }
    return ImageOps.clamp(image, 0, 1)
  }

  func encodeFeatures() throws {
    featureVectors = []
    for target in experiment.targets {
      var vectors: [[Float]] = []
      for feature in target.features {
        let raw: [Float]
        if let text = feature.text {
          raw = try model.encodeText(text)
        } else if let path = feature.image {
          let image = try PNG.read(path: Self.resolve(path, in: baseDirectory))
          let s = model.imageSize
          let view = ImageOps.resizeCrop(image, width: s, height: s)
          let f = try model.encodeImages(Tensor.stack([view]))
          raw = f.scalars
        } else {
          raw = [Float](repeating: 0, count: model.featureCount)
        }
        vectors.append(FeatureMath.normalized(raw))
      }
      featureVectors.append(vectors)
    }
    // Fair scaling (spec §8.8): from the initial image's similarity to each feature.
    autoScales = experiment.targets.map { [Double](repeating: 1, count: $0.features.count) }
    if experiment.targets.contains(where: \.fairScaling) {
      let s = model.imageSize
      let view = ImageOps.clamp(
        Resampler(from: pixels.chw.h, pixels.chw.w, to: s, s, filter: .cubic).apply(pixels), 0, 1)
      let f = FeatureMath.normalized(
        try model.encodeImages(Tensor.stack([view])).scalars)
      for (ti, target) in experiment.targets.enumerated()
      where target.fairScaling && !target.features.isEmpty {
        let sims = featureVectors[ti].map { FeatureMath.dot($0, f) }
        let inv = sims.map { 1 / $0 }
        let m = inv.max() ?? 1
        autoScales[ti] = inv.map { $0 / m }
      }
    }
  }

  static func resolve(_ path: String, in base: String) -> String {
    path.hasPrefix("/") || base.isEmpty || base == "." ? path : base + "/" + path
  }

  // MARK: - One epoch

  /// Continues from another run's raw pixels `[3, H, W]` (the studio's Update): the pixel
  /// parameter is replaced and the optimizer starts afresh.
  public func resume(from pixels: Tensor) {
    self.pixels = pixels
    optimizer = Optimizer(kind: experiment.optimizer)
  }

  /// Runs epoch `epoch` (spec §8.3) and returns what it did.
  @discardableResult
  public func step(epoch: Int) throws -> EpochReport {
    let clock = ContinuousClock()
    let started = clock.now
    var clipTime = Duration.zero
    func seconds(_ d: Duration) -> Double {
      Double(d.components.seconds) + Double(d.components.attoseconds) * 1e-18
    }
    var epochRandom = random.fork(UInt64(epoch) &+ 1)
    let context = try experiment.variables(atEpoch: epoch, random: &epochRandom)
    let (w, h) = (Int(context.width), Int(context.height))
    let lr = context.learnrate
    // Resolution schedule: resize the raw pixels and reset the optimizer on change.
    if w != pixels.chw.w || h != pixels.chw.h {
      pixels = Resampler(
        from: pixels.chw.h, pixels.chw.w, to: h, w, filter: experiment.interpolation
      ).apply(pixels)
      optimizer.reset()
    }
    // Post-processing on the raw pixels, without gradient.
    var stageContext = StageContext(variables: context, random: epochRandom.fork(0x9057))
    for entry in experiment.postproc where entry.window.contains(epoch: epoch, t: context.t) {
      pixels = try entry.stage.forward(pixels, in: &stageContext).value
    }
    let current = ImageOps.clamp(pixels, 0, 1)

    // Views of every active target.
    struct View {
      var target: Int
      var image: Tensor  // (3, S, S), clamped, not normalised
      var pullback: Pullback  // from d(image) to d(current)
    }
    let s = model.imageSize
    var views: [View] = []
    for (ti, target) in experiment.targets.enumerated()
    where target.window.contains(epoch: epoch, t: context.t) {
      for b in 0..<target.viewsPerEpoch {
        var viewContext = StageContext(
          variables: context, random: epochRandom.fork(UInt64(ti) << 32 | UInt64(b)))
        let (y, chainPullback) = try Pipeline(target.transforms.map(\.stage)).forward(
          current, in: &viewContext)
        let (vh, vw) = (y.chw.h, y.chw.w)
        let resize = Resampler(from: vh, vw, to: s, s, filter: .cubic)
        let resized = resize.apply(y)
        let clamped = ImageOps.clamp(resized, 0, 1)
        views.append(
          View(
            target: ti, image: clamped,
            pullback: { d in
              chainPullback(resize.adjoint(ImageOps.clampPullback(d, input: resized, 0, 1)))
            }))
      }
    }

    var report = EpochReport(
      epoch: epoch, t: context.t, loss: 0,
      similarities: experiment.targets.map { [Double?](repeating: nil, count: $0.features.count) },
      resolution: (w, h), learningRate: lr, views: views.count)
    guard !views.isEmpty else {
      report.seconds = seconds(clock.now - started)
      return report
    }

    let batch = Tensor.stack(views.map(\.image))
    let forwardStart = clock.now
    let raw = try model.encodeImages(batch)  // (N, D)
    clipTime += clock.now - forwardStart
    let d = model.featureCount
    var dRaw = Tensor(shape: raw.shape)
    var dViews = [Tensor?](repeating: nil, count: views.count)
    var simSums = experiment.targets.map { [Double](repeating: 0, count: $0.features.count) }
    var simCounts = simSums
    var totalLoss = 0.0

    for (vi, view) in views.enumerated() {
      let target = experiment.targets[view.target]
      let z = Array(raw.scalars[vi * d..<(vi + 1) * d])
      let x = FeatureMath.normalized(z)
      var targetContext = context
      // Similarities, scales and weights of the features (spec §8.8).
      var sims: [Double] = []
      for (fi, feature) in target.features.enumerated() {
        var c = context
        let base =
          100 * FeatureMath.dot(featureVectors[view.target][fi], x) * autoScales[view.target][fi]
        c.similarity = base
        sims.append(base * (try feature.scale.value(in: c, random: &epochRandom)))
      }
      let meanSim = sims.isEmpty ? 0 : sims.reduce(0, +) / Double(sims.count)
      targetContext.similarity = meanSim
      let targetWeight = try target.weight.value(in: targetContext, random: &epochRandom)
      var dx = [Float](repeating: 0, count: d)
      var featureLoss = 0.0
      var enabled = target.features.map { $0.window.contains(epoch: epoch, t: context.t) }
      var weights: [Double] = []
      for (fi, feature) in target.features.enumerated() {
        var c = context
        c.similarity = sims[fi]
        weights.append(try feature.weight.value(in: c, random: &epochRandom))
        if enabled[fi] {
          simSums[view.target][fi] += sims[fi]
          simCounts[view.target][fi] += 1
        }
      }
      switch target.select {
      case .all:
        break
      case .best, .worst:
        let order = sims.indices.sorted {
          target.select == .best ? sims[$0] > sims[$1] : sims[$0] < sims[$1]
        }
        var kept = false
        for i in order where enabled[i] {
          if kept { enabled[i] = false } else { kept = true }
        }
      case .mix:
        break
      }
      if target.select == .mix {
        var m = [Float](repeating: 0, count: d)
        var norm = 0.0
        for fi in target.features.indices where enabled[fi] {
          norm += abs(weights[fi])
          for k in 0..<d { m[k] += Float(weights[fi]) * featureVectors[view.target][fi][k] }
        }
        if norm > 0, let first = target.features.first {
          for k in 0..<d { m[k] /= Float(norm) }
          featureLoss += FeatureMath.loss(first.loss, x: x, f: m, weight: targetWeight, dx: &dx)
        }
      } else {
        for fi in target.features.indices where enabled[fi] {
          featureLoss += FeatureMath.loss(
            target.features[fi].loss, x: x, f: featureVectors[view.target][fi],
            weight: weights[fi] * targetWeight, dx: &dx)
        }
      }
      // Constraints on the view CLIP saw.
      var constraintLoss = 0.0
      var dView: Tensor?
      for constraint in target.constraints
      where constraint.window.contains(epoch: epoch, t: context.t) {
        var cc = StageContext(
          variables: targetContext, random: epochRandom.fork(UInt64(vi) &* 7919))
        let weight = try constraint.weight.value(in: targetContext, random: &cc.random)
        let (value, pullback) = try constraint.stage.forward(view.image, in: &cc)
        constraintLoss += Double(value.scalars[0]) * weight
        let g = pullback(Tensor(scalar: Float(weight * targetWeight)))
        if dView == nil { dView = g } else { dView!.add(g) }
      }
      totalLoss += featureLoss + constraintLoss * targetWeight
      let dz = FeatureMath.normalizePullback(z: z, x: x, dx: dx)
      dRaw.scalars.replaceSubrange(vi * d..<(vi + 1) * d, with: dz)
      dViews[vi] = dView
    }
    report.loss = totalLoss
    for ti in simSums.indices {
      for fi in simSums[ti].indices where simCounts[ti][fi] > 0 {
        report.similarities[ti][fi] = simSums[ti][fi] / simCounts[ti][fi]
      }
    }
    guard totalLoss != 0 else {
      report.seconds = seconds(clock.now - started)
      report.clipSeconds = seconds(clipTime)
      return report
    }

    // Backward: features → CLIP (with its input normalisation) → views → transforms → clamp → pixels.
    let backwardStart = clock.now
    let dImages = try model.backward(dRaw)
    clipTime += clock.now - backwardStart
    let dBatch = dImages  // (N, 3, S, S)
    var dCurrent = Tensor(shape: current.shape)
    for (vi, view) in views.enumerated() {
      var dv = dBatch.view(vi)
      if let extra = dViews[vi] { dv.add(extra) }
      // The clamp before CLIP: gradient only where the view is inside [0, 1].
      dCurrent.add(view.pullback(dv))
    }
    let dPixels = ImageOps.clampPullback(dCurrent, input: pixels, 0, 1)
    var p = pixels.scalars
    optimizer.update(&p, gradient: dPixels.scalars, lr: lr)
    pixels = Tensor(shape: pixels.shape, scalars: p)
    report.seconds = seconds(clock.now - started)
    report.clipSeconds = seconds(clipTime)
    return report
  }

  /// The current image as it is saved: clamped to [0, 1].
  public var image: Tensor { ImageOps.clamp(pixels, 0, 1) }
}
