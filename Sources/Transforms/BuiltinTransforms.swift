import PipelineKit

extension StageRegistry {
  /// Every built-in transform, usable in `targets[*].transforms` and (if it keeps the
  /// resolution) in `postproc`. Extend it with `.adding(MyStage.self)`.
  public static let transforms = StageRegistry(
    kind: .transforms,
    [
      Add.self,
      Mul.self,
      Blur.self,
      BWNoise.self,
      Clamp.self,
      Contrast.self,
      Edge.self,
      FNoise.self,
      Mean.self,
      Noise.self,
      Quantize.self,
      RNoise.self,
      Saturation.self,
    ])
}
