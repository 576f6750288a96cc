import PipelineKit

/// The parameters are the image's planes themselves, `[3,H,W]` (CLIPig's raw pixels).
///
/// With `rgb` and `clamp` this is exactly CLIPig's behaviour: the image is the clamped
/// parameters, post-processing edits the unclamped parameters, and a change of resolution
/// resamples them with the experiment's interpolation and starts the optimizer over.
public struct PixelParametrization: ImageParametrization {
  /// Columns of the image.
  public let width: Int
  /// Rows of the image.
  public let height: Int
  /// Colour space of the planes.
  public let colors: ColorBasis
  /// How values are brought into [0, 1].
  public let mapping: ValueMapping

  /// A pixel parametrization of `width` × `height`.
  public init(width: Int, height: Int, colors: ColorBasis = .rgb, mapping: ValueMapping = .clamp) {
    precondition(width >= 1 && height >= 1, "PixelParametrization: empty image")
    self.width = width
    self.height = height
    self.colors = colors
    self.mapping = mapping
  }

  /// 3 · H · W.
  public var parameterCount: Int { 3 * height * width }

  /// The image `[3,H,W]` and its pullback.
  public func image(_ parameters: [Float])
    -> (value: Tensor, pullback: @Sendable (Tensor) -> [Float])
  {
    let planes = Tensor(shape: [3, height, width], scalars: parameters)
    let (y, mapPullback) = mapping.apply(colors.mix(planes))
    let colors = colors
    return (y, { dy in colors.mixPullback(mapPullback(dy)).scalars })
  }

  /// The unclamped image (`clamp`) or the image (`sigmoid`).
  public func editableImage(_ parameters: [Float]) -> Tensor {
    mapping.editable(colors.mix(Tensor(shape: [3, height, width], scalars: parameters)))
  }

  /// The planes of `image`.
  public func encode(_ image: Tensor) -> [Float] {
    precondition(image.shape == [3, height, width], "encode: expected [3,\(height),\(width)]")
    return colors.unmix(mapping.unmapped(image)).scalars
  }

  /// The planes resampled with `filter` (periodically with `wrap`); nothing is kept (CLIPig
  /// resets the optimizer).
  public func resized(
    _ parameters: [Float], width: Int, height: Int, filter: Interpolation, wrap: Bool
  ) -> (parametrization: any ImageParametrization, parameters: [Float], kept: KeptParameters) {
    let planes = Tensor(shape: [3, self.height, self.width], scalars: parameters)
    let resampled = Resampler(
      from: self.height, self.width, to: height, width, filter: filter, wrap: wrap
    ).apply(planes)
    return (
      PixelParametrization(width: width, height: height, colors: colors, mapping: mapping),
      resampled.scalars, .none
    )
  }
}
