import PipelineKit

extension StageRegistry {
  /// Every built-in transform, usable in `targets[*].transforms` and (if it keeps the
  /// resolution) in `postproc`. Extend it with `.adding(MyStage.self)`.
  public static let transforms = StageRegistry(
    kind: .transforms,
    [
      Add.self,
      Mul.self,
      Border.self,
      CenterCrop.self,
      Crop.self,
      Pad.self,
      RandomCrop.self,
      RandomRotate.self,
      RandomScale.self,
      RandomShift.self,
      RandomTranslate.self,
      Repeat.self,
      Resize.self,
      Rotate.self,
      Shift.self,
    ])
}
