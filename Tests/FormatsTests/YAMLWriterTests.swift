import Formats
import Foundation
import PipelineKit
import Testing

@Suite("YAML writing")
struct YAMLWriterTests {
  /// Writes `node`, parses the text back and checks the trees are equal (locations aside).
  private func expectRoundTrip(
    _ node: ConfigNode, sourceLocation: Testing.SourceLocation = #_sourceLocation
  ) {
    let text = node.yamlText()
    do {
      let back = try YAML.parse(text, file: "roundtrip.yaml")
      #expect(
        canonical(back) == canonical(node), "text:\n\(text)", sourceLocation: sourceLocation)
    } catch {
      Issue.record(
        "written YAML does not parse: \(error)\ntext:\n\(text)", sourceLocation: sourceLocation)
    }
  }

  /// Every scalar text of the PyYAML typing fixture (and a few more), as strings.
  private func trickyStrings() throws -> [String] {
    struct Case: Decodable { var yaml: String }
    struct Fixture: Decodable { var cases: [Case] }
    let data = try Data(contentsOf: fixtureURL("yaml-typing.json"))
    let fixture = try JSONDecoder().decode(Fixture.self, from: data)
    let fromFixture = fixture.cases.map { String($0.yaml.dropFirst(3)) }
    let more = [
      "", " ", "  lead", "trail ", "a: b", "a #b", "a#b", "key:", ":", "- x", "-", "--- x", "---",
      "...", "? q", "?", "[1, 2]", "{a: 1}", "a, b", "&anchor", "*alias", "!tag", "|", ">",
      "'single'", "\"double\"", "%x", "@x", "`x", "#comment", "multi\nline", "ends with\n",
      "\n", "tab\tinside", "\ttab first", "cr\r", "nul\u{0}", "bell\u{7}", "del\u{7F}",
      "nel\u{85}", "ls\u{2028}ps\u{2029}", "bom\u{FEFF}", "emoji 😀", "é", "back\\slash",
      "quote\"s", "it's", "<<", "=", "~", "y", "n", "0", "-0", "1.5", ".5", "1e3", "0x1F",
      String(repeating: "long ", count: 300), "a  b", "a: ", " #", "x\u{1B}[31m",
    ]
    return fromFixture + more
  }

  @Test("every tricky string round-trips as a value, list element and key")
  func tricky() throws {
    let strings = try trickyStrings()
    #expect(strings.count > 150)
    for s in strings {
      expectRoundTrip(ConfigNode(.string(s)))
      expectRoundTrip(["v": ConfigNode(.string(s))])
      expectRoundTrip([ConfigNode(.string(s))])
      expectRoundTrip(
        ConfigNode(
          .mapping([.init(key: s, keyLocation: .synthetic("t"), node: 1)])))
    }
  }

  @Test("every typed value of the fixture round-trips to the same type and value")
  func typedFixtureValues() throws {
    let data = try Data(contentsOf: fixtureURL("yaml-typing.json"))
    struct Case: Decodable { var yaml: String }
    struct Fixture: Decodable { var cases: [Case] }
    let fixture = try JSONDecoder().decode(Fixture.self, from: data)
    var values: [ConfigNode] = []
    for c in fixture.cases {
      if let node = try? YAML.parse(c.yaml, file: "f.yaml"), let v = node["v"] { values.append(v) }
    }
    #expect(values.count > 150)
    expectRoundTrip(ConfigNode(.sequence(values)))
  }

  @Test(
    "floats keep a dot and a signed exponent so that they stay floats",
    arguments: [
      (0.5, "0.5"), (1.0, "1.0"), (-2.0, "-2.0"), (1e-5, "1.0e-05"), (1e16, "1.0e+16"),
      (1.5e300, "1.5e+300"), (5e-324, "5.0e-324"), (0.1, "0.1"), (Double.infinity, ".inf"),
      (-Double.infinity, "-.inf"), (Double.nan, ".nan"), (-0.0, "-0.0"), (0.003, "0.003"),
      (123456789.125, "123456789.125"),
    ])
  func floats(_ value: Double, _ text: String) throws {
    let written = ConfigNode(.float(value)).yamlText()
    #expect(written == text + "\n")
    let back = try YAML.parse(written, file: "f.yaml")
    guard case .float(let d) = back.value else {
      Issue.record("\(text) did not read back as a float: \(back.value)")
      return
    }
    #expect(d.bitPattern == value.bitPattern || (d.isNaN && value.isNaN))
  }

  @Test("extreme and random floats and ints round-trip exactly")
  func numbers() {
    var rng = SystemRandomNumberGenerator()
    var values: [ConfigNode] = [
      ConfigNode(.int(.max)), ConfigNode(.int(.min)), ConfigNode(.int(0)),
      ConfigNode(.float(.greatestFiniteMagnitude)), ConfigNode(.float(.leastNonzeroMagnitude)),
      ConfigNode(.float(.leastNormalMagnitude)), ConfigNode(.float(Double(Float.ulpOfOne))),
    ]
    for _ in 0..<500 {
      values.append(ConfigNode(.float(Double(bitPattern: rng.next()))))
      values.append(ConfigNode(.int(Int(truncatingIfNeeded: rng.next()))))
    }
    expectRoundTrip(ConfigNode(.sequence(values)))
  }

  @Test("nested trees round-trip: empty collections, lists of lists, lists of mappings")
  func trees() {
    let tree: ConfigNode = [
      "a": ["x": 1, "y": [1, 2.5, "yes", "1/2", "", nil, ["k": "v", "k2": [1, [2, 3]]]]],
      "empty_list": [], "empty_map": [:], "null": nil, "bool": false,
      "lists": [[], [[]], [[:]], [1, [2, [3, [4]]]], [["a": [["b": []]]]]],
      "maps": [["a": ["b": ["c": ["d": "deep"]]]]],
      "": "empty key", "yes": "bool-looking key", "1": "int-looking key",
    ]
    expectRoundTrip(tree)
    expectRoundTrip([tree, tree])
    expectRoundTrip(ConfigNode(.sequence([])))
    expectRoundTrip(ConfigNode(.mapping([])))
    expectRoundTrip(nil)
  }

  @Test("the seed configurations round-trip")
  func seeds() throws {
    for name in ["yaml/method-1.yaml", "yaml/method-2.yaml"] {
      let node = try YAML.load(path: fixtureURL(name).path)
      expectRoundTrip(node)
    }
  }

  @Test("block style, key order and quoting look as a person would write them")
  func layout() {
    let node: ConfigNode = [
      "epochs": 300, "learnrate": 1.0, "optimizer": "rmsprob",
      "resolution": ["{0: 8}.get(int(t*16), 224)"],
      "init": ["mean": [0.4, 0.4, 0.4], "active": "yes"],
      "targets": [
        [
          "features": [["text": "a cat: made of salami"]],
          "transforms": [["mul": "1/3"], ["random_rotate": ["degree": "-20 20"]]],
        ]
      ],
      "output": "/out/img.png", "empty": [],
    ]
    let expected = """
      # clipig
      #
      # epochs: 299 / 300
      epochs: 300
      learnrate: 1.0
      optimizer: rmsprob
      resolution:
        - '{0: 8}.get(int(t*16), 224)'
      init:
        mean:
          - 0.4
          - 0.4
          - 0.4
        active: 'yes'
      targets:
        - features:
            - text: 'a cat: made of salami'
          transforms:
            - mul: 1/3
            - random_rotate:
                degree: -20 20
      output: /out/img.png
      empty: []

      """
    #expect(node.yamlText(headerComment: ["clipig", "", "epochs: 299 / 300"]) == expected)
    expectRoundTrip(node)
  }

  @Test("very long keys use the explicit-key form and still round-trip")
  func longKeys() {
    let key = String(repeating: "k", count: 2000)
    let node = ConfigNode(
      .mapping([
        .init(key: key, keyLocation: .synthetic("t"), node: 1),
        .init(key: key + "2", keyLocation: .synthetic("t"), node: ["a": [1]]),
      ]))
    #expect(node.yamlText().hasPrefix("? "))
    expectRoundTrip(node)
  }
}
