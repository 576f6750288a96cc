import PipelineKit

// Winograd's minimal filtering F(4×4, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015) for the stride-1, padding-1 3×3 convolutions of the ResNet towers:
// each 4×4 block of outputs of one (output, input) channel pair costs 36 multiplications
// instead of 144, so the GEMMs do a quarter of the direct convolution's work.
//
//   U = G g Gᵀ (6×6 per channel pair)  V = Bᵀ d B (6×6 per input tile)  Y = Aᵀ [U ⊙ V] A (4×4)
//
// with the interpolation points 0, ±1, ±2 and ∞:
//
//   Bᵀ = [4  0 −5  0  1  0]   G = [  1/4     0     0]   Aᵀ = [1 1  1 1  1 0]
//        [0 −4 −4  1  1  0]       [ −1/6  −1/6  −1/6]        [0 1 −1 2 −2 0]
//        [0  4 −4 −1  1  0]       [ −1/6   1/6  −1/6]        [0 1  1 4  4 0]
//        [0 −2 −1  2  1  0]       [ 1/24  1/12   1/6]        [0 1 −1 8 −8 1]
//        [0  2 −1 −2  1  0]       [ 1/24 −1/12   1/6]
//        [0  4  0 −5  0  1]       [    0     0     1]
//
// d is the 6×6 input patch of a tile (overlapping its neighbours by 2); the sum over input
// channels of U ⊙ V, elementwise at each of the 36 positions ξ, is one GEMM per ξ:
// M[ξ] (Cout, T) = U[ξ] (Cout, Cin) · V[ξ] (Cin, T) over T tiles.
//
// The input gradient of such a convolution is itself one (dX = the flipped kernel with its
// channels swapped, correlated with dOut, padding 1), so the backward runs the same code: the
// kernel transform of the flipped weights, kept in the forward's (Cout, Cin) layout and used
// transposed in the GEMMs.

/// The tiling of one convolution for `winogradConvolution`: 4×4 output tiles over (N, H, W).
struct WinogradTiling {
  /// Output tile side.
  static let tile = 4
  /// Transform positions ξ: (tile + 2)², the input patch's values.
  static let positions = 36

  /// Input and output channels of the convolution computed (the backward swaps them).
  let inChannels: Int
  let outChannels: Int
  let batch: Int
  let height: Int
  let width: Int
  /// Tiles per column and row of one image: ⌈H/4⌉, ⌈W/4⌉.
  let tilesHigh: Int
  let tilesWide: Int
  /// Tile rows (image, tile y) transformed at once: as many as fit the column limit.
  let chunkRows: Int

  init(inChannels: Int, outChannels: Int, shape s: ConvolutionShape) {
    self.inChannels = inChannels
    self.outChannels = outChannels
    batch = s.batch
    height = s.height
    width = s.width
    tilesHigh = (s.height + Self.tile - 1) / Self.tile
    tilesWide = (s.width + Self.tile - 1) / Self.tile
    let perRow = Self.positions * (inChannels + outChannels) * tilesWide  // floats of V and M
    chunkRows = max(1, min(batch * tilesHigh, s.columnLimit / max(1, perRow)))
  }

  /// Floats of scratch: U (36, Cout, Cin) (of either direction: the same size), then
  /// V (36, Cin, Tc) and M (36, Cout, Tc) for the Tc tiles of one chunk.
  var scratchCount: Int {
    let tiles = chunkRows * tilesWide
    return Self.positions
      * (Self.spaced(outChannels * inChannels) + Self.spaced(inChannels * tiles)
        + Self.spaced(outChannels * tiles))
  }

  /// The distance between consecutive ones of 36 matrices of `count` floats: a cache line
  /// more, so that the streams a transform writes do not fall into one cache set when `count`
  /// is a power of two.
  static func spaced(_ count: Int) -> Int { count + 16 }
}

extension ConvolutionShape {
  /// Whether `convolutionForward` and `convolutionBackward` use Winograd's F(4×4, 3×3): a 3×3,
  /// stride-1, padding-1 convolution under the `.automatic` algorithm.
  public var usesWinograd: Bool {
    algorithm == .automatic && kernel == 3 && stride == 1 && padding == 1
  }

  /// The Winograd tiling of the forward (`transposed` false) or of the input gradient.
  func winogradTiling(transposed: Bool) -> WinogradTiling {
    transposed
      ? WinogradTiling(inChannels: outChannels, outChannels: inChannels, shape: self)
      : WinogradTiling(inChannels: inChannels, outChannels: outChannels, shape: self)
  }
}

extension CLIPKernels {
  // MARK: Winograd F(4×4, 3×3)

  /// out (Cout', N, H, W) (+)= the correlation of x (Cin', N, H, W) with a 3×3 kernel, padding 1,
  /// by Winograd's F(4×4, 3×3). The kernel is `weight` (Cout, Cin, 3, 3) of `shape` when
  /// `transposed` is false (Cin' = Cin, Cout' = Cout: the forward); when true it is the
  /// flipped kernel with its channels swapped (Cin' = Cout, Cout' = Cin: the input gradient,
  /// with x the output gradient). `scratch` holds `shape.scratchCount` floats.
  static func winogradConvolution(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    shape s: ConvolutionShape, transposed: Bool, scratch: UnsafeMutablePointer<Float>,
    accumulate: Bool, profile: KernelProfile?, path: BF16Path? = nil
  ) {
    let t = s.winogradTiling(transposed: transposed)
    let (cin, cout) = (t.inChannels, t.outChannels)
    let positions = WinogradTiling.positions
    let u = scratch  // (36, Cout, Cin) of `weight`, flipped for the input gradient
    let uStride = WinogradTiling.spaced(cout * cin)
    profile.measure("Winograd kernel transform", part: true) {
      winogradKernelTransform(
        weight, into: u, stride: uStride, outChannels: s.outChannels, inChannels: s.inChannels,
        flipped: transposed)
    }
    let rows = t.batch * t.tilesHigh
    var r0 = 0
    while r0 < rows {
      let r1 = min(rows, r0 + t.chunkRows)
      let tiles = (r1 - r0) * t.tilesWide
      let (vStride, mStride) = (
        WinogradTiling.spaced(cin * tiles), WinogradTiling.spaced(cout * tiles)
      )
      let v = u + positions * uStride  // (36, Cin', Tc)
      let m = v + positions * vStride  // (36, Cout', Tc)
      profile.measure("Winograd input transform", part: true) {
        winogradInputTransform(x, into: v, stride: vStride, tiling: t, rows: r0..<r1)
      }
      for xi in 0..<positions {
        // Forward: M[ξ] = U[ξ] · V[ξ]; input gradient: M[ξ] = U[ξ]ᵀ · V[ξ].
        // In bf16 (`path`), U and V are rounded while packed.
        gemm(
          transA: transposed, transB: false, m: cout, n: tiles, k: cin,
          a: GEMMOperand(u + xi * uStride, path: path), lda: s.inChannels,
          b: GEMMOperand(v + xi * vStride, path: path), ldb: tiles, c: m + xi * mStride,
          ldc: tiles)
      }
      profile.measure("Winograd output transform", part: true) {
        winogradOutputTransform(
          m, stride: mStride, into: out, tiling: t, rows: r0..<r1, accumulate: accumulate)
      }
      r0 = r1
    }
  }

  /// U[ξ] = (G g Gᵀ)[ξ] for every channel pair: u (36, Cout, Cin) from weight (Cout, Cin, 3, 3),
  /// g = weight[o, c], or its flip g[2 − ky, 2 − kx] when `flipped`. U[ξ] starts at
  /// u + ξ·stride.
  static func winogradKernelTransform(
    _ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, stride: Int,
    outChannels: Int, inChannels: Int, flipped: Bool
  ) {
    let pairs = outChannels * inChannels
    let block = 64  // pairs transformed into a local (36, block) buffer, then copied out
    parallelRows((pairs + block - 1) / block, minimum: 4) { range in
      let local = UnsafeMutablePointer<Float>.allocate(capacity: 36 * block)
      defer { local.deallocate() }
      for blockIndex in range {
        let first = blockIndex * block
        let count = min(block, pairs - first)
        for k in 0..<count {
          let w = weight + (first + k) * 9  // (3, 3)
          @inline(__always) func g(_ i: Int) -> Float { flipped ? w[8 - i] : w[i] }
          // Q = G g (6, 3), one column of g at a time; then U = Q Gᵀ (6, 6), row by row.
          let q0 = interpolateKernel(g(0), g(3), g(6))
          let q1 = interpolateKernel(g(1), g(4), g(7))
          let q2 = interpolateKernel(g(2), g(5), g(8))
          @inline(__always) func store(_ i: Int, _ a: Float, _ b: Float, _ c: Float) {
            let row = interpolateKernel(a, b, c)
            let dst = local + 6 * i * block + k
            dst[0] = row.0
            dst[block] = row.1
            dst[2 * block] = row.2
            dst[3 * block] = row.3
            dst[4 * block] = row.4
            dst[5 * block] = row.5
          }
          store(0, q0.0, q1.0, q2.0)
          store(1, q0.1, q1.1, q2.1)
          store(2, q0.2, q1.2, q2.2)
          store(3, q0.3, q1.3, q2.3)
          store(4, q0.4, q1.4, q2.4)
          store(5, q0.5, q1.5, q2.5)
        }
        for xi in 0..<36 {
          (u + xi * stride + first).update(from: local + xi * block, count: count)
        }
      }
    }
  }

  /// G·(g0, g1, g2): the kernel's values at the points 0, 1, −1, 2, −2 and ∞ (scaled).
  @inline(__always)
  static func interpolateKernel(_ g0: Float, _ g1: Float, _ g2: Float) -> (
    Float, Float, Float, Float, Float, Float
  ) {
    // Multiplications by 1/6 rather than divisions (a division costs as much as the rest).
    let sixth: Float = 1.0 / 6.0
    let even = g0 + g2
    let quarterEven = 0.25 * g0 + g2
    return (
      0.25 * g0, -(even + g1) * sixth, -(even - g1) * sixth, (quarterEven + 0.5 * g1) * sixth,
      (quarterEven - 0.5 * g1) * sixth, g2
    )
  }

  /// V[ξ, c, tile] = (Bᵀ d B)[ξ] for the tiles of tile rows `rows` (each an (image, tile y)
  /// pair), d the 6×6 patch of x (Cin', N, H, W) at (4·ty − 1, 4·tx − 1), zero outside.
  /// v: (36, Cin', Tc), V[ξ] at v + ξ·stride.
  static func winogradInputTransform(
    _ x: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>, stride: Int,
    tiling t: WinogradTiling, rows: Range<Int>
  ) {
    let (h, w, tw) = (t.height, t.width, t.tilesWide)
    let tiles = rows.count * tw
    let padded = 4 * tw + 2  // a row with one zero on the left, ≥ one on the right
    parallelRows(t.inChannels, minimum: 1) { channels in
      // The six input rows of a tile row (padded), then the six rows of Bᵀ d.
      let buffer = UnsafeMutablePointer<Float>.allocate(capacity: 12 * padded)
      defer { buffer.deallocate() }
      let (d, b) = (buffer, buffer + 6 * padded)  // (6, padded) each
      for c in channels {
        for (i, r) in rows.enumerated() {
          let n = r / t.tilesHigh
          let ty = r % t.tilesHigh
          let plane = x + (c * t.batch + n) * h * w  // (H, W)
          for k in 0..<6 {
            let iy = 4 * ty - 1 + k
            let row = d + k * padded  // column j holds x[iy, j − 1]
            row.update(repeating: 0, count: padded)
            if iy >= 0 && iy < h { (row + 1).update(from: plane + iy * w, count: w) }
          }
          let (d0, d1, d2, d3, d4, d5) = (
            d, d + padded, d + 2 * padded, d + 3 * padded, d + 4 * padded, d + 5 * padded
          )
          let (b0, b1, b2, b3, b4, b5) = (
            b, b + padded, b + 2 * padded, b + 3 * padded, b + 4 * padded, b + 5 * padded
          )
          for j in 0..<padded {
            let (s1, s2, s3, s4) = (d1[j], d2[j], d3[j], d4[j])
            b0[j] = 4 * d0[j] - 5 * s2 + s4
            b1[j] = -4 * (s1 + s2) + s3 + s4
            b2[j] = 4 * (s1 - s2) - s3 + s4
            b3[j] = 2 * (s3 - s1) - s2 + s4
            b4[j] = 2 * (s1 - s3) - s2 + s4
            b5[j] = 4 * s1 - 5 * s3 + d5[j]
          }
          // (Bᵀ d) B, one of the 36 matrices at a time (one output stream per pass).
          let base = v + c * tiles + i * tw  // (tw) in each of the 36 matrices
          for k in 0..<6 {
            let p = UnsafePointer(b + k * padded)
            let dst = base + 6 * k * stride
            for tx in 0..<tw { dst[tx] = 4 * p[4 * tx] - 5 * p[4 * tx + 2] + p[4 * tx + 4] }
            let d1 = dst + stride
            for tx in 0..<tw {
              d1[tx] = -4 * (p[4 * tx + 1] + p[4 * tx + 2]) + p[4 * tx + 3] + p[4 * tx + 4]
            }
            let d2 = dst + 2 * stride
            for tx in 0..<tw {
              d2[tx] = 4 * (p[4 * tx + 1] - p[4 * tx + 2]) - p[4 * tx + 3] + p[4 * tx + 4]
            }
            let d3 = dst + 3 * stride
            for tx in 0..<tw {
              d3[tx] = 2 * (p[4 * tx + 3] - p[4 * tx + 1]) - p[4 * tx + 2] + p[4 * tx + 4]
            }
            let d4 = dst + 4 * stride
            for tx in 0..<tw {
              d4[tx] = 2 * (p[4 * tx + 1] - p[4 * tx + 3]) - p[4 * tx + 2] + p[4 * tx + 4]
            }
            let d5 = dst + 5 * stride
            for tx in 0..<tw { d5[tx] = 4 * p[4 * tx + 1] - 5 * p[4 * tx + 3] + p[4 * tx + 5] }
          }
        }
      }
    }
  }

  /// out (Cout', N, H, W) (+)= Aᵀ M A for the tiles of tile rows `rows`, from m (36, Cout', Tc)
  /// with M[ξ] at m + ξ·stride. A tile's rows and columns past the image's edge are dropped.
  static func winogradOutputTransform(
    _ m: UnsafePointer<Float>, stride: Int, into out: UnsafeMutablePointer<Float>,
    tiling t: WinogradTiling, rows: Range<Int>, accumulate: Bool
  ) {
    let (h, w, tw) = (t.height, t.width, t.tilesWide)
    let tiles = rows.count * tw
    parallelRows(t.outChannels, minimum: 1) { channels in
      // Aᵀ M: (4, 6, tw).
      let s = UnsafeMutablePointer<Float>.allocate(capacity: 24 * tw)
      defer { s.deallocate() }
      for o in channels {
        for (i, r) in rows.enumerated() {
          let n = r / t.tilesHigh
          let ty = r % t.tilesHigh
          let base = m + o * tiles + i * tw  // (tw) in each of the 36 matrices
          for j in 0..<6 {
            let (m0, m1, m2, m3, m4, m5) = (
              base + j * stride, base + (6 + j) * stride, base + (12 + j) * stride,
              base + (18 + j) * stride, base + (24 + j) * stride, base + (30 + j) * stride
            )
            let (s0, s1, s2, s3) = (
              s + j * tw, s + (6 + j) * tw, s + (12 + j) * tw, s + (18 + j) * tw
            )
            for tx in 0..<tw {
              let (a, b) = (m1[tx] + m2[tx], m1[tx] - m2[tx])
              let (c, e) = (m3[tx] + m4[tx], m3[tx] - m4[tx])
              s0[tx] = m0[tx] + a + c
              s1[tx] = b + 2 * e
              s2[tx] = a + 4 * c
              s3[tx] = b + 8 * e + m5[tx]
            }
          }
          let plane = out + (o * t.batch + n) * h * w  // (H, W)
          for k in 0..<4 {
            let oy = 4 * ty + k
            if oy >= h { break }
            let row = plane + oy * w  // (W)
            let sk = s + 6 * k * tw  // (6, tw)
            for tx in 0..<tw {
              let (q0, q1, q2) = (sk[tx], sk[tw + tx], sk[2 * tw + tx])
              let (q3, q4, q5) = (sk[3 * tw + tx], sk[4 * tw + tx], sk[5 * tw + tx])
              let (a, b) = (q1 + q2, q1 - q2)
              let (c, e) = (q3 + q4, q3 - q4)
              let y = (q0 + a + c, b + 2 * e, a + 4 * c, b + 8 * e + q5)
              let x0 = 4 * tx
              let count = min(4, w - x0)
              let dst = row + x0
              if accumulate {
                dst[0] += y.0
                if count > 1 { dst[1] += y.1 }
                if count > 2 { dst[2] += y.2 }
                if count > 3 { dst[3] += y.3 }
              } else {
                dst[0] = y.0
                if count > 1 { dst[1] = y.1 }
                if count > 2 { dst[2] = y.2 }
                if count > 3 { dst[3] = y.3 }
              }
            }
          }
        }
      }
    }
  }
}
