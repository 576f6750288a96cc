#if canImport(Glibc)
  import Glibc
#endif

/// One zero-initialised Float32 allocation carved into named buffers (llm.c's activation
/// memory): sized once for a batch shape, reused by every step.
///
/// The allocation is aligned to 2 MB and, on Linux, advised for transparent huge pages: a
/// ResNet's activations span hundreds of MB that every step streams through, and 4 KB pages
/// would spend much of that in TLB misses.
final class Arena {
  private(set) var base: UnsafeMutablePointer<Float>
  let count: Int

  /// Alignment of the allocation (one huge page).
  static let alignment = 1 << 21

  /// Allocates room for buffers of the given element counts; returns their offsets.
  init(sizes: [Int]) {
    count = sizes.reduce(0, +)
    let bytes = max(1, count) * MemoryLayout<Float>.stride
    let raw = UnsafeMutableRawPointer.allocate(byteCount: bytes, alignment: Self.alignment)
    #if canImport(Glibc)
      if bytes >= Self.alignment { _ = madvise(raw, bytes, MADV_HUGEPAGE) }
    #endif
    base = raw.bindMemory(to: Float.self, capacity: max(1, count))
    base.initialize(repeating: 0, count: max(1, count))
  }

  deinit { base.deallocate() }
}

/// Hands out consecutive slices of an arena while sizes are being planned.
struct ArenaPlan {
  private(set) var sizes = [Int]()
  private(set) var total = 0

  /// Reserves `count` floats; returns their offset. Offsets are rounded to 16 floats (64 bytes).
  mutating func reserve(_ count: Int) -> Int {
    let offset = total
    let padded = (count + 15) / 16 * 16
    sizes.append(padded)
    total += padded
    return offset
  }
}
