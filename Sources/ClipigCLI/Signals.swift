import Foundation
import PipelineKit

/// Signal handling for commands whose work does not poll an `InterruptFlag` (similarity,
/// preview, model download): SIGPIPE is ignored (a closed pipe is a write error), and SIGINT,
/// SIGTERM or SIGHUP end the process at once with 128 + the signal's number, as the shell
/// reports it. Files are written atomically, so an interrupted command leaves no partial file
/// (a download keeps its resumable `.partial`). Keep the value alive while the command runs.
func exitingOnSignals() -> SignalWatch {
  let flag = InterruptFlag()
  return SignalWatch(flag) { _ in exit(flag.exitStatus) }
}
