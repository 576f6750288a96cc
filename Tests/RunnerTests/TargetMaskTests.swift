import Formats
import Foundation
import PipelineKit
import PipelineKitTesting
import Runner
import TestSupport
import Testing

/// `mask:` confines a target's changes to the white part of the image.
@Suite("Target masks")
struct TargetMaskTests {
  /// A `w`×`h` mask image, white where `white(x, y)`.
  static func maskImage(width w: Int, height h: Int, white: (Int, Int) -> Bool) -> Tensor {
    Tensor(shape: [3, h, w]) { i in
      let k = i % (w * h)
      return white(k % w, k / w) ? 1 : 0
    }
  }

  static func experiment(mask path: String, invert: Bool = false, std: Double = 0.15) throws
    -> Experiment
  {
    try Experiment(
      try YAML.parse(
        """
        epochs: 10
        resolution: 12
        learnrate: 2
        init: {mean: 0.5, std: \(std)}
        targets:
          - batch_size: 2
            mask: \(path)
            mask_invert: \(invert)
            features:
              - text: a red apple
            transforms:
              - noise: 0.1
              - random_shift: 0 1
        """, file: "mask.yaml"))
  }

  /// The gate is the identity at its anchor (bit for bit) and passes the harness elsewhere.
  @Test func theGateIsTheIdentityAtItsAnchorAndPassesTheHarness() {
    var noise = SeededRandom(seed: 4)
    let anchor = Tensor(shape: [3, 5, 6]) { _ in Float(noise.uniform()) }
    let m = Tensor(shape: [1, 5, 6]) { _ in Float(noise.uniform()) }
    #expect(TargetMask.gate(anchor, anchor: anchor, mask: m).value.scalars == anchor.scalars)
    let failures = GradientHarness.check("mask gate", at: anchor, policy: .smooth) { x in
      TargetMask.gate(x, anchor: anchor, mask: m)
    }
    #expect(failures.isEmpty, "\(failures)")
  }

  /// The whole epoch with a soft mask (values between 0 and 1, resized from another size):
  /// the masked pullback is the derivative of the gated loss.
  @Test func theMaskedEpochLossPassesTheHarness() throws {
    let dir = try TestFiles.temporaryDirectory("mask-harness")
    var noise = SeededRandom(seed: 6)
    try PNG.write(
      Tensor(shape: [3, 7, 9]) { _ in Float(noise.uniform()) }, to: dir + "/soft.png")
    let e = try Self.experiment(mask: dir + "/soft.png")
    let trainer = try Trainer(experiment: e, model: try EpochTests.tinyModel(), seed: 5)
    try trainer.step(epoch: 0)
    var options = GradientHarness.Options()
    options.maxCoordinates = 64
    let failures = GradientHarness.check(
      "masked epoch loss", at: trainer.pixels, policy: .piecewise, options: options,
      try trainer.lossFunction(epoch: 1))
    #expect(failures.isEmpty, "\(failures)")
  }

  /// Pixels under the black half never change, bit for bit; the white half does. Inverted, the
  /// halves swap.
  @Test(arguments: [false, true])
  func aHalfMaskConfinesChangeToItsHalf(invert: Bool) throws {
    let dir = try TestFiles.temporaryDirectory("mask-half")
    try PNG.write(
      Self.maskImage(width: 12, height: 12) { x, _ in x >= 6 }, to: dir + "/half.png")
    let e = try Self.experiment(mask: dir + "/half.png", invert: invert)
    let trainer = try Trainer(experiment: e, model: try EpochTests.tinyModel(), seed: 2)
    let before = trainer.pixels
    for epoch in 0..<6 { try trainer.step(epoch: epoch) }
    let after = trainer.pixels
    var changedInWhite = 0
    for c in 0..<3 {
      for y in 0..<12 {
        for x in 0..<12 {
          let i = (c * 12 + y) * 12 + x
          let white = (x >= 6) != invert
          if white {
            if after.scalars[i] != before.scalars[i] { changedInWhite += 1 }
          } else {
            #expect(after.scalars[i] == before.scalars[i], "pixel \(c),\(y),\(x) changed")
          }
        }
      }
    }
    #expect(changedInWhite > 3 * 12 * 6 / 2, "only \(changedInWhite) white pixels changed")
  }

  /// The release binary: a flat grey start keeps its grey under the black half of the mask.
  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func renderKeepsTheBlackHalfOfTheMask() throws {
    let dir = try TestFiles.temporaryDirectory("mask-render")
    try PNG.write(
      Self.maskImage(width: 16, height: 16) { _, y in y < 8 }, to: dir + "/top.png")
    try TestFiles.write(
      """
      epochs: 8
      resolution: 16
      learnrate: 3
      init: {mean: 0.5, std: 0}
      targets:
        - batch_size: 2
          mask: top.png
          features:
            - text: a cat made of salami
          transforms:
            - noise: 0.1
      """, to: dir + "/mask.yaml")
    let r = try ClipigExecutable.run(
      [
        "render", dir + "/mask.yaml", "--model", TestFiles.tinyModel, "--seed", "1", "-q", "-o",
        dir + "/out.png",
      ], in: nil)
    #expect(r.status == 0, "\(r.err)")
    let image = try PNG.read(path: dir + "/out.png")
    // 0.5 is 127.5 of 255: the grey PNG holds 127 or 128, the same everywhere below.
    let bottom = (0..<3).flatMap { c in
      (8..<16).flatMap { y in (0..<16).map { x in image.scalars[(c * 16 + y) * 16 + x] } }
    }
    let grey = Set(bottom.map { ($0 * 255).rounded() })
    #expect(grey == [127] || grey == [128], "\(grey)")
    let top = (0..<3).flatMap { c in
      (0..<8).flatMap { y in (0..<16).map { x in image.scalars[(c * 16 + y) * 16 + x] } }
    }
    #expect(Set(top.map { ($0 * 255).rounded() }).count > 10)
  }

  /// A mask file that does not exist names the key.
  @Test func aMissingMaskNamesItsKey() throws {
    let e = try Self.experiment(mask: "/nonexistent/mask.png")
    let error = #expect(throws: (any Error).self) {
      try Trainer(experiment: e, model: try EpochTests.tinyModel(), seed: 1)
    }
    #expect("\(error.map { "\($0)" } ?? "")".contains("mask"), "\(String(describing: error))")
  }
}
