import ArgumentParser
import CLIP
import Foundation
import ModelStore
import PipelineKit

#if canImport(Glibc)
  import Glibc
#endif

/// `clipig bench clip`: seconds per training step of the CLIP image tower (forward + backward
/// to the pixels) at the model's input size, its GFLOP/s, and the fraction of this machine's
/// sgemm peak.
struct BenchCLIP: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "clip",
    abstract: "Time CLIP's image tower: forward + backward to the pixels for a batch.",
    discussion: """
      Uses ViT-B/32 shapes with deterministic weights unless --model names an architecture \
      (ViT-B/32, ViT-B/16, ViT-L/14, RN50, RN101, RN50x4, RN50x16, RN50x64: deterministic \
      weights of its shapes, nothing is downloaded) or another model, found and loaded as \
      render does (an hf-hub: id, a model directory, a .safetensors, .pt or .bin file). \
      The sgemm peak is measured first on this machine; the step's GFLOP/s \
      are counted from the model's shapes (the full forward, and the backward's input-gradient \
      GEMMs and attention), so they compare directly with a framework computing the same step \
      (the ResNets' 3×3 convolutions, computed by Winograd's F(4×4, 3×3) with a quarter of the \
      multiplications, count as direct ones: their rate can pass the sgemm peak). The \
      OpenBLAS kernels in use are printed (OPENBLAS_CORETYPE chooses them). Compare with \
      PyTorch on the same machine: scripts/bench_clip_torch.py.
      """)

  @Option(help: "Images per batch.")
  var batch = 10

  @Option(help: "Timed steps (after one warm-up step).")
  var steps = 5

  @Option(help: "Threads for OpenBLAS (default: all cores).")
  var threads: Int?

  @OptionGroup var model: ModelOption

  @Option(
    help: """
      GEMM precision to time next to fp32: bf16 or auto (bf16 where the CPU has native bf16 \
      dot products), or fp32 alone.
      """)
  var precision: CLIPPrecision = .auto

  /// Architectures benchmarked with deterministic weights.
  static let architectures: [String: CLIPConfig] = [
    "ViT-B/32": .vitB32, "ViT-B/16": .vitB16, "ViT-L/14": .vitL14, "RN50": .rn50,
    "RN101": .rn101, "RN50x4": .rn50x4, "RN50x16": .rn50x16, "RN50x64": .rn50x64,
  ]

  @Flag(help: "Also time each kernel alone at the model's shapes (per layer, whole batch).")
  var kernels = false

  @Flag(
    help: """
      Also run the timed steps once more with every kernel call timed (ResNets): where the \
      step's time goes, per kernel kind.
      """)
  var profile = false

  /// Which OpenBLAS kernels run and why, with a hint when `OPENBLAS_CORETYPE` holds the
  /// library to 256-bit kernels on a CPU with AVX-512 (OpenBLAS's own choice there, like
  /// oneDNN's in PyTorch, is AVX-512: about twice the sgemm peak on AMD Zen 5).
  static func kernelsLine(environment: [String: String]) -> String {
    let core = BLAS.coreName
    guard let forced = environment["OPENBLAS_CORETYPE"], !forced.isEmpty else {
      return "OpenBLAS kernels: \(core) (detected)"
    }
    var line = "OpenBLAS kernels: \(core) (OPENBLAS_CORETYPE=\(forced))"
    let narrow = ["haswell", "zen", "sandybridge", "nehalem", "core2", "prescott", "penryn"]
    if narrow.contains(core.lowercased()), CPUFeatures.hasAVX512 {
      line +=
        "; this CPU has AVX-512: unset OPENBLAS_CORETYPE (or set SkylakeX) for OpenBLAS's "
        + "AVX-512 kernels"
    }
    return line
  }

  func validate() throws {
    guard batch >= 1, steps >= 1 else { throw ValidationError("--batch and --steps must be ≥ 1") }
  }

  func run() throws {
    BLAS.setThreadCount(threads ?? ProcessorCount.active)
    print("threads: \(BLAS.threadCount) (OpenBLAS), \(ProcessorCount.active) cores")
    print(Self.kernelsLine(environment: ProcessInfo.processInfo.environment))
    let peak = Self.measureSgemmPeak()
    print(
      String(format: "sgemm peak: %.1f GFLOP/s (best of square and CLIP-shaped products)", peak))

    let clip: CLIPModel
    if let model = model.model, let config = Self.architectures[model] {
      clip = CLIPModel.deterministic(config, parts: .vision)
    } else if let model = model.model {
      let files = try ModelStore.locate(model, download: true, progress: ProgressBar().handler)
      clip = try CLIPModel.load(files: files, parts: .vision)
    } else {
      clip = CLIPModel.deterministic(.vitB32, parts: .vision)
    }
    let choice = precision.resolve()
    if let note = choice.note { print(note) }
    var variants = [("fp32", clip)]
    if choice.path != nil { variants.append(("bf16", clip.converted(to: choice))) }
    let encoders = variants.compactMap { $0.1.makeImageEncoder(capacity: batch) }
    guard let encoder = encoders.first else {
      throw ValidationError("the model has no image tower")
    }
    let v = clip.config.vision
    let size = clip.config.imageSize
    let pixels = Tensor(
      shape: [batch, 3, size, size],
      scalars: DeterministicWeights.values(
        count: batch * 3 * size * size, seed: 1, tensor: 20_000, scale: 0.5, offset: 0.5))
    let dFeatures = Tensor(
      shape: [batch, clip.config.embedDimension],
      scalars: DeterministicWeights.values(
        count: batch * clip.config.embedDimension, seed: 1, tensor: 20_001))
    var dPixels = Tensor(shape: [batch, 3, size, size])

    if let count = clip.vision?.parameterCount ?? clip.resNet?.parameterCount {
      print(
        String(
          format: "image tower: %.1f M parameters (%.0f MB)", Double(count) / 1e6,
          Double(count * 4) / 1e6))
    }
    let flops: (forward: Double, step: Double)
    if let r = clip.config.resNet {
      flops = ResNetEncoder.flops(clip.config, batch: batch)
      print(
        String(
          format:
            "model: ResNet %d px, width %d, stages %@; batch %d; step %.4g GFLOP (forward %.4g)",
          size, r.width, r.layers.map(String.init).joined(separator: "-"), batch,
          flops.step / 1e9, flops.forward / 1e9))
    } else {
      flops = Self.stepFlops(clip.config, batch: batch)
      print(
        String(
          format:
            "model: %d px, patch %d, width %d, %d layers; batch %d; step %.4g GFLOP (forward %.4g)",
          size, v.patchSize, v.width, v.layers, batch, flops.step / 1e9, flops.forward / 1e9))
    }

    // Warm-up, then timed steps, the precisions taking turns (so that other load on the
    // machine falls on both alike).
    for e in encoders {
      _ = e.forward(pixels)
      e.backward(dFeatures, into: &dPixels)
    }
    var forwardTimes = [[Double]](repeating: [], count: encoders.count)
    var stepTimes = [[Double]](repeating: [], count: encoders.count)
    for _ in 0..<steps {
      for (i, e) in encoders.enumerated() {
        let t0 = Self.now()
        _ = e.forward(pixels)
        let t1 = Self.now()
        e.backward(dFeatures, into: &dPixels)
        let t2 = Self.now()
        forwardTimes[i].append(t1 - t0)
        stepTimes[i].append(t2 - t0)
      }
    }
    for (i, (name, model)) in variants.enumerated() where i < encoders.count {
      let bestStep = stepTimes[i].min() ?? 0
      let meanStep = stepTimes[i].reduce(0, +) / Double(steps)
      let bestForward = forwardTimes[i].min() ?? 0
      print("\(name): \(model.precision.kernels)")
      print(
        String(
          format: "  forward:             best %.4g s  mean %.4g s  (%.1f GFLOP/s)", bestForward,
          forwardTimes[i].reduce(0, +) / Double(steps), flops.forward / bestForward / 1e9))
      print(
        String(
          format:
            "  forward + backward:  best %.4g s  mean %.4g s  (%.1f GFLOP/s, %.0f%% of sgemm peak)",
          bestStep, meanStep, flops.step / bestStep / 1e9,
          100 * flops.step / bestStep / 1e9 / peak))
    }
    if stepTimes.count == 2, let f = stepTimes[0].min(), let b = stepTimes[1].min(), b > 0,
      let ff = forwardTimes[0].min(), let bf = forwardTimes[1].min(), bf > 0
    {
      print(
        String(format: "bf16 speed-up: step %.2f×, forward %.2f× (best vs best)", f / b, ff / bf))
    }
    print(
      String(
        format: "memory: activation arena %.0f MB, peak resident set %.0f MB",
        Double(encoder.arenaBytes) / 1e6, Self.peakResidentMB()))
    if profile {
      if let resNet = encoders.last as? ResNetEncoder {
        print("profile of the \(variants[encoders.count - 1].0) step:")
        Self.profileSteps(
          resNet, pixels: pixels, dFeatures: dFeatures, dPixels: &dPixels, steps: steps,
          peak: peak)
      } else {
        print("--profile breaks down a ResNet's step; use --kernels for a ViT")
      }
    }
    if kernels {
      if clip.config.resNet != nil {
        print("--kernels times the ViT's kernels; not available for a ResNet")
      } else {
        Self.timeKernels(clip.config, batch: batch)
      }
    }
  }

  /// Runs `steps` more steps with a kernel profile attached and prints the time per kernel
  /// kind (per step, share of the step, GFLOP/s and % of the sgemm peak where counted).
  static func profileSteps(
    _ encoder: ResNetEncoder, pixels: Tensor, dFeatures: Tensor, dPixels: inout Tensor,
    steps: Int, peak: Double
  ) {
    let profile = KernelProfile()
    encoder.profile = profile
    defer { encoder.profile = nil }
    let t0 = now()
    for _ in 0..<steps {
      _ = encoder.forward(pixels)
      encoder.backward(dFeatures, into: &dPixels)
    }
    let wall = (now() - t0) / Double(steps)
    let total = profile.totalSeconds / Double(steps)
    print(
      String(
        format: "profile (mean of %ld steps, %.4g s each, %.4g s in kernels):", steps, wall, total))
    let top = profile.entries.filter { $0.parent == nil }.sorted { $0.seconds > $1.seconds }
    let ordered = top.flatMap { entry in
      [entry] + profile.entries.filter { $0.parent == entry.name }
    }
    for entry in ordered {
      let perStep = entry.seconds / Double(steps)
      let label = entry.name.padding(toLength: 44, withPad: " ", startingAt: 0)
      var line = String(
        format: "  %@ %8.1f ms  %5.1f%%  %4ld calls", label, perStep * 1e3,
        100 * perStep / max(total, 1e-12), entry.calls / steps)
      if entry.flops > 0 {
        let rate = entry.flops / entry.seconds / 1e9
        line += String(format: "  %6.1f GFLOP/s  %3.0f%% peak", rate, 100 * rate / peak)
      }
      print(line)
    }
  }

  /// Times each kernel alone on random data at one layer's shapes for the whole batch.
  static func timeKernels(_ config: CLIPConfig, batch: Int) {
    let v = config.vision
    let (b, t, c, m, h) = (batch, v.tokens, v.width, v.mlpWidth, v.heads)
    let eps = config.layerNormEpsilon
    func buffer(_ n: Int) -> UnsafeMutablePointer<Float> {
      let p = UnsafeMutablePointer<Float>.allocate(capacity: n)
      for i in 0..<n {
        p[i] = DeterministicWeights.uniform(seed: 3, tensor: UInt64(n), index: UInt64(i))
      }
      return p
    }
    let x = buffer(b * t * c)
    let y = buffer(b * t * c)
    let w = buffer(c)
    let wqkv = buffer(3 * c * c)
    let bias = buffer(3 * c)
    let qkv = buffer(b * t * 3 * c)
    let dqkv = buffer(b * t * 3 * c)
    let probs = buffer(b * h * t * t)
    let hidden = buffer(b * t * m)
    let stats = buffer(2 * b * t)
    let scratch = buffer(
      CLIPKernels.attentionScratchCount(batch: b, tokens: t, queries: t, heads: h, width: c))
    defer {
      for p in [x, y, w, wqkv, bias, qkv, dqkv, probs, hidden, stats, scratch] { p.deallocate() }
    }
    func time(_ name: String, flops: Double = 0, _ body: () -> Void) {
      body()
      var best = Double.infinity
      var bestCPU = Double.infinity
      for _ in 0..<5 {
        let (t0, c0) = (now(), cpuTime())
        body()
        best = min(best, now() - t0)
        bestCPU = min(bestCPU, cpuTime() - c0)
      }
      let rate = flops > 0 ? String(format: "  %6.1f GFLOP/s", flops / best / 1e9) : ""
      let label = name.padding(toLength: 30, withPad: " ", startingAt: 0)
      print(
        String(format: "  %@ %8.3f ms  (CPU %8.3f ms)%@", label, best * 1e3, bestCPU * 1e3, rate))
    }
    print("kernels, one layer, batch \(b) (best of 5):")
    time("layer norm forward") {
      CLIPKernels.layerNormForward(
        x: x, weight: w, bias: bias, out: y, mean: stats, rstd: stats + b * t, rows: b * t,
        width: c, epsilon: eps)
    }
    time("layer norm backward") {
      CLIPKernels.layerNormBackward(
        dOut: x, x: y, mean: stats, rstd: stats + b * t, weight: w, dX: y, rows: b * t, width: c)
    }
    time("qkv linear forward (GEMM)", flops: 2.0 * Double(b * t * c * 3 * c)) {
      CLIPKernels.linearForward(
        x: x, weight: wqkv, bias: bias, out: qkv, rows: b * t, inWidth: c, outWidth: 3 * c)
    }
    time("qkv linear backward (GEMM)", flops: 2.0 * Double(b * t * c * 3 * c)) {
      CLIPKernels.linearBackward(
        dOut: qkv, weight: wqkv, dX: y, rows: b * t, inWidth: c, outWidth: 3 * c,
        accumulate: true)
    }
    time("attention forward", flops: 4.0 * Double(b * t * t * c)) {
      CLIPKernels.attentionForward(
        qkv: qkv, out: y, probs: probs, batch: b, tokens: t, queries: t, heads: h,
        width: c,
        causal: false)
    }
    time("attention backward", flops: 8.0 * Double(b * t * t * c)) {
      CLIPKernels.attentionBackward(
        dOut: x, qkv: qkv, probs: probs, dQKV: dqkv, scratch: scratch, batch: b, tokens: t,
        queries: t, heads: h,
        width: c, causal: false)
    }
    time("activation forward") {
      CLIPKernels.activationForward(config.activation, x: hidden, out: hidden, count: b * t * m)
    }
    time("activation backward") {
      CLIPKernels.activationBackward(
        config.activation, x: hidden, dOut: hidden, dX: hidden, count: b * t * m)
    }
  }

  /// FLOPs of one batch step: the full forward and the backward to the input (data-gradient
  /// GEMMs, attention backward), counted for the whole model as a framework computes it.
  static func stepFlops(_ config: CLIPConfig, batch: Int) -> (forward: Double, step: Double) {
    let v = config.vision
    let (b, t, c, m) = (Double(batch), Double(v.tokens), Double(v.width), Double(v.mlpWidth))
    let g2 = Double(v.grid * v.grid)
    let k = Double(3 * v.patchSize * v.patchSize)
    let gemm =
      2 * b * (g2 * k * c + Double(v.layers) * t * (3 * c * c + c * c + 2 * c * m))
      + 2 * b * c * Double(config.embedDimension)
    let attention = b * Double(v.layers) * 4 * t * t * c
    return (gemm + attention, 2 * gemm + 3 * attention)
  }

  /// Best sgemm rate over a few shapes (a 1536² square, and the transformer's shapes).
  static func measureSgemmPeak() -> Double {
    var best = 0.0
    for (m, n, k) in [(1536, 1536, 1536), (500, 3072, 768), (500, 2304, 768), (500, 768, 3072)] {
      let a = [Float](repeating: 0.5, count: m * k)
      let bm = [Float](repeating: 0.25, count: n * k)
      var c = [Float](repeating: 0, count: m * n)
      a.withUnsafeBufferPointer { a in
        bm.withUnsafeBufferPointer { bm in
          c.withUnsafeMutableBufferPointer { c in
            guard let pa = a.baseAddress, let pb = bm.baseAddress, let pc = c.baseAddress else {
              return
            }
            for rep in 0..<6 {
              let t0 = now()
              BLAS.sgemm(
                transA: false, transB: true, m: m, n: n, k: k, a: pa, lda: k, b: pb, ldb: k, c: pc,
                ldc: n)
              let dt = now() - t0
              if rep > 0 { best = max(best, 2 * Double(m) * Double(n) * Double(k) / dt / 1e9) }
            }
          }
        }
      }
    }
    return best
  }

  static func now() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_MONOTONIC, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  /// CPU seconds used by the whole process (all threads).
  static func cpuTime() -> Double {
    var ts = timespec()
    clock_gettime(CLOCK_PROCESS_CPUTIME_ID, &ts)
    return Double(ts.tv_sec) + Double(ts.tv_nsec) * 1e-9
  }

  static func peakResidentMB() -> Double {
    var usage = rusage()
    getrusage(RUSAGE_SELF.rawValue, &usage)
    return Double(usage.ru_maxrss) / 1024  // kilobytes on Linux
  }
}
