import CLIP
import ExprEval
import PipelineKit

/// CLIPig's loss of one epoch (spec §8.7–8.8) as one differentiable function of the views'
/// raw CLIP features and of the views themselves: similarity to each target feature, its scale
/// (`scale`, fair scaling), the `select` rule (all, best, worst, mix), the weights (which may
/// depend on `sim`), the feature loss (cosine, L1, L2) and each target's constraint losses on
/// its views.
public struct Objective: Sendable {
  /// The experiment's targets.
  public let targets: [Experiment.Target]
  /// The unit feature vectors and fair-scaling factors of the targets.
  public let features: TargetFeatures
  /// The run's random streams (constraint draws).
  public let streams: RandomStreams

  /// An objective over `experiment`'s targets with their encoded `features`.
  public init(experiment: Experiment, features: TargetFeatures, streams: RandomStreams) {
    targets = experiment.targets
    self.features = features
    self.streams = streams
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
  }

  /// The loss of the views `views` (CLIP inputs `[N, 3, S, S]`, from the targets `origins`) whose
  /// raw features are `rawFeatures` `[N, D]`, at `epoch` with the epoch's variables.
  /// Expressions that draw random numbers draw from `random`, view by view.
  ///
  /// The pullback maps a cotangent of the loss to those of the features and the views.
  public func evaluate(
    rawFeatures: Tensor, views: Tensor, origins: [ViewSampler.Origin], epoch: Int,
    variables: ExprContext, random: inout SeededRandom
  ) throws(StageError) -> (value: Value, pullback: (Double) -> Cotangents) {
    let n = origins.count
    precondition(rawFeatures.shape.first == n && views.shape.first == n, "Objective: batch sizes")
    let d = rawFeatures.count / max(n, 1)
    let (unit, normalizePullback) = CLIPFeatures.normalize(rawFeatures)
    var simSums = targets.map { [Double](repeating: 0, count: $0.features.count) }
    var simCounts = simSums
    var total = 0.0
    // Per view: the feature terms (unit target vector, combined weight, loss kind) and the
    // constraint pullbacks with their weights.
    var featureTerms: [[(vector: [Float], weight: Double, loss: FeatureLoss)]] = []
    var constraintTerms: [[(weight: Double, pullback: Pullback)]] = []
    for (vi, origin) in origins.enumerated() {
      let target = targets[origin.target]
      let vectors = features.vectors[origin.target]
      let x = Array(unit.scalars[vi * d..<(vi + 1) * d])
      // Similarities, scales and weights of the features (spec §8.8).
      var sims: [Double] = []
      for (fi, feature) in target.features.enumerated() {
        var c = variables
        c.similarity = 100 * CLIPFeatures.dot(vectors[fi], x) * features.scales[origin.target][fi]
        sims.append(c.similarity * (try feature.scale.value(in: c, random: &random)))
      }
      var targetContext = variables
      targetContext.similarity = sims.isEmpty ? 0 : sims.reduce(0, +) / Double(sims.count)
      let targetWeight = try target.weight.value(in: targetContext, random: &random)
      var enabled = target.features.map { $0.window.contains(epoch: epoch, t: variables.t) }
      var weights: [Double] = []
      for (fi, feature) in target.features.enumerated() {
        var c = variables
        c.similarity = sims[fi]
        weights.append(try feature.weight.value(in: c, random: &random))
        if enabled[fi] {
          simSums[origin.target][fi] += sims[fi]
          simCounts[origin.target][fi] += 1
        }
      }
      if target.select == .best || target.select == .worst {
        let order = sims.indices.sorted {
          target.select == .best ? sims[$0] > sims[$1] : sims[$0] < sims[$1]
        }
        var kept = false
        for i in order where enabled[i] {
          if kept { enabled[i] = false } else { kept = true }
        }
      }
      var terms: [(vector: [Float], weight: Double, loss: FeatureLoss)] = []
      if target.select == .mix {
        var m = [Float](repeating: 0, count: d)
        var norm = 0.0
        for fi in target.features.indices where enabled[fi] {
          norm += abs(weights[fi])
          for k in 0..<d { m[k] += Float(weights[fi]) * vectors[fi][k] }
        }
        if norm > 0, let first = target.features.first {
          for k in 0..<d { m[k] /= Float(norm) }
          terms.append((m, targetWeight, first.loss))
        }
      } else {
        for fi in target.features.indices where enabled[fi] {
          terms.append((vectors[fi], weights[fi] * targetWeight, target.features[fi].loss))
        }
      }
      var featureLoss = 0.0
      for term in terms {
        featureLoss += Self.loss(term.loss, x: x, f: term.vector, weight: term.weight)
      }
      featureTerms.append(terms)
      // Constraints on the view CLIP saw.
      var constraintLoss = 0.0
      var pullbacks: [(weight: Double, pullback: Pullback)] = []
      for constraint in target.constraints
      where constraint.window.contains(epoch: epoch, t: variables.t) {
        var cc = StageContext(
          variables: targetContext, random: streams.constraints(epoch: epoch, view: vi))
        let weight = try constraint.weight.value(in: targetContext, random: &cc.random)
        let (value, pullback) = try constraint.stage.forward(views.view(vi), in: &cc)
        constraintLoss += Double(value.scalars[0]) * weight
        pullbacks.append((weight * targetWeight, pullback))
      }
      total += featureLoss + constraintLoss * targetWeight
      constraintTerms.append(pullbacks)
    }
    var similarities = targets.map { [Double?](repeating: nil, count: $0.features.count) }
    for ti in simSums.indices {
      for fi in simSums[ti].indices where simCounts[ti][fi] > 0 {
        similarities[ti][fi] = simSums[ti][fi] / simCounts[ti][fi]
      }
    }
    let viewShape = views.shape
    let viewSize = views.count / max(n, 1)
    return (
      Value(loss: total, similarities: similarities),
      { seed in
        var dUnit = Tensor(shape: rawFeatures.shape)
        var dViews = Tensor(shape: viewShape)
        for vi in 0..<n {
          let x = Array(unit.scalars[vi * d..<(vi + 1) * d])
          var dx = [Float](repeating: 0, count: d)
          for term in featureTerms[vi] {
            Self.lossGradient(term.loss, x: x, f: term.vector, weight: term.weight * seed, dx: &dx)
          }
          dUnit.scalars.replaceSubrange(vi * d..<(vi + 1) * d, with: dx)
          let terms = constraintTerms[vi]
          guard let first = terms.first else { continue }
          var dView = first.pullback(Tensor(scalar: Float(first.weight * seed)))
          for term in terms.dropFirst() {
            dView.add(term.pullback(Tensor(scalar: Float(term.weight * seed))))
          }
          dViews.scalars.replaceSubrange(vi * viewSize..<(vi + 1) * viewSize, with: dView.scalars)
        }
        return Cotangents(features: normalizePullback(dUnit), views: dViews)
      }
    )
  }

  /// weight × loss(x, f) for a unit vector x (spec §8.7); f need not be a unit vector (mix).
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
