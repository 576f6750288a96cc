import ExprEval
import Formats
import Foundation
import PipelineKit
import Runner
import Testing

/// The schema as the loader records it: every expression-valued parameter with its path, place
/// and variable groups (what `clipig schedule` shows), and the top-level keys as `RunKeys`
/// declares them.
@Suite("Recorded schema")
struct RecordedSchemaTests {
  /// Expressions of run-time variables in every kind of place (top level, target, feature,
  /// transform, constraint, post-processing), beside look-alikes that are not: a constant
  /// expression, a random-only expression, a prompt that reads like a variable, a start time.
  static let yaml = """
    epochs: "2*5"
    resolution: 224+int(t*32)
    learnrate: 1-t*0.5
    init: {std: "0.05+0.1*random()"}
    targets:
      - weight: 1+t
        start: 0.1
        features:
          - text: t
            weight: 2-sim
            scale: 1
        transforms:
          - noise: 0.1*(1-t)
          - bwnoise: random()*0.1
          - pad: {size: [4, "int(8*t)"]}
        constraints:
          - mean: {above: [0.1, 0.2, "0.3*t"], weight: "sim"}
    postproc:
      - blur: {kernel_size: 3, sigma: "1+t"}

    """

  /// Every recorded path (schedule's columns) and only those, in writing order; paths and
  /// groups come from reading the YAML above by hand.
  @Test func scheduleListsExactlyTheExpressionValuedKeys() throws {
    let e = try Experiment(try YAML.parse(Self.yaml, file: "s.yaml"))
    let shown = Schedule.expressions(of: e)
    #expect(
      shown.map(\.path) == [
        "resolution", "learnrate", "targets[0].weight", "targets[0].features[0].weight",
        "targets[0].transforms[0].noise", "targets[0].transforms[2].pad.size[1]",
        "targets[0].constraints[0].mean.above[2]", "targets[0].constraints[0].mean.weight",
        "postproc[0].blur.sigma",
      ])
    let byPath = Dictionary(shown.map { ($0.path, $0) }, uniquingKeysWith: { a, _ in a })
    #expect(byPath["resolution"]?.groups == [.time])
    #expect(byPath["learnrate"]?.groups == [.time, .resolution])
    #expect(byPath["targets[0].weight"]?.groups == .constraintParameter)
    #expect(byPath["targets[0].features[0].weight"]?.groups == .featureParameter)
    #expect(byPath["targets[0].transforms[0].noise"]?.groups == .transformParameter)
    #expect(byPath["targets[0].constraints[0].mean.weight"]?.groups == .constraintParameter)
    #expect(byPath["postproc[0].blur.sigma"]?.groups == .transformParameter)
    // Line and column of the value as written (line 13, after `      - noise: `).
    let noise = try #require(byPath["targets[0].transforms[0].noise"])
    #expect(noise.location == SourceLocation(file: "s.yaml", line: 13, column: 16))
    #expect(noise.expression.source == "0.1*(1-t)")
    // The random-only expression is recorded (it is drawn per epoch) but not tabulated.
    #expect(e.expressions.map(\.path).contains("targets[0].transforms[1].bwnoise"))
    #expect(e.expressions.count == shown.count + 1)
  }

  /// The table's columns are the recorded paths, and its values are the expressions at the
  /// epoch: at epoch 5 of 10, t = 5/9 (CLIPig's t = epoch / (epochs − 1)).
  @Test func theTableEvaluatesTheRecordedExpressions() throws {
    let e = try Experiment(try YAML.parse(Self.yaml, file: "s.yaml"))
    let table = Schedule.table(e, epochs: [5])
    let lines = table.split(separator: "\n")
    let header = lines[0].split(separator: " ").map(String.init)
    let row = lines[1].split(separator: " ").map(String.init)
    #expect(header.count == row.count)
    let t = 5.0 / 9.0
    let noise = try #require(header.firstIndex(of: "targets[0].transforms[0].noise"))
    #expect(abs(try #require(Double(row[noise])) - 0.1 * (1 - t)) < 1e-4)
    let width = try #require(header.firstIndex(of: "width"))
    #expect(row[width] == String(224 + Int(t * 32)))
  }

  /// A variable of a group the key does not allow is refused where it is written, whichever
  /// reader reads the node: `sim` in `resolution` (time only), a feature's `sim` in a
  /// target's weight is allowed (mean similarity), `lr` in `learnrate`.
  @Test func aGroupViolationIsAnErrorAtFileLineColumn() {
    let cases: [(String, String, String)] = [
      ("epochs: 3\nresolution: 224+sim\n", "g.yaml:2:13: error: 'resolution[0]': ", "sim"),
      ("learnrate: 1-lr\n", "g.yaml:1:12: error: 'learnrate': ", "lr"),
      ("epochs: t\n", "g.yaml:1:9: error: 'epochs': ", "constant expression"),
      (
        "targets:\n  - features: [{text: a, scale: \"1+width\"}]\n    batch_size: \"t\"\n",
        "g.yaml:3:17: error: 'targets[0].batch_size': ", "constant expression"
      ),
    ]
    for (yaml, prefix, mention) in cases {
      let m: String
      do {
        _ = try Experiment(try YAML.parse(yaml, file: "g.yaml"))
        m = "no error"
      } catch {
        m = "\(error)"
      }
      #expect(m.hasPrefix(prefix) && m.contains(mention), "\(yaml) → \(m)")
    }
  }

  /// The sidecar adds exactly the defaults `RunKeys` declares as filled in, in its order, with
  /// the values a file without them decodes to; the seed and output are the run's.
  @Test func theSidecarFillsInTheDeclaredDefaults() throws {
    let root = try YAML.parse("targets: [{features: [{text: a}]}]\n", file: "d.yaml")
    let e = try Experiment(root)
    let sidecar = ResolvedConfig.complete(root, experiment: e, seed: 7, output: "/x/a.png")
    #expect(
      sidecar.entries?.map(\.key) == [
        "targets", "output", "seed", "epochs", "resolution", "interpolation", "model",
        "optimizer", "learnrate", "learnrate_scale", "snapshot_interval",
      ])
    #expect(sidecar["seed"]?.value == .int(7))
    #expect(sidecar["output"]?.value == .string("/x/a.png"))
    #expect(sidecar["epochs"]?.value == .int(300))
    #expect(sidecar["snapshot_interval"]?.value == .float(20))
    #expect(sidecar["model"]?.value == .string("ViT-B/32"))
    // Fed back in, it decodes to the same run.
    let back = try Experiment(sidecar)
    #expect(back.epochs == e.epochs && back.model == e.model && back.seed == 7)
  }

  /// Every declared top-level key is one the loader reads (null means absent), and the loader
  /// reads no undeclared key: a misspelling names the declared key it is closest to.
  @Test func theLoaderReadsEveryDeclaredKey() throws {
    for key in RunKeys.all {
      _ = try Experiment(try YAML.parse("\(key.name): ~\n", file: "k.yaml"))
      #expect(RunKeys[key.name]?.name == key.name)
    }
    for key in RunKeys.all where key.name.count > 4 {
      let typo = String(key.name.dropLast())
      do {
        _ = try Experiment(try YAML.parse("\(typo): 1\n", file: "k.yaml"))
        // A typo that is itself a key (`model` of `models`) is not one.
        if RunKeys[typo] == nil { Issue.record("\(typo) was accepted") }
      } catch let error as ConfigError {
        #expect(
          error.message.contains("did you mean") && error.message.contains("'\(key.name)'"),
          "\(error)")
      }
    }
  }
}

@Suite("Generated key reference")
struct KeyDocsTests {
  /// docs/keys.md is what `clipig docs --keys` prints today.
  @Test func committedPageIsCurrent() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let committed = try String(
      contentsOf: root.appendingPathComponent("docs/keys.md"), encoding: .utf8)
    #expect(
      committed == RunKeys.markdown,
      "docs/keys.md is stale: run `\(RunKeys.regenerate)` and commit it")
  }
}
