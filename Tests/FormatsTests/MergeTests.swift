import Formats
import PipelineKit
import Testing

@Suite("Configuration merge")
struct MergeTests {
  private func yaml(_ text: String, _ file: String) throws -> ConfigNode {
    try YAML.parse(text, file: file)
  }

  @Test("CLIPig's test_parameters merge (spec §15): values replaced, init merged, targets appended")
  func specMerge() throws {
    let first = try yaml(
      """
      resolution: 32
      init:
        mean: 2
        std: 3
      targets:
        - weight: 23
      """, "first.yaml")
    let second = try yaml(
      """
      resolution: 33
      init:
        std: 5
      targets:
        - weight: 42
      """, "second.yaml")
    let merged = first.merged(with: second)
    #expect(
      canonical(merged)
        == #"{"resolution": 33, "init": {"mean": 2, "std": 5}, "targets": [{"weight": 23}, {"weight": 42}]}"#
    )
    // The replaced value points at the file it came from; the kept one at its own.
    #expect(merged["resolution"]?.location.file == "second.yaml")
    #expect(merged["init"]?["mean"]?.location.file == "first.yaml")
    #expect(merged["init"]?["std"]?.location.file == "second.yaml")
    #expect(merged["targets"]?.elements?.map(\.location.file) == ["first.yaml", "second.yaml"])
  }

  @Test("list-valued scalars are replaced, never concatenated (CLIPig's defect, spec §2.1)")
  func noConcatenation() throws {
    let first = try yaml(
      """
      resolution: 224 224
      init:
        mean: [0.1, 0.2, 0.3]
        image_tensor: [[1, 2], [3, 4]]
      targets:
        - transforms:
            - random_shift: [1, 2]
      """, "a.yaml")
    let second = try yaml(
      """
      resolution: [448, 448]
      init:
        mean: [0.5]
        image_tensor: [[5]]
      """, "b.yaml")
    let merged = first.merged(with: second)
    #expect(canonical(merged["resolution"] ?? nil) == "[448, 448]")
    #expect(canonical(merged["init"]?["mean"] ?? nil) == "[float(0.5)]")
    #expect(canonical(merged["init"]?["image_tensor"] ?? nil) == "[[5]]")
    // Both sides lists: still replaced for non-section keys.
    let third = try yaml("resolution: [1, 2]\n", "c.yaml")
    #expect(canonical(merged.merged(with: third)["resolution"] ?? nil) == "[1, 2]")
    // A string over a list and a list over a string replace as well.
    let fourth = try yaml("resolution: 640 480\n", "d.yaml")
    #expect(canonical(merged.merged(with: fourth)["resolution"] ?? nil) == #""640 480""#)
  }

  @Test("the list sections append: targets, postproc, features, transforms, constraints")
  func sectionsAppend() throws {
    let first: ConfigNode = [
      "targets": [["name": "a"]], "postproc": [["blur": ["kernel_size": 3]]],
      "section": [
        "features": [["text": "x"]], "transforms": [["mul": 2]], "constraints": [["mean": 0.5]],
        "other": [1],
      ],
    ]
    let second: ConfigNode = [
      "targets": [["name": "b"]], "postproc": [["clamp": [0, 1]]],
      "section": [
        "features": [["text": "y"]], "transforms": [["add": 1]], "constraints": [["std": 0.1]],
        "other": [2],
      ],
    ]
    let merged = first.merged(with: second)
    #expect(canonical(merged["targets"] ?? nil) == #"[{"name": "a"}, {"name": "b"}]"#)
    #expect(
      canonical(merged["postproc"] ?? nil)
        == #"[{"blur": {"kernel_size": 3}}, {"clamp": [0, 1]}]"#)
    let section = try #require(merged["section"])
    #expect(canonical(section["features"] ?? nil) == #"[{"text": "x"}, {"text": "y"}]"#)
    #expect(canonical(section["transforms"] ?? nil) == #"[{"mul": 2}, {"add": 1}]"#)
    #expect(
      canonical(section["constraints"] ?? nil) == #"[{"mean": float(0.5)}, {"std": float(0.1)}]"#)
    #expect(canonical(section["other"] ?? nil) == "[2]")
  }

  @Test("appendingKeys can be chosen")
  func customAppendingKeys() {
    let first: ConfigNode = ["targets": [1], "extra": [1]]
    let second: ConfigNode = ["targets": [2], "extra": [2]]
    let merged = first.merged(with: second, appendingKeys: ["extra"])
    #expect(canonical(merged) == #"{"targets": [2], "extra": [1, 2]}"#)
    #expect(
      canonical(first.merged(with: second, appendingKeys: [])) == #"{"targets": [2], "extra": [2]}"#
    )
  }

  @Test("missing, empty or null earlier values take the later one")
  func emptyEarlier() {
    let first: ConfigNode = ["init": nil, "targets": nil, "postproc": []]
    let second: ConfigNode = ["init": ["std": 5], "targets": [["weight": 1]], "postproc": [1]]
    #expect(
      canonical(first.merged(with: second))
        == #"{"init": {"std": 5}, "targets": [{"weight": 1}], "postproc": [1]}"#)
    let empty: ConfigNode = [:]
    #expect(canonical(empty.merged(with: second)) == canonical(second))
  }

  @Test("an empty file (null root) contributes nothing; a first empty file is replaced")
  func emptyFiles() throws {
    let config = try yaml("epochs: 10\ntargets:\n  - text: a\n", "a.yaml")
    let empty = try yaml("# nothing here\n", "empty.yaml")
    #expect(canonical(config.merged(with: empty)) == canonical(config))
    #expect(canonical(empty.merged(with: config)) == canonical(config))
  }

  @Test("other values replace, whatever their kind; new keys come last in order")
  func replacement() {
    let first: ConfigNode = ["a": 1, "b": ["x": 1], "c": "s", "d": true]
    let second: ConfigNode = ["e": 5, "b": 2, "a": ["y": 2], "c": nil]
    #expect(
      canonical(first.merged(with: second))
        == #"{"a": {"y": 2}, "b": 2, "c": null, "d": true, "e": 5}"#)
  }

  @Test("merging is applied file by file and keeps the earlier key order")
  func threeFiles() throws {
    let a = try yaml("epochs: 10\ntargets:\n  - text: a\nlearnrate: 1.0\n", "a.yaml")
    let b = try yaml("learnrate: 2.0\ntargets:\n  - text: b\n", "b.yaml")
    let c = try yaml("targets:\n  - text: c\nepochs: 20\noptimizer: adam\n", "c.yaml")
    let merged = a.merged(with: b).merged(with: c)
    #expect(
      canonical(merged)
        == #"{"epochs": 20, "targets": [{"text": "a"}, {"text": "b"}, {"text": "c"}], "learnrate": float(2.0), "optimizer": "adam"}"#
    )
  }
}
