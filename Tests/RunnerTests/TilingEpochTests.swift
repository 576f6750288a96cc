import Formats
import PipelineKit
import PipelineKitTesting
import Runner
import TestSupport
import Testing

/// `tiling: true` in the run: the whole epoch (every stage on a torus, the wrapping
/// post-processing and resolution change) passes the harness, and `clipig preview` shows the
/// views training uses — which differ from the untiled ones.
@Suite("Tiling in the epoch and the preview")
struct TilingEpochTests {
  static func experiment(tiling: Bool) throws -> Experiment {
    try Experiment(
      try YAML.parse(
        """
        epochs: 10
        resolution: "{0: 8}.get(epoch, 12)"
        tiling: \(tiling)
        init: {mean: 0.5, std: 0.15, resolution: 6}
        targets:
          - batch_size: 2
            features:
              - text: a seamless tile of blue flowers
            transforms:
              - pad: {size: 2, mode: fill, color: 1}
              - random_rotate: {degree: -30 30, center: 0 1}
              - random_crop: 9
              - blur: {kernel_size: 3}
            constraints:
              - blur: {kernel_size: 3, weight: 0.5}
        postproc:
          - blur: {kernel_size: 3}
            end: 50%
        """, file: "tiling.yaml"))
  }

  @Test func theTiledEpochLossPassesTheHarness() throws {
    let e = try Self.experiment(tiling: true)
    let trainer = try Trainer(
      experiment: e, model: try ModelLoader.load(TestFiles.tinyModel, quiet: true), seed: 4)
    // Epoch 0 at 8 × 8, epoch 1 resized (on the torus) to 12 × 12; the function of epoch 2.
    try trainer.step(epoch: 0)
    try trainer.step(epoch: 1)
    #expect(trainer.pixels.shape == [3, 12, 12])
    let f = try trainer.lossFunction(epoch: 2)
    var options = GradientHarness.Options()
    options.maxCoordinates = 64
    let failures = GradientHarness.check(
      "tiled epoch loss", at: trainer.pixels, policy: .piecewise, options: options, f)
    #expect(failures.isEmpty, "\(failures)")
  }

  @Test func previewShowsTheTiledViewsTrainingUses() throws {
    let model = try ModelLoader.load(TestFiles.tinyModel, quiet: true)
    let e = try Self.experiment(tiling: true)
    var trained: [Tensor] = []
    let trainer = try Trainer(experiment: e, model: model, seed: 9)
    try trainer.step(epoch: 0) { views in trained = (0..<views.count).map { views.images.view($0) }
    }
    let tiled = try Preview.views(e, epoch: 0, seed: 9, imageSize: model.imageSize)
    #expect(tiled.map(\.image.scalars) == trained.map(\.scalars))
    let plain = try Preview.views(
      try Self.experiment(tiling: false), epoch: 0, seed: 9, imageSize: model.imageSize)
    #expect(plain.count == tiled.count)
    #expect(plain.map(\.image.scalars) != tiled.map(\.image.scalars))
  }
}
