import PipelineKit
import Testing

@Suite("Seeded random source")
struct SeededRandomTests {
  @Test func copiesDrawIdenticalStreams() {
    var a = SeededRandom(seed: 42)
    _ = a.next()
    var b = a
    #expect((0..<100).map { _ in a.next() } == (0..<100).map { _ in b.next() })
    var c = SeededRandom(seed: 43)
    var d = SeededRandom(seed: 42)
    #expect(c.next() != d.next())
  }

  @Test func forkLeavesParentUntouched() {
    let a = SeededRandom(seed: 7)
    var f1 = a.fork(1)
    var f2 = a.fork(2)
    var again = a.fork(1)
    #expect(f1.next() == again.next())
    #expect(f1.next() != f2.next())
    #expect(a == SeededRandom(seed: 7))
  }

  @Test func distributions() {
    var r = SeededRandom(seed: 3)
    let n = 200_000
    var sum = 0.0
    var sumSq = 0.0
    var uSum = 0.0
    for _ in 0..<n {
      let x = r.normal()
      sum += x
      sumSq += x * x
      let u = r.uniform()
      #expect(u >= 0 && u < 1)
      uSum += u
    }
    // Standard errors: mean 1/sqrt(n) ≈ 0.0022; use 5 sigma.
    #expect(abs(sum / Double(n)) < 0.012)
    #expect(abs(sumSq / Double(n) - 1) < 0.02)
    #expect(abs(uSum / Double(n) - 0.5) < 0.004)
    for _ in 0..<1000 {
      let k = r.integer(in: 0...3)
      #expect((0...3).contains(k))
    }
  }
}

@Suite("BLAS wrapper")
struct BLASTests {
  @Test(arguments: [(false, false), (false, true), (true, false), (true, true)])
  func sgemmMatchesNaiveProduct(transA: Bool, transB: Bool) {
    let m = 5
    let n = 4
    let k = 3
    var r = SeededRandom(seed: 9)
    let a = (0..<(m * k)).map { _ in Float(r.normal()) }
    let b = (0..<(k * n)).map { _ in Float(r.normal()) }
    var c = [Float](repeating: 1, count: m * n)
    func A(_ i: Int, _ p: Int) -> Float { transA ? a[p * m + i] : a[i * k + p] }
    func B(_ p: Int, _ j: Int) -> Float { transB ? b[j * k + p] : b[p * n + j] }
    a.withUnsafeBufferPointer { pa in
      b.withUnsafeBufferPointer { pb in
        c.withUnsafeMutableBufferPointer { pc in
          BLAS.sgemm(
            transA: transA, transB: transB, m: m, n: n, k: k, alpha: 2, a: pa.baseAddress!,
            lda: transA ? m : k, b: pb.baseAddress!, ldb: transB ? k : n, beta: 0.5,
            c: pc.baseAddress!, ldc: n)
        }
      }
    }
    for i in 0..<m {
      for j in 0..<n {
        var s: Float = 0
        for p in 0..<k { s += A(i, p) * B(p, j) }
        #expect(abs(c[i * n + j] - (2 * s + 0.5)) < 1e-4)
      }
    }
  }
}

@Suite("Tensor")
struct TensorTests {
  @Test func stackAndView() {
    let a = Tensor(shape: [1, 2, 2], scalars: [1, 2, 3, 4])
    let b = Tensor(shape: [1, 2, 2], scalars: [5, 6, 7, 8])
    let s = Tensor.stack([a, b])
    #expect(s.shape == [2, 1, 2, 2])
    #expect(s.view(1) == b)
    #expect(s.chw == (1, 2, 2))
    #expect(a.dot(b) == 70)
  }
}

@Test func parallelForVisitsEveryIndexOnce() {
  let n = 1000
  var hits = [Int](repeating: 0, count: n)
  hits.withUnsafeMutableBufferPointer { h in
    let p = h.baseAddress!
    parallelFor(n) { i in p[i] += 1 }
  }
  #expect(hits.allSatisfy { $0 == 1 })
}
