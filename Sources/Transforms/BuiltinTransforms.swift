import PipelineKit

extension StageRegistry {
  /// Every built-in transform, usable in `targets[*].transforms` and (if it keeps the
  /// resolution) in `postproc`. Extend it with `.adding(MyStage.self)`.
  public static let transforms = StageRegistry(
    kind: .transforms,
    [
      Add.self,
      Blur.self,
      Border.self,
      BWNoise.self,
      CenterCrop.self,
      Clamp.self,
      Contrast.self,
      Crop.self,
      Edge.self,
      FNoise.self,
      Mean.self,
      Mul.self,
      Noise.self,
      Pad.self,
      Quantize.self,
      RandomCrop.self,
      RandomRotate.self,
      RandomScale.self,
      RandomShift.self,
      RandomTranslate.self,
      Repeat.self,
      Resize.self,
      RNoise.self,
      Rotate.self,
      Saturation.self,
      Shift.self,
    ])
}
