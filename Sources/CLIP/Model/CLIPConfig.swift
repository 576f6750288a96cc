/// Shapes and hyper-parameters of a CLIP model: OpenAI's ViT architecture, or its modified
/// ResNet image tower when `resNet` is set (the text tower is the same transformer for both).
public struct CLIPConfig: Sendable, Equatable, Hashable {
  /// The MLP non-linearity inside the transformer blocks.
  public enum Activation: String, Sendable, Hashable {
    /// x · σ(1.702 x), OpenAI's CLIP.
    case quickGELU = "quick_gelu"
    /// The exact (erf) GELU some later CLIP-architecture models use.
    case gelu
  }

  /// The image tower.
  public struct Vision: Sendable, Equatable, Hashable {
    /// Input side in pixels (square).
    public var imageSize: Int
    /// Patch side in pixels (the patch-embedding convolution's kernel and stride).
    public var patchSize: Int
    /// Residual stream width.
    public var width: Int
    /// Number of residual attention blocks.
    public var layers: Int
    /// Attention heads per block.
    public var heads: Int
    /// Hidden width of each block's MLP.
    public var mlpWidth: Int

    /// Patches per side.
    public var grid: Int { imageSize / patchSize }
    /// Tokens per image: the class token plus one per patch.
    public var tokens: Int { grid * grid + 1 }

    /// Creates a vision configuration; `mlpWidth` defaults to 4 × width.
    public init(
      imageSize: Int, patchSize: Int, width: Int, layers: Int, heads: Int, mlpWidth: Int? = nil
    ) {
      self.imageSize = imageSize
      self.patchSize = patchSize
      self.width = width
      self.layers = layers
      self.heads = heads
      self.mlpWidth = mlpWidth ?? 4 * width
    }
  }

  /// The text tower.
  public struct Text: Sendable, Equatable, Hashable {
    /// Token vocabulary size (49408 with CLIP's BPE).
    public var vocabularySize: Int
    /// Maximum tokens per prompt (77).
    public var contextLength: Int
    /// Residual stream width.
    public var width: Int
    /// Number of residual attention blocks.
    public var layers: Int
    /// Attention heads per block.
    public var heads: Int
    /// Hidden width of each block's MLP.
    public var mlpWidth: Int

    /// Creates a text configuration; `mlpWidth` defaults to 4 × width.
    public init(
      vocabularySize: Int = 49408, contextLength: Int = 77, width: Int, layers: Int, heads: Int,
      mlpWidth: Int? = nil
    ) {
      self.vocabularySize = vocabularySize
      self.contextLength = contextLength
      self.width = width
      self.layers = layers
      self.heads = heads
      self.mlpWidth = mlpWidth ?? 4 * width
    }
  }

  /// The image tower's shapes (ViT). For a ResNet model a summary kept consistent by
  /// `init(resNet:text:embedDimension:)`: `imageSize`, the total stride 32 as `patchSize` (so
  /// `grid`/`tokens` are the attention pool's), the pool's `width` and `heads`, and the number of
  /// bottlenecks as `layers`.
  public var vision: Vision
  /// The modified-ResNet image tower's shapes; nil for a ViT.
  public var resNet: ResNetVision?
  /// The image tower's input side in pixels (either architecture).
  public var imageSize: Int { resNet?.imageSize ?? vision.imageSize }
  /// The text tower's shapes.
  public var text: Text
  /// Dimension of the joint feature space both towers project to.
  public var embedDimension: Int
  /// Layer-norm epsilon (1e-5 in CLIP).
  public var layerNormEpsilon: Float
  /// MLP activation.
  public var activation: Activation

  /// Creates a configuration.
  public init(
    vision: Vision, text: Text, embedDimension: Int, layerNormEpsilon: Float = 1e-5,
    activation: Activation = .quickGELU
  ) {
    self.vision = vision
    self.text = text
    self.embedDimension = embedDimension
    self.layerNormEpsilon = layerNormEpsilon
    self.activation = activation
  }

  /// Creates the configuration of a model with OpenAI's modified-ResNet image tower;
  /// `activation` is the text tower's (the ResNet's own is ReLU).
  public init(
    resNet: ResNetVision, text: Text, embedDimension: Int, layerNormEpsilon: Float = 1e-5,
    activation: Activation = .quickGELU
  ) {
    self.init(
      vision: resNet.summary, text: text, embedDimension: embedDimension,
      layerNormEpsilon: layerNormEpsilon, activation: activation)
    self.resNet = resNet
  }

  /// OpenAI's ViT-B/32.
  public static let vitB32 = CLIPConfig(
    vision: Vision(imageSize: 224, patchSize: 32, width: 768, layers: 12, heads: 12),
    text: Text(width: 512, layers: 12, heads: 8), embedDimension: 512)
  /// OpenAI's ViT-B/16.
  public static let vitB16 = CLIPConfig(
    vision: Vision(imageSize: 224, patchSize: 16, width: 768, layers: 12, heads: 12),
    text: Text(width: 512, layers: 12, heads: 8), embedDimension: 512)
  /// OpenAI's ViT-L/14.
  public static let vitL14 = CLIPConfig(
    vision: Vision(imageSize: 224, patchSize: 14, width: 1024, layers: 24, heads: 16),
    text: Text(width: 768, layers: 12, heads: 12), embedDimension: 768)

  /// Checks the shapes are usable (positive sizes, heads dividing widths, whole patches).
  public func validate(source: String) throws {
    func check(_ ok: Bool, _ reason: String) throws {
      if !ok { throw CLIPError.config(path: source, reason: reason) }
    }
    if let r = resNet {
      // The text tower's checks are the same for both architectures.
      try r.validate(source: source)
      var vit = self
      vit.resNet = nil
      vit.vision = .init(imageSize: 32, patchSize: 32, width: 64, layers: 1, heads: 1)
      try vit.validate(source: source)
      return
    }
    let v = vision
    let t = text
    try check(
      [v.imageSize, v.patchSize, v.width, v.layers, v.heads, v.mlpWidth].allSatisfy { $0 > 0 },
      "vision sizes must be positive")
    try check(
      [t.vocabularySize, t.contextLength, t.width, t.layers, t.heads, t.mlpWidth].allSatisfy {
        $0 > 0
      }, "text sizes must be positive")
    try check(embedDimension > 0, "projection dimension must be positive")
    try check(v.width % v.heads == 0, "vision width \(v.width) not divisible by \(v.heads) heads")
    try check(t.width % t.heads == 0, "text width \(t.width) not divisible by \(t.heads) heads")
    try check(
      v.imageSize % v.patchSize == 0,
      "image size \(v.imageSize) is not a multiple of patch size \(v.patchSize)")
    try check(layerNormEpsilon > 0 && layerNormEpsilon.isFinite, "layer_norm_eps must be positive")
    // Bound the sizes so that buffers sized from them stay reasonable and their arithmetic
    // cannot overflow (ViT-L/14 at 336 px — grid 24, width 1024, 24 layers — is far inside).
    try check(
      v.grid <= 64 && v.patchSize <= 64 && v.width <= 8192 && v.heads <= 128 && v.layers <= 128
        && v.mlpWidth <= 32768 && t.width <= 8192 && t.heads <= 128 && t.layers <= 128
        && t.mlpWidth <= 32768 && t.vocabularySize <= 1 << 20 && t.contextLength <= 1024
        && embedDimension <= 8192,
      "model sizes are implausibly large")
  }
}
