/// NaN or infinity appeared in the loss or the pixels during training: the run stops at that
/// epoch and the image of the last good epoch is kept (a run stopped in its first epoch
/// trained nothing and keeps no file).
public struct NonFiniteError: Error, Sendable, CustomStringConvertible {
  /// The epoch (index, from 0) whose step produced the value.
  public var epoch: Int
  /// What became non-finite, e.g. "the loss" or "the pixels after post-processing".
  public var what: String
  /// The offending value (NaN or ±infinity).
  public var value: Double

  /// An error about `what` at `epoch`.
  public init(epoch: Int, what: String, value: Double) {
    self.epoch = epoch
    self.what = what
    self.value = value
  }

  /// One sentence naming the epoch, counted from 1 as every message counts epochs.
  public var description: String {
    let shown = value.isNaN ? "NaN" : value > 0 ? "infinite" : "-infinite"
    return
      "epoch \(epoch + 1): \(what) became \(shown) (not a finite number); training stopped (the "
      + "image of the last good epoch, if any, is kept)"
  }

  /// The first non-finite scalar of `values`, if any.
  static func firstNonFinite(_ values: [Float]) -> Float? {
    for v in values where !v.isFinite { return v }
    return nil
  }
}
