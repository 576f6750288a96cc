/// A dense Float32 tensor in row-major (C) order with value semantics.
///
/// Images are `[C, H, W]`, batches of views `[N, C, H, W]`, scalars `[1]`. Storage is a Swift
/// array, so copies are cheap until one of them is written (copy-on-write).
public struct Tensor: Sendable, Equatable {
  /// Extent of each axis, outermost first.
  public let shape: [Int]
  /// The elements in row-major order; `scalars.count == shape.reduce(1, *)`.
  public var scalars: [Float]

  /// A tensor of the given shape filled with `value`.
  public init(shape: [Int], repeating value: Float = 0) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in \(shape)")
    self.shape = shape
    self.scalars = [Float](repeating: value, count: shape.reduce(1, *))
  }

  /// A tensor of the given shape holding `scalars` in row-major order.
  public init(shape: [Int], scalars: [Float]) {
    precondition(shape.allSatisfy { $0 >= 0 }, "Tensor: negative extent in \(shape)")
    precondition(
      shape.reduce(1, *) == scalars.count,
      "Tensor: \(scalars.count) scalars do not fill shape \(shape)")
    self.shape = shape
    self.scalars = scalars
  }

  /// A one-element tensor of shape `[1]`.
  public init(scalar: Float) { self.init(shape: [1], scalars: [scalar]) }

  /// A tensor of the given shape whose elements are `f(flatIndex)`.
  public init(shape: [Int], generator f: (Int) -> Float) {
    let n = shape.reduce(1, *)
    self.init(shape: shape, scalars: (0..<n).map(f))
  }

  /// Number of elements.
  @inlinable public var count: Int { scalars.count }
  /// Number of axes.
  @inlinable public var rank: Int { shape.count }

  /// Channels, height and width of an image `[C,H,W]` or of each view of a batch `[N,C,H,W]`.
  public var chw: (c: Int, h: Int, w: Int) {
    precondition(rank == 3 || rank == 4, "Tensor: expected [C,H,W] or [N,C,H,W], got \(shape)")
    return (shape[rank - 3], shape[rank - 2], shape[rank - 1])
  }

  /// Views in a batch `[N,C,H,W]` (1 for an image `[C,H,W]`).
  public var batchCount: Int { rank == 4 ? shape[0] : 1 }

  /// The same elements under another shape with the same element count.
  public func reshaped(_ newShape: [Int]) -> Tensor {
    Tensor(shape: newShape, scalars: scalars)
  }

  /// View `i` of a batch `[N,C,H,W]` as an image `[C,H,W]` (generally: slice `i` along the
  /// first axis of any tensor of rank ≥ 2, e.g. one `[1]` loss of a batch of losses `[N,1]`).
  public func view(_ i: Int) -> Tensor {
    precondition(rank >= 2 && i >= 0 && i < shape[0], "Tensor.view: \(i) out of \(shape)")
    let size = shape.dropFirst().reduce(1, *)
    return Tensor(
      shape: Array(shape.dropFirst()), scalars: Array(scalars[i * size..<(i + 1) * size]))
  }

  /// Stacks images of one shape `[C,H,W]` into a batch `[N,C,H,W]`.
  public static func stack(_ images: [Tensor]) -> Tensor {
    precondition(!images.isEmpty, "Tensor.stack: no images")
    let s = images[0].shape
    precondition(images.allSatisfy { $0.shape == s }, "Tensor.stack: shapes differ")
    var out = [Float]()
    out.reserveCapacity(images.count * images[0].count)
    for image in images { out.append(contentsOf: image.scalars) }
    return Tensor(shape: [images.count] + s, scalars: out)
  }

  /// Element-wise sum with a tensor of the same shape.
  public static func + (a: Tensor, b: Tensor) -> Tensor {
    precondition(a.shape == b.shape, "Tensor +: shapes \(a.shape) and \(b.shape) differ")
    var r = a
    r.scalars.withUnsafeMutableBufferPointer { r in
      b.scalars.withUnsafeBufferPointer { b in
        for i in r.indices { r[i] += b[i] }
      }
    }
    return r
  }

  /// Adds `b` (same shape) to this tensor in place.
  public mutating func add(_ b: Tensor) {
    precondition(shape == b.shape, "Tensor.add: shapes \(shape) and \(b.shape) differ")
    scalars.withUnsafeMutableBufferPointer { r in
      b.scalars.withUnsafeBufferPointer { b in
        for i in r.indices { r[i] += b[i] }
      }
    }
  }

  /// Every element multiplied by `s`.
  public static func * (a: Tensor, s: Float) -> Tensor {
    var r = a
    r.scalars.withUnsafeMutableBufferPointer { r in for i in r.indices { r[i] *= s } }
    return r
  }

  /// Inner product ⟨a, b⟩ accumulated in Double.
  public func dot(_ b: Tensor) -> Double {
    precondition(shape == b.shape, "Tensor.dot: shapes \(shape) and \(b.shape) differ")
    var s = 0.0
    for i in 0..<count { s += Double(scalars[i]) * Double(b.scalars[i]) }
    return s
  }
}
