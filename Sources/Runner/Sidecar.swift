import CLIP
import Formats
import Foundation
import PipelineKit

/// The YAML written beside every image clipig saves (`NAME.yaml` beside `NAME.png`): a header
/// of comments saying how the image was made, then the configuration that renders it again
/// (`RunPlan.sidecarConfiguration`). Every command writes it here, atomically.
public enum Sidecar {
  /// What the header comments say.
  public struct Header: Sendable {
    /// The command that made the image (`clipig render`, `clipig studio`).
    public var command: String
    /// The run's seed.
    public var seed: UInt64
    /// How far the run came, e.g. `epochs: 200 of 200`.
    public var progress: String
    /// Lines after the progress (runtime, updates, an interruption).
    public var notes: [String] = []
    /// The last similarity of each active feature: `[target][feature]`.
    public var similarities: [[Double?]] = []
    /// With several models, each model's: `[model][target][feature]` (then written per model
    /// instead of `similarities`).
    public var modelSimilarities: [[[Double?]]] = []
    /// The precision CLIP ran in (a line `precision: bf16`, with what was requested when that
    /// differs); nil writes no line.
    public var precision: PrecisionChoice?

    /// A header; add notes and similarities as the run has them.
    public init(command: String, seed: UInt64, progress: String) {
      self.command = command
      self.seed = seed
      self.progress = progress
    }

    /// The comment lines, with the date of `now`.
    func lines(experiment e: Experiment, now: Date) -> [String] {
      var lines = [
        "\(command), \(ISO8601DateFormatter().string(from: now))", "seed: \(seed)", progress,
      ]
      if let precision { lines.append(Self.line(precision)) }
      lines += notes
      let several = modelSimilarities.count > 1 && modelSimilarities.count == e.models.count
      for (ti, target) in e.targets.enumerated() where ti < similarities.count {
        for (fi, feature) in target.features.enumerated() where fi < similarities[ti].count {
          let name = "\(target.name): \(feature.text ?? feature.image ?? "") similarity "
          if several {
            // One value per model that judged it: `30.12 (ViT-B/32), 25.40 (RN50)`.
            let values = modelSimilarities.enumerated().compactMap { m, sims in
              sims[ti][fi].map { String(format: "%.2f", $0) + " (\(e.models[m].label))" }
            }
            if !values.isEmpty { lines.append(name + values.joined(separator: ", ")) }
          } else if let s = similarities[ti][fi] {
            lines.append(name + String(format: "%.2f", s))
          }
        }
      }
      return lines
    }

    /// The line of a precision: what ran, and what was requested when that differs (`auto`,
    /// or bf16 on a CPU without native bf16 dot products).
    public static func line(_ p: PrecisionChoice) -> String {
      guard p.requested.rawValue != p.used else { return "precision: \(p.used)" }
      let why = p.note == nil ? "" : ": this CPU has no native bf16 dot products"
      return "precision: \(p.used) (\(p.requested.rawValue) requested\(why))"
    }
  }

  /// The sidecar path of an image: its extension replaced by `.yaml`.
  public static func path(forImage image: String) -> String {
    OutputNaming.sidecarPath(image)
  }

  /// Writes the sidecar of `imagePath` for `plan`, recording the file name of `imagePath` (or
  /// of `output`, the name the image will have once published) as the configuration's
  /// `output`: a name without a folder, so the sidecar copied elsewhere writes where a relative
  /// `output` goes (the current folder, or `-o`), never into the original's absolute folder.
  public static func write(
    for plan: RunPlan, imagePath: String, output: String? = nil, header: Header, now: Date = Date()
  ) throws {
    let name = ((output ?? imagePath) as NSString).lastPathComponent
    let config = plan.sidecarConfiguration(output: name)
    let text = config.yamlText(headerComment: header.lines(experiment: plan.experiment, now: now))
    try FileIO.writeAtomically(Array(text.utf8), to: path(forImage: imagePath))
  }
}
