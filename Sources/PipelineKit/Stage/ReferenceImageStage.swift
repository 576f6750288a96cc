/// A constraint on the trained image itself that compares it with another image (the
/// `content` constraint): unlike other constraints it sees the image before a target's
/// transforms, not the views CLIP sees. The runner loads `referenceImage` once, resizes it to
/// the image's size (CLIPig's resize-crop, as for `init.image`) and passes it in
/// `StageContext.reference`; the stage's pullback is with respect to its input only.
///
/// The gradient harness gives such a stage a random reference of the input's shape and checks
/// that its output depends on it.
public protocol ReferenceImageStage: Stage {
  /// The image file or http(s) URL compared with, with the place it was written; nil: the
  /// current input frame of an animation with `init.video`.
  var referenceImage: Param<String>? { get }
}

extension StageContext {
  /// The reference image for the input `x` of a reference-image stage. A runner that gives such
  /// a stage no reference, or one of another shape, is a programming error.
  public func reference(for x: Tensor) -> Tensor {
    guard let reference, reference.shape == x.shape else {
      preconditionFailure(
        "a reference-image stage needs StageContext.reference shaped \(x.shape), got "
          + "\(reference.map { "\($0.shape)" } ?? "none")")
    }
    return reference
  }
}
