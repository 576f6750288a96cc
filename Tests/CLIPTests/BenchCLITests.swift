import Foundation
import TestSupport
import Testing

/// `clipig bench clip` as a developer runs it: the release binary on the small ResNet fixture,
/// with and without `OPENBLAS_CORETYPE`. Only what it reports is checked, never a time.
@Suite(.serialized) struct BenchCLITests {
  /// Runs `clipig bench clip` on the small ResNet CLIP (Winograd and im2col convolutions, the
  /// attention pool) with `coreType` as OPENBLAS_CORETYPE (nil: unset).
  static func bench(coreType: String?) throws -> (status: Int32, output: String) {
    try ClipigExecutable.run(
      [
        "bench", "clip", "--model", Fixture.path("resnet-small.safetensors"), "--batch", "2",
        "--steps", "1", "--profile",
      ], environment: ["OPENBLAS_CORETYPE": coreType])
  }

  /// Whether /proc/cpuinfo's first flags line has AVX-512 F, BW, DQ and VL, asked of grep.
  static var cpuHasAVX512: Bool {
    let script =
      "grep -m1 '^flags' /proc/cpuinfo | grep -o -w -E 'avx512(f|bw|dq|vl)' | sort -u | wc -l"
    guard let result = try? ChildProcess.run("/bin/sh", ["-c", script]) else { return false }
    return result.out.trimmingCharacters(in: .whitespacesAndNewlines) == "4"
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest))
  func reportsTheOpenBLASKernelsAndWhatChoseThem() throws {
    let forced = try Self.bench(coreType: "Haswell")
    #expect(forced.status == 0, "\(forced.output)")
    #expect(forced.output.contains("OpenBLAS kernels: Haswell (OPENBLAS_CORETYPE=Haswell)"))
    let hint = "this CPU has AVX-512: unset OPENBLAS_CORETYPE"
    #expect(forced.output.contains(hint) == Self.cpuHasAVX512, "\(forced.output)")
    #expect(forced.output.contains("forward + backward:"))
    #expect(forced.output.contains("Winograd"), "the profile shows the Winograd parts")

    let detected = try Self.bench(coreType: nil)
    #expect(detected.status == 0, "\(detected.output)")
    let line = detected.output.split(separator: "\n").first { $0.hasPrefix("OpenBLAS kernels:") }
    #expect(line?.hasSuffix("(detected)") == true, "\(detected.output)")
    #expect(!detected.output.contains(hint))
  }
}
