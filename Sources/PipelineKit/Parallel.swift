import Dispatch

/// Runs `body(i)` for every `i` in `0..<count`, spread over the machine's cores.
///
/// The one audited parallel loop of clipig: iterations must write to disjoint memory. With
/// `count <= 1` or a single core it runs inline, so results never depend on the thread count
/// as long as each iteration is itself deterministic.
public func parallelFor(_ count: Int, _ body: (Int) -> Void) {
  if count <= 0 { return }
  if count == 1 || ProcessorCount.active <= 1 {
    for i in 0..<count { body(i) }
    return
  }
  withoutActuallyEscaping(body) { body in
    let box = UncheckedSendableBox(body)
    DispatchQueue.concurrentPerform(iterations: count) { i in box.value(i) }
  }
}

/// The number of CPU cores this process may use.
public enum ProcessorCount {
  /// Active processor count as reported by the OS.
  public static var active: Int {
    #if canImport(Glibc)
      return max(1, Int(sysconf(Int32(_SC_NPROCESSORS_ONLN))))
    #else
      return 1
    #endif
  }
}

/// Wraps a value that is only ever used in a data-race-free way the compiler cannot prove
/// (disjoint writes inside `parallelFor`).
@usableFromInline
struct UncheckedSendableBox<T>: @unchecked Sendable {
  @usableFromInline let value: T
  @usableFromInline init(_ value: T) { self.value = value }
}

#if canImport(Glibc)
  import Glibc
#endif
