/// A gather between images: every output pixel copies one input pixel of the same plane, or
/// takes its channel's fill value.
///
/// Pad, crop, shift, repeat, border and nearest-neighbour affine sampling are all gathers. Applied
/// to the input it is affine (linear when the fill is 0); its adjoint, `scatterAdd`, adds each
/// output cotangent onto the pixel it was copied from (fill pixels receive nothing).
///
/// A map is *separable* when output (y, x) reads input (rows[y], columns[x]) — crops, pads, shifts,
/// tiles, borders, axis-aligned scales — or *dense* with one source index per output pixel
/// (rotations). Both are built once per call and shared by all planes and by the pullback.
public struct IndexMap: Sendable, Equatable {
  /// The index marking "no source": the output pixel takes the fill value.
  public static let none: Int32 = -1

  /// Input rows.
  public let inputHeight: Int
  /// Input columns.
  public let inputWidth: Int
  /// Output rows.
  public let outputHeight: Int
  /// Output columns.
  public let outputWidth: Int
  private let storage: Storage

  private enum Storage: Sendable, Equatable {
    /// Source row per output row (OH) and source column per output column (OW), or `none`;
    /// `runs` is `columns` cut into stretches (see `ColumnRun`).
    case separable(rows: [Int32], columns: [Int32], runs: [ColumnRun])
    /// Source index `y·W + x` per output pixel (OH·OW, row-major), or `none`.
    case dense([Int32])
  }

  /// Consecutive output columns `start..<start + count` that read input columns `source`,
  /// `source + step`, … with step 1 (a contiguous copy) or 0 (one column repeated), or nothing
  /// (`source == none`). Pads, crops, shifts, tiles and borders are a few runs per row, so rows
  /// are copied and scattered a stretch at a time instead of an index at a time.
  struct ColumnRun: Sendable, Equatable {
    /// First output column.
    var start: Int
    /// Number of output columns.
    var count: Int
    /// Input column of the first output column, or `none`.
    var source: Int32
    /// 1 or 0 (meaningless for `none` and for a run of one).
    var step: Int32

    /// `columns` cut into maximal runs, in column order.
    static func runs(_ columns: [Int32]) -> [ColumnRun] {
      var runs: [ColumnRun] = []
      for (j, k) in columns.enumerated() {
        if runs.isEmpty || !runs[runs.count - 1].extend(with: k) {
          runs.append(ColumnRun(start: j, count: 1, source: k, step: 0))
        }
      }
      return runs
    }

    /// Appends the next column's source `k` when it continues the run (a run of one takes the
    /// step it implies).
    mutating func extend(with k: Int32) -> Bool {
      if source == IndexMap.none || k == IndexMap.none {
        guard source == k else { return false }
      } else if count == 1 {
        guard k == source || k == source + 1 else { return false }
        step = k - source
      } else {
        guard k == source + Int32(count) * step else { return false }
      }
      count += 1
      return true
    }
  }

  /// A separable map: output (y, x) reads input (rows[y], columns[x]); `none` in either gives the
  /// fill value. Indices must lie in the input (a programmer error otherwise).
  public init(rows: [Int32], columns: [Int32], inputHeight: Int, inputWidth: Int) {
    precondition(
      rows.allSatisfy { $0 == Self.none || ($0 >= 0 && Int($0) < inputHeight) },
      "IndexMap: row index outside 0..<\(inputHeight)")
    precondition(
      columns.allSatisfy { $0 == Self.none || ($0 >= 0 && Int($0) < inputWidth) },
      "IndexMap: column index outside 0..<\(inputWidth)")
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.outputHeight = rows.count
    self.outputWidth = columns.count
    self.storage = .separable(rows: rows, columns: columns, runs: ColumnRun.runs(columns))
  }

  /// A dense map: output pixel `k` (row-major, `outputHeight × outputWidth`) reads input pixel
  /// `indices[k]` (= y·inputWidth + x), or the fill value for `none`.
  public init(
    indices: [Int32], outputHeight: Int, outputWidth: Int, inputHeight: Int, inputWidth: Int
  ) {
    precondition(indices.count == outputHeight * outputWidth, "IndexMap: \(indices.count) indices")
    let n = inputHeight * inputWidth
    precondition(
      indices.allSatisfy { $0 == Self.none || ($0 >= 0 && Int($0) < n) },
      "IndexMap: index outside the input")
    self.init(
      trustedIndices: indices, outputHeight: outputHeight, outputWidth: outputWidth,
      inputHeight: inputHeight, inputWidth: inputWidth)
  }

  /// A dense map whose indices the caller built inside the input (no check).
  init(
    trustedIndices indices: [Int32], outputHeight: Int, outputWidth: Int, inputHeight: Int,
    inputWidth: Int
  ) {
    self.inputHeight = inputHeight
    self.inputWidth = inputWidth
    self.outputHeight = outputHeight
    self.outputWidth = outputWidth
    self.storage = .dense(indices)
  }

  /// The identity map on an `height × width` image.
  public static func identity(height: Int, width: Int) -> IndexMap {
    IndexMap(
      rows: AxisIndex.identity(height), columns: AxisIndex.identity(width), inputHeight: height,
      inputWidth: width)
  }

  /// True when the map reads rows and columns independently.
  public var isSeparable: Bool {
    if case .separable = storage { return true }
    return false
  }

  /// True when every output pixel reads the input pixel at the same place (same size, no fill).
  public var isIdentity: Bool {
    guard inputHeight == outputHeight && inputWidth == outputWidth else { return false }
    switch storage {
    case .separable(let rows, let columns, _):
      return rows.enumerated().allSatisfy { Int($1) == $0 }
        && columns.enumerated().allSatisfy { Int($1) == $0 }
    case .dense(let indices):
      return indices.enumerated().allSatisfy { Int($1) == $0 }
    }
  }

  /// The input pixel (row, column) output pixel (y, x) reads, or nil for a fill pixel.
  public func source(y: Int, x: Int) -> (row: Int, column: Int)? {
    precondition(
      y >= 0 && y < outputHeight && x >= 0 && x < outputWidth, "IndexMap.source: outside")
    switch storage {
    case .separable(let rows, let columns, _):
      guard rows[y] != Self.none, columns[x] != Self.none else { return nil }
      return (Int(rows[y]), Int(columns[x]))
    case .dense(let indices):
      let k = indices[y * outputWidth + x]
      guard k != Self.none else { return nil }
      return (Int(k) / inputWidth, Int(k) % inputWidth)
    }
  }

  /// Applies the map to every plane of an image `[C,H,W]` or batch `[N,C,H,W]`; fill pixels of
  /// channel c take `fill[c]` (0 when `fill` is empty).
  public func gather(_ x: Tensor, fill: [Float] = []) -> Tensor {
    let (c, h, w) = x.chw
    precondition(
      h == inputHeight && w == inputWidth,
      "IndexMap: input \(x.shape) does not fit \(inputHeight)×\(inputWidth)")
    precondition(
      fill.isEmpty || fill.count == c, "IndexMap: \(fill.count) fill values for \(c) channels")
    let planes = x.batchCount * c
    let oh = outputHeight
    let ow = outputWidth
    // Every output element is written below, so the buffer starts uninitialized.
    let scalars = [Float](unsafeUninitializedCapacity: planes * oh * ow) { dstAll, initialized in
      initialized = planes * oh * ow
      x.scalars.withUnsafeBufferPointer { srcAll in
        guard let srcBase = srcAll.baseAddress, let dstBase = dstAll.baseAddress else {
          _ = dstAll.initialize(from: repeatElement(0, count: dstAll.count))
          return
        }
        switch storage {
        case .separable(let rows, _, let runs):
          rows.withUnsafeBufferPointer { rows in
            Self.forPlanes(planes, work: oh * ow) { p in
              let f = fill.isEmpty ? 0 : fill[p % c]
              let src = srcBase + p * h * w  // (H, W)
              let dst = dstBase + p * oh * ow  // (OH, OW)
              for y in 0..<oh {
                let d = dst + y * ow
                let r = Int(rows[y])
                if r < 0 {
                  d.update(repeating: f, count: ow)
                  continue
                }
                let s = src + r * w
                for run in runs {
                  let out = d + run.start
                  if run.source == Self.none {
                    out.update(repeating: f, count: run.count)
                  } else if run.step == 0 {
                    out.update(repeating: s[Int(run.source)], count: run.count)
                  } else {
                    out.update(from: s + Int(run.source), count: run.count)
                  }
                }
              }
            }
          }
        case .dense(let indices):
          indices.withUnsafeBufferPointer { indices in
            Self.forPlanes(planes, work: oh * ow) { p in
              let f = fill.isEmpty ? 0 : fill[p % c]
              let src = srcBase + p * h * w  // (H, W)
              let dst = dstBase + p * oh * ow  // (OH, OW)
              for i in 0..<(oh * ow) {
                let k = Int(indices[i])
                dst[i] = k >= 0 ? src[k] : f
              }
            }
          }
        }
      }
    }
    return Tensor(shape: Array(x.shape.dropLast(2)) + [oh, ow], scalars: scalars)
  }

  /// The adjoint of `gather` (for any fill): adds every output cotangent onto the input pixel it
  /// was read from, for every plane of `[C,OH,OW]` or `[N,C,OH,OW]`.
  public func scatterAdd(_ dy: Tensor) -> Tensor {
    let (c, oh, ow) = dy.chw
    precondition(
      oh == outputHeight && ow == outputWidth,
      "IndexMap: cotangent \(dy.shape) does not fit \(outputHeight)×\(outputWidth)")
    let planes = dy.batchCount * c
    let h = inputHeight
    let w = inputWidth
    var dx = Tensor(shape: Array(dy.shape.dropLast(2)) + [h, w])
    dy.scalars.withUnsafeBufferPointer { gAll in
      dx.scalars.withUnsafeMutableBufferPointer { dAll in
        guard let gBase = gAll.baseAddress, let dBase = dAll.baseAddress else { return }
        switch storage {
        case .separable(let rows, _, let runs):
          rows.withUnsafeBufferPointer { rows in
            Self.forPlanes(planes, work: oh * ow) { p in
              let g = gBase + p * oh * ow  // (OH, OW)
              let d = dBase + p * h * w  // (H, W)
              // Each input pixel receives its cotangents in output order (rows, then columns).
              for y in 0..<oh {
                let r = Int(rows[y])
                if r < 0 { continue }
                let dRow = d + r * w
                let gRow = g + y * ow
                for run in runs where run.source != Self.none {
                  let from = gRow + run.start
                  let to = dRow + Int(run.source)
                  if run.step == 0 {
                    var acc = to[0]
                    for m in 0..<run.count { acc += from[m] }
                    to[0] = acc
                  } else {
                    for m in 0..<run.count { to[m] += from[m] }
                  }
                }
              }
            }
          }
        case .dense(let indices):
          indices.withUnsafeBufferPointer { indices in
            Self.forPlanes(planes, work: oh * ow) { p in
              let g = gBase + p * oh * ow  // (OH, OW)
              let d = dBase + p * h * w  // (H, W)
              for i in 0..<(oh * ow) {
                let k = Int(indices[i])
                if k >= 0 { d[k] += g[i] }
              }
            }
          }
        }
      }
    }
    return dx
  }

  /// Runs `body` for each plane, on several cores when the planes are large enough to pay for it.
  /// Each plane writes only its own output, so the result never depends on the thread count.
  private static func forPlanes(_ planes: Int, work: Int, _ body: (Int) -> Void) {
    if planes > 1 && work >= 16_384 {
      parallelFor(planes, body)
    } else {
      for p in 0..<planes { body(p) }
    }
  }
}

/// How `pad` fills the added border.
public enum PadMode: String, Sendable, CaseIterable {
  /// A constant color.
  case fill
  /// The outermost row/column repeated (PyTorch's `replicate`).
  case edge
  /// The image continued periodically (PyTorch's `circular`, also beyond the image size).
  case wrap
}

extension PadMode: ConfigChoice {
  /// fill, edge, wrap.
  public static let names = allCases.map { (name: $0.rawValue, value: $0) }
  /// Named so in errors.
  public static var kind: String? { "pad mode" }
}

/// Builders for the 1-D index lists of separable `IndexMap`s. Each returns, per output index, the
/// input index it reads or `IndexMap.none`.
public enum AxisIndex {
  /// 0, 1, …, n−1.
  public static func identity(_ n: Int) -> [Int32] {
    (0..<max(n, 0)).map { Int32($0) }
  }

  /// `count` indices starting at `offset` (may be negative or run past the end: those read
  /// nothing, i.e. zero padding — or, with `wrap`, the axis continued periodically) of an axis
  /// of `length`.
  public static func window(offset: Int, count: Int, length: Int, wrap: Bool = false) -> [Int32] {
    (0..<max(count, 0)).map { j in
      let i = offset + j
      if i >= 0 && i < length { return Int32(i) }
      return wrap ? Int32(((i % length) + length) % length) : IndexMap.none
    }
  }

  /// The axis padded by `before` and `after` indices (negative counts are 0) in `mode`: `fill`
  /// reads nothing, `edge` clamps to the first/last index, `wrap` continues periodically.
  public static func pad(length: Int, before: Int, after: Int, mode: PadMode) -> [Int32] {
    precondition(length > 0, "AxisIndex.pad: empty axis")
    let b = max(before, 0)
    let a = max(after, 0)
    return (0..<(length + b + a)).map { j in
      let i = j - b
      if i >= 0 && i < length { return Int32(i) }
      switch mode {
      case .fill: return IndexMap.none
      case .edge: return Int32(min(max(i, 0), length - 1))
      case .wrap: return Int32(((i % length) + length) % length)
      }
    }
  }

  /// The axis rolled forward by `shift` (wrap-around): output j reads (j − shift) mod length.
  public static func roll(by shift: Int, length: Int) -> [Int32] {
    precondition(length > 0, "AxisIndex.roll: empty axis")
    let s = ((shift % length) + length) % length
    return (0..<length).map { j in Int32((j - s + length) % length) }
  }

  /// The axis repeated `count` times: output j reads j mod length.
  public static func tile(count: Int, length: Int) -> [Int32] {
    precondition(length > 0, "AxisIndex.tile: empty axis")
    return (0..<(length * max(count, 0))).map { j in Int32(j % length) }
  }

  /// The axis with its first and last `size` indices (clamped to the length) reading nothing.
  public static func border(size: Int, length: Int) -> [Int32] {
    let s = min(max(size, 0), length)
    return (0..<length).map { j in j < s || j >= length - s ? IndexMap.none : Int32(j) }
  }
}
