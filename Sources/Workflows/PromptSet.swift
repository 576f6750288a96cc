import Formats
import Foundation
import PipelineKit
import Runner

/// The prompts `clipig eval` renders and judges, each with a category (docs/eval.md).
///
/// Every file given is read in one of three forms:
/// - a text file (any name but `.json`, `.yaml`, `.yml`): one prompt per line; blank lines and
///   lines starting with `#` are skipped; the category is the file's stem;
/// - a JSON or YAML list: strings (category: the file's stem) or mappings
///   `{prompt: …, category: …}` (category optional);
/// - a JSON or YAML mapping of category names to lists of prompts.
///
/// So the HPS v2 benchmark's four style files (`anime.json`, `concept-art.json`,
/// `paintings.json`, `photo.json`, each a list of strings) give four categories as they are.
/// A prompt may appear only once in the whole set: the R-precision of an image is whether its
/// prompt is the judge's first choice among the set's prompts, which a twin would make
/// undecidable.
public struct PromptSet: Sendable, Equatable {
  /// One prompt and where it came from.
  public struct Entry: Sendable, Equatable, Codable {
    /// The text.
    public var prompt: String
    /// Its category.
    public var category: String
  }

  /// The prompts in file order.
  public var entries: [Entry]

  /// The categories in order of first appearance.
  public var categories: [String] {
    var seen: [String] = []
    for e in entries where !seen.contains(e.category) { seen.append(e.category) }
    return seen
  }

  /// At most this many prompts in a set (HPS v2 has 3 200): each is rendered and every image
  /// is compared with every prompt.
  public static let maxPrompts = 20_000
  /// At most this many bytes in one prompt (CLIP reads 77 tokens; longer is a mistake).
  public static let maxPromptBytes = 2_000
  /// At most this many bytes in one prompt file.
  public static let maxFileBytes = 64 << 20

  /// A set of `entries` (for tests and callers that build prompts themselves).
  public init(entries: [Entry]) {
    self.entries = entries
  }

  /// Reads and checks the prompt files `paths` in order.
  public static func load(paths: [String]) throws -> PromptSet {
    guard !paths.isEmpty else { throw WorkflowError("eval needs a prompt file") }
    var entries: [Entry] = []
    var firstSeen: [String: SourceLocation] = [:]
    for path in paths {
      for (entry, location) in try read(path: path) {
        guard !entry.prompt.isEmpty else {
          throw ConfigError("a prompt is empty", at: location, path: "prompt")
        }
        guard entry.prompt.utf8.count <= maxPromptBytes else {
          throw ConfigError(
            "a prompt is longer than \(maxPromptBytes) bytes", at: location, path: "prompt")
        }
        if let earlier = firstSeen[entry.prompt] {
          throw ConfigError(
            "the prompt '\(entry.prompt)' appears twice (first at \(earlier)); every prompt of a "
              + "set must be different", at: location, path: "prompt")
        }
        firstSeen[entry.prompt] = location
        entries.append(entry)
        guard entries.count <= maxPrompts else {
          throw ConfigError(
            "more than \(maxPrompts) prompts: split the set into several evals", at: location)
        }
      }
    }
    if entries.isEmpty {
      throw WorkflowError("no prompts in " + paths.joined(separator: ", "))
    }
    return PromptSet(entries: entries)
  }

  /// The entries of one file with their locations.
  static func read(path: String) throws -> [(Entry, SourceLocation)] {
    let stem = URL(fileURLWithPath: path).deletingPathExtension().lastPathComponent
    let ext = URL(fileURLWithPath: path).pathExtension.lowercased()
    guard ["json", "yaml", "yml"].contains(ext) else {
      return try readLines(path: path, stem: stem)
    }
    let root = try YAML.load(path: path)
    switch root.value {
    case .sequence(let elements):
      return try elements.map { try entry($0, category: stem) }
    case .mapping(let groups):
      var out: [(Entry, SourceLocation)] = []
      for group in groups {
        guard let elements = group.node.elements else {
          throw ConfigError(
            "expected a list of prompts for the category '\(group.key)', got "
              + group.node.kindDescription, at: group.node.location, path: group.key)
        }
        for element in elements {
          guard case .string(let s) = element.value else {
            throw ConfigError(
              "expected a prompt (a string), got \(element.kindDescription)",
              at: element.location, path: group.key)
          }
          out.append((Entry(prompt: clean(s), category: group.key), element.location))
        }
      }
      return out
    default:
      throw ConfigError(
        "a prompt file is a list of prompts or a mapping of categories to lists, got "
          + root.kindDescription, at: root.location)
    }
  }

  /// A list element: a string, or `{prompt:, category:}`.
  static func entry(_ node: ConfigNode, category: String) throws -> (Entry, SourceLocation) {
    switch node.value {
    case .string(let s):
      return (Entry(prompt: clean(s), category: category), node.location)
    case .mapping:
      var r = ParameterReader(node: node, path: "", groups: [])
      let promptNode = try r.section("prompt", doc: "the prompt")
      let categoryNode = try r.section("category", doc: "the prompt's category")
      try r.finish(noun: "prompt key")
      guard let promptNode, case .string(let prompt) = promptNode.value else {
        throw ConfigError(
          "a prompt entry needs 'prompt' (a string)", at: node.location, path: "prompt")
      }
      var c = category
      if let categoryNode {
        guard case .string(let s) = categoryNode.value, !s.isEmpty else {
          throw ConfigError(
            "expected a category name, got \(categoryNode.kindDescription)",
            at: categoryNode.location, path: "category")
        }
        c = s
      }
      return (Entry(prompt: clean(prompt), category: c), promptNode.location)
    default:
      throw ConfigError(
        "expected a prompt (a string) or {prompt:, category:}, got \(node.kindDescription)",
        at: node.location)
    }
  }

  /// One prompt per non-blank line not starting with `#`.
  static func readLines(path: String, stem: String) throws -> [(Entry, SourceLocation)] {
    let bytes = try FileIO.readBytes(path: path, maxBytes: maxFileBytes)
    guard let text = String(validating: bytes, as: UTF8.self) else {
      throw WorkflowError("\(path) is not UTF-8 text")
    }
    var out: [(Entry, SourceLocation)] = []
    for (i, line) in text.split(separator: "\n", omittingEmptySubsequences: false).enumerated() {
      let prompt = clean(String(line))
      if prompt.isEmpty || prompt.hasPrefix("#") { continue }
      out.append(
        (Entry(prompt: prompt, category: stem), SourceLocation(file: path, line: i + 1, column: 1)))
    }
    return out
  }

  /// The prompt without surrounding white space.
  static func clean(_ s: String) -> String { s.trimmingCharacters(in: .whitespacesAndNewlines) }
}
