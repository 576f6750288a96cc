import PipelineKit

/// Constraint `content: {image, loss}` — keeps the image close to a given image (the init-image
/// content loss of big-sleep and aphantasia; in an animation with `init.video`, to the current
/// input frame when `image` is omitted): loss = 100 · L(img, ref), averaged over all pixels and
/// channels, with the factor 100 of CLIPig's `border` and `blur`. Unlike the other constraints
/// it sees the trained image itself, before the target's transforms (a `ReferenceImageStage`):
/// `ref` is the image resized to the current resolution (CLIPig's resize-crop: scaled bicubic to
/// cover it, the centre cut out, as `init.image`). Like every constraint it counts once per view
/// of its target, times `weight` and the target's weight. A scalar loss; the pullback is
/// L'(img − ref) / N, the reference's gradient is not needed.
public struct ContentConstraint: ReferenceImageStage {
  /// The key that adds this constraint to a target's `constraints:` (`- content: …`).
  public static let name = "content"
  /// One line for the docs.
  public static let summary =
    "Distance between the image (before the transforms) and a given image resized to it "
    + "(×100, averaged over pixels and channels); without `image`, an animation's input video "
    + "frame; pullback: the loss derivative."
  /// A loss.
  public static let traits: StageTraits = [.scalarLoss]
  /// Exact derivative (piecewise for l1).
  public static let gradient: GradientPolicy = .piecewise
  /// Examples for the gradient harness and the docs (the harness gives a random reference).
  public static let examples: [StageExample] = [
    StageExample(["image": "photo.png"]),
    StageExample(["image": "photo.png", "loss": "l1"], inputShape: [3, 5, 4]),
    StageExample(["loss": "mse"], inputShape: [3, 3, 8]),
  ]

  /// The image compared with; nil: the animation's current input frame.
  public let referenceImage: Param<String>?
  let loss: ConstraintLoss

  /// Reads `image` (a file or http(s) URL, relative to the YAML's folder) and `loss`.
  public init(parameters: inout ParameterReader) throws(ConfigError) {
    referenceImage = try parameters.optionalScalar(
      "image", String.self,
      doc: "PNG, JPEG or WebP file or http(s) URL to keep close to (resized to the image); "
        + "omitted: the current input frame of an animation with init.video")
    loss = try ConstraintLoss(reading: &parameters)
  }

  /// 100 · L(img, ref) with `ref` the context's reference image.
  public func forward(_ x: Tensor, in context: inout StageContext) throws(StageError)
    -> (value: Tensor, pullback: Pullback)
  {
    let reference = context.reference(for: x)
    var diff = x  // (C, H, W): img − ref
    diff.scalars.withUnsafeMutableBufferPointer { d in
      reference.scalars.withUnsafeBufferPointer { r in
        for i in d.indices { d[i] -= r[i] }
      }
    }
    return loss.meanOfDifference(diff, factor: 100)
  }
}
