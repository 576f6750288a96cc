import ExprEval
import PipelineKit
import PipelineKitTesting
import Testing
import Transforms

/// Runs `stage` once on `x` on a torus (`tiling: true`) or not.
private func runTiled(_ stage: any Stage, _ x: Tensor, tiling: Bool = true, seed: UInt64 = 1)
  throws -> (Tensor, Pullback)
{
  let variables = ExprContext(
    epoch: 0, epochs: 1, width: Double(x.shape[2]), height: Double(x.shape[1]))
  var context = StageContext(
    variables: variables, random: SeededRandom(seed: seed), tiling: tiling)
  return try stage.forward(x, in: &context)
}

/// A 4×4 image (3 channels) whose channel 0 holds 0 … 15 row by row.
private let grid = ramp(4, 4)

/// Channel 0 of the 4×4 ramp at (row, column), both taken modulo 4: the torus by hand.
private func torus(_ r: Int, _ c: Int) -> Float { Float(((r % 4 + 4) % 4) * 4 + (c % 4 + 4) % 4) }

@Suite("Tiling: every stage on a torus")
struct TilingTransformTests {
  @Test func everyTransformsWrapModePassesTheGradientHarness() {
    var options = GradientHarness.Options()
    options.tiling = true
    let failures = GradientHarness.check(registry: .transforms, options: options)
    #expect(failures.isEmpty, "\(failures.map(\.description).joined(separator: "\n"))")
  }

  /// Every pad mode wraps on a torus: pad 1 of the 4×4 ramp reads row/column −1 as 3 and 4 as 0.
  @Test(arguments: ["fill", "edge", "wrap"])
  func padWrapsWhateverItsMode(mode: String) throws {
    let stage = try makeTransform(
      "pad", ["size": 1, "mode": ConfigNode(.string(mode)), "color": 9])
    let (y, pullback) = try runTiled(stage, grid)
    let expected = (-1...4).map { r in (-1...4).map { c in torus(r, c) } }
    #expect(rows(y) == expected)
    // Adjoint by hand: each pixel is read once, plus once per border copy of it (corners 4×).
    let back = pullback(Tensor(shape: y.shape, repeating: 1))
    #expect(rows(back)[0] == [4, 2, 2, 4])
    #expect(rows(back)[1] == [2, 1, 1, 2])
    // Without tiling the fill mode fills.
    let (plain, _) = try runTiled(stage, grid, tiling: false)
    #expect(rows(plain)[0][0] == (mode == "fill" ? 9 : mode == "edge" ? 0 : 15))
  }

  /// Shift wraps with or without tiling: (1, 2) moves pixel (r, c) to (r + 2, c + 1).
  @Test func shiftRollsByHand() throws {
    let (y, _) = try runTiled(try makeTransform("shift", "1 2"), grid)
    #expect(rows(y) == (0..<4).map { r in (0..<4).map { c in torus(r - 2, c - 1) } })
  }

  /// A box blur (sigma → ∞ gives taps 1/3) of an impulse of 9 at (0, 0): on a torus the 3 × 3
  /// ones around it wrap to rows/columns 3, 0, 1; with reflect padding the mirror folds the
  /// taps at −1 back onto index 1 instead.
  @Test func blurWrapsAnImpulseByHand() throws {
    var x = Tensor(shape: [3, 4, 4])
    x.scalars[0] = 9
    let stage = try makeTransform("blur", ["kernel_size": 3, "sigma": 1e9])
    let (y, pullback) = try runTiled(stage, x)
    let near: Set<Int> = [3, 0, 1]
    let expected = (0..<4).map { r in
      (0..<4).map { c in near.contains(r) && near.contains(c) ? Float(1) : 0 }
    }
    for (got, want) in zip(rows(y).joined(), expected.joined()) {
      #expect(abs(got - want) < 1e-5, "\(rows(y))")
    }
    // The adjoint of a symmetric wrap-around blur is the blur itself.
    let back = pullback(x)
    for (got, want) in zip(rows(back).joined(), expected.joined()) {
      #expect(abs(got - want) < 1e-5)
    }
    let (reflected, _) = try runTiled(stage, x, tiling: false)
    // Reflect: (0, 0) reads the impulse once among its nine taps (1); (3, 3) never reads it
    // (0), where the torus gives 1.
    #expect(abs(rows(reflected)[0][0] - 1) < 1e-5)
    #expect(abs(rows(reflected)[3][3]) < 1e-5)
  }

  /// 90° counter-clockwise about the top-left corner: output pixel centre (i + ½, j + ½) reads
  /// R·p = (−(j + ½), i + ½), i.e. column −j − 1 ≡ 3 − j and row i; without tiling all of it
  /// lies left of the image (black).
  @Test func rotateAboutTheCornerWrapsByHand() throws {
    let stage = try makeTransform("rotate", ["degree": 90, "center": 0])
    let (y, _) = try runTiled(stage, grid)
    #expect(rows(y) == (0..<4).map { j in (0..<4).map { i in torus(i, 3 - j) } })
    let (plain, _) = try runTiled(stage, grid, tiling: false)
    #expect(plain.scalars.allSatisfy { $0 == 0 })
  }

  /// `crop: 3 3 2 2` on the 4×4 ramp: rows and columns 3 and 0 (4 wraps to 0).
  @Test func cropAcrossTheEdgeWraps() throws {
    let (y, _) = try runTiled(try makeTransform("crop", "3 3 2 2"), grid)
    #expect(rows(y) == [[15, 12], [3, 0]])
    let (plain, _) = try runTiled(try makeTransform("crop", "3 3 2 2"), grid, tiling: false)
    #expect(rows(plain) == [[15, 0], [0, 0]])
  }

  /// random_crop on a torus draws windows starting anywhere, so some cross the edge, and each is
  /// the wrapped window of its drawn corner.
  @Test func randomCropWindowsCrossTheEdge() throws {
    let stage = try makeTransform("random_crop", 3)
    var corners: Set<[Int]> = []
    for seed in 1...200 {
      let (y, _) = try runTiled(stage, grid, seed: UInt64(seed))
      let window = rows(y)
      let top = Int(window[0][0]) / 4
      let left = Int(window[0][0]) % 4
      #expect(window == (0..<3).map { r in (0..<3).map { c in torus(top + r, left + c) } })
      corners.insert([top, left])
    }
    #expect(
      corners.count == 16, "corners drawn: \(corners.sorted { $0.lexicographicallyPrecedes($1) })")
  }

  /// Bilinear resize 4 → 8 of the row [0, 0, 0, 4]: output 0's source is −0.25, so on a torus
  /// it reads ¼·x[3] + ¾·x[0] = 1 (PyTorch clamps the source to 0 and reads x[0] = 0); output
  /// 7 (source 3.25) reads ¾·x[3] + ¼·x[0] = 3 (PyTorch clamps the tap to x[3] = 4).
  @Test func resizeWrapsItsTapsByHand() throws {
    let x = Tensor(shape: [3, 1, 4]) { i in i % 4 == 3 ? 4 : 0 }
    let stage = try makeTransform("resize", "8 1")
    let (y, _) = try runTiled(stage, x)
    #expect(rows(y)[0] == [1, 0, 0, 0, 0, 1, 3, 3])
    let (plain, _) = try runTiled(stage, x, tiling: false)
    #expect(rows(plain)[0] == [0, 0, 0, 0, 0, 1, 3, 4])
  }

  /// Resizing on a torus commutes with rolling: resize(roll(x, k)) = roll(resize(x), 2k) for
  /// a doubling, and roll(x, 2k) → roll by k for a halving, for every filter.
  @Test(arguments: [Interpolation.nearest, .linear, .cubic])
  func wrappedResizeCommutesWithRolling(filter: Interpolation) {
    var random = SeededRandom(seed: 3)
    let x = Tensor(shape: [3, 6, 10]) { _ in Float(random.uniform()) }
    func roll(_ t: Tensor, _ dy: Int, _ dx: Int) -> Tensor {
      let (_, h, w) = t.chw
      return IndexMap(
        rows: AxisIndex.roll(by: dy, length: h), columns: AxisIndex.roll(by: dx, length: w),
        inputHeight: h, inputWidth: w
      ).gather(t)
    }
    let up = Resampler(from: 6, 10, to: 12, 20, filter: filter, wrap: true)
    let a = up.apply(roll(x, 1, 3))
    let b = roll(up.apply(x), 2, 6)
    #expect(zip(a.scalars, b.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
    let down = Resampler(from: 6, 10, to: 3, 5, filter: filter, wrap: true)
    let c = down.apply(roll(x, 2, 4))
    let d = roll(down.apply(x), 1, 2)
    #expect(zip(c.scalars, d.scalars).allSatisfy { abs($0 - $1) < 1e-5 })
    if filter != .nearest {
      // Clamped edges do not commute (the property tests something).
      let clamped = Resampler(from: 6, 10, to: 12, 20, filter: filter)
      let e = clamped.apply(roll(x, 1, 3))
      let f = roll(clamped.apply(x), 2, 6)
      #expect(zip(e.scalars, f.scalars).contains { abs($0 - $1) > 1e-3 })
    }
  }
}
