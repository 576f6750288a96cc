import Foundation
import PipelineKit

/// The precision of the CLIP towers' matrix products (YAML `precision:`, `--precision`).
///
/// Layer norms, softmax, activations, the objective and everything outside the towers stay
/// fp32 in every setting; bf16 rounds the GEMMs' inputs to bfloat16 and sums in fp32.
public enum CLIPPrecision: String, Sendable, CaseIterable, Codable {
  /// fp32 products (OpenBLAS): the default, bit for bit the model as always.
  case fp32
  /// bf16 products with fp32 sums where the CPU has native bf16 dot products; fp32 (with a
  /// note) where it has not.
  case bf16
  /// bf16 where the CPU's native bf16 dot products are faster than its fp32 products — AMD's
  /// (Zen 4 and later: twice the multiply-adds per cycle), not Intel's without AMX (measured
  /// here on an Emerald Rapids: half the speed of OpenBLAS's AVX-512 sgemm) — fp32 elsewhere.
  case auto

  /// What runs for this setting on a CPU with (`nativeBF16`) or without native bf16 dot
  /// products.
  /// `bf16Faster` says whether those products beat fp32 here (`auto` uses bf16 only then).
  public func resolve(
    nativeBF16: Bool = BFloat16.hasNativeDotProducts, bf16Faster: Bool? = nil
  ) -> PrecisionChoice {
    switch self {
    case .fp32: return PrecisionChoice(requested: self, path: nil, note: nil)
    case .auto:
      let faster = bf16Faster ?? (nativeBF16 && Self.cpuVendor == "AuthenticAMD")
      return PrecisionChoice(requested: self, path: nativeBF16 && faster ? .native : nil, note: nil)
    case .bf16:
      if nativeBF16 { return PrecisionChoice(requested: self, path: .native, note: nil) }
      return PrecisionChoice(
        requested: self, path: nil,
        note:
          "precision bf16: this CPU has no native bf16 dot products (AVX512_BF16); running fp32")
    }
  }
}

/// The precision a model runs in: what was asked, the bf16 path chosen (nil: fp32), and a
/// one-line note for the user when the request could not be honoured.
public struct PrecisionChoice: Sendable, Equatable {
  /// The setting asked for.
  public var requested: CLIPPrecision
  /// How the bf16 products run; nil when the towers run in fp32.
  public var path: BF16Path?
  /// A line to print (and record) when `requested` could not be honoured; nil otherwise.
  public var note: String?

  /// Creates a choice.
  public init(requested: CLIPPrecision, path: BF16Path?, note: String?) {
    self.requested = requested
    self.path = path
    self.note = note
  }

  /// fp32, as requested.
  public static let fp32 = PrecisionChoice(requested: .fp32, path: nil, note: nil)

  /// bf16 on the portable emulation whatever the CPU (tests: the bf16 arithmetic on every
  /// machine; far slower than either native path).
  public static let emulatedBF16 = PrecisionChoice(requested: .bf16, path: .emulated, note: nil)

  /// The precision that runs: "fp32" or "bf16" (what a sidecar records).
  public var used: String { path == nil ? "fp32" : "bf16" }

  /// The GEMM kernels that run, for reports: OpenBLAS's core or clipig's bf16 kernel.
  public var kernels: String {
    guard let path else { return "OpenBLAS sgemm (\(BLAS.coreName))" }
    return BFloat16.kernelName(path)
  }
}

extension CLIPPrecision {
  /// The CPU's vendor string (`vendor_id` of /proc/cpuinfo), empty where it cannot be read.
  static let cpuVendor: String = {
    guard let text = try? String(contentsOfFile: "/proc/cpuinfo", encoding: .utf8) else {
      return ""
    }
    for line in text.split(separator: "\n") where line.hasPrefix("vendor_id") {
      return line.split(separator: ":").last.map { $0.trimmingCharacters(in: .whitespaces) } ?? ""
    }
    return ""
  }()
}
