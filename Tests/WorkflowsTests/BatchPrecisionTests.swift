import CLIP
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing
import Workflows

/// `batch` and `rank` load each model once per precision, and every item's sidecar records the
/// precision it ran in.
@Suite("Precision in the workflows")
struct BatchPrecisionTests {
  /// The pool keeps one model per name and precision: a bf16 request gets a bf16 model (or fp32
  /// with the CPU's note), never the fp32 one loaded before it.
  @Test func thePoolKeepsOneModelPerPrecision() throws {
    let pool = ModelPool()
    let plain = try pool.instance(TestFiles.tinyModel)
    let reduced = try pool.instance(TestFiles.tinyModel, precision: .bf16)
    #expect(plain.precision == .fp32)
    #expect(reduced.precision.requested == .bf16)
    #expect(reduced.precision.used == (BFloat16.hasNativeDotProducts ? "bf16" : "fp32"))
    #expect(ModelPool.key("m", .fp32) != ModelPool.key("m", .bf16))
  }

  /// A batch with the precision override renders every item in it and says so in the sidecars.
  @Test func batchItemsRecordTheirPrecision() throws {
    let dir = try TestFiles.temporaryDirectory("batch-precision")
    var options = Workflow.batchOptions(
      grid: try Workflow.smallGrid(in: dir), output: dir + "/out", verbosity: 0)
    options.overrides.precision = .bf16
    let summary = try Batch.run(
      options, models: Workflow.models, interrupt: InterruptFlag(), log: { _ in })
    #expect(summary.outcome == .finished && summary.rendered.count == 6)
    let line =
      BFloat16.hasNativeDotProducts
      ? "# precision: bf16\n"
      : "# precision: fp32 (bf16 requested: this CPU has no native bf16 dot products)\n"
    for name in summary.rendered {
      let sidecar = try TestFiles.read(dir + "/out/" + name + ".yaml")
      #expect(sidecar.contains(line) && sidecar.contains("\nprecision: bf16\n"), "\(sidecar)")
    }
  }
}
