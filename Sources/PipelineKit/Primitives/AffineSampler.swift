#if canImport(Glibc)
  import Glibc
#else
  import Foundation
#endif

/// An affine map of the continuous image plane: (x, y) ↦ (a·x + b·y + c, d·x + e·y + f).
///
/// Coordinates are those of as CLIPig: the origin is the top-left *edge* of the image, x grows to
/// the right, y downwards, and pixel (i, j) has its centre at (i + 0.5, j + 0.5). Samplers use it
/// "backwards": it maps an output pixel centre to the source point it reads.
public struct Affine2D: Sendable, Equatable {
  /// x' = a·x + b·y + c.
  public var a: Double, b: Double, c: Double
  /// y' = d·x + e·y + f.
  public var d: Double, e: Double, f: Double

  /// The map with the given coefficients.
  public init(a: Double, b: Double, c: Double, d: Double, e: Double, f: Double) {
    self.a = a
    self.b = b
    self.c = c
    self.d = d
    self.e = e
    self.f = f
  }

  /// The identity.
  public static let identity = Affine2D(a: 1, b: 0, c: 0, d: 0, e: 1, f: 0)

  /// The source-from-output map of a rotation of the *content* by `degrees` counter-clockwise on
  /// screen about (centerX, centerY): s = c + R·(p − c), R = [[cos θ, −sin θ], [sin θ, cos θ]].
  public static func rotation(degrees: Double, centerX: Double, centerY: Double) -> Affine2D {
    let theta = degrees * Double.pi / 180
    let cs = cos(theta)
    let sn = sin(theta)
    return Affine2D(
      a: cs, b: -sn, c: centerX - cs * centerX + sn * centerY,
      d: sn, e: cs, f: centerY - sn * centerX - cs * centerY)
  }

  /// The source-from-output map of a zoom of the content by `factor` about (centerX, centerY):
  /// s = c + (p − c) / factor (factor > 1 enlarges).
  public static func scaling(_ factor: Double, centerX: Double, centerY: Double) -> Affine2D {
    let k = 1 / factor
    return Affine2D(a: k, b: 0, c: centerX - k * centerX, d: 0, e: k, f: centerY - k * centerY)
  }

  /// The source-from-output map of moving the content by (x, y): s = p − (x, y).
  public static func translation(x: Double, y: Double) -> Affine2D {
    Affine2D(a: 1, b: 0, c: -x, d: 0, e: 1, f: -y)
  }

  /// The image of the point (x, y).
  public func callAsFunction(_ x: Double, _ y: Double) -> (x: Double, y: Double) {
    (a * x + b * y + c, d * x + e * y + f)
  }

  /// True when x' depends only on x and y' only on y (scales and translations).
  public var isAxisAligned: Bool { b == 0 && d == 0 }
}

/// Nearest-neighbour sampling through an affine map (torchvision's `NEAREST` rotate/affine):
/// output pixel centre p reads the input pixel with index round-half-even(M·p − 0.5) per axis,
/// or 0 when that index lies outside the input (or, on a torus, the index modulo the size).
///
/// Linear in the image: `apply` is a gather and `adjoint` its exact transpose (a scatter-add), so
/// the gradient flows only to the pixels that were read. Axis-aligned maps (scale, translate)
/// produce a separable `IndexMap`.
public struct AffineSampler: Sendable, Equatable {
  /// The gather this sampler performs.
  public let map: IndexMap

  /// A sampler reading an `inputHeight × inputWidth` image through `sourceFromOutput` into an
  /// `outputHeight × outputWidth` one (the same size unless given). With `wrap` the input is a
  /// torus: a source index outside it is taken modulo the size instead of reading zero (only a
  /// non-finite coordinate reads zero).
  public init(
    sourceFromOutput m: Affine2D, inputHeight: Int, inputWidth: Int, outputHeight: Int? = nil,
    outputWidth: Int? = nil, wrap: Bool = false
  ) {
    let h = inputHeight
    let w = inputWidth
    let oh = outputHeight ?? h
    let ow = outputWidth ?? w
    if wrap {
      map = Self.wrapped(m, height: h, width: w, outputHeight: oh, outputWidth: ow)
      return
    }
    if m.isAxisAligned {
      let columns = (0..<ow).map { i in Self.nearest(m.a * (Double(i) + 0.5) + m.c, count: w) }
      let rows = (0..<oh).map { j in Self.nearest(m.e * (Double(j) + 0.5) + m.f, count: h) }
      map = IndexMap(rows: rows, columns: columns, inputHeight: h, inputWidth: w)
      return
    }
    let finite = [m.a, m.b, m.c, m.d, m.e, m.f].allSatisfy(\.isFinite)
    let indices = [Int32](unsafeUninitializedCapacity: oh * ow) { out, initialized in  // (OH, OW)
      initialized = oh * ow
      guard let base = out.baseAddress else { return }
      guard finite else {
        out.initialize(repeating: IndexMap.none)
        return
      }
      // Rows are independent: split them over the cores for large images.
      let blocks = oh * ow >= 32_768 ? min(oh, 8) : 1
      let rows = UncheckedSendableBox(base)
      parallelFor(blocks) { block in
        for j in (block * oh / blocks)..<((block + 1) * oh / blocks) {
          Self.denseRow(m, y: j, into: rows.value + j * ow, count: ow, height: h, width: w)
        }
      }
    }
    // Every index is `none` or inside the input by construction.
    map = IndexMap(
      trustedIndices: indices, outputHeight: oh, outputWidth: ow, inputHeight: h, inputWidth: w)
  }

  /// Fills one output row of a dense map: the flat source index of each pixel, or `none`.
  /// Equals `nearest` on each axis. Branch-free per pixel: when both source coordinates stay
  /// within ±2³⁰ along the whole row (they are monotonic in the column, so the ends decide),
  /// adding 1.5·2⁵² rounds half to even and the low 32 bits of the sum are the index; otherwise
  /// the coordinates are first clamped to a range where that holds.
  @inline(__always)
  static func denseRow(
    _ m: Affine2D, y j: Int, into row: UnsafeMutablePointer<Int32>, count: Int, height h: Int,
    width w: Int
  ) {
    guard count > 0 else { return }
    let py = Double(j) + 0.5
    let bx = m.b * py + m.c
    let by = m.e * py + m.f
    let uw = UInt32(truncatingIfNeeded: w)
    let uh = UInt32(truncatingIfNeeded: h)
    let w32 = Int32(truncatingIfNeeded: w)
    @inline(__always) func index(_ u: Double, _ v: Double) -> Int32 {
      let ix = Int32(truncatingIfNeeded: (u + 0x1.8p52).bitPattern)
      let iy = Int32(truncatingIfNeeded: (v + 0x1.8p52).bitPattern)
      let inside = (UInt32(bitPattern: ix) < uw) && (UInt32(bitPattern: iy) < uh)
      return inside ? iy &* w32 &+ ix : IndexMap.none
    }
    let last = Double(count - 1) + 0.5
    let bound = 0x1p30
    if abs((m.a * 0.5 + bx) - 0.5) < bound && abs((m.a * last + bx) - 0.5) < bound
      && abs((m.d * 0.5 + by) - 0.5) < bound && abs((m.d * last + by) - 0.5) < bound
    {
      for i in 0..<count {
        let px = Double(i) + 0.5
        row[i] = index((m.a * px + bx) - 0.5, (m.d * px + by) - 0.5)
      }
    } else {
      // Clamping keeps every coordinate that rounds inside and moves the others to −2 or
      // size + 1, which stay outside.
      let hiX = Double(w) + 1
      let hiY = Double(h) + 1
      for i in 0..<count {
        let px = Double(i) + 0.5
        row[i] = index(
          Swift.min(Swift.max((m.a * px + bx) - 0.5, -2), hiX),
          Swift.min(Swift.max((m.d * px + by) - 0.5, -2), hiY))
      }
    }
  }

  /// The map of a sampler on a torus: each output pixel reads the pixel nearest to its source
  /// point, both indices taken modulo the size (separable for axis-aligned maps).
  static func wrapped(
    _ m: Affine2D, height h: Int, width w: Int, outputHeight oh: Int, outputWidth ow: Int
  ) -> IndexMap {
    if m.isAxisAligned {
      let columns = (0..<ow).map { i in Self.nearestWrapped(m.a * (Double(i) + 0.5) + m.c, count: w)
      }
      let rows = (0..<oh).map { j in Self.nearestWrapped(m.e * (Double(j) + 0.5) + m.f, count: h) }
      return IndexMap(rows: rows, columns: columns, inputHeight: h, inputWidth: w)
    }
    var indices = [Int32](repeating: IndexMap.none, count: oh * ow)  // (OH, OW)
    for j in 0..<oh {
      let py = Double(j) + 0.5
      for i in 0..<ow {
        let px = Double(i) + 0.5
        let (sx, sy) = m(px, py)
        let c = nearestWrapped(sx, count: w)
        let r = nearestWrapped(sy, count: h)
        if c != IndexMap.none && r != IndexMap.none { indices[j * ow + i] = r * Int32(w) + c }
      }
    }
    return IndexMap(
      trustedIndices: indices, outputHeight: oh, outputWidth: ow, inputHeight: h, inputWidth: w)
  }

  /// The pixel index nearest to continuous coordinate `s` (round half to even of s − 0.5)
  /// modulo `count`, or `IndexMap.none` for a non-finite `s`.
  @inline(__always)
  static func nearestWrapped(_ s: Double, count: Int) -> Int32 {
    let u = s - 0.5
    guard u.isFinite else { return IndexMap.none }
    let r = u.rounded(.toNearestOrEven)
    // The remainder of a finite double is exact, and lies in (−count, count).
    var k = r.truncatingRemainder(dividingBy: Double(count))
    if k < 0 { k += Double(count) }
    return Int32(min(Int(k), count - 1))
  }

  /// The pixel index nearest to continuous coordinate `s` (round half to even of s − 0.5), or
  /// `IndexMap.none` outside 0..<count (also for NaN).
  @inline(__always)
  static func nearest(_ s: Double, count: Int) -> Int32 {
    let u = s - 0.5
    // Outside (−1, count) no rounding lands inside; NaN fails the test too.
    guard u > -1 && u < Double(count) else { return IndexMap.none }
    // Adding and subtracting 1.5·2^52 rounds to an integer, ties to even (IEEE arithmetic).
    let r = (u + 0x1.8p52) - 0x1.8p52
    return r >= 0 && r < Double(count) ? Int32(r) : IndexMap.none
  }

  /// Samples every plane of `[C,H,W]` or `[N,C,H,W]` (zero outside).
  public func apply(_ x: Tensor) -> Tensor { map.gather(x) }

  /// The transpose of `apply`.
  public func adjoint(_ dy: Tensor) -> Tensor { map.scatterAdd(dy) }
}
