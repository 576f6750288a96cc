import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// Meaning, end to end: images rendered through one toy CLIP must mean their prompts to
/// another (issue 27).
///
/// The toy world (`scripts/toy_world.py`, docs/toy-world.md) is 32 × 32 pictures of a coloured
/// circle, square or triangle on a background of another colour; two small CLIPs were trained
/// on it from scratch with different seeds and widths (`Tests/Fixtures/toy-world/toy-clip-a`
/// and `-b`). Each test renders a dozen prompts with toy CLIP A — as a user would, from YAML,
/// through the trainer — and judges the images with toy CLIP B, which was not in the loss:
///
/// - R-precision: the share of images whose own prompt is B's top-1 among the dozen;
/// - colour (fft renders): the mean colour of the image's border (where the background shows) must be
///   nearest, among the world's six colours, to the background the prompt names, and the
///   pixels far from that background must on average be nearest to the shape's colour.
///
/// A change that makes images meaningless — a wrong normalisation, a broken transform, a
/// sign error in a pullback — leaves the images random to B and their colours unrelated to
/// the prompts, and fails these tests.
@Suite("Toy world: rendered images mean their prompts to a held-out toy CLIP")
struct ToyWorldTests {
  /// The world's colours as `scripts/toy_world.py` paints them (before its ±0.08 jitter).
  static let colours: [(name: String, rgb: [Float])] = [
    ("red", [0.90, 0.12, 0.10]), ("green", [0.12, 0.75, 0.15]), ("blue", [0.10, 0.20, 0.90]),
    ("yellow", [0.95, 0.88, 0.10]), ("white", [0.95, 0.95, 0.95]), ("black", [0.05, 0.05, 0.05]),
  ]

  /// A dozen prompts: every shape, every colour as a shape and as a background.
  static let scenes: [(shape: String, colour: String, background: String)] = [
    ("circle", "red", "blue"), ("square", "green", "black"), ("triangle", "yellow", "red"),
    ("circle", "white", "green"), ("square", "blue", "yellow"), ("triangle", "black", "white"),
    ("square", "red", "white"), ("triangle", "green", "blue"), ("circle", "yellow", "black"),
    ("triangle", "blue", "green"), ("circle", "black", "yellow"), ("square", "white", "red"),
  ]

  static var prompts: [String] {
    scenes.map { "a \($0.colour) \($0.shape) on a \($0.background) background" }
  }

  static let modelA = TestFiles.repository.appendingPathComponent(
    "Tests/Fixtures/toy-world/toy-clip-a"
  ).path
  static let modelB = TestFiles.repository.appendingPathComponent(
    "Tests/Fixtures/toy-world/toy-clip-b"
  ).path

  /// The experiment: a render at the models' input size with random scale, shift and noise
  /// (the best of four settings tried with the CLI; docs/toy-world.md).
  static func experiment(_ prompt: String, parametrization: String) -> String {
    let (section, learnrate, postproc) =
      parametrization == "fft"
      ? ("{type: fft, decay: 1.5}", 2, "") : ("pixels", 1, "postproc: [{blur: {kernel_size: 3}}]")
    return """
      epochs: 80
      resolution: 32
      optimizer: adam
      learnrate: \(learnrate)
      init: {mean: 0.5, std: 0.0}
      parametrization: \(section)
      \(postproc)
      targets:
        - batch_size: 4
          features:
            - text: \(prompt)
          transforms: [{random_scale: 0.8 1.2}, {random_shift: -0.2 0.2}, {noise: 0.1}]
      """
  }

  /// Renders every prompt with toy CLIP A.
  static func render(parametrization: String) throws -> [Tensor] {
    let model = try ModelLoader.load(modelA, quiet: true)
    return try prompts.enumerated().map { i, prompt in
      let e = try Experiment(
        try YAML.parse(experiment(prompt, parametrization: parametrization), file: "toy.yaml"))
      let trainer = try Trainer(experiment: e, model: model, seed: UInt64(100 + i))
      for epoch in 0..<e.epochs { try trainer.step(epoch: epoch) }
      return trainer.image
    }
  }

  /// The index of the world colour nearest to `rgb`.
  static func nearestColour(_ rgb: [Float]) -> Int {
    colours.indices.min { a, b in
      distance(colours[a].rgb, rgb) < distance(colours[b].rgb, rgb)
    }!
  }

  static func distance(_ a: [Float], _ b: [Float]) -> Float {
    zip(a, b).map { ($0 - $1) * ($0 - $1) }.reduce(0, +).squareRoot()
  }

  /// The mean colour of the pixels of `image` `[3, H, W]` where `keep(y, x, rgb)` holds.
  static func meanColour(_ image: Tensor, where keep: (Int, Int, [Float]) -> Bool) -> [Float]? {
    let (_, h, w) = image.chw
    var sum: [Float] = [0, 0, 0]
    var n = 0
    for y in 0..<h {
      for x in 0..<w {
        let rgb = (0..<3).map { image.scalars[$0 * h * w + y * w + x] }
        if keep(y, x, rgb) {
          for c in 0..<3 { sum[c] += rgb[c] }
          n += 1
        }
      }
    }
    return n == 0 ? nil : sum.map { $0 / Float(n) }
  }

  @Test(arguments: ["pixels", "fft"])
  func heldOutJudgeFindsThePrompt(parametrization: String) throws {
    let images = try Self.render(parametrization: parametrization)
    let judge = Rater(model: try ModelLoader.load(Self.modelB, quiet: true))
    let texts = try Self.prompts.map { try judge.textFeatures($0) }
    var hits = 0
    var backgroundHits = 0
    var shapeHits = 0
    for (i, image) in images.enumerated() {
      let f = try judge.imageFeatures(image)
      let sims = texts.map { Rater.similarity($0, f) }
      let top = sims.indices.max { sims[$0] < sims[$1] }!
      if top == i { hits += 1 }
      let border = Self.meanColour(image) { y, x, _ in min(y, x, 31 - y, 31 - x) < 3 }!
      let scene = Self.scenes[i]
      let bg = Self.nearestColour(border)
      if Self.colours[bg].name == scene.background { backgroundHits += 1 }
      let far = Self.meanColour(image) { _, _, rgb in Self.distance(rgb, border) > 0.35 }
      let fg = far.map(Self.nearestColour)
      if let fg, Self.colours[fg].name == scene.colour { shapeHits += 1 }
      print(
        "toy \(parametrization) \(Self.prompts[i]): top \(Self.prompts[top]) "
          + "border \(border) → \(Self.colours[bg].name) far \(far ?? []) → "
          + "\(fg.map { Self.colours[$0].name } ?? "-")")
    }
    print(
      "toy \(parametrization): R-precision \(hits)/12, backgrounds \(backgroundHits)/12, "
        + "shapes \(shapeHits)/12")
    // Measured with the CLI on the same settings and seeds (2026-12-08, loaded 2-core machine):
    // pixels R-precision 7/12, backgrounds 4/12, shapes 0/12; fft R-precision 10/12,
    // backgrounds 11/12, shapes 7/12. Chance: 1/12 for R-precision, about 2/12 for a colour
    // (six colours). Pixel renders stay noisy at 32 px, so their colours are not checked.
    if parametrization == "fft" {
      #expect(hits >= 6)
      #expect(backgroundHits >= 7)
      #expect(shapeHits >= 4)
    } else {
      #expect(hits >= 4)
    }
  }
}
