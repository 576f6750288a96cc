#if canImport(Glibc)
  import Glibc
#endif

/// Process-wide settings a long render benefits from, applied once by the command-line tool.
public enum ProcessTuning {
  /// Keeps large buffers (views, activations, gradients of every epoch) in the allocator
  /// instead of returning them to the OS and page-faulting them in again each epoch.
  public static func forLongComputations() {
    #if canImport(Glibc)
      _ = mallopt(M_MMAP_THRESHOLD, 64 << 20)
      _ = mallopt(M_TRIM_THRESHOLD, 256 << 20)
    #endif
  }
}
