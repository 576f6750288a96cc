import CLIP
import Formats
import Foundation
import Runner
import TestSupport
import Testing

/// The precision CLIP ran in reaches the sidecar, whichever command made the image, and
/// `--precision` replaces the YAML's like every other run flag.
@Suite("The precision a run used, recorded")
struct PrecisionRecordTests {
  /// The header line says what ran and, when that differs, what was asked.
  @Test func theHeaderLineSaysWhatRanAndWhatWasAsked() {
    #expect(Sidecar.Header.line(.fp32) == "precision: fp32")
    let native = CLIPPrecision.bf16.resolve(nativeBF16: true)
    #expect(Sidecar.Header.line(native) == "precision: bf16")
    let refused = CLIPPrecision.bf16.resolve(nativeBF16: false)
    #expect(
      Sidecar.Header.line(refused)
        == "precision: fp32 (bf16 requested: this CPU has no native bf16 dot products)")
    let autoFast = CLIPPrecision.auto.resolve(nativeBF16: true, bf16Faster: true)
    #expect(Sidecar.Header.line(autoFast) == "precision: bf16 (auto requested)")
    let autoSlow = CLIPPrecision.auto.resolve(nativeBF16: true, bf16Faster: false)
    #expect(Sidecar.Header.line(autoSlow) == "precision: fp32 (auto requested)")
  }

  /// The release binary: `--precision bf16` is written into the sidecar's configuration and its
  /// header says what this CPU ran; the sidecar renders the same image again.
  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func renderRecordsThePrecisionAndTheSidecarRendersTheSameImage() throws {
    let dir = try TestFiles.temporaryDirectory("precision-sidecar")
    let common = ["--model", TestFiles.tinyModel, "-e", "4", "-r", "16", "--seed", "3", "-q"]
    let first = try ClipigExecutable.run(
      ["render", TestFiles.examples + "/method1.yaml"] + common
        + ["--precision", "bf16", "-o", dir + "/a.png"], in: nil)
    #expect(first.status == 0, "\(first.err)")
    let sidecar = try TestFiles.read(dir + "/a.yaml")
    let expected =
      BFloat16.hasNativeDotProducts
      ? "# precision: bf16\n"
      : "# precision: fp32 (bf16 requested: this CPU has no native bf16 dot products)\n"
    #expect(sidecar.contains(expected), "\(sidecar)")
    #expect(sidecar.contains("\nprecision: bf16\n"), "\(sidecar)")
    if !BFloat16.hasNativeDotProducts {
      #expect(first.err.contains("no native bf16 dot products"), "\(first.err)")
    }

    let again = try ClipigExecutable.run(
      ["render", dir + "/a.yaml", "--model", TestFiles.tinyModel, "-q", "-o", dir + "/b.png"],
      in: nil)
    #expect(again.status == 0, "\(again.err)")
    #expect(try FileIO.readBytes(path: dir + "/a.png") == FileIO.readBytes(path: dir + "/b.png"))

    let plain = try ClipigExecutable.run(
      ["render", TestFiles.examples + "/method1.yaml"] + common + ["-o", dir + "/c.png"], in: nil)
    #expect(plain.status == 0, "\(plain.err)")
    #expect(try TestFiles.read(dir + "/c.yaml").contains("# precision: fp32\n"))
  }

  /// A misspelled precision is refused with the valid values.
  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func aBadPrecisionNamesTheValidOnes() throws {
    let r = try ClipigExecutable.run(
      ["render", TestFiles.examples + "/method1.yaml", "--precision", "bf32", "-e", "1"], in: nil)
    #expect(r.status != 0)
    #expect(r.err.contains("fp32") && r.err.contains("bf16"), "\(r.err)")
  }
}
