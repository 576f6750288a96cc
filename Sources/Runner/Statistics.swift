import Foundation
import PipelineKit

/// The statistics block of `clipig render -v` (CLIPig's statistics): image statistics and, per target
/// and feature, similarity over the last 30 epochs.
struct Statistics {
  let experiment: Experiment
  private var losses: [Double] = []
  private var similarities: [[[Double]]]
  private var epoch = 0
  private var resolution = (0, 0)
  private let window = 30

  init(experiment: Experiment) {
    self.experiment = experiment
    similarities = experiment.targets.map { [[Double]](repeating: [], count: $0.features.count) }
  }

  mutating func add(_ r: EpochReport) {
    epoch = r.epoch
    resolution = (r.resolution.width, r.resolution.height)
    losses.append(r.loss)
    if losses.count > window { losses.removeFirst() }
    for ti in r.similarities.indices {
      for fi in r.similarities[ti].indices {
        guard let s = r.similarities[ti][fi] else { continue }
        similarities[ti][fi].append(s)
        if similarities[ti][fi].count > window { similarities[ti][fi].removeFirst() }
      }
    }
  }

  static func summary(_ values: [Double]) -> String {
    guard let lo = values.min(), let hi = values.max() else { return "-" }
    let mean = values.reduce(0, +) / Double(values.count)
    return String(format: "%.3f (%.3f–%.3f)", mean, lo, hi)
  }

  func block(pixels: Tensor, optimizer: OptimizerKind, lr: Double) -> String {
    let (c, h, w) = pixels.chw
    let n = Double(h * w)
    var means: [Double] = []
    var stds: [Double] = []
    for ch in 0..<c {
      var s = 0.0
      var s2 = 0.0
      for i in 0..<(h * w) {
        let v = Double(pixels.scalars[ch * h * w + i])
        s += v
        s2 += v * v
      }
      let m = s / n
      means.append(m)
      stds.append(max(0, s2 / n - m * m).squareRoot() * (n / max(1, n - 1)).squareRoot())
    }
    func list(_ v: [Double]) -> String {
      v.map { String(format: "%.3f", $0) }.joined(separator: " ")
    }
    var lines = [
      "epoch \(epoch + 1)/\(experiment.epochs)  resolution \(resolution.0)x\(resolution.1)  "
        + "\(optimizer.rawValue) lr \(String(format: "%.5g", lr))",
      "image mean \(list(means))  std \(list(stds))",
      "loss \(Self.summary(losses))",
    ]
    for (ti, target) in experiment.targets.enumerated() {
      for (fi, feature) in target.features.enumerated() {
        var name = feature.text ?? feature.image ?? ""
        if name.count > 40 { name = String(name.prefix(38)) + ".." }
        lines.append("  \(target.name): \(name)  similarity \(Self.summary(similarities[ti][fi]))")
      }
    }
    return lines.joined(separator: "\n") + "\n"
  }
}
