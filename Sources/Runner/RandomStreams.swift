import PipelineKit
import Synchronization

/// Every random stream of a run, derived from its one seed by a named purpose and the purpose's
/// indices (epoch, target, view) — never from how many numbers another part drew, and never
/// from hand-picked salts that could collide. Training, `clipig preview`, a resumed run and
/// every command that renders therefore see the same draws wherever they start.
///
/// A stream is `SeededRandom` seeded by absorbing, in order, the hash of the purpose's label
/// (domain separation: two purposes never share a stream, whatever their indices) and each
/// index (see `RandomStreams.derive`).
public struct RandomStreams: Sendable {
  /// What a stream is for; the label is hashed into the stream, so a purpose's streams are
  /// disjoint from every other purpose's.
  public enum Purpose: String, Sendable, CaseIterable {
    /// Constant expressions that call random functions, folded when the experiment is decoded.
    case load
    /// The initial resolution and pixels (noise, or the init image's scaling).
    case initialization
    /// Expression draws of one epoch (time variables, learning rate, scales, weights).
    case expressions
    /// Post-processing stages of one epoch.
    case postproc
    /// The transform chain of one view of one target in one epoch.
    case view
    /// The constraints on one view of one epoch (by its place in the epoch's batch).
    case constraints
    /// The warp of one animation frame (random functions in `animation.warp`).
    case warp
    /// The blend of one animation frame's input video frame with the warped previous frame
    /// (random functions in `init.blend`).
    case blend
  }

  /// The run's seed.
  public let seed: UInt64
  /// The animation frame whose streams these are (0: a still image, or an animation's first
  /// frame, which therefore draws as the still image of the same experiment does).
  public let frame: Int
  private let recorder: StreamRecorder?

  /// The streams of a run with `seed` (of its frame `frame` for an animation); a `recorder`
  /// notes every stream handed out (for tests that prove the streams of a run distinct).
  public init(seed: UInt64, frame: Int = 0, recorder: StreamRecorder? = nil) {
    self.seed = seed
    self.frame = frame
    self.recorder = recorder
  }

  /// The stream of `purpose` at `indices`. A later animation frame's streams are labelled
  /// `PURPOSE/frame` and indexed by the frame first, so no two frames share one.
  public func stream(_ purpose: Purpose, _ indices: Int...) -> SeededRandom {
    let labelled = frame == 0 ? indices : [frame] + indices
    let label = frame == 0 ? purpose.rawValue : purpose.rawValue + "/frame"
    let random = Self.derive(seed: seed, label: label, indices: labelled)
    recorder?.note(purpose, labelled, random)
    return random
  }

  /// The stream that folds constant random expressions when the experiment is decoded.
  public var load: SeededRandom { stream(.load) }

  /// The initial resolution and pixels.
  public var initialization: SeededRandom { stream(.initialization) }

  /// Expression draws of `epoch`, used in a fixed order.
  public func expressions(epoch: Int) -> SeededRandom { stream(.expressions, epoch) }

  /// Post-processing stages of `epoch`.
  public func postproc(epoch: Int) -> SeededRandom { stream(.postproc, epoch) }

  /// The transform chain of view `view` of target `target` at `epoch`.
  public func view(epoch: Int, target: Int, view: Int) -> SeededRandom {
    stream(.view, epoch, target, view)
  }

  /// The constraints on the `index`-th view of `epoch` (in the epoch's batch order).
  public func constraints(epoch: Int, view index: Int) -> SeededRandom {
    stream(.constraints, epoch, index)
  }

  /// A stream from `seed`, the 64-bit FNV-1a hash of `label`, then each index in turn: every
  /// step seeds a fresh generator from the previous one's first output mixed with the next
  /// value, so (label, indices) pairs that differ anywhere give unrelated streams.
  public static func derive(seed: UInt64, label: String, indices: [Int]) -> SeededRandom {
    var hash: UInt64 = 0xcbf2_9ce4_8422_2325
    for byte in label.utf8 {
      hash ^= UInt64(byte)
      hash = hash &* 0x100_0000_01b3
    }
    var random = SeededRandom(seed: seed).fork(hash)
    for index in indices {
      random = random.fork(UInt64(bitPattern: Int64(index)))
    }
    return random
  }
}

/// Notes every stream a run's `RandomStreams` hands out, by purpose and indices.
public final class StreamRecorder: Sendable {
  /// One stream handed out.
  public struct Entry: Sendable, Hashable {
    /// Its purpose.
    public var purpose: RandomStreams.Purpose
    /// Its indices.
    public var indices: [Int]
    /// The stream's first four outputs (its identity for comparisons).
    public var fingerprint: [UInt64]
  }

  private let entries = Mutex<[Entry]>([])

  /// An empty recorder.
  public init() {}

  /// Every stream handed out so far, in order (a stream asked for twice is listed twice).
  public var recorded: [Entry] { entries.withLock { $0 } }

  func note(_ purpose: RandomStreams.Purpose, _ indices: [Int], _ random: SeededRandom) {
    var copy = random
    let fingerprint = (0..<4).map { _ in copy.next() }
    entries.withLock {
      $0.append(Entry(purpose: purpose, indices: indices, fingerprint: fingerprint))
    }
  }
}
