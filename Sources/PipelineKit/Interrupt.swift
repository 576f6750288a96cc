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
/// the work runs. Watches may nest (a download inside a render): each flag is set.
///
/// A stopping signal that still ends the process is made ignored (the watch's dispatch source
/// sees it all the same); one the process already handles or ignores keeps that disposition
/// untouched, now and when the watch ends: libdispatch installs one handler per signal for the
/// whole process, and replacing it (even to restore an older disposition) would blind every
/// later watch.
public final class SignalWatch: Sendable {
  /// The stopping signals a watch routes to its flag.
  public static let stoppingSignals: [Int32] = [SIGINT, SIGTERM, SIGHUP]

  private let sources: Mutex<[any DispatchSourceSignal]>

  /// Routes the stopping signals to `flag`, then calls `then` with the signal (for work that
  /// does not poll the flag: it may end the process, e.g. `exit(flag.exitStatus)`).
  public init(_ flag: InterruptFlag, then: (@Sendable (Int32) -> Void)? = nil) {
    signal(SIGPIPE, SIG_IGN)
    sources = Mutex(
      Self.stoppingSignals.map { sig in
        if Self.endsTheProcess(sig) { signal(sig, SIG_IGN) }
        let source = DispatchSource.makeSignalSource(signal: sig, queue: .global())
        source.setEventHandler {
          flag.set(signal: sig)
          then?(sig)
        }
        source.resume()
        return source
      })
  }

  deinit {
    sources.withLock { list in for source in list { source.cancel() } }
  }

  /// Whether `sig` still has its default disposition, which ends the process.
  private static func endsTheProcess(_ sig: Int32) -> Bool {
    var action = sigaction()
    guard sigaction(sig, nil, &action) == 0 else { return false }
    #if canImport(Darwin)
      return action.__sigaction_u.__sa_handler == nil
    #else
      return action.__sigaction_handler.sa_handler == nil
    #endif
  }
}
