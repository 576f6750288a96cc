import ExprEval
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

  /// Trains `e` six epochs; pixels where `white(x)` is false (columns of the 12 × 12 image)
  /// must keep their values bit for bit, and more than half the white ones must change.
  static func expectChangeConfined(_ e: Experiment, white: (Int) -> Bool) throws {
    let trainer = try Trainer(experiment: e, model: try EpochTests.tinyModel(), seed: 2)
    let before = trainer.pixels
    for epoch in 0..<6 { try trainer.step(epoch: epoch) }
    let after = trainer.pixels
    var changedInWhite = 0
    for c in 0..<3 {
      for y in 0..<12 {
        for x in 0..<12 {
          let i = (c * 12 + y) * 12 + x
          if white(x) {
            if after.scalars[i] != before.scalars[i] { changedInWhite += 1 }
          } else {
            #expect(after.scalars[i] == before.scalars[i], "pixel \(c),\(y),\(x) changed")
          }
        }
      }
    }
    #expect(changedInWhite > 3 * 12 * 6 / 2, "only \(changedInWhite) white pixels changed")
  }

  /// Pixels under the black half never change, bit for bit; the white half does. Inverted, the
  /// halves swap.
  @Test(arguments: [false, true])
  func aHalfMaskConfinesChangeToItsHalf(invert: Bool) throws {
    let dir = try TestFiles.temporaryDirectory("mask-half")
    try PNG.write(
      Self.maskImage(width: 12, height: 12) { x, _ in x >= 6 }, to: dir + "/half.png")
    let e = try Self.experiment(mask: dir + "/half.png", invert: invert)
    try Self.expectChangeConfined(e) { x in (x >= 6) != invert }
  }

  /// An expression mask is evaluated at the pixel centres (x, y) = ((column + 0.5) / width,
  /// (row + 0.5) / height), clamped to [0, 1]; inverted it is 1 − that.
  @Test(arguments: [false, true])
  func anExpressionIsEvaluatedAtThePixelCentres(invert: Bool) throws {
    let mask = TargetMask(
      expression: try Expression("x + y - 0.5", groups: .maskParameter), invert: invert)
    let plane = try mask.plane(height: 2, width: 4, variables: ExprContext())
    #expect(plane.shape == [1, 2, 4])
    for row in 0..<2 {
      for column in 0..<4 {
        // By hand: x ∈ {0.125, 0.375, 0.625, 0.875}, y ∈ {0.25, 0.75}.
        let v = min(1, max(0, (Double(column) + 0.5) / 4 + (Double(row) + 0.5) / 2 - 0.5))
        let expected = Float(invert ? 1 - v : v)
        #expect(plane.scalars[row * 4 + column] == expected, "\(column),\(row)")
      }
    }
  }

  /// A mask of time follows the epoch's time (the remembered plane is not reused), a mask of
  /// the position alone is made once per size.
  @Test func aMaskOfTimeFollowsTime() throws {
    let mask = TargetMask(
      expression: try Expression("t * (y > 0.5)", groups: .maskParameter), invert: false)
    var context = ExprContext(epoch: 1, epochs: 5)
    #expect(try mask.plane(height: 2, width: 1, variables: context).scalars == [0, 0.25])
    context.setEpoch(3)
    #expect(try mask.plane(height: 2, width: 1, variables: context).scalars == [0, 0.75])
    #expect(try mask.plane(height: 4, width: 1, variables: context).scalars == [0, 0, 0.75, 0.75])
  }

  /// The work of a mask over its plane is bounded: one item budget (lists, strings …) for all
  /// its pixels and at most `maximumOperations` operations; within both it evaluates.
  @Test func aMasksWorkIsBounded() throws {
    /// The error message of making `mask`'s plane at `side`², or "no error".
    func failure(_ mask: TargetMask, side: Int) -> String {
      do {
        _ = try mask.plane(height: side, width: side, variables: ExprContext())
        return "no error"
      } catch {
        return "\(error)"
      }
    }
    // 1000 items a pixel (the list depends on x, so it is made at every pixel).
    let heavy = TargetMask(
      expression: try Expression("len([x] * 1000) > 0", groups: .maskParameter), invert: false)
    #expect(
      try heavy.plane(height: 8, width: 8, variables: ExprContext()).scalars.allSatisfy {
        $0 == 1
      })
    // 224² pixels × 1000 items is over the 4 000 000 items of one budget.
    let tooHeavy = failure(heavy, side: 224)
    #expect(tooHeavy.contains("too expensive"), "\(tooHeavy)")
    let long = TargetMask(
      expression: try Expression(
        "x" + String(repeating: " + x", count: 3000) + " > 0", groups: .maskParameter),
      invert: false)
    #expect(
      try long.plane(height: 16, width: 16, variables: ExprContext()).scalars.allSatisfy {
        $0 == 1
      })
    let tooLong = failure(long, side: 224)
    #expect(tooLong.contains("too long"), "\(tooLong)")
  }

  /// A mask that is no image name is read as an expression: an unknown name, a random function
  /// or a value that is not finite is an error naming the key and its place.
  @Test func badMaskExpressionsNameTheKey() throws {
    let unknown = #expect(throws: ConfigError.self) {
      try Self.experiment(mask: "xx < 0.5")
    }
    let text = "\(unknown.map { "\($0)" } ?? "")"
    #expect(text.contains("mask.yaml:7"), "\(text)")
    #expect(text.contains("unknown name 'xx'") && text.contains("did you mean 'x'"), "\(text)")
    let random = #expect(throws: ConfigError.self) {
      try Self.experiment(mask: "random() < 0.5")
    }
    #expect("\(random.map { "\($0)" } ?? "")".contains("random function"))
    let e = try Self.experiment(mask: "1 / (x - x)")
    let trainer = try Trainer(experiment: e, model: try EpochTests.tinyModel(), seed: 1)
    let failure = #expect(throws: (any Error).self) { try trainer.step(epoch: 0) }
    let message = "\(failure.map { "\($0)" } ?? "")"
    #expect(
      message.contains("targets[0].mask") && message.contains("division by zero"), "\(message)")
  }

  /// `mask: x >= 0.5` confines change to the right half, bit for bit (the same criterion as
  /// the image mask's).
  @Test func anExpressionMaskConfinesChangeToItsHalf() throws {
    try Self.expectChangeConfined(try Self.experiment(mask: "x >= 0.5")) { x in x >= 6 }
  }

  /// `clipig preview` writes each masked target's mask beside its views: white where the target
  /// may change pixels, at the image's resolution.
  @Test(
    .enabled(
      if: ClipigExecutable.shouldTest,
      "the clipig executable is not built next to the test bundle (swift build first)"))
  func previewWritesTheMask() throws {
    let dir = try TestFiles.temporaryDirectory("mask-preview")
    try TestFiles.write(
      """
      epochs: 4
      resolution: 8
      targets:
        - name: top
          mask: y < 0.5
          features:
            - text: a cat
      """, to: dir + "/mask.yaml")
    let r = try ClipigExecutable.run(
      [
        "preview", dir + "/mask.yaml", "--model", TestFiles.tinyModel, "--seed", "1", "-o",
        dir + "/views",
      ], in: nil)
    #expect(r.status == 0, "\(r.err)")
    #expect(r.out.contains("top-0-mask.png"), "\(r.out)")
    let mask = try PNG.read(path: dir + "/views/top-0-mask.png")
    #expect(mask.shape == [3, 8, 8])
    #expect(mask.scalars == (0..<3 * 64).map { i in (i % 64) / 8 < 4 ? 1 : 0 })
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
