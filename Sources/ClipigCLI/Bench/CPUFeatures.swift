import Foundation

/// What the CPU can do, as the operating system reports it (Linux's /proc/cpuinfo; elsewhere
/// nothing is known and every feature reads false).
enum CPUFeatures {
  /// The flags of the first processor in /proc/cpuinfo.
  static func flags() -> Set<Substring> {
    guard let cpuinfo = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
      return []
    }
    for line in cpuinfo.split(separator: "\n") where line.hasPrefix("flags") {
      guard let colon = line.firstIndex(of: ":") else { continue }
      return Set(line[line.index(after: colon)...].split(separator: " "))
    }
    return []
  }

  /// Whether the CPU has the AVX-512 foundation instructions (and the BW/DQ/VL subsets
  /// OpenBLAS's SkylakeX kernels use).
  static var hasAVX512: Bool {
    flags().isSuperset(of: ["avx512f", "avx512bw", "avx512dq", "avx512vl"])
  }
}
