import Dispatch
import Synchronization

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// A request to stop, set from a signal handler (Ctrl-C, SIGTERM, a closed terminal) or by a
/// caller, and checked by long work between its steps: a render saves its latest image, a
/// download keeps its partial file, a batch finishes nothing half-way.
public final class InterruptFlag: Sendable {
  private let signalNumber = Atomic<Int32>(0)
  /// A cleared flag.
  public init() {}
  /// Whether an interrupt arrived.
  public var isSet: Bool { signalNumber.load(ordering: .relaxed) != 0 }
  /// Records an interrupt (by signal `signal`, SIGINT when a caller asks).
  public func set(signal: Int32 = SIGINT) {
    _ = signalNumber.compareExchange(expected: 0, desired: signal, ordering: .relaxed)
  }
  /// The first signal that set the flag (SIGINT for a caller's request), nil while clear.
  public var signal: Int32? {
    let s = signalNumber.load(ordering: .relaxed)
    return s == 0 ? nil : s
  }
  /// The exit status a command ends with after this interrupt: 128 + the signal's number
  /// (130 for Ctrl-C, 143 for SIGTERM, 129 for SIGHUP), as shells report a signal's end.
  public var exitStatus: Int32 { 128 + (signal ?? SIGINT) }
}

/// The process's signal handling, in one place: SIGINT, SIGTERM and SIGHUP set an
/// `InterruptFlag` instead of ending the process (so the work can save and stop), and SIGPIPE is
/// ignored (a closed pipe is a write error, not a silent death). Keep the value alive while
/// the work runs; when it goes, the stopping signals are handled as they were before it came
/// (so a watch around one piece of work, such as a download, leaves the program's own handling
/// as it found it, and watches may nest).
public final class SignalWatch: Sendable {
  /// The stopping signals a watch routes to its flag.
  public static let stoppingSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  private struct State {
    var sources: [any DispatchSourceSignal]
    /// Each stopping signal's disposition before this watch, restored when it ends.
    var previous: [(signal: Int32, action: sigaction)]
  }

  private let state: Mutex<State>

  /// Routes the stopping signals to `flag`, then calls `then` with the signal (for work that
  /// does not poll the flag: it may end the process, e.g. `exit(flag.exitStatus)`).
  public init(_ flag: InterruptFlag, then: (@Sendable (Int32) -> Void)? = nil) {
    signal(SIGPIPE, SIG_IGN)
    var previous: [(signal: Int32, action: sigaction)] = []
    let sources = Self.stoppingSignals.map { sig in
      var action = sigaction()
      sigaction(sig, nil, &action)
      previous.append((sig, action))
      // Ignored, the signal no longer ends the process; the dispatch source still sees it.
      signal(sig, SIG_IGN)
      let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
      source.setEventHandler {
        flag.set(signal: sig)
        then?(sig)
      }
      source.resume()
      return source
    }
    state = Mutex(State(sources: sources, previous: previous))
  }

  deinit {
    state.withLock { state in
      for source in state.sources { source.cancel() }
      for (sig, action) in state.previous {
        var restored = action
        sigaction(sig, &restored, nil)
      }
    }
  }
}
