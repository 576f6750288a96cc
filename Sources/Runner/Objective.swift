import CLIP
import ExprEval
import PipelineKit

/// CLIPig's loss of one epoch (CLIPig's feature losses, similarity scales and selection) as one differentiable function of the views'
/// raw CLIP features and of the views themselves: similarity to each target feature, its scale
/// (`scale`, fair scaling), the `select` rule (all, best, worst, mix), the weights (which may
/// depend on `sim`), the feature loss (cosine, L1, L2) and each target's constraint losses on
/// its views — or, for reference-image constraints (`content`), on the image itself, once per
/// view like every constraint.
public struct Objective: Sendable {
  /// The experiment's targets.
  public let targets: [Experiment.Target]
  /// The unit feature vectors and fair-scaling factors of the targets.
  public let features: TargetFeatures
  /// The run's random streams (constraint draws).
  public let streams: RandomStreams
  /// The images the reference-image constraints compare with.
  public let references: ReferenceImages
  /// The experiment's `tiling`: constraints see a torus.
  public let tiling: Bool

  /// An objective over `experiment`'s targets with their encoded `features` and the
  /// `references` of their reference-image constraints (none by default).
  public init(
    experiment: Experiment, features: TargetFeatures, streams: RandomStreams,
    references: ReferenceImages = .none
  ) {
    targets = experiment.targets
    self.features = features
    self.streams = streams
    self.references = references
    tiling = experiment.tiling
  }

  /// What one evaluation found besides its pullback.
  public struct Value: Sendable {
    /// The total loss (sum over views of feature and constraint losses).
    public var loss: Double
    /// Mean scaled similarity (×100) per target and feature over the epoch's views,
    /// `[target][feature]`, nil where the feature was inactive or had no view.
    public var similarities: [[Double?]]
  }

  /// The cotangents of an evaluation's inputs.
  public struct Cotangents {
    /// Of the raw features `[N, D]`.
    public var features: Tensor
    /// Of the views `[N, 3, S, S]` (from the constraints; zero without them).
    public var views: Tensor
    /// Of the image `[3, H, W]` (from the reference-image constraints; nil without them).
    public var image: Tensor?
  }

  /// The loss of the views `views` (CLIP inputs `[N, 3, S, S]`, from the targets `origins`) whose
  /// raw features are `rawFeatures` `[N, D]`, at `epoch` with the epoch's variables; `image`
  /// `[3, H, W]` is what the views were sampled from, needed when a target has a
  /// reference-image constraint. Expressions that draw random numbers draw from `random`, view
  /// by view.
  ///
  /// The pullback maps a cotangent of the loss to those of the features, the views and the image.
  public func evaluate(
    rawFeatures: Tensor, views: Tensor, origins: [ViewSampler.Origin], image: Tensor? = nil,
    epoch: Int, variables: ExprContext, random: inout SeededRandom
  ) throws(StageError) -> (value: Value, pullback: (Double) -> Cotangents) {
    let n = origins.count
    precondition(rawFeatures.shape.first == n && views.shape.first == n, "Objective: batch sizes")
    let d = rawFeatures.count / max(n, 1)
    let (unit, normalizePullback) = CLIPFeatures.normalize(rawFeatures)
    var tally = SimilarityTally(targets)
    var total = 0.0
    var terms: [ViewTerms] = []
    for (vi, origin) in origins.enumerated() {
      let x = Array(unit.scalars[vi * d..<(vi + 1) * d])
      let scores = try score(
        x, target: origin.target, epoch: epoch, variables: variables, random: &random)
      tally.add(scores, target: origin.target)
      let featureTerms = self.featureTerms(scores, target: origin.target, dimension: d)
      var featureLoss = 0.0
      for term in featureTerms {
        featureLoss += Self.loss(term.loss, x: x, f: term.vector, weight: term.weight)
      }
      let (constraintLoss, pullbacks) = try constraints(
        on: views, view: vi, image: image, target: origin.target, epoch: epoch, scores: scores)
      total += featureLoss + constraintLoss * scores.targetWeight
      terms.append(
        ViewTerms(
          features: featureTerms, constraints: pullbacks.views, imageConstraints: pullbacks.image))
    }
    let viewShape = views.shape
    let imageShape = image?.shape
    return (
      Value(loss: total, similarities: tally.means),
      { seed in
        Self.pullback(
          seed, terms: terms, unit: unit, featureShape: rawFeatures.shape, viewShape: viewShape,
          imageShape: imageShape, normalizePullback: normalizePullback)
      }
    )
  }

  /// One feature loss of a view: a unit target vector (or the weighted mean of several, `mix`),
  /// its combined weight and the loss kind.
  typealias FeatureTerm = (vector: [Float], weight: Double, loss: FeatureLoss)

  /// A constraint's pullback with its weight (constraint weight × target weight).
  typealias WeightedPullback = (weight: Double, pullback: Pullback)

  /// What a view contributes to the pullback: its feature terms, its constraints' pullbacks to
  /// the view and its reference-image constraints' pullbacks to the image, with their weights.
  struct ViewTerms {
    var features: [FeatureTerm]
    var constraints: [WeightedPullback]
    var imageConstraints: [WeightedPullback] = []
  }

  /// How one view scores against its target's features (CLIPig's similarity scales and selection).
  struct Scores {
    /// Scaled similarity (×100, fair-scaled, times `scale`) per feature.
    var similarities: [Double]
    /// The epoch's variables with `sim` the mean of `similarities` (for target-level values).
    var targetContext: ExprContext
    /// The target's `weight`.
    var targetWeight: Double
    /// Each feature's `weight` (with `sim` its own similarity).
    var weights: [Double]
    /// The features active at this epoch (their `start`/`end` window).
    var active: [Bool]
  }

  /// The similarities, weights and active features of the view with unit features `x` from
  /// target `ti`. Draws, in this order, each feature's `scale`, the target's `weight`, each
  /// feature's `weight` from `random`.
  func score(
    _ x: [Float], target ti: Int, epoch: Int, variables: ExprContext,
    random: inout SeededRandom
  ) throws(StageError) -> Scores {
    let target = targets[ti]
    let vectors = features.vectors[ti]
    var sims: [Double] = []
    for (fi, feature) in target.features.enumerated() {
      var c = variables
      c.similarity = 100 * CLIPFeatures.dot(vectors[fi], x) * features.scales[ti][fi]
      sims.append(c.similarity * (try feature.scale.value(in: c, random: &random)))
    }
    var targetContext = variables
    targetContext.similarity = sims.isEmpty ? 0 : sims.reduce(0, +) / Double(sims.count)
    let targetWeight = try target.weight.value(in: targetContext, random: &random)
    var weights: [Double] = []
    for (fi, feature) in target.features.enumerated() {
      var c = variables
      c.similarity = sims[fi]
      weights.append(try feature.weight.value(in: c, random: &random))
    }
    return Scores(
      similarities: sims, targetContext: targetContext, targetWeight: targetWeight,
      weights: weights,
      active: target.features.map { $0.window.contains(epoch: epoch, t: variables.t) })
  }

  /// The feature losses of a view of target `ti` with `scores`: `select` keeps all active
  /// features, the best or worst one, or their weighted mean (`mix`).
  func featureTerms(_ scores: Scores, target ti: Int, dimension d: Int) -> [FeatureTerm] {
    let target = targets[ti]
    let vectors = features.vectors[ti]
    let sims = scores.similarities
    let weights = scores.weights
    var enabled = scores.active
    if target.select == .best || target.select == .worst {
      let order = sims.indices.sorted {
        target.select == .best ? sims[$0] > sims[$1] : sims[$0] < sims[$1]
      }
      var kept = false
      for i in order where enabled[i] {
        if kept { enabled[i] = false } else { kept = true }
      }
    }
    var terms: [FeatureTerm] = []
    if target.select == .mix {
      var m = [Float](repeating: 0, count: d)
      var norm = 0.0
      for fi in target.features.indices where enabled[fi] {
        norm += abs(weights[fi])
        for k in 0..<d { m[k] += Float(weights[fi]) * vectors[fi][k] }
      }
      if norm > 0, let first = target.features.first {
        for k in 0..<d { m[k] /= Float(norm) }
        terms.append((m, scores.targetWeight, first.loss))
      }
    } else {
      for fi in target.features.indices where enabled[fi] {
        terms.append((vectors[fi], weights[fi] * scores.targetWeight, target.features[fi].loss))
      }
    }
    return terms
  }

  /// The constraint loss (before the target's weight) of view `vi` of `views` (from target
  /// `ti`) and the pullbacks of its active constraints, weighted by constraint and target
  /// weight: to the view, and to `image` for reference-image constraints, which compare the
  /// image with their reference. Each constraint draws from the view's constraint stream.
  func constraints(
    on views: Tensor, view vi: Int, image: Tensor?, target ti: Int, epoch: Int, scores: Scores
  ) throws(StageError) -> (
    loss: Double, pullbacks: (views: [WeightedPullback], image: [WeightedPullback])
  ) {
    var loss = 0.0
    var pullbacks: (views: [WeightedPullback], image: [WeightedPullback]) = ([], [])
    for (ci, constraint) in targets[ti].constraints.enumerated()
    where constraint.window.contains(epoch: epoch, t: scores.targetContext.t) {
      var cc = StageContext(
        variables: scores.targetContext, random: streams.constraints(epoch: epoch, view: vi),
        tiling: tiling)
      let weight = try constraint.weight.value(in: scores.targetContext, random: &cc.random)
      var input: Tensor
      let onImage = constraint.stage is any ReferenceImageStage
      if onImage {
        guard let image else {
          preconditionFailure("Objective: a reference-image constraint needs the image")
        }
        input = image
        cc.reference = references.image(
          target: ti, constraint: ci, width: image.chw.w, height: image.chw.h)
      } else {
        input = views.view(vi)
      }
      let (value, pullback) = try constraint.stage.forward(input, at: constraint.path, in: &cc)
      loss += Double(value.scalars[0]) * weight
      if onImage {
        pullbacks.image.append((weight * scores.targetWeight, pullback))
      } else {
        pullbacks.views.append((weight * scores.targetWeight, pullback))
      }
    }
    return (loss, pullbacks)
  }

  /// The cotangents of the raw features `[N, D]`, the views `[N, 3, S, S]` and the image (of
  /// `imageShape`, when given) for the loss cotangent `seed`, from each view's `terms` and its
  /// unit features `unit`.
  static func pullback(
    _ seed: Double, terms: [ViewTerms], unit: Tensor, featureShape: [Int], viewShape: [Int],
    imageShape: [Int]?, normalizePullback: (Tensor) -> Tensor
  ) -> Cotangents {
    let n = terms.count
    let d = unit.count / max(n, 1)
    var dUnit = Tensor(shape: featureShape)
    var dViews = Tensor(shape: viewShape)
    var dImage: Tensor?
    for term in terms.flatMap(\.imageConstraints) {
      guard let imageShape else { preconditionFailure("Objective: no image shape") }
      let part = term.pullback(Tensor(scalar: Float(term.weight * seed)))
      if dImage == nil { dImage = Tensor(shape: imageShape) }
      dImage?.add(part)
    }
    let viewSize = dViews.count / max(n, 1)
    for vi in 0..<n {
      let x = Array(unit.scalars[vi * d..<(vi + 1) * d])
      var dx = [Float](repeating: 0, count: d)
      for term in terms[vi].features {
        lossGradient(term.loss, x: x, f: term.vector, weight: term.weight * seed, dx: &dx)
      }
      dUnit.scalars.replaceSubrange(vi * d..<(vi + 1) * d, with: dx)
      let constraints = terms[vi].constraints
      guard let first = constraints.first else { continue }
      var dView = first.pullback(Tensor(scalar: Float(first.weight * seed)))
      for term in constraints.dropFirst() {
        dView.add(term.pullback(Tensor(scalar: Float(term.weight * seed))))
      }
      dViews.scalars.replaceSubrange(vi * viewSize..<(vi + 1) * viewSize, with: dView.scalars)
    }
    return Cotangents(features: normalizePullback(dUnit), views: dViews, image: dImage)
  }

  /// Mean scaled similarity per target and feature over the views where the feature is active.
  struct SimilarityTally {
    var sums: [[Double]]
    var counts: [[Double]]

    init(_ targets: [Experiment.Target]) {
      sums = targets.map { [Double](repeating: 0, count: $0.features.count) }
      counts = sums
    }

    /// Adds a view of target `ti`.
    mutating func add(_ scores: Scores, target ti: Int) {
      for fi in scores.similarities.indices where scores.active[fi] {
        sums[ti][fi] += scores.similarities[fi]
        counts[ti][fi] += 1
      }
    }

    /// `[target][feature]` means, nil where no view had the feature active.
    var means: [[Double?]] {
      sums.indices.map { ti in
        sums[ti].indices.map { fi in counts[ti][fi] > 0 ? sums[ti][fi] / counts[ti][fi] : nil }
      }
    }
  }

  /// weight × loss(x, f) for a unit vector x (CLIPig's feature losses); f need not be a unit vector (mix).
  static func loss(_ kind: FeatureLoss, x: [Float], f: [Float], weight: Double) -> Double {
    let n = Double(x.count)
    switch kind {
    case .cosine:
      let fn = CLIPFeatures.dot(f, f).squareRoot()
      guard fn > 0 else { return weight }
      return weight * (1 - CLIPFeatures.dot(x, f) / fn)
    case .l1:
      var s = 0.0
      for k in x.indices { s += abs(Double(x[k] - f[k])) }
      return weight * 100 * s / n
    case .l2:
      var s = 0.0
      for k in x.indices {
        let diff = Double(x[k] - f[k])
        s += diff * diff
      }
      return weight * 100 * s / n
    }
  }

  /// Adds weight × ∂loss/∂x to `dx`.
  static func lossGradient(
    _ kind: FeatureLoss, x: [Float], f: [Float], weight: Double, dx: inout [Float]
  ) {
    let n = Double(x.count)
    switch kind {
    case .cosine:
      let fn = CLIPFeatures.dot(f, f).squareRoot()
      guard fn > 0 else { return }
      for k in x.indices { dx[k] -= Float(weight * Double(f[k]) / fn) }
    case .l1:
      for k in x.indices {
        let diff = Double(x[k] - f[k])
        dx[k] += Float(weight * 100 / n * (diff > 0 ? 1 : diff < 0 ? -1 : 0))
      }
    case .l2:
      for k in x.indices { dx[k] += Float(weight * 200 / n * Double(x[k] - f[k])) }
    }
  }
}
