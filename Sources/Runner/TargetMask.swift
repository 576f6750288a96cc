import ExprEval
import ModelStore
import PipelineKit
import Synchronization

/// A target's mask (`mask:`, `mask_invert:`): one weight in [0, 1] per pixel that scales the
/// target's gradient there, so the target changes only the white part of the image.
///
/// As a function it is a gate in front of the target's transform chain:
/// `gate(x) = a + m ⊙ (x − a)` with the anchor `a` the image the epoch started from. During
/// training `x` is that image, so the gate passes it unchanged (bit for bit: `x − x` is 0) and
/// its pullback `d ↦ m ⊙ d` masks the gradient; with pixels other than the anchor (the
/// gradient harness) it is the function whose derivative that pullback is.
public struct TargetMask: Sendable {
  /// Where the mask's values come from, loaded.
  public enum Source: Sendable {
    /// The grayscale mask `[1, H, W]` as loaded, in [0, 1] (not yet inverted).
    case image(Tensor)
    /// An expression of the pixel's position (`Experiment.Mask.Source.expression`), as a
    /// parameter named by the mask's key.
    case expression(Param<Double>)
  }

  /// The image or the expression.
  public let source: Source
  /// `mask_invert`: the mask is 1 − the values.
  public let invert: Bool
  /// The last plane made, by size (and time, for an expression of time): the mask is asked for
  /// every epoch and changes only at resolution changes (or every epoch when it uses time).
  private let cache = PlaneCache()

  /// One remembered plane, shared by the copies of a mask (views are sampled on one thread at
  /// a time, but `TargetMask` is `Sendable`).
  private final class PlaneCache: Sendable {
    let entry = Mutex<(key: [Double], plane: Tensor)?>(nil)
  }

  /// The mask of `image` (the channels' mean, clamped to [0, 1]), inverted when `invert`.
  public init(image: Tensor, invert: Bool) {
    let (h, w) = (image.chw.h, image.chw.w)
    let plane = h * w
    var gray = Tensor(shape: [1, h, w])
    for k in 0..<plane {
      let mean =
        (image.scalars[k] + image.scalars[plane + k] + image.scalars[2 * plane + k]) / 3
      gray.scalars[k] = min(1, max(0, mean))
    }
    source = .image(gray)
    self.invert = invert
  }

  /// A mask computed by `expression` at every pixel (`path` and `location` name it in errors).
  public init(
    expression: ExprEval.Expression, invert: Bool, path: String = "mask",
    location: SourceLocation = .synthetic("<mask>")
  ) {
    source = .expression(Param(expression: expression, path: path, location: location))
    self.invert = invert
  }

  /// Loads the mask a configuration names (relative paths from `baseDirectory`).
  public static func load(_ mask: Experiment.Mask, baseDirectory: String, key: String) throws
    -> TargetMask
  {
    switch mask.source {
    case .image(let reference):
      return TargetMask(
        image: try ImageInput.load(reference, baseDirectory: baseDirectory, key: key),
        invert: mask.invert)
    case .expression(let expression):
      return TargetMask(
        expression: expression, invert: mask.invert, path: key, location: mask.location)
    }
  }

  /// Every target's mask of `experiment` (nil where a target has none), by target index;
  /// `targets[i].mask` names each in errors.
  public static func loadAll(_ experiment: Experiment, baseDirectory: String) throws
    -> [TargetMask?]
  {
    try experiment.targets.enumerated().map { ti, target in
      try target.mask.map { try load($0, baseDirectory: baseDirectory, key: "targets[\(ti)].mask") }
    }
  }

  /// The mask `[1, H, W]` at `height` × `width` with the epoch's `variables`: the image
  /// resized (bilinear, so it stays in [0, 1]) or the expression evaluated at each pixel
  /// centre, clamped to [0, 1]; inverted when asked.
  public func plane(height: Int, width: Int, variables: ExprContext) throws(StageError) -> Tensor {
    var key = [Double(height), Double(width)]
    if case .expression(let p) = source, case .expression(let e) = p.source,
      !e.usedGroups.isDisjoint(with: [.time, .frame])
    {
      key += [variables.t, Double(variables.epoch), Double(variables.frame)]
    }
    if let hit = cache.entry.withLock({ $0 }), hit.key == key { return hit.plane }
    var m: Tensor
    switch source {
    case .image(let gray):
      m =
        gray.chw.h == height && gray.chw.w == width
        ? gray
        : Resampler(from: gray.chw.h, gray.chw.w, to: height, width, filter: .linear)
          .apply(gray)
    case .expression(let p):
      m = try Self.evaluate(p, height: height, width: width, variables: variables)
    }
    if invert {
      for k in 0..<m.count { m.scalars[k] = 1 - m.scalars[k] }
    }
    let made = m
    cache.entry.withLock { $0 = (key, made) }
    return made
  }

  /// The operations one mask may take over its whole plane: a few seconds at most (measured: a
  /// 1 900-term sum at 224², just under the limit, 3.4 s for `clipig preview`, Xeon, release).
  static let maximumOperations = 100_000_000

  /// `p` at each pixel centre `x = (column + 0.5) / width`, `y = (row + 0.5) / height`, as
  /// `[1, H, W]` clamped to [0, 1] (a bool is 1 or 0); an error, or a value that is no number or
  /// not finite, stops the run naming the mask's key.
  static func evaluate(
    _ p: Param<Double>, height: Int, width: Int, variables: ExprContext
  ) throws(StageError) -> Tensor {
    // Bounded work: at most `maximumOperations` operations over the plane, and the items
    // (lists, strings …) of one evaluation's budget for the whole plane.
    if case .expression(let e) = p.source {
      let (operations, overflow) = (height * width).multipliedReportingOverflow(
        by: e.operationCount)
      guard !overflow && operations <= maximumOperations else {
        throw StageError(
          parameter: p.path, location: p.location, expression: e.source, context: variables,
          message:
            "the mask expression is too long for \(width)×\(height) pixels (\(e.operationCount) "
            + "operations per pixel; at most \(maximumOperations / max(1, height * width)) at "
            + "this size)")
      }
    }
    var items = ExprEval.Expression.itemLimit
    var m = Tensor(shape: [1, height, width])
    var context = variables
    context.width = Double(width)
    context.height = Double(height)
    // The loader refuses random functions in masks; this source is never drawn from.
    var random = SeededRandom(seed: 0)
    for row in 0..<height {
      context.y = (Double(row) + 0.5) / Double(height)
      for column in 0..<width {
        context.x = (Double(column) + 0.5) / Double(width)
        let value = try p.value(in: context, random: &random, items: &items)
        m.scalars[row * width + column] = Float(min(1, max(0, value)))
      }
    }
    return m
  }

  /// `gate(x) = anchor + m ⊙ (x − anchor)` for `x`, `anchor` `[3, H, W]` and `m` `[1, H, W]`
  /// (`plane`), with its pullback `d ↦ m ⊙ d`.
  public static func gate(_ x: Tensor, anchor: Tensor, mask m: Tensor) -> (
    value: Tensor, pullback: Pullback
  ) {
    let plane = m.count
    precondition(x.count == 3 * plane && anchor.count == x.count, "TargetMask.gate: shapes")
    var y = anchor
    for c in 0..<3 {
      for k in 0..<plane {
        let i = c * plane + k
        y.scalars[i] = anchor.scalars[i] + m.scalars[k] * (x.scalars[i] - anchor.scalars[i])
      }
    }
    return (y, { d in Self.scale(d, by: m) })
  }

  /// `m ⊙ d` for `d` `[3, H, W]` and `m` `[1, H, W]`.
  static func scale(_ d: Tensor, by m: Tensor) -> Tensor {
    let plane = m.count
    var out = d
    for c in 0..<3 {
      for k in 0..<plane { out.scalars[c * plane + k] *= m.scalars[k] }
    }
    return out
  }
}
