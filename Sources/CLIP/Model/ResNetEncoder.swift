import PipelineKit

/// OpenAI's modified-ResNet image tower as a reusable workspace: forward a batch of images to
/// features, then back-propagate a feature gradient to the input pixels (no weight gradients).
///
/// Activations are channel-major, (C, N, H, W), so that every convolution of the batch is one
/// GEMM (chunked im2col for 3×3 kernels). All of them live in one arena sized for `capacity`
/// images at construction; `forward` and `backward` allocate nothing but their returned
/// tensors. Input pixels are CLIP-normalised inside unless `normalizesInput` is false.
///
/// Not thread-safe: one encoder per task; many encoders may share one `ResNetTower`.
public final class ResNetEncoder {
  /// The weights.
  public let tower: ResNetTower
  /// Largest batch this workspace holds.
  public let capacity: Int
  /// Whether `forward` applies CLIP's mean/std normalisation (and `backward` its pullback).
  public let normalizesInput: Bool
  /// Number of images in the last forward pass.
  public private(set) var batch = 0

  private let arena: Arena
  private let size: Int  // image side S
  private let e: Int  // embed dimension
  private let stemWidth: Int  // width
  private let grid: Int  // attention-pool positions per side

  private struct BlockBuffers {
    var height = 0  // input side H (output side H / stride)
    var a1 = 0  // (planes, B, H, H) after conv1, ReLU
    var a2 = 0  // (planes, B, H, H) after conv2, ReLU
    var out = 0  // (4·planes, B, H/s, H/s) block output after ReLU
  }
  private var blockBuffers = [BlockBuffers]()
  private var input = 0  // (3, B, S, S) normalised pixels, channel-major
  private var stem1 = 0  // (W/2, B, S/2, S/2)
  private var stem2 = 0  // (W/2, B, S/2, S/2)
  private var stem3 = 0  // (W, B, S/2, S/2)
  private var stemOut = 0  // (W, B, S/4, S/4)
  private var tokens = 0  // (B, T, C)
  private var qkv = 0  // (B, T, 3C)
  private var probs = 0  // (B, H, 1, T)
  private var attention = 0  // (B, C)
  private var featureBuffer = 0  // (B, E)
  // Scratch shared by all stages (each `largest` floats): forward temporaries and gradients.
  private var t1 = 0
  private var t2 = 0
  private var t3 = 0
  private var gA = 0
  private var gB = 0
  private var columns = 0  // im2col chunk (max scratchCount)
  private var poolScratch = 0  // attention pool backward

  /// When set, every kernel call of `forward` and `backward` adds its time to this profile.
  public var profile: KernelProfile?

  /// Bytes held by the activation arena.
  public var arenaBytes: Int { arena.count * MemoryLayout<Float>.size }

  /// A workspace for up to `capacity` images of the tower's input size.
  public init(tower: ResNetTower, capacity: Int, normalizesInput: Bool = true) {
    precondition(capacity >= 1, "ResNetEncoder: capacity must be at least 1")
    self.tower = tower
    self.capacity = capacity
    self.normalizesInput = normalizesInput
    let r = tower.shape
    size = r.imageSize
    e = tower.config.embedDimension
    stemWidth = r.width
    grid = r.grid
    let b = capacity
    let (s, w) = (size, r.width)
    let s2 = s / 2
    let s4 = s / 4
    var plan = ArenaPlan()
    var largest = 3 * b * s * s
    func reserve(_ count: Int) -> Int {
      largest = max(largest, count)
      return plan.reserve(count)
    }
    input = reserve(3 * b * s * s)
    stem1 = reserve(w / 2 * b * s2 * s2)
    stem2 = reserve(w / 2 * b * s2 * s2)
    stem3 = reserve(w * b * s2 * s2)
    stemOut = reserve(w * b * s4 * s4)
    var h = s4
    for blk in tower.blocks {
      var L = BlockBuffers()
      L.height = h
      L.a1 = reserve(blk.planes * b * h * h)
      L.a2 = reserve(blk.planes * b * h * h)
      let ho = h / blk.stride
      L.out = reserve(4 * blk.planes * b * ho * ho)
      largest = max(largest, blk.inChannels * b * h * h)
      blockBuffers.append(L)
      h = ho
    }
    let pool = Self.poolShape(tower, batch: b)
    tokens = plan.reserve(pool.tokenCount)
    qkv = plan.reserve(pool.qkvCount)
    probs = plan.reserve(pool.probsCount)
    attention = plan.reserve(pool.attentionCount)
    featureBuffer = plan.reserve(b * e)
    t1 = plan.reserve(largest)
    t2 = plan.reserve(largest)
    t3 = plan.reserve(largest)
    gA = plan.reserve(largest)
    gB = plan.reserve(largest)
    columns = plan.reserve(
      Self.convolutions(tower, batch: b).map(\.scratchCount).max() ?? 0)
    poolScratch = plan.reserve(pool.backwardScratchCount)
    arena = Arena(sizes: plan.sizes)
  }

  @inline(__always) private func buf(_ offset: Int) -> UnsafeMutablePointer<Float> {
    arena.base + offset
  }

  static func poolShape(_ tower: ResNetTower, batch: Int) -> AttentionPoolShape {
    poolShape(tower.config, batch: batch)
  }

  static func poolShape(_ config: CLIPConfig, batch: Int) -> AttentionPoolShape {
    let r = config.resNet ?? .init(imageSize: 32, width: 2, layers: [1, 1, 1, 1])
    return AttentionPoolShape(
      batch: batch, channels: r.featureWidth, positions: r.grid * r.grid, heads: r.heads,
      outWidth: config.embedDimension)
  }

  private func convShape(_ u: ResNetTower.ConvBN, batch n: Int, side: Int, stride: Int = 1)
    -> ConvolutionShape
  {
    ConvolutionShape(
      inChannels: u.inChannels, outChannels: u.outChannels, batch: n, height: side, width: side,
      kernel: u.kernel, stride: stride, padding: u.kernel / 2)
  }

  /// Every convolution of the tower at `batch` images, in forward order.
  static func convolutions(_ tower: ResNetTower, batch n: Int) -> [ConvolutionShape] {
    convolutions(
      stem: tower.stem, blocks: tower.blocks, imageSize: tower.shape.imageSize, batch: n)
  }

  static func convolutions(
    stem: [ResNetTower.ConvBN], blocks: [ResNetTower.Bottleneck], imageSize s: Int, batch n: Int
  ) -> [ConvolutionShape] {
    func shape(_ u: ResNetTower.ConvBN, _ side: Int, _ stride: Int = 1) -> ConvolutionShape {
      ConvolutionShape(
        inChannels: u.inChannels, outChannels: u.outChannels, batch: n, height: side,
        width: side, kernel: u.kernel, stride: stride, padding: u.kernel / 2)
    }
    var out = [shape(stem[0], s, 2), shape(stem[1], s / 2), shape(stem[2], s / 2)]
    var h = s / 4
    for blk in blocks {
      let ho = h / blk.stride
      out += [shape(blk.conv1, h), shape(blk.conv2, h), shape(blk.conv3, ho)]
      if let d = blk.downsample { out.append(shape(d, ho)) }
      h = ho
    }
    return out
  }

  /// FLOPs of one batch step counted from the shapes: the forward (convolutions and attention
  /// pool) and forward + backward to the pixels (each convolution's input gradient costs as
  /// much as its forward).
  public static func flops(_ config: CLIPConfig, batch: Int) -> (forward: Double, step: Double) {
    guard let r = config.resNet else { return (0, 0) }
    let plan = ResNetTower.plan(config)
    let conv = convolutions(
      stem: plan.stem, blocks: plan.blocks, imageSize: r.imageSize, batch: batch
    ).reduce(0) { $0 + $1.flops }
    let pool = poolShape(config, batch: batch).flops
    return (conv + pool, 2 * (conv + pool))
  }

  private var poolWeights: AttentionPoolWeights {
    var w = AttentionPoolWeights(
      positions: tower.p(tower.positions), qkvWeight: tower.p(tower.qkvWeight),
      qkvBias: tower.p(tower.qkvBias), projWeight: tower.p(tower.projWeight),
      projBias: tower.p(tower.projBias))
    (w.qkvOperand, w.projOperand) = (tower.w(tower.qkvWeight), tower.w(tower.projWeight))
    return w
  }

  // MARK: Forward

  /// The forward pass on raw memory: `count` images (count, 3, S, S) at `pixels`.
  public func forward(pixels: UnsafePointer<Float>, count n: Int) {
    precondition(n >= 1 && n <= capacity, "ResNetEncoder: batch \(n) outside 1…\(capacity)")
    batch = n
    let tower = self.tower
    let (s, w) = (size, stemWidth)
    profile.measure("forward layout + normalise") {
      CLIPImageNormalization.channelMajor(
        pixels, into: buf(input), count: n, size: s, normalizes: normalizesInput)
    }
    // Stem: three conv-bn-ReLU, then a 2× average pool.
    let s2 = s / 2
    let stemIO = [(input, stem1, s, 2), (stem1, stem2, s2, 1), (stem2, stem3, s2, 1)]
    for (i, (from, to, side, stride)) in stemIO.enumerated() {
      let u = tower.stem[i]
      let shape = convShape(u, batch: n, side: side, stride: stride)
      convolution("forward", shape, i == 0 ? " stem K=27" : " stem") {
        CLIPKernels.convolutionForward(
          x: buf(from), weight: tower.w(u.weight), out: buf(to), shape: shape,
          scratch: buf(columns), profile: profile)
      }
      profile.measure("forward bias + ReLU") {
        CLIPKernels.biasActivation(
          buf(to), bias: tower.p(u.beta), channels: u.outChannels,
          plane: n * shape.outHeight * shape.outWidth, relu: true)
      }
    }
    profile.measure("forward average pool") {
      CLIPKernels.averagePoolForward(
        x: buf(stem3), out: buf(stemOut), planes: w * n, height: s2, width: s2, factor: 2)
    }

    var x = buf(stemOut)  // (Cin, N, H, H)
    for (i, blk) in tower.blocks.enumerated() {
      let L = blockBuffers[i]
      let h = L.height
      let ho = h / blk.stride
      let a1 = buf(L.a1)
      let a2 = buf(L.a2)
      let out = buf(L.out)  // (4p, N, Ho, Ho)
      let c1 = convShape(blk.conv1, batch: n, side: h)
      convolution("forward", c1) {
        CLIPKernels.convolutionForward(
          x: x, weight: tower.w(blk.conv1.weight), out: a1, shape: c1, scratch: nil)
      }
      profile.measure("forward bias + ReLU") {
        CLIPKernels.biasActivation(
          a1, bias: tower.p(blk.conv1.beta), channels: blk.planes, plane: n * h * h, relu: true)
      }
      let c2 = convShape(blk.conv2, batch: n, side: h)
      convolution("forward", c2) {
        CLIPKernels.convolutionForward(
          x: a1, weight: tower.w(blk.conv2.weight), out: a2, shape: c2, scratch: buf(columns),
          profile: profile)
      }
      profile.measure("forward bias + ReLU") {
        CLIPKernels.biasActivation(
          a2, bias: tower.p(blk.conv2.beta), channels: blk.planes, plane: n * h * h, relu: true)
      }
      var main = UnsafePointer(a2)  // (p, N, Ho, Ho)
      if blk.stride > 1 {
        profile.measure("forward average pool") {
          CLIPKernels.averagePoolForward(
            x: a2, out: buf(t1), planes: blk.planes * n, height: h, width: h, factor: blk.stride)
        }
        main = UnsafePointer(buf(t1))
      }
      if let d = blk.downsample {
        var px = UnsafePointer(x)  // (Cin, N, Ho, Ho)
        if blk.stride > 1 {
          profile.measure("forward average pool") {
            CLIPKernels.averagePoolForward(
              x: x, out: buf(t2), planes: blk.inChannels * n, height: h, width: h,
              factor: blk.stride)
          }
          px = UnsafePointer(buf(t2))
        }
        let cd = convShape(d, batch: n, side: ho)
        convolution("forward", cd) {
          CLIPKernels.convolutionForward(
            x: px, weight: tower.w(d.weight), out: out, shape: cd, scratch: nil)
        }
      } else {
        profile.measure("forward identity copy") {
          out.update(from: x, count: 4 * blk.planes * n * ho * ho)
        }
      }
      let c3 = convShape(blk.conv3, batch: n, side: ho)
      convolution("forward", c3) {
        CLIPKernels.convolutionForward(
          x: main, weight: tower.w(blk.conv3.weight), out: out, shape: c3, scratch: nil,
          accumulate: true)
      }
      profile.measure("forward bias + ReLU") {
        CLIPKernels.biasActivation(
          out, bias: tower.p(blk.conv3.beta), bias2: blk.downsample.map { tower.p($0.beta) },
          channels: 4 * blk.planes, plane: n * ho * ho, relu: true)
      }
      x = out
    }
    let pool = Self.poolShape(tower, batch: n)
    profile.measure("forward attention pool", flops: pool.flops) {
      CLIPKernels.attentionPoolForward(
        x: x, weights: poolWeights, out: buf(featureBuffer), tokens: buf(tokens), qkv: buf(qkv),
        probs: buf(probs), attention: buf(attention), shape: pool)
    }
  }

  /// Times a convolution under its kind (kernel side, stem or not) when profiling.
  private func convolution(
    _ phase: String, _ shape: ConvolutionShape, _ tag: String = "", _ body: () -> Void
  ) {
    profile.measure(
      "\(phase) conv \(shape.kernel)×\(shape.kernel)\(tag) \(shape.inChannels)→\(shape.outChannels)"
        + " @\(shape.height)" + (shape.stride > 1 ? "/\(shape.stride)" : ""),
      flops: shape.flops, body)
  }

  // MARK: Backward

  /// The backward pass on raw memory: dFeatures (N, E) → dPixels (N, 3, S, S), overwritten.
  public func backward(dFeatures: UnsafePointer<Float>, dPixels: UnsafeMutablePointer<Float>) {
    let n = batch
    precondition(n > 0, "ResNetEncoder.backward before forward")
    let tower = self.tower
    var g = buf(gA)  // gradient at the current block's output
    var gIn = buf(gB)  // gradient at its input
    let pool = Self.poolShape(tower, batch: n)
    profile.measure("backward attention pool", flops: pool.flops) {
      CLIPKernels.attentionPoolBackward(
        dOut: dFeatures, weights: poolWeights, qkv: buf(qkv), probs: buf(probs), dX: g,
        scratch: buf(poolScratch), shape: pool)
    }
    for (i, blk) in tower.blocks.enumerated().reversed() {
      let L = blockBuffers[i]
      let h = L.height
      let ho = h / blk.stride
      let p = blk.planes
      profile.measure("backward ReLU mask") {
        CLIPKernels.reluBackward(output: buf(L.out), gradient: g, count: 4 * p * n * ho * ho)
      }
      // Identity or downsample path → gIn (Cin, N, H, H), overwritten.
      if let d = blk.downsample {
        let target = blk.stride > 1 ? buf(t1) : gIn  // (Cin, N, Ho, Ho)
        let cd = convShape(d, batch: n, side: ho)
        convolution("backward", cd) {
          CLIPKernels.convolutionBackward(
            dOut: g, weight: tower.w(d.weight), dX: target, shape: cd, scratch: nil)
        }
        if blk.stride > 1 {
          profile.measure("backward average pool") {
            CLIPKernels.averagePoolBackward(
              dOut: buf(t1), dX: gIn, planes: blk.inChannels * n, height: h, width: h,
              factor: blk.stride)
          }
        }
      } else {
        profile.measure("backward identity copy") {
          gIn.update(from: g, count: 4 * p * n * h * h)
        }
      }
      // Main path: conv3ᵀ, pool, ReLU, conv2ᵀ, ReLU, conv1ᵀ (accumulated into gIn).
      let dA2 = buf(t2)  // (p, N, H, H)
      let c3 = convShape(blk.conv3, batch: n, side: ho)
      convolution("backward", c3) {
        CLIPKernels.convolutionBackward(
          dOut: g, weight: tower.w(blk.conv3.weight), dX: blk.stride > 1 ? buf(t1) : dA2,
          shape: c3, scratch: nil)
      }
      if blk.stride > 1 {
        profile.measure("backward average pool") {
          CLIPKernels.averagePoolBackward(
            dOut: buf(t1), dX: dA2, planes: p * n, height: h, width: h, factor: blk.stride)
        }
      }
      profile.measure("backward ReLU mask") {
        CLIPKernels.reluBackward(output: buf(L.a2), gradient: dA2, count: p * n * h * h)
      }
      let dA1 = buf(t3)  // (p, N, H, H)
      let c2 = convShape(blk.conv2, batch: n, side: h)
      convolution("backward", c2) {
        CLIPKernels.convolutionBackward(
          dOut: dA2, weight: tower.w(blk.conv2.weight), dX: dA1, shape: c2,
          scratch: buf(columns), profile: profile)
      }
      profile.measure("backward ReLU mask") {
        CLIPKernels.reluBackward(output: buf(L.a1), gradient: dA1, count: p * n * h * h)
      }
      let c1 = convShape(blk.conv1, batch: n, side: h)
      convolution("backward", c1) {
        CLIPKernels.convolutionBackward(
          dOut: dA1, weight: tower.w(blk.conv1.weight), dX: gIn, shape: c1, scratch: nil,
          accumulate: true)
      }
      swap(&g, &gIn)
    }
    // Stem, backwards: pool, then three (ReLU, conv) pairs; the last lands in gIn (3, N, S, S).
    let (s, w) = (size, stemWidth)
    let s2 = s / 2
    let gOut = g
    profile.measure("backward average pool") {
      CLIPKernels.averagePoolBackward(
        dOut: gOut, dX: buf(t1), planes: w * n, height: s2, width: s2, factor: 2)
    }
    let stemIO = [(stem1, t3, gIn, s, 2), (stem2, t2, buf(t3), s2, 1), (stem3, t1, buf(t2), s2, 1)]
    for i in stride(from: 2, through: 0, by: -1) {
      let (saved, dOut, dX, side, stride) = stemIO[i]
      let u = tower.stem[i]
      let shape = convShape(u, batch: n, side: side, stride: stride)
      profile.measure("backward ReLU mask") {
        CLIPKernels.reluBackward(
          output: buf(saved), gradient: buf(dOut), count: shape.outputCount)
      }
      convolution("backward", shape, i == 0 ? " stem K=27" : " stem") {
        CLIPKernels.convolutionBackward(
          dOut: buf(dOut), weight: tower.w(u.weight), dX: dX, shape: shape,
          scratch: buf(columns), profile: profile)
      }
    }
    let d0 = UnsafePointer(gIn)
    profile.measure("backward layout + normalise") {
      CLIPImageNormalization.channelMajorBackward(
        d0, into: dPixels, count: n, size: s, normalizes: normalizesInput)
    }
  }

  // MARK: Inspection

  /// Features (N, E) of the last forward pass.
  public var features: Tensor { arena.tensor(featureBuffer, [batch, e]) }
  /// The input side S.
  public var imageSize: Int { size }
  /// The feature width E.
  public var embedDimension: Int { e }

  /// The last stage's output (N, C, h, w) in PyTorch's layout: the attention pool's input.
  public var featureMap: Tensor {
    let c = tower.shape.featureWidth
    let p = grid * grid
    let n = batch
    let src = buf(blockBuffers[blockBuffers.count - 1].out)  // (C, N, P)
    var out = [Float](repeating: 0, count: n * c * p)
    for ch in 0..<c {
      for b in 0..<n {
        for j in 0..<p { out[(b * c + ch) * p + j] = src[(ch * n + b) * p + j] }
      }
    }
    return Tensor(shape: [n, c, grid, grid], scalars: out)
  }
}
