import PipelineKit

// Winograd's minimal filtering F(2×2, 3×3) (Lavin & Gray, "Fast Algorithms for Convolutional
// Neural Networks", 2015) for the stride-1, padding-1 3×3 convolutions of the ResNet towers:
// each 2×2 block of outputs of one (output, input) channel pair costs 16 multiplications
// instead of 36, so the GEMMs do 4/9 of the direct convolution's work.
//
//   U = G g Gᵀ (4×4 per channel pair)  V = Bᵀ d B (4×4 per input tile)  Y = Aᵀ [U ⊙ V] A (2×2)
//
// where d is the 4×4 input patch of a tile (overlapping its neighbours by 2) and the sum over
// input channels of U ⊙ V, elementwise at each of the 16 positions ξ, is one GEMM per ξ:
// M[ξ] (Cout, T) = U[ξ] (Cout, Cin) · V[ξ] (Cin, T) over T tiles.
//
// The input gradient of such a convolution is itself one (dX = the flipped kernel with its
// channels swapped, correlated with dOut, padding 1), so the backward runs the same code. Its
// kernel transform is the forward's: the flipped kernel's U is the forward's with rows and
// columns 0 and 3 swapped, and the swapped channels make the GEMMs use it transposed.

/// The tiling of one convolution for `winogradConvolution`: 2×2 output tiles over (N, H, W).
struct WinogradTiling {
  /// Input and output channels of the convolution computed (the backward swaps them).
  let inChannels: Int
  let outChannels: Int
  let batch: Int
  let height: Int
  let width: Int
  /// Tiles per column and row of one image: ⌈H/2⌉, ⌈W/2⌉.
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
    tilesHigh = (s.height + 1) / 2
    tilesWide = (s.width + 1) / 2
    let perRow = 16 * (inChannels + outChannels) * tilesWide  // floats of V and M
    chunkRows = max(1, min(batch * tilesHigh, s.columnLimit / max(1, perRow)))
  }

  /// Floats of scratch: U (16, Cout, Cin) (of either direction: the same size), then V (16, Cin, Tc) and M (16, Cout, Tc) for the
  /// Tc tiles of one chunk.
  var scratchCount: Int {
    let tiles = chunkRows * tilesWide
    return 16
      * (Self.spaced(outChannels * inChannels) + Self.spaced(inChannels * tiles)
        + Self.spaced(outChannels * tiles))
  }

  /// The distance between consecutive ones of 16 matrices of `count` floats: a cache line
  /// more, so that the 16 streams a transform writes do not fall into one cache set when
  /// `count` is a power of two.
  static func spaced(_ count: Int) -> Int { count + 16 }
}

extension ConvolutionShape {
  /// Whether `convolutionForward` and `convolutionBackward` use Winograd's F(2×2, 3×3): a 3×3,
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
  // MARK: Winograd F(2×2, 3×3)

  /// out (Cout', N, H, W) (+)= the correlation of x (Cin', N, H, W) with a 3×3 kernel, padding 1,
  /// by Winograd's F(2×2, 3×3). The kernel is `weight` (Cout, Cin, 3, 3) of `shape` when
  /// `transposed` is false (Cin' = Cin, Cout' = Cout: the forward); when true it is the
  /// flipped kernel with its channels swapped (Cin' = Cout, Cout' = Cin: the input gradient,
  /// with x the output gradient). `scratch` holds `shape.scratchCount` floats.
  static func winogradConvolution(
    x: UnsafePointer<Float>, weight: UnsafePointer<Float>, out: UnsafeMutablePointer<Float>,
    shape s: ConvolutionShape, transposed: Bool, scratch: UnsafeMutablePointer<Float>,
    accumulate: Bool, profile: KernelProfile?
  ) {
    let t = s.winogradTiling(transposed: transposed)
    let (cin, cout) = (t.inChannels, t.outChannels)
    let u = scratch  // (16, Cout, Cin) of `weight`, both directions
    let uStride = WinogradTiling.spaced(cout * cin)
    profile.measure("Winograd kernel transform", part: true) {
      winogradKernelTransform(
        weight, into: u, stride: uStride, outChannels: s.outChannels, inChannels: s.inChannels)
    }
    let rows = t.batch * t.tilesHigh
    var r0 = 0
    while r0 < rows {
      let r1 = min(rows, r0 + t.chunkRows)
      let tiles = (r1 - r0) * t.tilesWide
      let (vStride, mStride) = (
        WinogradTiling.spaced(cin * tiles), WinogradTiling.spaced(cout * tiles)
      )
      let v = u + 16 * uStride  // (16, Cin', Tc)
      let m = v + 16 * vStride  // (16, Cout', Tc)
      profile.measure("Winograd input transform", part: true) {
        winogradInputTransform(x, into: v, stride: vStride, tiling: t, rows: r0..<r1)
      }
      for xi in 0..<16 {
        // Forward: M[ξ] = U[ξ] · V[ξ]; input gradient: M[ξ] = U[flipped ξ]ᵀ · V[ξ].
        let a = u + (transposed ? winogradFlipped(xi) : xi) * uStride  // (Cout, Cin)
        BLAS.sgemm(
          transA: transposed, transB: false, m: cout, n: tiles, k: cin, a: a,
          lda: s.inChannels, b: v + xi * vStride, ldb: tiles, c: m + xi * mStride, ldc: tiles)
      }
      profile.measure("Winograd output transform", part: true) {
        winogradOutputTransform(
          m, stride: mStride, into: out, tiling: t, rows: r0..<r1, accumulate: accumulate)
      }
      r0 = r1
    }
  }

  /// U[ξ] = (G g Gᵀ)[ξ] for every channel pair: u (16, Cout, Cin) from weight (Cout, Cin, 3, 3),
  /// g = weight[o, c]; G = [1 0 0; ½ ½ ½; ½ −½ ½; 0 0 1]. U[ξ] starts at u + ξ·stride.
  static func winogradKernelTransform(
    _ weight: UnsafePointer<Float>, into u: UnsafeMutablePointer<Float>, stride: Int,
    outChannels: Int, inChannels: Int
  ) {
    let pairs = outChannels * inChannels
    parallelRows(pairs, minimum: 256) { range in
      for at in range {
        let g = weight + at * 9  // (3, 3)
        // Q = G g (4, 3), row by row, then U = Q Gᵀ (4, 4).
        func row(_ a: Float, _ b: Float, _ c: Float, _ i: Int) {
          let dst = u + 4 * i * stride + at
          dst[0] = a
          dst[stride] = 0.5 * (a + b + c)
          dst[2 * stride] = 0.5 * (a - b + c)
          dst[3 * stride] = c
        }
        let (g00, g01, g02) = (g[0], g[1], g[2])
        let (g10, g11, g12) = (g[3], g[4], g[5])
        let (g20, g21, g22) = (g[6], g[7], g[8])
        row(g00, g01, g02, 0)
        row(
          0.5 * (g00 + g10 + g20), 0.5 * (g01 + g11 + g21), 0.5 * (g02 + g12 + g22), 1)
        row(
          0.5 * (g00 - g10 + g20), 0.5 * (g01 - g11 + g21), 0.5 * (g02 - g12 + g22), 2)
        row(g20, g21, g22, 3)
      }
    }
  }

  /// The position of the flipped kernel's transform: G·flip(g)·Gᵀ = P (G g Gᵀ) P with P the
  /// permutation swapping rows (and columns) 0 and 3, because G·J = P·G for the 3×3 reversal J.
  @inline(__always)
  static func winogradFlipped(_ xi: Int) -> Int {
    func swap03(_ i: Int) -> Int { i == 0 ? 3 : i == 3 ? 0 : i }
    return 4 * swap03(xi / 4) + swap03(xi % 4)
  }

  /// V[ξ, c, tile] = (Bᵀ d B)[ξ] for the tiles of tile rows `rows` (each an (image, tile y)
  /// pair), d the 4×4 patch of x (Cin', N, H, W) at (2·ty − 1, 2·tx − 1), zero outside.
  /// Bᵀ = [1 0 −1 0; 0 1 1 0; 0 −1 1 0; 0 1 0 −1]. v: (16, Cin', Tc), V[ξ] at v + ξ·stride.
  static func winogradInputTransform(
    _ x: UnsafePointer<Float>, into v: UnsafeMutablePointer<Float>, stride: Int,
    tiling t: WinogradTiling, rows: Range<Int>
  ) {
    let (h, w, tw) = (t.height, t.width, t.tilesWide)
    let tiles = rows.count * tw
    let padded = 2 * tw + 2  // a row with one zero on the left, ≥ one on the right
    parallelFor(t.inChannels) { c in
      // Bᵀ d for one tile row: four combined rows of the padded input, (4, padded).
      var comb = [Float](repeating: 0, count: 4 * padded)
      var d = [Float](repeating: 0, count: 4 * padded)
      comb.withUnsafeMutableBufferPointer { cb in
        d.withUnsafeMutableBufferPointer { db in
          let cp = cb.baseAddress!
          let dp = db.baseAddress!
          for (i, r) in rows.enumerated() {
            let n = r / t.tilesHigh
            let ty = r % t.tilesHigh
            let plane = x + (c * t.batch + n) * h * w  // (H, W)
            for k in 0..<4 {
              let iy = 2 * ty - 1 + k
              let row = dp + k * padded  // (padded): column j holds x[iy, j − 1]
              row.update(repeating: 0, count: padded)
              if iy >= 0 && iy < h { (row + 1).update(from: plane + iy * w, count: w) }
            }
            let (d0, d1, d2, d3) = (dp, dp + padded, dp + 2 * padded, dp + 3 * padded)
            let (b0, b1, b2, b3) = (cp, cp + padded, cp + 2 * padded, cp + 3 * padded)
            for j in 0..<padded {
              b0[j] = d0[j] - d2[j]
              b1[j] = d1[j] + d2[j]
              b2[j] = d2[j] - d1[j]
              b3[j] = d1[j] - d3[j]
            }
            let base = v + c * tiles + i * tw  // (tw) in each of the 16 matrices
            for k in 0..<4 {
              let b = cp + k * padded
              let dst = base + 4 * k * stride
              for tx in 0..<tw {
                let p = b + 2 * tx
                dst[tx] = p[0] - p[2]
                dst[stride + tx] = p[1] + p[2]
                dst[2 * stride + tx] = p[2] - p[1]
                dst[3 * stride + tx] = p[1] - p[3]
              }
            }
          }
        }
      }
    }
  }

  /// out (Cout', N, H, W) (+)= Aᵀ M A for the tiles of tile rows `rows`, from m (16, Cout', Tc)
  /// with M[ξ] at m + ξ·stride; Aᵀ = [1 1 1 0; 0 1 −1 −1]. A tile's second row or column is
  /// dropped past an odd edge.
  static func winogradOutputTransform(
    _ m: UnsafePointer<Float>, stride: Int, into out: UnsafeMutablePointer<Float>,
    tiling t: WinogradTiling, rows: Range<Int>, accumulate: Bool
  ) {
    let (h, w, tw) = (t.height, t.width, t.tilesWide)
    let tiles = rows.count * tw
    parallelFor(t.outChannels) { o in
      var s = [Float](repeating: 0, count: 8 * tw)  // Aᵀ M: (2, 4, tw)
      s.withUnsafeMutableBufferPointer { sb in
        let sp = sb.baseAddress!
        for (i, r) in rows.enumerated() {
          let n = r / t.tilesHigh
          let ty = r % t.tilesHigh
          let base = m + o * tiles + i * tw  // (tw) in each of the 16 matrices
          for j in 0..<4 {
            let (m0, m1, m2, m3) = (
              base + j * stride, base + (4 + j) * stride, base + (8 + j) * stride,
              base + (12 + j) * stride
            )
            let (s0, s1) = (sp + j * tw, sp + (4 + j) * tw)
            for tx in 0..<tw {
              s0[tx] = m0[tx] + m1[tx] + m2[tx]
              s1[tx] = m1[tx] - m2[tx] - m3[tx]
            }
          }
          let plane = out + (o * t.batch + n) * h * w  // (H, W)
          for k in 0..<2 {
            let y = 2 * ty + k
            if y >= h { break }
            let row = plane + y * w  // (W)
            let (a0, a1, a2, a3) = (
              sp + 4 * k * tw, sp + (4 * k + 1) * tw, sp + (4 * k + 2) * tw,
              sp + (4 * k + 3) * tw
            )
            for tx in 0..<tw {
              let x0 = 2 * tx
              let y0 = a0[tx] + a1[tx] + a2[tx]
              let y1 = a1[tx] - a2[tx] - a3[tx]
              if accumulate {
                row[x0] += y0
                if x0 + 1 < w { row[x0 + 1] += y1 }
              } else {
                row[x0] = y0
                if x0 + 1 < w { row[x0 + 1] = y1 }
              }
            }
          }
        }
      }
    }
  }
}
