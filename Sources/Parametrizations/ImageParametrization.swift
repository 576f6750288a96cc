import PipelineKit

/// How an image `[3,H,W]` in [0, 1] is made from the trainable parameters: the piece between the
/// optimizer and the transforms.
///
/// `image(_:)` is differentiable (a value and a hand-written pullback to the parameters, proved
/// by the generic gradient harness). `encode(_:)` is its exact inverse on the image that
/// post-processing edits (`editableImage(_:)`), so an init image or a post-processed image
/// becomes parameters again. `resized(_:width:height:filter:wrap:)` moves the parameters to
/// another resolution and says which parameters continue old ones, so an optimizer can keep
/// their state.
public protocol ImageParametrization: Sendable {
  /// Columns of the image.
  var width: Int { get }
  /// Rows of the image.
  var height: Int { get }
  /// Length of the flat parameter vector.
  var parameterCount: Int { get }

  /// The image `[3,H,W]` in [0, 1] and the pullback from its cotangent to the parameters'.
  func image(_ parameters: [Float]) -> (value: Tensor, pullback: @Sendable (Tensor) -> [Float])

  /// The image post-processing edits, `[3,H,W]`: with the `clamp` mapping the values before
  /// clamping (CLIPig edits its raw pixels), with `sigmoid` the image itself.
  func editableImage(_ parameters: [Float]) -> Tensor

  /// Parameters whose editable image is `image` `[3,H,W]` (exact up to rounding; the `sigmoid`
  /// mapping first limits values to [ε, 1 − ε]).
  func encode(_ image: Tensor) -> [Float]

  /// Parameters whose editable image is `image`, made from the current `parameters` where the
  /// parametrization has a choice (after post-processing: the stack keeps its coarse levels).
  /// The default is `encode(image)`.
  func encode(_ image: Tensor, replacing parameters: [Float]) -> [Float]

  /// The parametrization at another resolution, the parameters carried over, and which of them
  /// continue old ones. With `wrap` the image is a torus (`tiling: true`): the resampling reads
  /// across the edges, so it commutes with rolling the image.
  func resized(
    _ parameters: [Float], width: Int, height: Int, filter: Interpolation, wrap: Bool
  ) -> (parametrization: any ImageParametrization, parameters: [Float], kept: KeptParameters)
}

extension ImageParametrization {
  /// `resized(_:width:height:filter:wrap:)` of an image that is no torus.
  public func resized(_ parameters: [Float], width: Int, height: Int, filter: Interpolation)
    -> (parametrization: any ImageParametrization, parameters: [Float], kept: KeptParameters)
  {
    resized(parameters, width: width, height: height, filter: filter, wrap: false)
  }
}

extension ImageParametrization {
  /// `encode(image)`: parametrizations with one encoding of each image ignore the old
  /// parameters.
  public func encode(_ image: Tensor, replacing parameters: [Float]) -> [Float] {
    encode(image)
  }
}

/// Which parameters of a resized parametrization continue parameters of the old one:
/// `new[k]` continues `old[k]` (so an optimizer can copy their state); all others start fresh.
public struct KeptParameters: Sendable, Equatable {
  /// Indices into the old parameter vector.
  public var old: [Int]
  /// Indices into the new parameter vector, parallel to `old`.
  public var new: [Int]

  /// Nothing is kept (the optimizer starts over, as CLIPig does on every resolution change).
  public static let none = KeptParameters(old: [], new: [])

  /// Pairs of indices, parallel arrays of equal length.
  public init(old: [Int], new: [Int]) {
    precondition(old.count == new.count, "KeptParameters: \(old.count) ≠ \(new.count) indices")
    self.old = old
    self.new = new
  }
}
