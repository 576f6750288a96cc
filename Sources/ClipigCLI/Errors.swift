import ArgumentParser
import Formats
import Foundation
import PipelineKit

/// Runs `body`; a user error (bad configuration, run-time expression error, unreadable image)
/// is printed as one clear line on stderr and the command exits with status 1.
func reportingConfigErrors(_ body: () throws -> Void) throws {
  do {
    try body()
  } catch let error as ExitCode {
    throw error
  } catch let error as CleanExit {
    throw error
  } catch {
    StandardStream.error.write("\(UserFacingError.text(of: error))\n")
    throw ExitCode.failure
  }
}

/// The one line printed for an error: its own description, except for Foundation's errors
/// (`CocoaError`, `POSIXError`, `NSError`), whose raw dumps become "error: PATH: REASON".
enum UserFacingError {
  /// One line for `error`, in clipig's one style: `error: …`, or `file:line:col: error: …`
  /// for a configuration error.
  static func text(of error: any Error) -> String {
    let own = "\(error)"
    let raw =
      error is CocoaError || error is POSIXError || own.contains("Error Domain=")
      || own.hasPrefix("CocoaError(") || own.hasPrefix("POSIXError(")
    guard raw else { return styled(own) }
    let ns = error as NSError
    let path =
      (ns.userInfo[NSFilePathErrorKey] as? String)
      ?? (ns.userInfo[NSURLErrorKey] as? URL)?.path
    return "error: " + (path.map { "\($0): " } ?? "") + FileIO.reason(error)
  }

  /// `message` with the `error: ` prefix unless it has one (also after a `file:line:col: `).
  static func styled(_ message: String) -> String {
    let firstLine = message.prefix { $0 != "\n" }
    if firstLine.hasPrefix("error:") || firstLine.contains(": error: ") { return message }
    if message.hasPrefix("Error: ") { return "error: " + message.dropFirst("Error: ".count) }
    return "error: " + message
  }
}
