#if canImport(Glibc)
  import Glibc
#endif

/// Wall-clock time and FLOPs per kernel kind, accumulated over the steps of one encoder while
/// it is attached (`ResNetEncoder.profile`): where a step's time goes, for `clipig bench clip
/// --profile`. Not thread-safe, like the encoder it belongs to.
public final class KernelProfile {
  /// One kernel kind's totals.
  public struct Entry: Sendable {
    /// The kernel kind, e.g. "forward conv 3×3".
    public var name: String
    /// Seconds spent, summed over calls.
    public var seconds: Double
    /// FLOPs done (0 when the kernel is not counted as arithmetic).
    public var flops: Double
    /// Calls.
    public var calls: Int
    /// The entry whose time includes this one's (nil at the top level).
    public var parent: String?
  }

  /// Kernel kinds in order of first use.
  public private(set) var entries = [Entry]()
  private var index = [String: Int]()
  private var open = [String]()  // names being measured, outermost first

  /// An empty profile.
  public init() {}

  /// Runs `body`, adding its wall-clock time (and `flops`) to `name`.
  /// A `part` is timed inside the entry being measured (e.g. a convolution's im2col) and
  /// listed as `parent · name`.
  public func measure<R>(
    _ name: String, flops: Double = 0, part: Bool = false, _ body: () -> R
  ) -> R {
    let parent = part ? open.last : nil
    let name = parent.map { "\($0) · \(name)" } ?? name
    open.append(name)
    let t0 = Self.now()
    let result = body()
    let dt = Self.now() - t0
    open.removeLast()
    if let i = index[name] {
      entries[i].seconds += dt
      entries[i].flops += flops
      entries[i].calls += 1
    } else {
      index[name] = entries.count
      entries.append(Entry(name: name, seconds: dt, flops: flops, calls: 1, parent: parent))
    }
    return result
  }

  /// Forgets everything measured so far (after a warm-up step).
  public func reset() {
    entries.removeAll()
    index.removeAll()
    open.removeAll()
  }

  /// Seconds over all entries that are not parts of others.
  public var totalSeconds: Double { entries.reduce(0) { $0 + ($1.parent == nil ? $1.seconds : 0) } }

  static func now() -> Double {
    #if canImport(Glibc)
      var ts = timespec()
      clock_gettime(CLOCK_MONOTONIC, &ts)
      return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
    #else
      return 0
    #endif
  }
}

extension Optional where Wrapped == KernelProfile {
  /// `body` timed under `name` when a profile is attached, else just `body`.
  @inline(__always)
  func measure(
    _ name: @autoclosure () -> String, flops: @autoclosure () -> Double = 0, part: Bool = false,
    _ body: () -> Void
  ) {
    if let profile = self {
      profile.measure(name(), flops: flops(), part: part, body)
    } else {
      body()
    }
  }
}
