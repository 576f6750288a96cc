import ExprEval
import Formats
import Foundation
import PipelineKit

/// The sizes of images a run may have: what the PNG writer can save and the reader can load
/// back (``PNG/maxSide`` per side, ``PNG/maxPixels`` in total — about 5792×5792 for a square).
/// libpng's simplified writer itself allows up to 2³²−1 bytes of rows, so PNG.swift's own limit
/// is the one a user meets.
public enum ImageLimits {
  /// Why a `width`×`height` image cannot be trained and saved, or nil when it can.
  public static func problem(width: Int, height: Int) -> String? {
    if width < 1 || height < 1 { return "width and height must be at least 1" }
    if width > PNG.maxSide || height > PNG.maxSide {
      return "a side can have at most \(PNG.maxSide) pixels (the limit of the PNG writer)"
    }
    let (pixels, overflow) = width.multipliedReportingOverflow(by: height)
    if overflow || pixels > PNG.maxPixels {
      let side = Int(Double(PNG.maxPixels).squareRoot())
      return "an image can have at most \(PNG.maxPixels) pixels (e.g. \(side)×\(side)), "
        + "the limit of the PNG writer"
    }
    return nil
  }

  /// Why a `width`×`height` image cannot be trained and saved as `format`, or nil when it can:
  /// the PNG limits above (every run keeps within them), and the format's own
  /// ``ImageFormat/maxSide`` (WebP's 16383 is the smaller).
  public static func problem(width: Int, height: Int, format: ImageFormat) -> String? {
    if let problem = problem(width: width, height: height) { return problem }
    if width > format.maxSide || height > format.maxSide {
      return "a side can have at most \(format.maxSide) pixels in a \(format.name) file (the "
        + "limit of the format; a .png output allows \(PNG.maxSide))"
    }
    return nil
  }

  /// The epochs at which a run's resolution is checked before training: one when the
  /// resolution is constant, else every epoch (runs of more than 100 000 epochs at 100 000
  /// evenly spread epochs).
  static func checkedEpochs(_ e: Experiment) -> [Int] {
    let count = e.epochs - e.startEpoch
    let constant = e.resolution.allSatisfy { $0.constantValue != nil }
    let samples = constant ? min(count, 1) : min(count, 100_000)
    return (0..<samples).map { i in
      e.startEpoch + (samples == count ? i : Int(Double(i) / Double(samples) * Double(count)))
    }
  }

  /// Refuses, before training, a run whose image at some epoch cannot be saved as `format`
  /// (a `.webp` output whose resolution schedule passes 16383 pixels per side): the error names
  /// the `resolution` key, the epoch and the size, as the PNG bounds' do.
  public static func check(_ e: Experiment, streams: RandomStreams, format: ImageFormat) throws {
    for epoch in checkedEpochs(e) {
      var random = streams.expressions(epoch: epoch)
      let context = e.context(atEpoch: epoch)
      let (w, h) = try Trainer.resolution(e, context: context, random: &random)
      if let problem = problem(width: w, height: h, format: format) {
        throw StageError(
          parameter: "resolution", location: e.resolution[0].location,
          expression: "\(e.resolution[0]) \(e.resolution[1])",
          context: context, message: "resolution \(w)×\(h) at epoch \(epoch + 1): \(problem)")
      }
    }
  }
}

/// A run too large for this machine, found before training starts.
public struct ResourceError: Error, Sendable, CustomStringConvertible {
  /// One sentence: what is too large and what to lower.
  public var description: String
}

/// The memory a run needs, estimated before training from the experiment and the model, and
/// compared with what the machine (or its cgroup) has.
public enum MemoryBudget {
  /// Bytes this process may use: the physical memory, or a smaller cgroup limit.
  public static var available: Double {
    var limit = Double(ProcessInfo.processInfo.physicalMemory)
    for path in ["/sys/fs/cgroup/memory.max", "/sys/fs/cgroup/memory/memory.limit_in_bytes"] {
      if let text = try? String(contentsOfFile: path, encoding: .utf8),
        let value = Double(text.trimmingCharacters(in: .whitespacesAndNewlines)), value > 0
      {
        limit = min(limit, value)
      }
    }
    return limit
  }

  /// The largest resolution of the run, checked at every epoch with the streams training uses
  /// (runs of more than 100 000 epochs are checked at 100 000 evenly spread epochs).
  public static func largestResolution(_ e: Experiment, streams: RandomStreams) throws -> (
    width: Int, height: Int
  ) {
    var largest = (width: 1, height: 1)
    for epoch in ImageLimits.checkedEpochs(e) {
      var random = streams.expressions(epoch: epoch)
      let context = e.context(atEpoch: epoch)
      let (w, h) = try Trainer.resolution(e, context: context, random: &random)
      if w * h > largest.width * largest.height { largest = (w, h) }
    }
    return largest
  }

  /// The estimated peak bytes of a run: the pixels and the optimizer's state at the largest
  /// resolution, and every view of one epoch at each model's input size through its image
  /// tower (`models` in `models:` order; each sees its share of the views of its targets).
  public static func estimate(
    _ e: Experiment, models: [any FeatureModel], resolution: (width: Int, height: Int)
  ) -> (
    total: Double, views: Int, viewBytes: Double, pixelBytes: Double,
    perModel: [(views: Int, bytes: Double)]
  ) {
    // The pixels, their clamp, gradient, the optimizer's moments, an update and resize copy.
    let pixelBytes = Double(resolution.width) * Double(resolution.height) * 3 * 4 * 8
    var perModel: [(views: Int, bytes: Double)] = []
    for (m, model) in models.enumerated() {
      let entry = m < e.models.count ? e.models[m] : nil
      let views = e.targets.reduce(0.0) { sum, target in
        guard let entry else { return sum + Double(target.viewsPerEpoch) }
        return target.models.contains(m)
          ? sum + Double(entry.viewCount(of: target.viewsPerEpoch)) : sum
      }
      let side = Double(model.imageSize)
      // Views, their gradient and one transform intermediate, plus the activation arena.
      let perView = side * side * 3 * 4 * 3 + model.activationBytesPerImage
      perModel.append((views < Double(Int.max) ? Int(views) : Int.max, views * perView))
    }
    let viewBytes = perModel.reduce(0) { $0 + $1.bytes }
    let views = perModel.reduce(0) { $0.addingReportingOverflow($1.views).partialValue }
    return (pixelBytes + viewBytes, views, viewBytes, pixelBytes, perModel)
  }

  /// Refuses a run whose estimated memory exceeds what is available, naming the sizes to lower
  /// (with several models, each model's share).
  public static func check(_ e: Experiment, models: [any FeatureModel], streams: RandomStreams)
    throws
  {
    let resolution = try largestResolution(e, streams: streams)
    let need = estimate(e, models: models, resolution: resolution)
    let have = available
    guard need.total > have else { return }
    func gb(_ bytes: Double) -> String { String(format: "%.1f GB", bytes / 1e9) }
    let shares =
      models.count < 2
      ? ""
      : " ("
        + need.perModel.enumerated().map { m, part in
          "\(e.models[m].name): \(part.views) views, \(gb(part.bytes))"
        }.joined(separator: "; ") + ")"
    throw ResourceError(
      description:
        "this run needs about \(gb(need.total)) of memory, more than the \(gb(have)) available: "
        + "\(need.views) views per epoch (the sum of the targets' batch_size"
        + (models.count < 2 ? "" : " over the models") + ") take "
        + "\(gb(need.viewBytes))\(shares), a \(resolution.width)×\(resolution.height) image takes "
        + "\(gb(need.pixelBytes)); lower batch_size or resolution"
        + (models.count < 2 ? "" : ", or a model's views"))
  }
}
