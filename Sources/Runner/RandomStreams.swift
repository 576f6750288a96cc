import PipelineKit

/// Every random stream of a run, derived from its one seed by purpose, epoch, target and view —
/// never from how many numbers another part drew — so that training, `clipig preview` and a
/// resumed run see the same draws wherever they start.
public struct RandomStreams: Sendable {
  /// The run's seed.
  public let seed: UInt64
  private let root: SeededRandom

  /// The streams of a run with `seed`.
  public init(seed: UInt64) {
    self.seed = seed
    root = SeededRandom(seed: seed)
  }

  /// The initial resolution and pixels (noise, or the init image's scaling).
  public var initialization: SeededRandom { root.fork(0x1417) }

  /// Expression draws of `epoch` (time variables, learning rate, similarity scales, weights),
  /// used in that order.
  public func expressions(epoch: Int) -> SeededRandom { epochStream(epoch) }

  /// Post-processing stages of `epoch`.
  public func postproc(epoch: Int) -> SeededRandom { epochStream(epoch).fork(0x9057) }

  /// The transform chain of view `view` of target `target` at `epoch`.
  public func view(epoch: Int, target: Int, view: Int) -> SeededRandom {
    epochStream(epoch).fork(UInt64(target) << 32 | UInt64(view))
  }

  /// The constraints on the `index`-th view of `epoch` (in the epoch's batch order).
  public func constraints(epoch: Int, view index: Int) -> SeededRandom {
    epochStream(epoch).fork(UInt64(index) &* 7919)
  }

  private func epochStream(_ epoch: Int) -> SeededRandom { root.fork(UInt64(epoch) &+ 1) }
}
