#if canImport(Glibc)
  import Glibc
#endif

/// Process-wide settings a long render benefits from, applied once by the command-line tool.
public enum ProcessTuning {
  /// Keeps large buffers (views, activations, gradients of every epoch) in the allocator
  /// instead of returning them to the OS and page-faulting them in again each epoch
  /// (glibc's `mallopt`; `<malloc.h>` is not part of Swift's Glibc module, so it is looked up).
  public static func forLongComputations() {
    #if canImport(Glibc)
      typealias MallOpt = @convention(c) (Int32, Int32) -> Int32
      guard let symbol = dlsym(UnsafeMutableRawPointer(bitPattern: 0), "mallopt") else { return }
      let mallopt = unsafeBitCast(symbol, to: MallOpt.self)
      let trimThreshold: Int32 = -1  // M_TRIM_THRESHOLD
      let mmapThreshold: Int32 = -3  // M_MMAP_THRESHOLD
      _ = mallopt(mmapThreshold, 64 << 20)
      _ = mallopt(trimThreshold, 256 << 20)
    #endif
  }
}
