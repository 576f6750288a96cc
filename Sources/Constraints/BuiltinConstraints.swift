import PipelineKit

extension StageRegistry {
  /// Every built-in constraint, usable in `targets[*].constraints`. The runner reads each
  /// entry's `weight`, `start` and `end`; the stage reads the rest (including `loss`). All but
  /// `content` (a `ReferenceImageStage`, on the image itself) see each view CLIP sees.
  public static let constraints = StageRegistry(
    kind: .constraints,
    [
      BlurConstraint.self,
      BorderConstraint.self,
      ContentConstraint.self,
      ContrastConstraint.self,
      EdgeMeanConstraint.self,
      MeanConstraint.self,
      NoiseConstraint.self,
      NormalizeConstraint.self,
      SaturationConstraint.self,
      StdConstraint.self,
    ])
}
