/// A mutable pointer carried into the iterations of `parallelFor`, which Swift's concurrency
/// checking cannot see are safe: every iteration must write its own, disjoint elements (and read
/// nothing another iteration writes), and the memory must outlive the loop (e.g. a buffer of
/// `withUnsafeMutableBufferPointer` around it). That audit is the caller's; this type only
/// says where it was made.
public struct UncheckedPointer<Pointee>: @unchecked Sendable {
  /// The pointer to the first element.
  public let pointer: UnsafeMutablePointer<Pointee>

  /// Wraps `pointer` for disjoint writes from parallel iterations.
  @inlinable public init(_ pointer: UnsafeMutablePointer<Pointee>) { self.pointer = pointer }
}
