import ArgumentParser
import ExprEval
import PipelineKit
import Runner
import Transforms

/// `clipig bench stages`: times the transform chains of the seed's method-1 and method-2
/// experiments on a batch of views, forward and pullback, per stage and in total.
struct BenchStages: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "stages",
    abstract:
      "Time the seed experiments' transform chains on a batch of views (forward + pullback).",
    discussion: """
      Method 1: pad 32 edge, random_rotate -30..30 about a pivot anywhere, mul 1/2, mean .5, \
      noise 1/10 on 224 px (→ 288), then the bicubic resize to 224 every view gets before CLIP. \
      Method 2: resize 224, pad 32 edge, random_rotate -20..20, random_crop 224, mul 1/3, \
      mean 0.5, bwnoise 1/5*ti. Stages missing from this build are skipped with a note. \
      Build with -c release for meaningful numbers.
      """)

  @OptionGroup var plugins: PluginOptions

  /// The transforms: the built-in ones and those of `--plugin`.
  var registries: StageRegistries { PluginContext.registries }

  @Option(help: "Views per batch.")
  var views = 10

  @Option(help: "Side of the input image in pixels.")
  var size = 224

  @Option(help: "Timed batches per chain (after one warm-up batch).")
  var iterations = 20

  /// One chain entry: a registered transform name and its YAML value.
  typealias Entry = (name: String, value: ConfigNode)

  static let method1: [Entry] = [
    ("pad", ["size": 32, "mode": "edge"]),
    ("random_rotate", ["degree": "-30 30", "center": "0 1"]),
    ("mul", "1/2"),
    ("mean", 0.5),
    ("noise", "1/10"),
  ]

  static let method2: [Entry] = [
    ("resize", 224),
    ("pad", ["size": 32, "mode": "edge"]),
    ("random_rotate", ["degree": "-20 20", "center": "0 1"]),
    ("random_crop", 224),
    ("mul", "1/3"),
    ("mean", 0.5),
    ("bwnoise", "1/5*ti"),
  ]

  func run() throws {
    ProcessTuning.forLongComputations()
    let n = max(views, 1)
    let side = max(size, 8)
    print("batch: \(n) views of 3×\(side)×\(side), \(max(iterations, 1)) timed batches per chain")
    for (title, chain) in [("method 1", Self.method1), ("method 2", Self.method2)] {
      try bench(title: title, chain: chain, views: n, side: side)
    }
    // Plugin transforms (--plugin), each alone with its first example's parameters.
    for type in registries.transforms.stages where StageRegistry.transforms[type.name] == nil {
      guard let example = type.examples.first else { continue }
      try bench(
        title: "plugin transform \(type.name)", chain: [(type.name, example.parameters)],
        views: n, side: side)
    }
  }

  /// Builds `chain`, runs a batch once to warm up, then times `iterations` batches of `views`
  /// views and prints the median milliseconds per batch for each stage (forward, pullback) and
  /// in total.
  func bench(title: String, chain: [Entry], views: Int, side: Int) throws {
    var stages: [(name: String, stage: any Stage)] = []
    var skipped: [String] = []
    for (i, entry) in chain.enumerated() {
      guard registries.transforms[entry.name] != nil else {
        skipped.append(entry.name)
        continue
      }
      let stage = try registries.transforms.make(
        name: entry.name, parameters: entry.value,
        path: "targets[0].transforms[\(i)].\(entry.name)",
        keyLocation: .synthetic("bench"))
      stages.append((entry.name, stage))
    }

    var random = SeededRandom(seed: 42)
    var x = Tensor(shape: [3, side, side])  // (3, S, S): the clamped pixels every view starts from
    for i in x.scalars.indices { x.scalars[i] = Float(random.uniform()) }
    var cotangent = Tensor(shape: [3, 224, 224])  // (3, 224, 224): d loss / d view
    for i in cotangent.scalars.indices { cotangent.scalars[i] = Float(random.uniform(-1, 1)) }
    let variables = ExprContext(epoch: 100, epochs: 201, width: Double(side), height: Double(side))
    let epochRandom = SeededRandom(seed: 7)

    let names = stages.map(\.name) + ["resize 224 (bicubic, before CLIP)"]
    // Per timed batch: milliseconds of each stage's forwards and pullbacks over all views.
    var forwardRounds: [[Double]] = []
    var backwardRounds: [[Double]] = []
    let clock = ContinuousClock()
    func ms(_ d: Duration) -> Double {
      Double(d.components.seconds) * 1e3 + Double(d.components.attoseconds) * 1e-15
    }

    // As the trainer does: each view runs the chain on its own forked random stream, then the
    // final resize; the pullbacks run in reverse and the input cotangents are summed.
    let rounds = max(iterations, 1)
    var checksum = 0.0
    for round in 0...rounds {
      let timed = round > 0
      var forward = [Double](repeating: 0, count: names.count)
      var backward = [Double](repeating: 0, count: names.count)
      var dx = Tensor(shape: x.shape)
      for b in 0..<views {
        var context = StageContext(variables: variables, random: epochRandom.fork(UInt64(b)))
        var y = x
        var pullbacks: [Pullback] = []
        for (k, entry) in stages.enumerated() {
          let start = clock.now
          let (out, pb) = try entry.stage.forward(y, in: &context)
          if timed { forward[k] += ms(clock.now - start) }
          y = out
          pullbacks.append(pb)
        }
        let start = clock.now
        let (_, h, w) = y.chw
        if h != 224 || w != 224 {
          let resampler = Resampler(from: h, w, to: 224, 224, filter: .cubic)
          y = resampler.apply(y)
          pullbacks.append { resampler.adjoint($0) }
        } else {
          pullbacks.append { $0 }
        }
        if timed { forward[names.count - 1] += ms(clock.now - start) }

        var dy = cotangent
        for k in pullbacks.indices.reversed() {
          let start = clock.now
          dy = pullbacks[k](dy)
          let index = k < stages.count ? k : names.count - 1
          if timed { backward[index] += ms(clock.now - start) }
        }
        dx.add(dy)
      }
      checksum += Double(dx.scalars[dx.count / 2])
      if timed {
        forwardRounds.append(forward)
        backwardRounds.append(backward)
      }
    }

    print(
      "\n\(title)"
        + (skipped.isEmpty ? "" : "  (not built yet, skipped: \(skipped.joined(separator: ", ")))"))
    // Medians over the timed batches: robust against other processes sharing the cores.
    for k in names.indices {
      let f = median(forwardRounds.map { $0[k] })
      let b = median(backwardRounds.map { $0[k] })
      print("  \(pad(names[k], 36)) forward \(fixed(f)) ms   pullback \(fixed(b)) ms")
    }
    let totals = zip(forwardRounds, backwardRounds).map { $0.reduce(0, +) + $1.reduce(0, +) }
    print(
      "  \(pad("total per batch (median)", 36)) \(fixed(median(totals))) ms"
        + "  (min \(fixed(totals.min() ?? 0)) ms, checksum \(fixed(checksum)))")
  }

  private func median(_ values: [Double]) -> Double {
    let sorted = values.sorted()
    guard !sorted.isEmpty else { return 0 }
    let m = sorted.count / 2
    return sorted.count % 2 == 1 ? sorted[m] : (sorted[m - 1] + sorted[m]) / 2
  }

  private func pad(_ s: String, _ n: Int) -> String {
    s.count >= n ? s : s + String(repeating: " ", count: n - s.count)
  }

  private func fixed(_ v: Double) -> String {
    let hundredths = Int((v * 100).rounded())
    let sign = hundredths < 0 ? "-" : ""
    let a = abs(hundredths)
    let frac = a % 100
    return "\(sign)\(a / 100).\(frac < 10 ? "0" : "")\(frac)"
  }
}
