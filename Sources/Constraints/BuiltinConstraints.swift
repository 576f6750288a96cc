import PipelineKit

extension StageRegistry {
  /// Every built-in constraint, usable in `targets[*].constraints`.
  public static let constraints = StageRegistry(kind: .constraints, [])
}
