import ExprEval

/// The stages known by name: a value you copy and extend (`.adding(MyStage.self)`); there is no
/// global mutable registry.
public struct StageRegistry: Sendable {
  /// What the registry holds; decides which expression variables parameters may use.
  public enum Kind: Sendable {
    /// Transforms and post-processing: groups time, resolution, learnrate.
    case transforms
    /// Constraints: additionally the target's mean similarity.
    case constraints

    /// Variable groups of CLIPig's groups of each parameter for this kind's parameters.
    public var groups: VariableGroups {
      switch self {
      case .transforms: [.time, .resolution, .learnrate]
      case .constraints: [.time, .resolution, .learnrate, .targetConstraint]
      }
    }
  }

  /// Transforms or constraints.
  public let kind: Kind
  private var byName: [String: any Stage.Type] = [:]
  /// Registered names in registration order.
  public private(set) var names: [String] = []

  /// A registry of `kind` holding `stages`.
  public init(kind: Kind, _ stages: [any Stage.Type] = []) {
    self.kind = kind
    for s in stages { add(s) }
  }

  /// Registers `stage`, replacing a stage of the same name.
  public mutating func add(_ stage: any Stage.Type) {
    if byName[stage.name] == nil { names.append(stage.name) }
    byName[stage.name] = stage
  }

  /// A copy with `stage` registered.
  public func adding(_ stage: any Stage.Type) -> StageRegistry {
    var copy = self
    copy.add(stage)
    return copy
  }

  /// The stage type registered as `name`.
  public subscript(name: String) -> (any Stage.Type)? { byName[name] }

  /// All registered stage types in registration order.
  public var stages: [any Stage.Type] { names.compactMap { byName[$0] } }

  /// Creates stage `name` from its YAML value; unknown names suggest the closest ones.
  public func make(
    name: String, parameters node: ConfigNode, path: String, keyLocation: SourceLocation,
    random: SeededRandom = SeededRandom(seed: 0)
  ) throws(ConfigError) -> any Stage {
    try read(
      name: name, parameters: node, path: path, keyLocation: keyLocation, random: random
    ).stage
  }

  /// Creates stage `name` from its YAML value and returns it with the expressions its
  /// parameters keep for run time; unknown names suggest the closest ones.
  public func read(
    name: String, parameters node: ConfigNode, path: String, keyLocation: SourceLocation,
    random: SeededRandom = SeededRandom(seed: 0)
  ) throws(ConfigError) -> (stage: any Stage, expressions: [RecordedExpression]) {
    guard let type = byName[name] else {
      throw ConfigError(
        "unknown \(kind == .transforms ? "transform" : "constraint") '\(name)'"
          + Suggestions.didYouMean(name, among: names),
        at: keyLocation, path: path)
    }
    let made = try Self.make(
      type, parameters: node, path: path, groups: kind.groups, random: random)
    return (made.stage, made.expressions)
  }

  /// Creates a stage of `type` and returns it with the parameter specs it read and the
  /// expressions it keeps for run time.
  public static func make(
    _ type: any Stage.Type, parameters node: ConfigNode, path: String, groups: VariableGroups,
    random: SeededRandom = SeededRandom(seed: 0)
  ) throws(ConfigError) -> (
    stage: any Stage, specs: [ParameterSpec], expressions: [RecordedExpression]
  ) {
    var reader = ParameterReader(node: node, path: path, groups: groups, random: random)
    let stage = try type.init(parameters: &reader)
    try reader.finish()
    return (stage, reader.specs, reader.expressions)
  }
}

/// A chain of stages applied in order; its pullback runs their pullbacks in reverse.
public struct Pipeline: Sendable {
  /// The stages, first applied first.
  public var stages: [any Stage]

  /// A pipeline of `stages`.
  public init(_ stages: [any Stage]) { self.stages = stages }

  /// Applies every stage to one image `[C,H,W]`.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    var y = x
    var pullbacks: [Pullback] = []
    pullbacks.reserveCapacity(stages.count)
    for stage in stages {
      let (out, pb) = try stage.forward(y, in: &context)
      y = out
      pullbacks.append(pb)
    }
    return (
      y,
      { dy in
        var d = dy
        for pb in pullbacks.reversed() { d = pb(d) }
        return d
      }
    )
  }
}
