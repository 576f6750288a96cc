import Formats
import PipelineKit
import Runner
import Testing

/// Every random stream of a run is derived from (seed, purpose label, indices) with domain
/// separation: a small run with two targets, random views, constraints, post-processing and
/// an initial noise asks for dozens of streams, and no two differ in name yet agree in
/// their numbers.
@Suite("Random streams by purpose")
struct RandomStreamsTests {
  static let yaml = """
    epochs: 4
    resolution: 12
    init: {std: 0.1+0.2*random()}
    postproc:
      - noise: 0.01
    targets:
      - batch_size: 3
        features: [{text: a}]
        transforms:
          - noise: 0.1
        constraints:
          - saturation: {below: 0.5}
      - batch_size: 2
        features: [{text: b}]
        transforms:
          - random_shift: -2 2
    """

  @Test func everyStreamOfASmallRunIsDistinct() throws {
    let recorder = StreamRecorder()
    let experiment = try Experiment(
      try YAML.parse(Self.yaml, file: "streams.yaml"),
      random: RandomStreams(seed: 7, recorder: recorder).load)
    let trainer = try Trainer(
      experiment: experiment, model: ProjectionModel(), seed: 7, recorder: recorder)
    for epoch in 0..<4 { try trainer.step(epoch: epoch) }
    let entries = recorder.recorded
    var byName: [String: [UInt64]] = [:]
    for entry in entries {
      let name = "\(entry.purpose)\(entry.indices)"
      if let seen = byName[name] {
        #expect(seen == entry.fingerprint, "\(name) asked twice gives the same stream")
      }
      byName[name] = entry.fingerprint
    }
    let purposes = Set(entries.map(\.purpose))
    // `warp` and `blend` are an animation's only (AnimationTests, VideoInputTests).
    #expect(
      purposes == Set(RandomStreams.Purpose.allCases).subtracting([.warp, .blend]),
      "every purpose used: \(purposes)")
    // load and initialization, then per epoch: expressions, postproc, 3 + 2 views and the
    // constraints of target 0's 3 views.
    #expect(byName.count == 2 + 4 * (1 + 1 + 5 + 3), "\(byName.keys.sorted())")
    var owner: [[UInt64]: String] = [:]
    for (name, fingerprint) in byName {
      #expect(owner[fingerprint] == nil, "\(name) and \(owner[fingerprint] ?? "") share a stream")
      owner[fingerprint] = name
    }
  }

  /// The collisions of the salted forks this derivation replaced: view 0 and the constraints
  /// of view 0 shared one stream, and the initial pixels shared epoch 5142's.
  @Test func formerlyCollidingStreamsDiffer() {
    let streams = RandomStreams(seed: 1)
    var view = streams.view(epoch: 3, target: 0, view: 0)
    var constraints = streams.constraints(epoch: 3, view: 0)
    #expect(view.next() != constraints.next())
    var initial = streams.initialization
    var expressions = streams.expressions(epoch: 5142)
    #expect(initial.next() != expressions.next())
    // A label is hashed, not a salt: the same indices under two purposes differ.
    var a = RandomStreams.derive(seed: 1, label: "view", indices: [1, 2, 3])
    var b = RandomStreams.derive(seed: 1, label: "constraints", indices: [1, 2, 3])
    #expect(a.next() != b.next())
  }
}
