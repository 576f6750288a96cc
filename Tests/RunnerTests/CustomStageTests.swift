import Foundation
import PipelineKit
import PipelineKitTesting
import Runner
import TestSupport
import Testing

/// A user's stage: out = 1 − in (affine; pullback −dy).
private struct Invert: Stage {
  static let name = "invert"
  static let summary = "1 − x"
  static let traits: StageTraits = [.affine]
  static let examples = [StageExample(nil)]
  init(parameters: inout ParameterReader) throws(ConfigError) {}
  func forward(_ x: Tensor, in context: inout StageContext) throws(StageError) -> (
    value: Tensor, pullback: Pullback
  ) {
    (x.perChannel { _, v in 1 - v }, { $0 * -1 })
  }
}

@Suite("Custom stages")
struct CustomStageTests {
  @Test func aUsersStageRendersFromYAML() throws {
    #expect(GradientHarness.check(Invert.self).isEmpty)
    let dir = try TestFiles.temporaryDirectory()
    let config = dir + "/custom.yaml"
    try
      "epochs: 2\nresolution: 16\ntargets:\n  - features: [{text: a}]\n    transforms:\n      - invert:\n"
      .write(
        toFile: config, atomically: true, encoding: .utf8)
    var options = RenderOptions()
    options.configFiles = [config]
    options.output = dir + "/"
    options.overrides.model = TestFiles.tinyModel
    options.seed = 1
    options.verbosity = 0
    // Without registering it, the name is unknown …
    #expect(throws: ConfigError.self) {
      try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in })
    }
    // … with it, the experiment renders.
    options.registries.transforms = StageRegistry.transforms.adding(Invert.self)
    #expect(
      try CLIRunner.render(options: options, interrupt: InterruptFlag(), log: { _ in }) == .finished
    )
    // custom.yaml is the user's own file, so the image takes the next free name.
    #expect(FileManager.default.fileExists(atPath: dir + "/custom-1.png"))
    #expect(try String(contentsOfFile: config, encoding: .utf8).hasPrefix("epochs: 2\n"))
  }
}
