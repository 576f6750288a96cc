import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing
import Workflows

private func errorText(_ body: () throws -> Void) -> String {
  do {
    try body()
    return "no error"
  } catch {
    return "\(error)"
  }
}

@Suite("Grid files and substitution")
struct GridTests {
  @Test func substitutionGoesIntoParsedStringsSoYAMLSyntaxInValuesIsSafe() throws {
    let template = try YAML.parse(
      """
      epochs: "{{epochs}}"
      resolution:
        - "{0: 8, 1: 8, 2: 16}.get(int(t*16), 224)"
      targets:
        - features:
            - text: "a {{animal}} made of {{thing}}."
      """, file: "t.yaml")
    let values: [String: ConfigNode] = [
      "animal": "cat", "thing": "salami: the movie # 2, 'quoted' \"too\"", "epochs": 20,
    ]
    let out = try TemplateText.substitute(in: template, values: values, path: "")
    #expect(out["epochs"]?.value == .int(20))
    #expect(
      out["resolution"]?.elements?.first?.value
        == .string("{0: 8, 1: 8, 2: 16}.get(int(t*16), 224)"))
    let text = out["targets"]?.elements?.first?["features"]?.elements?.first?["text"]
    #expect(text?.value == .string("a cat made of salami: the movie # 2, 'quoted' \"too\"."))
    // The substituted tree is written and read back unchanged (the sidecar stays valid YAML).
    let back = try YAML.parse(out.yamlText(), file: "back.yaml")
    #expect(
      back["targets"]?.elements?.first?["features"]?.elements?.first?["text"]?.value
        == text?.value)
  }

  @Test func fileNamesFromValuesAsTheScriptsMakeThem() {
    #expect(TemplateText.fileNamePart("coral reef") == "coral-reef")
    #expect(TemplateText.fileNamePart("rubik’s cube") == "rubik-s-cube")
    #expect(TemplateText.fileNamePart("penguin") == "penguin")
    #expect(TemplateText.fileNamePart("a/b..c") == "a-b--c")
  }

  @Test func unknownVariablesAndBadGridsAreReportedWithLocations() throws {
    let dir = try TestFiles.temporaryDirectory("grid-errors")
    try TestFiles.write(
      "targets:\n  - features:\n      - text: a {{anmial}}\n", to: dir + "/t.yaml")
    try TestFiles.write(
      "template: t.yaml\nvariables:\n  animal: [cat]\n", to: dir + "/g.yaml")
    let m = errorText { _ = try Grid.load(path: dir + "/g.yaml") }
    #expect(m.contains("t.yaml:3:15: error"), "\(m)")
    #expect(m.contains("unknown grid variable '{{anmial}}' (did you mean 'animal'?)"), "\(m)")

    try TestFiles.write(
      "template: t.yaml\nname: \"{{a}}\"\nvariables:\n  a: [x y, x-y]\n  b: [1]\n",
      to: dir + "/collide.yaml")
    let c = errorText { _ = try Grid.load(path: dir + "/collide.yaml") }
    #expect(c.contains("collide.yaml:2:7: error"), "\(c)")
    #expect(c.contains("two combinations get the output name 'x-y'"), "\(c)")

    try TestFiles.write("templte: t.yaml\n", to: dir + "/key.yaml")
    let k = errorText { _ = try Grid.load(path: dir + "/key.yaml") }
    #expect(
      k.contains(
        "key.yaml:1:1: error: 'templte': unknown grid key 'templte' (did you mean 'template'?)"),
      "\(k)")

    try TestFiles.write(
      "template: {epochs: 2}\nrows: {file: rows.json, key: prompt}\n", to: dir + "/rows.yaml")
    try TestFiles.write("{\"prompts\": [{\"a\": 1}]}", to: dir + "/rows.json")
    let r = errorText { _ = try Grid.load(path: dir + "/rows.yaml") }
    #expect(r.contains("has no key 'prompt' (did you mean 'prompts'?)"), "\(r)")
  }

  @Test func shardsAreDisjointAndComplete() throws {
    let dir = try TestFiles.temporaryDirectory("grid-shards")
    let grid = try Grid.load(path: try Workflow.smallGrid(in: dir))
    #expect(grid.items.map(\.name) == Workflow.smallGridNames)
    for n in 1...7 {
      var seen: [String] = []
      for i in 1...n { seen += grid.items(in: try Shard(index: i, count: n)).map(\.name) }
      #expect(seen.sorted() == grid.items.map(\.name).sorted(), "\(n) shards")
    }
    for bad in ["0/3", "4/3", "2", "a/b", "1/0"] {
      #expect(throws: WorkflowError.self) { try Shard(parsing: bad) }
    }
    // Seeds depend on the name and the base seed only.
    let seeds = Set(grid.items.map(\.seed))
    #expect(seeds.count == grid.items.count)
    #expect(grid.items[0].seed == Grid.itemSeed(base: 5, name: "cat-of-piano"))
  }

  @Test func theAnimalTransferExampleHas810UniquelyNamedPrompts() throws {
    let examples = TestFiles.repository.appendingPathComponent("Examples/animal-transfer").path
    let grid = try Grid.load(path: examples + "/grid.yaml")
    #expect(grid.items.count == 810)
    #expect(Set(grid.items.map(\.name)).count == 810)
    #expect(grid.label == "method1")
    #expect(grid.keyVariables == ["animal", "thing"])
    let penguin = try #require(grid.items.first { $0.name == "penguin-of-piano" })
    let root = try grid.configuration(for: penguin)
    let text = root["targets"]?.elements?.first?["features"]?.elements?.first?["text"]
    #expect(
      text?.value == .string("a penguin made of piano. a penguin with the texture of a piano."))
    #expect(grid.items.contains { $0.name == "tapir-of-rubik-s-cube" })
    _ = try Experiment(root)

    let two = try Grid.load(
      path: examples + "/grid.yaml", templateFiles: [examples + "/method2.yaml"])
    #expect(two.label == "method2")
    let root2 = try two.configuration(
      for: try #require(two.items.first { $0.name == "cat-of-warmth" }))
    #expect(
      root2["targets"]?.elements?.first?["features"]?.elements?.first?["text"]?.value
        == .string("a cat made of warmth."))
    _ = try Experiment(root2)
  }
}
