import Foundation
import Parametrizations
import PipelineKit
import PipelineKitTesting
import Testing

/// Every configuration the YAML section can produce.
private let variants: [ParametrizationSpec] = {
  var all: [ParametrizationSpec] = []
  for colors in ColorBasis.allCases {
    for mapping in ValueMapping.allCases {
      all.append(ParametrizationSpec(kind: .pixels, colors: colors, mapping: mapping))
      all.append(ParametrizationSpec(kind: .stack, colors: colors, mapping: mapping))
      for decay in [0.0, 1.0, 1.7] {
        all.append(ParametrizationSpec(kind: .fft, decay: decay, colors: colors, mapping: mapping))
      }
    }
  }
  return all
}()

/// An image `[3,H,W]` with values in [lo, hi].
private func randomImage(_ h: Int, _ w: Int, seed: UInt64, _ lo: Float = 0.05, _ hi: Float = 0.95)
  -> Tensor
{
  var rng = SeededRandom(seed: seed)
  return Tensor(shape: [3, h, w]) { _ in lo + (hi - lo) * Float(rng.uniform()) }
}

/// An image `[3,H,W]` whose values lie in [0.15, 0.85] or, for about a quarter of them, in
/// [−0.6, −0.3] ∪ [1.3, 1.6].
private func gappedImage(_ h: Int, _ w: Int, seed: UInt64) -> Tensor {
  var rng = SeededRandom(seed: seed)
  return Tensor(shape: [3, h, w]) { _ in
    let u = Float(rng.uniform())
    let r = Float(rng.uniform())
    if r < 0.125 { return -0.6 + 0.3 * u }
    if r < 0.25 { return 1.3 + 0.3 * u }
    return 0.15 + 0.7 * u
  }
}

@Suite("Image parametrizations: properties")
struct ParametrizationPropertyTests {
  @Test(arguments: [(6, 8), (5, 7), (7, 4), (1, 5), (4, 1)])
  func everyVariantPassesTheGradientHarness(size: (Int, Int)) {
    let (h, w) = size
    for (i, spec) in variants.enumerated() {
      let p = spec.make(width: w, height: h)
      // Around an image with some values well outside [0, 1], so that the clamp zeroes their
      // gradient but no value crosses a bound within a finite-difference step (one coefficient
      // moves every pixel, which the harness's kink detector cannot see).
      let params = p.encode(gappedImage(h, w, seed: UInt64(i)))
      let x = Tensor(shape: [params.count], scalars: params)
      let failures = GradientHarness.check(
        "\(spec.kind) \(spec.colors) \(spec.mapping) decay \(spec.decay) \(h)×\(w)",
        at: x, policy: spec.mapping == .clamp ? .piecewise : .smooth
      ) { t in
        let (y, pb) = p.image(t.scalars)
        return (y, { Tensor(shape: [t.count], scalars: pb($0)) })
      }
      #expect(failures.isEmpty, "\(failures)")
    }
  }

  @Test func theLinearPartIsTheExactAdjoint() {
    // Inside [0, 1] the clamp is the identity, so the piece is linear there: finite differences
    // and the exact adjoint identity ⟨f(x), v⟩ = ⟨x, fᵀv⟩.
    for (h, w) in [(6, 8), (5, 7), (8, 5), (16, 16)] {
      for colors in ColorBasis.allCases {
        let p = FourierParametrization(width: w, height: h, decay: 1.2, colors: colors)
        let params = p.encode(randomImage(h, w, seed: 7, 0.3, 0.7))
        let x = Tensor(shape: [params.count], scalars: params)
        let failures = GradientHarness.check("fft \(colors) \(h)×\(w)", at: x) { t in
          let (y, pb) = p.image(t.scalars)
          return (y, { Tensor(shape: [t.count], scalars: pb($0)) })
        }
        #expect(failures.isEmpty, "\(failures)")
        let (y, pullback) = p.image(params)
        var rng = SeededRandom(seed: 21)
        var v = Tensor(shape: y.shape)
        rng.fillNormal(&v.scalars)
        let g = Tensor(shape: [params.count], scalars: pullback(v))
        let (lhs, rhs) = (y.dot(v), x.dot(g))
        let scale = max(abs(lhs), abs(rhs), 1e-9)
        #expect(abs(lhs - rhs) / scale < 1e-5, "\(colors) \(h)×\(w): \(lhs) vs \(rhs)")
      }
    }
  }

  @Test func encodingIsExact() {
    for (h, w) in [(6, 8), (5, 7), (1, 1), (3, 2), (224, 224)] {
      let image = randomImage(h, w, seed: UInt64(h * 1000 + w))
      for spec in variants {
        let p = spec.make(width: w, height: h)
        let params = p.encode(image)
        #expect(params.count == p.parameterCount)
        let back = p.image(params).value
        let err = maxAbsDiff(back.scalars, image.scalars)
        #expect(err < 2e-6, "\(spec) \(h)×\(w): max |Δ| \(err)")
        let editable = p.editableImage(params)
        #expect(maxAbsDiff(editable.scalars, image.scalars) < 2e-6)
      }
    }
  }

  @Test func clampEncodingKeepsValuesOutsideTheRange() {
    // Post-processing edits unclamped values; encoding them back must keep them.
    let raw = randomImage(6, 8, seed: 3, -0.5, 1.5)
    for colors in ColorBasis.allCases {
      let p = FourierParametrization(width: 8, height: 6, colors: colors)
      #expect(maxAbsDiff(p.editableImage(p.encode(raw)).scalars, raw.scalars) < 2e-6)
    }
  }

  @Test func pixelsAreCLIPigsRawPixelsBitForBit() {
    let raw = randomImage(9, 11, seed: 5, -0.3, 1.3)
    let p = PixelParametrization(width: 11, height: 9)
    #expect(p.encode(raw) == raw.scalars)
    #expect(p.editableImage(raw.scalars) == raw)
    let (y, pullback) = p.image(raw.scalars)
    #expect(y == ImageOps.clamp(raw, 0, 1))
    let v = randomImage(9, 11, seed: 6, -1, 1)
    #expect(pullback(v) == ImageOps.clampPullback(v, input: raw, 0, 1).scalars)
    let (next, resized, kept) = p.resized(raw.scalars, width: 5, height: 13, filter: .cubic)
    #expect(next.width == 5 && next.height == 13)
    #expect(resized == Resampler(from: 9, 11, to: 13, 5, filter: .cubic).apply(raw).scalars)
    #expect(kept == .none)
  }

  /// 0.5 + a sum of a few low-frequency waves, sampled on an h × w periodic grid.
  private func waves(_ h: Int, _ w: Int) -> Tensor {
    Tensor(shape: [3, h, w]) { i in
      let (c, y, x) = (i / (h * w), (i / w) % h, i % w)
      let u = Double(x) / Double(w)
      let v = Double(y) / Double(h)
      let a = 0.2 * cos(2 * .pi * (u + 2 * v) + Double(c))
      let b = 0.1 * sin(2 * .pi * (-v)) + 0.05 * cos(2 * .pi * (2 * u - v) - Double(c))
      return Float(0.5 + a + b)
    }
  }

  @Test func resizingIsBandLimitedResampling() {
    // A band-limited image resized by cropping or padding the spectrum is the same continuous
    // image sampled on the new grid.
    for (colors, mapping) in [(ColorBasis.rgb, ValueMapping.clamp), (.decorrelated, .clamp)] {
      let p = FourierParametrization(
        width: 10, height: 12, decay: 1.3, colors: colors, mapping: mapping)
      let params = p.encode(waves(12, 10))
      for (nh, nw) in [(20, 16), (9, 7), (12, 10), (31, 6)] {
        let (next, resized, kept) = p.resized(params, width: nw, height: nh, filter: .nearest)
        #expect(resized.count == next.parameterCount)
        let image = next.image(resized).value
        let err = maxAbsDiff(image.scalars, waves(nh, nw).scalars)
        #expect(err < 1e-5, "\(colors) 12×10 → \(nh)×\(nw): max |Δ| \(err)")
        // Kept indices are in range and unique; everything else starts at zero.
        #expect(Set(kept.new).count == kept.new.count && Set(kept.old).count == kept.old.count)
        #expect(kept.old.allSatisfy { $0 >= 0 && $0 < params.count })
        let keptSet = Set(kept.new)
        #expect(resized.indices.allSatisfy { keptSet.contains($0) || resized[$0] == 0 })
        #expect(!kept.new.isEmpty)
      }
    }
  }

  @Test func planeBuffersAreSafeUnderConcurrentUse() async {
    // FFTW plans are executed from several tasks at once; results must not depend on it.
    let p = FourierParametrization(width: 32, height: 24, decay: 1, colors: .decorrelated)
    let params = p.encode(randomImage(24, 32, seed: 2))
    let expected = p.image(params).value
    await withTaskGroup(of: Bool.self) { group in
      for _ in 0..<8 {
        group.addTask {
          let q = FourierParametrization(width: 32, height: 24, decay: 1, colors: .decorrelated)
          return q.image(params).value == expected && p.image(params).value == expected
        }
      }
      for await same in group { #expect(same) }
    }
  }
}
