extension CLIPConfig {
  /// The shapes of OpenAI's modified-ResNet image tower (CLIP's RN50, RN101, RN50x4, …):
  /// a three-convolution stem of width `width/2, width/2, width` and a 2× average pool, four
  /// stages of bottlenecks with `width·2^i` planes (outputs ×4) and anti-aliased 2× strides in
  /// stages 2–4, and an attention pool of width `32·width` over the `(imageSize/32)²` positions.
  public struct ResNetVision: Sendable, Equatable, Hashable {
    /// Input side in pixels (square; a multiple of 32).
    public var imageSize: Int
    /// The stem's output width and the first stage's planes (64 for RN50).
    public var width: Int
    /// Bottlenecks per stage (four stages; RN50: 3, 4, 6, 3).
    public var layers: [Int]
    /// Heads of the attention pool (OpenAI: `32·width / 64`).
    public var heads: Int
    /// Batch-norm epsilon (1e-5 in PyTorch's `BatchNorm2d`).
    public var batchNormEpsilon: Float

    /// Channels of the last stage, the attention pool's width: 32 × `width`.
    public var featureWidth: Int { 32 * width }
    /// Positions per side after the total stride of 32.
    public var grid: Int { imageSize / 32 }

    /// Creates a ResNet configuration; `heads` defaults to OpenAI's `32·width/64`.
    public init(
      imageSize: Int, width: Int, layers: [Int], heads: Int? = nil, batchNormEpsilon: Float = 1e-5
    ) {
      self.imageSize = imageSize
      self.width = width
      self.layers = layers
      self.heads = heads ?? max(1, 32 * width / 64)
      self.batchNormEpsilon = batchNormEpsilon
    }

    /// The ViT-shaped summary stored in `CLIPConfig.vision` for call sites that read it.
    var summary: Vision {
      Vision(
        imageSize: imageSize, patchSize: 32, width: featureWidth,
        layers: layers.reduce(0, +), heads: heads, mlpWidth: featureWidth)
    }

    /// Checks the shapes are usable.
    public func validate(source: String) throws {
      func check(_ ok: Bool, _ reason: String) throws {
        if !ok { throw CLIPError.config(path: source, reason: reason) }
      }
      try check(layers.count == 4, "a ResNet has 4 stages, got \(layers.count)")
      for (i, count) in layers.enumerated() {
        try check(count > 0, "ResNet stage visual.layer\(i + 1) has \(count) bottlenecks")
      }
      try check(
        imageSize > 0 && width > 0 && heads > 0,
        "ResNet image size \(imageSize), width \(width) and heads \(heads) must be positive")
      try check(
        imageSize % 32 == 0, "ResNet image size \(imageSize) is not a multiple of 32")
      try check(
        width >= 2, "ResNet width \(width) leaves no stem channels (the stem starts at width/2)")
      try check(
        featureWidth % heads == 0, "ResNet width \(featureWidth) not divisible by \(heads) heads")
      try check(
        batchNormEpsilon > 0 && batchNormEpsilon.isFinite, "batch-norm epsilon must be positive")
      try check(
        imageSize <= 1024 && width <= 256 && heads <= 256 && layers.allSatisfy { $0 <= 64 },
        "ResNet sizes are implausibly large")
    }
  }

  /// OpenAI's RN50.
  public static let rn50 = CLIPConfig(
    resNet: ResNetVision(imageSize: 224, width: 64, layers: [3, 4, 6, 3]),
    text: Text(width: 512, layers: 12, heads: 8), embedDimension: 1024)
  /// OpenAI's RN101.
  public static let rn101 = CLIPConfig(
    resNet: ResNetVision(imageSize: 224, width: 64, layers: [3, 4, 23, 3]),
    text: Text(width: 512, layers: 12, heads: 8), embedDimension: 512)
  /// OpenAI's RN50x4.
  public static let rn50x4 = CLIPConfig(
    resNet: ResNetVision(imageSize: 288, width: 80, layers: [4, 6, 10, 6]),
    text: Text(width: 640, layers: 12, heads: 10), embedDimension: 640)
  /// OpenAI's RN50x16.
  public static let rn50x16 = CLIPConfig(
    resNet: ResNetVision(imageSize: 384, width: 96, layers: [6, 8, 18, 8]),
    text: Text(width: 768, layers: 12, heads: 12), embedDimension: 768)
  /// OpenAI's RN50x64.
  public static let rn50x64 = CLIPConfig(
    resNet: ResNetVision(imageSize: 448, width: 128, layers: [3, 15, 36, 10]),
    text: Text(width: 1024, layers: 12, heads: 16), embedDimension: 1024)
}
