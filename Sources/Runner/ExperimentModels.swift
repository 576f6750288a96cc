import CLIP
import ExprEval
import Foundation
import PipelineKit

extension Experiment {
  /// One CLIP model judging the image (`models[*]`; without a `models:` list, the one model of
  /// `model:`): its loss is the loss a run with this model alone would have, on its share of
  /// the views, times its weight.
  public struct ModelEntry: Sendable {
    /// The model as `--model` takes it: a known name, a path, an `hf-hub:` id.
    public var name: String
    /// Factor of this model's loss (an expression of time; 0 evaluates the model for its
    /// similarity only, without a backward pass).
    public var weight: Param<Double>
    /// The share of each target's views this model sees, in (0, 1]: the first
    /// `max(1, round(views × n))` of a target's n views.
    public var views: Double
    /// Where the entry was written (the top level's `model` without a `models:` list).
    public var location: SourceLocation
    /// `models[i]` for an entry of the list, nil for the single `model`.
    public var path: String?

    /// The short name progress lines and sidecars show: a file or folder's name without its
    /// extension, a known name as it is.
    public var label: String {
      let isPath =
        name.hasPrefix("/") || name.hasPrefix(".") || name.hasPrefix("~")
        || [".safetensors", ".pt", ".bin"].contains { name.hasSuffix($0) }
      guard isPath else { return name }
      let file = (name as NSString).lastPathComponent
      let stem = (file as NSString).deletingPathExtension
      return stem.isEmpty ? file : stem
    }

    /// How many of a target's `count` views this model sees.
    public func viewCount(of count: Int) -> Int {
      count == 0 ? 0 : min(count, max(1, Int((views * Double(count)).rounded())))
    }
  }

  /// `models:` — a non-empty list of `{model, weight, views}` — or, when it is absent, the
  /// one model `single` (the top-level `model`) with weight 1 seeing every view.
  static func models(_ node: ConfigNode?, single: String, at location: SourceLocation)
    throws(ConfigError) -> [ModelEntry]
  {
    guard let node, !node.isNull else {
      return [ModelEntry(name: single, weight: Param(1), views: 1, location: location)]
    }
    guard let elements = node.elements else {
      throw ConfigError(
        "expected a list of models such as '- {model: ViT-B/32, weight: 1}', got "
          + node.kindDescription, at: node.location, path: "models")
    }
    guard !elements.isEmpty else {
      throw ConfigError(
        "the list of models is empty: name at least one model, or remove 'models:' to use "
          + "'model:'", at: node.location, path: "models")
    }
    var entries: [ModelEntry] = []
    for (i, element) in elements.enumerated() {
      let path = "models[\(i)]"
      var element = element
      if case .string = element.value {
        // `- ViT-B/32` is `- {model: ViT-B/32}`.
        element = ConfigNode(
          .mapping([ConfigNode.Entry(key: "model", keyLocation: element.location, node: element)]),
          at: element.location)
      }
      guard element.entries != nil else {
        throw ConfigError(
          "expected a model name or a mapping with model, weight and views, got "
            + element.kindDescription, at: element.location, path: path)
      }
      var r = ParameterReader(node: element, path: path, groups: [])
      let name = try r.scalar(
        "model", String.self, doc: "the CLIP model: a known name, a path or an hf-hub: id")
      let weight = try r.scalar(
        "weight", Double.self, default: 1, groups: .transformParameter,
        doc: "factor of this model's loss (an expression of time; 0 only reports its similarity)")
      let views = try r.scalar(
        "views", Double.self, default: 1,
        doc: "the share of each target's views this model sees, in (0, 1]")
      try r.finish()
      guard let text = name.constantValue, !text.trimmingCharacters(in: .whitespaces).isEmpty
      else {
        throw ConfigError("a model needs a name", at: name.location, path: path + ".model")
      }
      let share = views.constantValue ?? 0
      guard share > 0, share <= 1 else {
        throw ConfigError(
          "views is the share of each target's views this model sees and must be in (0, 1], "
            + "got \(views.description)", at: views.location, path: path + ".views")
      }
      if let first = entries.first(where: { $0.name == text }) {
        throw ConfigError(
          "the model '\(text)' is listed twice (first at \(first.location)): targets name "
            + "models by their 'model', so each may appear once", at: name.location,
          path: path + ".model")
      }
      entries.append(
        ModelEntry(
          name: text, weight: weight, views: share, location: name.location, path: path))
    }
    return entries
  }

  /// A target's `model`: one name or a list of names of `models` (absent: every model), as
  /// indices into `models`. An unknown name is an error with the closest listed name.
  static func targetModels(_ node: ConfigNode?, path: String, models: [ModelEntry])
    throws(ConfigError) -> [Int]
  {
    guard let node, !node.isNull else { return Array(models.indices) }
    let items: [ConfigNode]
    if case .string = node.value {
      items = [node]
    } else if let elements = node.elements, !elements.isEmpty {
      items = elements
    } else {
      throw ConfigError(
        "expected a model name or a list of names from 'models:', got \(node.kindDescription)",
        at: node.location, path: path)
    }
    var indices: [Int] = []
    for item in items {
      guard case .string(let name) = item.value else {
        throw ConfigError(
          "expected a model name, got \(item.kindDescription)", at: item.location, path: path)
      }
      guard let index = models.firstIndex(where: { $0.name == name }) else {
        let listed = models.map(\.name)
        throw ConfigError(
          "unknown model '\(name)': a target names one of the models of 'models:' ("
            + listed.map { "'\($0)'" }.joined(separator: ", ") + ")"
            + Suggestions.didYouMean(name, among: listed), at: item.location, path: path)
      }
      if !indices.contains(index) { indices.append(index) }
    }
    return indices.sorted()
  }

  /// This experiment with model `m` alone, judging the targets and seeing the views it judges
  /// and sees here (what `clipig bench render --each` times).
  public func only(model m: Int) -> Experiment {
    var e = self
    e.models = [models[m]]
    e.model = models[m].name
    for i in e.targets.indices { e.targets[i].models = targets[i].models.contains(m) ? [0] : [] }
    return e
  }

  /// The targets model `m` judges (by target index).
  public func targets(ofModel m: Int) -> [Int] {
    targets.indices.filter { targets[$0].models.contains(m) }
  }

  /// Loads every model of the run with `load` (name, precision), in `models` order. A model
  /// of a `models:` list that cannot be loaded is named by its place in the YAML.
  public func loadModels(_ load: (String, CLIPPrecision) throws -> any FeatureModel) throws
    -> [any FeatureModel]
  {
    try models.map { entry in
      do {
        return try load(entry.name, precision)
      } catch let error where entry.path != nil {
        throw ModelLoader.LoadError(
          description: "\(entry.location): error: '\(entry.path ?? "").model': \(error)")
      }
    }
  }
}
