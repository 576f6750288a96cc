import PipelineKit

extension StageRegistry {
  /// Every built-in constraint, usable in `targets[*].constraints`. The runner reads each
  /// entry's `weight`, `start` and `end`; the stage reads the rest (including `loss`).
  public static let constraints = StageRegistry(
    kind: .constraints,
    [
      BlurConstraint.self,
      BorderConstraint.self,
      ContrastConstraint.self,
      EdgeMeanConstraint.self,
      MeanConstraint.self,
      NoiseConstraint.self,
      NormalizeConstraint.self,
      SaturationConstraint.self,
      StdConstraint.self,
    ])
}
