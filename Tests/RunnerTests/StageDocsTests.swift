import Constraints
import Foundation
import PipelineKit
import Testing
import Transforms

@Suite("Generated stage reference")
struct StageDocsTests {
  @Test func committedPageIsCurrent() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent()
      .deletingLastPathComponent()
    let committed = try String(
      contentsOf: root.appendingPathComponent("docs/stages.md"), encoding: .utf8)
    let generated = StageDocs.markdown(transforms: .transforms, constraints: .constraints)
    #expect(
      committed == generated,
      "docs/stages.md is stale: run `\(StageDocs.regenerate)` and commit it")
  }

  @Test func everyStageIsDocumentedWithItsParameters() {
    let page = StageDocs.markdown(transforms: .transforms, constraints: .constraints)
    for name in StageRegistry.transforms.names + StageRegistry.constraints.names {
      #expect(page.contains("### `\(name)`"), "\(name) missing")
    }
    #expect(!page.contains("fails:"), "a stage's first example does not load")
    #expect(!page.contains("(no example"))
    #expect(page.contains("| `kernel_size` | integer | 2 | `[3, 3]` |"))
  }
}
