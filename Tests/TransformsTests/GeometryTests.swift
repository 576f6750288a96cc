import ExprEval
import PipelineKit
import Testing
import Transforms

/// Builds a transform from its YAML value, as the runner does.
func makeTransform(_ name: String, _ value: ConfigNode) throws(ConfigError) -> any Stage {
  try StageRegistry.transforms.make(
    name: name, parameters: value, path: "targets[0].transforms[0].\(name)",
    keyLocation: SourceLocation(file: "t.yaml", line: 1, column: 1))
}

/// Runs `stage` once on `x` with a fresh context.
func run(_ stage: any Stage, _ x: Tensor, seed: UInt64 = 1, t: Double = 0) throws -> (
  Tensor, Pullback
) {
  var variables = ExprContext(
    epoch: 0, epochs: 1, width: Double(x.shape[2]), height: Double(x.shape[1]))
  variables.t = t
  var context = StageContext(variables: variables, random: SeededRandom(seed: seed))
  let (y, pb) = try stage.forward(x, in: &context)
  return (y, pb)
}

/// The test image of CLIPig's test_transforms.py: channel k holds [[1,2,3],[4,5,6],[7,8,9]] + 10k.
let clipigImage = Tensor(shape: [3, 3, 3]) { i in Float(i % 9 + 1 + 10 * (i / 9)) }

/// Rows of channel `k` of an image `[C,H,W]`.
func rows(_ x: Tensor, channel k: Int = 0) -> [[Float]] {
  let (_, h, w) = x.chw
  return (0..<h).map { r in Array(x.scalars[(k * h + r) * w..<(k * h + r + 1) * w]) }
}

/// A 1-channel-looking image `[3,H,W]` with ramp values y·W + x in every channel.
func ramp(_ h: Int, _ w: Int) -> Tensor {
  Tensor(shape: [3, h, w]) { i in Float(i % (h * w)) }
}

/// A node located in `t.yaml` at line 3, column 7, for checking error locations.
func located(_ value: ConfigValue) -> ConfigNode {
  ConfigNode(value, at: SourceLocation(file: "t.yaml", line: 3, column: 7))
}

@Suite("Geometric transforms: golden values (spec §5, §15)")
struct GeometryGoldenTests {
  @Test func shiftRollsRowsLikeCLIPigsTest() throws {
    for (value, expected) in [("1 0", [3, 1, 2]), ("-2 0", [3, 1, 2]), ("-1 0", [2, 3, 1])] {
      let (y, _) = try run(try makeTransform("shift", .init(stringLiteral: value)), clipigImage)
      #expect(y.shape == [3, 3, 3])
      for k in 0..<3 {
        let base = Float(10 * k)
        let e = expected.map { Float($0) + base }
        #expect(rows(y, channel: k) == [e, e.map { $0 + 3 }, e.map { $0 + 6 }], "shift \(value)")
      }
    }
  }

  @Test func shiftFractionsAndPullback() throws {
    // 0.5 of width 4 is 2 pixels; -0.25 of height 4 is -1 row.
    let x = ramp(4, 4)
    let (y, pb) = try run(try makeTransform("shift", "0.5 -0.25"), x)
    #expect(rows(y)[0] == [6, 7, 4, 5])
    #expect(pb(y) == x)
  }

  @Test func padFillAndWrapLikeCLIPigsTest() throws {
    let fill = try makeTransform("pad", ["size": "1 0", "color": 0, "mode": "fill"])
    let (y, _) = try run(fill, clipigImage)
    #expect(y.shape == [3, 3, 5])
    #expect(rows(y, channel: 1) == [[0, 11, 12, 13, 0], [0, 14, 15, 16, 0], [0, 17, 18, 19, 0]])
    let wrap = try makeTransform("pad", ["size": "1 0", "mode": "wrap"])
    let (z, _) = try run(wrap, clipigImage)
    #expect(rows(z, channel: 0) == [[3, 1, 2, 3, 1], [6, 4, 5, 6, 4], [9, 7, 8, 9, 7]])
  }

  @Test func padModesAtTheCorners() throws {
    let x = ramp(2, 3)  // [[0 1 2] [3 4 5]]
    let (edge, _) = try run(try makeTransform("pad", ["size": 1, "mode": "edge"]), x)
    #expect(rows(edge) == [[0, 0, 1, 2, 2], [0, 0, 1, 2, 2], [3, 3, 4, 5, 5], [3, 3, 4, 5, 5]])
    let (wrap, _) = try run(try makeTransform("pad", ["size": 1, "mode": "wrap"]), x)
    #expect(rows(wrap) == [[5, 3, 4, 5, 3], [2, 0, 1, 2, 0], [5, 3, 4, 5, 3], [2, 0, 1, 2, 0]])
    let (fill, _) = try run(try makeTransform("pad", ["size": "1 1", "color": "7 8 9"]), x)
    #expect(
      rows(fill, channel: 2) == [
        [9, 9, 9, 9, 9], [9, 0, 1, 2, 9], [9, 3, 4, 5, 9], [9, 9, 9, 9, 9],
      ])
  }

  @Test func padWrapBeyondTheImageSizeKeepsWrapping() throws {
    // CLIPig could pad at most W columns; clipig continues the period.
    let x = Tensor(shape: [3, 1, 3]) { i in Float(i % 3 + 1) }  // [1 2 3]
    let (y, pb) = try run(try makeTransform("pad", ["size": "5 0", "mode": "wrap"]), x)
    #expect(rows(y) == [[2, 3, 1, 2, 3, 1, 2, 3, 1, 2, 3, 1, 2]])
    // Each input pixel is copied 4 or 5 times: the pullback counts the copies.
    #expect(rows(pb(Tensor(shape: y.shape, repeating: 1))) == [[4, 5, 4]])
  }

  @Test func resamplingOneByTwoToOneByFour() {
    let x = Tensor(shape: [1, 1, 2], scalars: [0, 1])
    let nearest = Resampler(from: 1, 2, to: 1, 4, filter: .nearest).apply(x)
    #expect(nearest.scalars == [0, 0, 1, 1])
    let linear = Resampler(from: 1, 2, to: 1, 4, filter: .linear).apply(x)
    #expect(linear.scalars == [0, 0.25, 0.75, 1])
    let cubic = Resampler(from: 1, 2, to: 1, 4, filter: .cubic).apply(x)
    for (a, b) in zip(cubic.scalars, [-0.1055, 0.2266, 0.7734, 1.1055] as [Float]) {
      #expect(abs(a - b) < 1e-4)
    }
  }

  @Test func resizeIsBilinearWidthThenHeight() throws {
    let x = Tensor(shape: [3, 1, 2]) { i in Float(i % 2) }
    let (y, _) = try run(try makeTransform("resize", "4 1"), x)
    #expect(y.shape == [3, 1, 4])
    #expect(rows(y) == [[0, 0.25, 0.75, 1]])
    let (same, pb) = try run(try makeTransform("resize", "2 1"), x)
    #expect(same == x)
    #expect(pb(x) == x)
  }

  @Test func rotateMarkerExampleOfSection5_15() throws {
    // 5×5 image, marker at (x=4, y=2), 90° about the default centre → marker at (x=2, y=0).
    var x = Tensor(shape: [3, 5, 5])
    for k in 0..<3 { x.scalars[k * 25 + 2 * 5 + 4] = 1 }
    let (y, pb) = try run(try makeTransform("rotate", ["degree": 90]), x)
    for k in 0..<3 {
      let ones = (0..<25).filter { y.scalars[k * 25 + $0] == 1 }
      #expect(ones == [0 * 5 + 2])
    }
    // A 90° turn about the centre of an odd square is a permutation: the pullback is its inverse.
    #expect(pb(y) == x)
  }

  @Test func rotateIsCounterClockwiseAboutACornerPivot() throws {
    // Pivot at the top-left corner, 90°: the content turns up and out of the image except for
    // what lies left of the pivot — nothing — so a quarter turn leaves the image black...
    let x = Tensor(shape: [3, 4, 4], repeating: 1)
    let (y, _) = try run(try makeTransform("rotate", ["degree": 90, "center": 0]), x)
    #expect(y.scalars.allSatisfy { $0 == 0 })
    // 0° about any pivot is the identity.
    let (z, _) = try run(try makeTransform("rotate", ["degree": 0, "center": "0 1"]), x)
    #expect(z == x)
    // 180° about the image centre flips both axes.
    let r = ramp(2, 3)
    let (f, _) = try run(try makeTransform("rotate", ["degree": 180]), r)
    #expect(rows(f) == [[5, 4, 3], [2, 1, 0]])
  }

  @Test func centerCropExamples() throws {
    // Width 6: crop 3 → columns 2..4 (round half to even of 1.5 = 2); crop 5 → columns 0..4.
    let x = ramp(1, 6)
    let (a, _) = try run(try makeTransform("center_crop", "3 1"), x)
    #expect(rows(a) == [[2, 3, 4]])
    let (b, _) = try run(try makeTransform("center_crop", "5 1"), x)
    #expect(rows(b) == [[0, 1, 2, 3, 4]])
    // Larger than the image: zero padding, ⌊(c − n)/2⌋ before.
    let (c, pb) = try run(try makeTransform("center_crop", "9 1"), x)
    #expect(rows(c) == [[0, 0, 1, 2, 3, 4, 5, 0, 0]])
    #expect(pb(c) == x)
  }

  @Test func cropsTakeWidthThenHeight() throws {
    // The pair is (width, height) as documented (CLIPig used (height, width)).
    let x = ramp(6, 8)
    for name in ["center_crop", "random_crop"] {
      let (y, _) = try run(try makeTransform(name, "5 3"), x)
      #expect(y.shape == [3, 3, 5], "\(name)")
    }
    let (z, _) = try run(try makeTransform("resize", "5 3"), x)
    #expect(z.shape == [3, 3, 5])
  }

  @Test func cropExampleOfSection5_24() throws {
    // 4×5 image (H=4, W=5), crop 1 0.5 0.6 2 → x=1, y=2, w=3, h=2.
    let x = ramp(4, 5)
    let (y, _) = try run(try makeTransform("crop", "1 0.5 0.6 2"), x)
    #expect(y.shape == [3, 2, 3])
    #expect(rows(y) == [[11, 12, 13], [16, 17, 18]])
    // Negative pixel offsets are pixels (CLIPig made them fractions); outside is zero.
    let (z, _) = try run(try makeTransform("crop", "-2 3 4 2"), x)
    #expect(rows(z) == [[0, 0, 15, 16], [0, 0, 0, 0]])
  }

  @Test func borderSizesZeroAndBeyond() throws {
    let x = ramp(3, 4)
    let (same, _) = try run(try makeTransform("border", ["size": 0]), x)
    #expect(same == x)
    let (all, pb) = try run(try makeTransform("border", ["size": "9 0", "color": 0.5]), x)
    #expect(all.scalars.allSatisfy { $0 == 0.5 })
    #expect(pb(all).scalars.allSatisfy { $0 == 0 })
    let (one, _) = try run(try makeTransform("border", ["size": "1 0"]), x)
    #expect(rows(one) == [[0, 1, 2, 0], [0, 5, 6, 0], [0, 9, 10, 0]])
  }

  @Test func repeatTiles() throws {
    let x = ramp(1, 2)
    let (y, pb) = try run(try makeTransform("repeat", "3 2"), x)
    #expect(y.shape == [3, 2, 6])
    #expect(rows(y) == [[0, 1, 0, 1, 0, 1], [0, 1, 0, 1, 0, 1]])
    #expect(rows(pb(Tensor(shape: y.shape, repeating: 1))) == [[6, 6]])
  }

  @Test func randomCropLargerThanTheImageIsPaddedNotATrap() throws {
    let x = ramp(3, 4)
    let (y, _) = try run(try makeTransform("random_crop", "2 5"), x)
    #expect(y.shape == [3, 5, 2])
    // Rows: 1 zero row above and below (centred); columns: a random window of 2.
    #expect(rows(y)[0] == [0, 0])
    #expect(rows(y)[4] == [0, 0])
  }

  @Test func randomStagesDrawPerViewAndReplay() throws {
    let x = ramp(8, 8)
    for (name, value) in [
      ("random_crop", "4 4"), ("random_shift", "0 1"), ("random_translate", "0.5 0.5"),
      ("random_scale", "0.5 2"),
    ] as [(String, ConfigNode)] {
      let stage = try makeTransform(name, value)
      var context = StageContext(random: SeededRandom(seed: 7))
      let (a, _) = try stage.forward(x, in: &context)
      let (b, _) = try stage.forward(x, in: &context)
      #expect(a != b, "\(name): two views should differ")
      var replay = StageContext(random: SeededRandom(seed: 7))
      let (c, _) = try stage.forward(x, in: &replay)
      #expect(a == c, "\(name): the same seed replays")
    }
  }

  @Test func randomRotateWithFixedRangesIsRotate() throws {
    let x = ramp(5, 6)
    let (a, _) = try run(
      try makeTransform("random_rotate", ["degree": "30 30", "center": "0.25 0.25"]), x)
    let (b, _) = try run(try makeTransform("rotate", ["degree": 30, "center": 0.25]), x)
    #expect(a == b)
  }

  @Test func randomTranslateMovesWholePixels() throws {
    let x = Tensor(shape: [3, 5, 5], repeating: 1)
    for seed in 0..<20 {
      let (y, _) = try run(try makeTransform("random_translate", "0.4 0.4"), x, seed: UInt64(seed))
      // A whole-pixel move leaves a rectangle of ones of size (5 − |tx|) × (5 − |ty|).
      let ones = y.scalars.prefix(25).filter { $0 == 1 }.count
      #expect([25, 20, 15, 16, 12, 9].contains(ones), "seed \(seed): \(ones)")
    }
  }
}

@Suite("Geometric transforms: parameter errors")
struct GeometryParameterErrorTests {
  /// The message of the `ConfigError` building `name` from `value` throws, or nil.
  func loadError(_ name: String, _ value: ConfigNode) -> String? {
    do {
      _ = try makeTransform(name, value)
      return nil
    } catch {
      return error.description
    }
  }

  @Test func unknownPadModeSuggestsTheClosest() {
    let message = loadError("pad", ["size": 2, "mode": located(.string("wrapp"))])
    #expect(
      message
        == "t.yaml:3:7: error: 'targets[0].transforms[0].pad.mode': unknown pad mode 'wrapp' (did you mean 'wrap'?); valid: fill, edge, wrap"
    )
  }

  @Test func badValuesFailAtLoadWithTheirLocation() {
    let cases: [(String, ConfigNode, String)] = [
      ("pad", ["size": located(.string("-1 2"))], "pad size must be at least 0"),
      ("resize", located(.string("0 10")), "resize size must be at least 1"),
      ("resize", located(.int(100_000)), "exceeds the limit"),
      ("resize", located(.string("1 2 3")), "expected a list of length 1 or 2, got 3 values"),
      ("center_crop", located(.int(-3)), "center_crop size must be at least 1"),
      ("random_crop", located(.string("0 4")), "random_crop size must be at least 1"),
      ("crop", located(.string("0 0 0 4")), "crop width and height must be greater than 0"),
      ("crop", located(.string("0 0 4")), "expected a list of length 1 or 4, got 3 values"),
      ("repeat", located(.int(0)), "repeat count must be at least 1"),
      ("border", ["size": located(.int(-1))], "border size must be at least 0"),
      ("random_scale", located(.string("0 2")), "random_scale factor must be greater than 0"),
      ("random_scale", located(.string("2 1")), "the minimum 2.0 exceeds the maximum 1.0"),
      ("random_translate", located(.string("0.5 1.5")), "must lie in [0.0, 1.0]"),
      (
        "random_rotate", ["degree": located(.string("30 -30"))],
        "the minimum 30.0 exceeds the maximum -30.0"
      ),
      (
        "random_shift", located(.string("1 2 3")),
        "expected a list of length 1 or 2 or 4, got 3 values"
      ),
      ("rotate", ["center": 0.5], "missing required parameter 'degree'"),
      ("shift", ["offset": 1], "takes its value directly"),
    ]
    for (name, value, fragment) in cases {
      let message = loadError(name, value)
      #expect(message?.contains(fragment) == true, "\(name): \(message ?? "no error")")
      if value.entries == nil {
        #expect(
          message?.hasPrefix("t.yaml:3:7: error: ") == true, "\(name): \(message ?? "no error")")
      }
    }
  }

  @Test func runTimeValuesAreClampedOrReported() throws {
    let x = ramp(4, 4)
    // A size expression that reaches 0 gives one pixel instead of an empty image.
    let (y, _) = try run(try makeTransform("resize", "4*ti"), x, t: 1)
    #expect(y.shape == [3, 1, 1])
    // A zoom factor that reaches 0 is reported as an error of that parameter, not a trap.
    #expect(throws: StageError.self) {
      try run(try makeTransform("random_scale", "ti ti"), x, t: 1)
    }
    // So is an absurd size.
    #expect(throws: StageError.self) {
      try run(try makeTransform("pad", ["size": "1e6*t"]), x, t: 1)
    }
    // Negative pad sizes from expressions count as 0.
    let (p, _) = try run(try makeTransform("pad", ["size": "-t"]), x, t: 1)
    #expect(p == x)
  }
}
