import Formats
import Foundation
import PipelineKit
import Runner
import Synchronization
import TestSupport
import Workflows

/// Options, templates and the model pool shared by the rank, batch and gallery tests.
enum Workflow {
  /// `clipig batch` options for `grid` into `output` with the tiny CLIP.
  static func batchOptions(grid: String, output: String, verbosity: Int = 1) -> BatchOptions {
    var o = BatchOptions()
    o.gridFile = grid
    o.outputDirectory = output
    o.overrides.model = TestFiles.tinyModel
    o.verbosity = verbosity
    return o
  }

  /// This test directory.
  static let testsDirectory = URL(fileURLWithPath: #filePath).deletingLastPathComponent()

  /// One pool for all tests: the tiny model is read once.
  static let models = ModelPool()

  /// A small, fast experiment template for the tiny CLIP (16-pixel images, 3 epochs).
  static let smallTemplate = """
    epochs: 3
    resolution: 16
    optimizer: adam
    learnrate: 3
    init: {mean: 0.5, std: 0.1}
    targets:
      - batch_size: 2
        features:
          - text: "a {{animal}} made of {{thing}}: the {{thing}}"
        transforms:
          - mul: 0.9
    """

  /// A 2 × 3 grid over `smallTemplate` (written as template.yaml beside it).
  static func smallGrid(in dir: String) throws -> String {
    try TestFiles.write(smallTemplate, to: dir + "/template.yaml")
    let grid = """
      template: template.yaml
      name: "{{animal}}-of-{{thing}}"
      seed: 5
      variables:
        animal: [cat, penguin]
        thing: [piano, coral reef, "rubik’s cube"]
      """
    try TestFiles.write(grid, to: dir + "/grid.yaml")
    return dir + "/grid.yaml"
  }

  /// The names of the 2 × 3 grid, in grid order.
  static let smallGridNames = [
    "cat-of-piano", "cat-of-coral-reef", "cat-of-rubik-s-cube", "penguin-of-piano",
    "penguin-of-coral-reef", "penguin-of-rubik-s-cube",
  ]
}

/// Collects log text (the `log:` argument of the runners) for inspection.
final class LogRecorder: Sendable {
  private let text = Mutex("")
  /// What was logged.
  var contents: String { text.withLock { $0 } }
  /// The logging closure.
  var log: @Sendable (String) -> Void {
    { [self] s in text.withLock { $0 += s } }
  }
}
