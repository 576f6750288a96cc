import ArgumentParser
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
    FileHandle.standardError.write(Data("\(error)\n".utf8))
    throw ExitCode.failure
  }
}
