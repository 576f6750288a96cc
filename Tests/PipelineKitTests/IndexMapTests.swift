import PipelineKit
import Testing

@Suite("Index maps and affine sampling")
struct IndexMapTests {
  @Test func axisBuilders() {
    let none = IndexMap.none
    #expect(
      AxisIndex.pad(length: 3, before: 2, after: 1, mode: .fill) == [none, none, 0, 1, 2, none])
    #expect(AxisIndex.pad(length: 3, before: 2, after: 1, mode: .edge) == [0, 0, 0, 1, 2, 2])
    #expect(
      AxisIndex.pad(length: 3, before: 4, after: 4, mode: .wrap) == [
        2, 0, 1, 2, 0, 1, 2, 0, 1, 2, 0,
      ])
    #expect(AxisIndex.roll(by: 1, length: 3) == [2, 0, 1])
    #expect(AxisIndex.roll(by: -4, length: 3) == [1, 2, 0])
    #expect(AxisIndex.tile(count: 2, length: 3) == [0, 1, 2, 0, 1, 2])
    #expect(AxisIndex.border(size: 1, length: 4) == [none, 1, 2, none])
    #expect(AxisIndex.border(size: 9, length: 2) == [none, none])
    #expect(AxisIndex.window(offset: -1, count: 4, length: 2) == [none, 0, 1, none])
  }

  @Test func gatherFillsPerChannelOnBatches() {
    let map = IndexMap(
      rows: [IndexMap.none, 0], columns: [1, IndexMap.none], inputHeight: 1, inputWidth: 2)
    let x = Tensor(shape: [2, 2, 1, 2], scalars: [1, 2, 3, 4, 5, 6, 7, 8])
    let y = map.gather(x, fill: [-1, -2])
    #expect(y.shape == [2, 2, 2, 2])
    #expect(y.scalars == [-1, -1, 2, -1, -2, -2, 4, -2, -1, -1, 6, -1, -2, -2, 8, -2])
  }

  @Test func scatterAddIsTheAdjointOfGather() {
    var random = SeededRandom(seed: 3)
    let h = 5
    let w = 7
    var dense = [Int32]()
    for _ in 0..<(6 * 4) {
      dense.append(
        random.uniform() < 0.2 ? IndexMap.none : Int32(random.integer(in: 0...(h * w - 1))))
    }
    let maps = [
      IndexMap(indices: dense, outputHeight: 6, outputWidth: 4, inputHeight: h, inputWidth: w),
      IndexMap(
        rows: AxisIndex.pad(length: h, before: 3, after: 2, mode: .edge),
        columns: AxisIndex.pad(length: w, before: 9, after: 1, mode: .wrap), inputHeight: h,
        inputWidth: w),
    ]
    for map in maps {
      var x = Tensor(shape: [3, h, w])
      random.fillNormal(&x.scalars)
      var v = Tensor(shape: [3, map.outputHeight, map.outputWidth])
      random.fillNormal(&v.scalars)
      let lhs = map.gather(x).dot(v)
      let rhs = x.dot(map.scatterAdd(v))
      #expect(abs(lhs - rhs) <= 1e-4 * max(1, abs(lhs)))
    }
  }

  @Test func nearestSamplingRoundsHalfToEven() {
    // Moving by half a pixel puts every source point exactly between two pixels.
    let sampler = AffineSampler(
      sourceFromOutput: .translation(x: 0.5, y: 0), inputHeight: 1, inputWidth: 4)
    #expect(sampler.map.isSeparable)
    let x = Tensor(shape: [1, 1, 4], scalars: [10, 11, 12, 13])
    #expect(sampler.apply(x).scalars == [10, 10, 12, 12])
    #expect(sampler.adjoint(Tensor(shape: [1, 1, 4], repeating: 1)).scalars == [2, 0, 2, 0])
  }

  @Test func axisAlignedAndGeneralMapsAgree() {
    // A zoom through the separable path equals the same zoom with a negligible shear term
    // taken through the dense path.
    let m = Affine2D.scaling(1.37, centerX: 4.5, centerY: 3)
    var sheared = m
    sheared.b = 1e-300
    let a = AffineSampler(sourceFromOutput: m, inputHeight: 6, inputWidth: 9)
    let b = AffineSampler(sourceFromOutput: sheared, inputHeight: 6, inputWidth: 9)
    #expect(a.map.isSeparable && !b.map.isSeparable)
    for y in 0..<6 {
      for x in 0..<9 {
        let p = a.map.source(y: y, x: x)
        let q = b.map.source(y: y, x: x)
        #expect(p?.row == q?.row && p?.column == q?.column)
      }
    }
  }

  @Test func nonFiniteMapsReadNothing() {
    let sampler = AffineSampler(
      sourceFromOutput: .rotation(degrees: .nan, centerX: 1, centerY: 1), inputHeight: 3,
      inputWidth: 3)
    #expect(sampler.apply(Tensor(shape: [1, 3, 3], repeating: 1)).scalars.allSatisfy { $0 == 0 })
  }

  @Test func rotationMatchesTheWrittenRule() {
    // 90° about (2.5, 2.5) on 5×5: output (x=2, y=0) reads input (x=4, y=2).
    let sampler = AffineSampler(
      sourceFromOutput: .rotation(degrees: 90, centerX: 2.5, centerY: 2.5), inputHeight: 5,
      inputWidth: 5)
    #expect(sampler.map.source(y: 0, x: 2)?.row == 2)
    #expect(sampler.map.source(y: 0, x: 2)?.column == 4)
  }
}
