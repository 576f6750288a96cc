import PipelineKit

/// The image as a sum of planes at many resolutions — 1×1, 2×2, 4×4, … up to the image's size
/// — each upsampled (bilinear, half-pixel centres) to the image's size, then mixed into RGB and
/// squashed into [0, 1] (Direct Ascent Synthesis, Fort & Whitaker, 2025). A gradient step moves
/// every scale at once, so large shapes form as readily as fine texture, and the fine levels
/// alone cannot carry an adversarial pattern that the coarse levels do not share.
///
/// Levels are `(min(2^k, H), min(2^k, W))` for k = 0, 1, …, ending with `(H, W)`: for 224² the
/// nine levels 1, 2, 4, …, 128 and 224. Parameters are the levels' planes `[3, h_k, w_k]`
/// concatenated, coarsest first. Encoding an image puts it into the finest level (the others
/// zero); re-encoding after post-processing and a change of resolution keep the coarse levels
/// and put the difference into the finest, so the image is the one intended and the coarse
/// levels (and their optimizer state) carry on.
public struct StackParametrization: ImageParametrization {
  /// One level's plane size.
  public struct Level: Sendable, Equatable {
    /// Rows.
    public var height: Int
    /// Columns.
    public var width: Int
  }

  /// Columns of the image.
  public let width: Int
  /// Rows of the image.
  public let height: Int
  /// Colour space of the planes.
  public let colors: ColorBasis
  /// How values are brought into [0, 1].
  public let mapping: ValueMapping
  /// Whether the image is a torus (`tiling: true`): the levels upsample periodically, so the
  /// coarse levels wrap around the edges as the image does.
  public let wrap: Bool
  /// The levels, coarsest first; the last is the image's size.
  public let levels: [Level]
  /// Start of each level's planes in the parameter vector.
  let offsets: [Int]

  /// A stack parametrization of `width` × `height`.
  public init(
    width: Int, height: Int, colors: ColorBasis = .rgb, mapping: ValueMapping = .sigmoid,
    wrap: Bool = false
  ) {
    precondition(width >= 1 && height >= 1, "StackParametrization: empty image")
    self.width = width
    self.height = height
    self.colors = colors
    self.mapping = mapping
    self.wrap = wrap
    levels = Self.levels(width: width, height: height)
    var offsets: [Int] = []
    var next = 0
    for level in levels {
      offsets.append(next)
      next += 3 * level.height * level.width
    }
    self.offsets = offsets
  }

  /// The level sizes of a `width` × `height` image, coarsest first.
  public static func levels(width: Int, height: Int) -> [Level] {
    var out: [Level] = []
    var side = 1
    while true {
      let level = Level(height: min(side, height), width: min(side, width))
      if out.last != level { out.append(level) }
      if level.height == height && level.width == width { return out }
      side *= 2
    }
  }

  /// Σ 3 · h_k · w_k.
  public var parameterCount: Int {
    offsets[offsets.count - 1] + 3 * levels[levels.count - 1].height
      * levels[levels.count - 1].width
  }

  /// The planes of level `k`, `[3, h_k, w_k]`.
  func plane(_ parameters: [Float], _ k: Int) -> Tensor {
    let l = levels[k]
    let n = 3 * l.height * l.width
    return Tensor(
      shape: [3, l.height, l.width], scalars: Array(parameters[offsets[k]..<offsets[k] + n]))
  }

  /// Level `k`'s upsampling to the image's size.
  func upsampler(_ k: Int) -> Resampler {
    Resampler(
      from: levels[k].height, levels[k].width, to: height, width, filter: .linear, wrap: wrap)
  }

  /// The sum of the levels `ks`, each upsampled, `[3, H, W]` (before colour mixing).
  func sum(_ parameters: [Float], levels ks: Range<Int>) -> Tensor {
    var total = Tensor(shape: [3, height, width], repeating: 0)
    for k in ks {
      let p = plane(parameters, k)
      let up = levels[k] == Level(height: height, width: width) ? p : upsampler(k).apply(p)
      total.scalars.withUnsafeMutableBufferPointer { t in
        up.scalars.withUnsafeBufferPointer { u in
          for i in t.indices { t[i] += u[i] }
        }
      }
    }
    return total
  }

  /// The image `[3,H,W]`: the mapped colour mix of the levels' sum; the pullback gives each
  /// level the transposed upsampling of the sum's cotangent.
  public func image(_ parameters: [Float])
    -> (value: Tensor, pullback: @Sendable (Tensor) -> [Float])
  {
    let (y, mapPullback) = mapping.apply(colors.mix(sum(parameters, levels: 0..<levels.count)))
    let me = self
    return (
      y,
      { dy in
        let dSum = me.colors.mixPullback(mapPullback(dy))
        var grad = [Float](repeating: 0, count: me.parameterCount)
        for k in me.levels.indices {
          let full = me.levels[k] == Level(height: me.height, width: me.width)
          let g = full ? dSum : me.upsampler(k).adjoint(dSum)
          grad.withUnsafeMutableBufferPointer { out in
            g.scalars.withUnsafeBufferPointer { src in
              for i in src.indices { out[me.offsets[k] + i] = src[i] }
            }
          }
        }
        return grad
      }
    )
  }

  /// The unclamped image (`clamp`) or the image (`sigmoid`).
  public func editableImage(_ parameters: [Float]) -> Tensor {
    mapping.editable(colors.mix(sum(parameters, levels: 0..<levels.count)))
  }

  /// `image` in the finest level, the coarse levels zero.
  public func encode(_ image: Tensor) -> [Float] {
    encode(image, replacing: [Float](repeating: 0, count: parameterCount))
  }

  /// `image` with the coarse levels of `parameters` kept: the finest level is the difference
  /// between the image's planes and the coarse levels' sum.
  public func encode(_ image: Tensor, replacing parameters: [Float]) -> [Float] {
    precondition(image.shape == [3, height, width], "encode: expected [3,\(height),\(width)]")
    precondition(parameters.count == parameterCount, "encode: \(parameters.count) parameters")
    let target = colors.unmix(mapping.unmapped(image))
    return withFinestLevel(target, coarse: parameters)
  }

  /// `coarse`'s levels but the finest, and the finest level making the levels' sum `target`.
  func withFinestLevel(_ target: Tensor, coarse: [Float]) -> [Float] {
    let last = levels.count - 1
    let rest = sum(coarse, levels: 0..<last)
    var out = coarse
    target.scalars.withUnsafeBufferPointer { t in
      rest.scalars.withUnsafeBufferPointer { r in
        for i in t.indices { out[offsets[last] + i] = t[i] - r[i] }
      }
    }
    return out
  }

  /// The stack at another size: coarse levels of the same size as an old level continue it
  /// (and are kept for the optimizer); the finest level makes the levels' sum the old sum
  /// resampled with `filter` (periodically with `wrap`), so the image is the old one resized.
  public func resized(
    _ parameters: [Float], width: Int, height: Int, filter: Interpolation, wrap: Bool
  ) -> (parametrization: any ImageParametrization, parameters: [Float], kept: KeptParameters) {
    let new = StackParametrization(
      width: width, height: height, colors: colors, mapping: mapping, wrap: wrap)
    let target = Resampler(
      from: self.height, self.width, to: height, width, filter: filter, wrap: wrap
    ).apply(sum(parameters, levels: 0..<levels.count))
    var coarse = [Float](repeating: 0, count: new.parameterCount)
    var keptOld: [Int] = []
    var keptNew: [Int] = []
    for j in new.levels.indices.dropLast() {
      guard let k = levels.firstIndex(of: new.levels[j]) else { continue }
      let n = 3 * new.levels[j].height * new.levels[j].width
      for i in 0..<n {
        coarse[new.offsets[j] + i] = parameters[offsets[k] + i]
        keptOld.append(offsets[k] + i)
        keptNew.append(new.offsets[j] + i)
      }
    }
    return (
      new, new.withFinestLevel(target, coarse: coarse), KeptParameters(old: keptOld, new: keptNew)
    )
  }
}
