import CLIP
import Foundation
import PipelineKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Shows download progress on standard error: a bar redrawn in place with size, speed and time
/// left on a terminal, or a line every 15 seconds (and at the start and end) otherwise.
public final class ProgressBar: @unchecked Sendable {
  private let isTerminal: Bool
  private let write: @Sendable (String) -> Void
  private let lock = NSLock()
  // Guarded by `lock`.
  private var lastDraw = Date.distantPast
  private var drawnLine = false

  /// A progress display; by default on standard error, as a bar if it is a terminal.
  public init(
    isTerminal: Bool = isatty(STDERR_FILENO) != 0,
    write: @escaping @Sendable (String) -> Void = { text in
      StandardStream.error.write(text)
    }
  ) {
    self.isTerminal = isTerminal
    self.write = write
  }

  /// A handler for `DownloadOptions.progress`.
  public var handler: @Sendable (DownloadProgress) -> Void {
    { [self] progress in report(progress) }
  }

  /// Shows `p`.
  public func report(_ p: DownloadProgress) {
    lock.withLock {
      let now = Date()
      switch p.phase {
      case .waitingForLock:
        endLine()
        write("Waiting for another clipig process that is downloading \(p.file)…\n")
      case .started:
        endLine()
        var line = "Downloading \(p.file)"
        if let total = p.total { line += " (\(Self.bytes(total)))" }
        line += " from \(ModelStoreError.host(p.url))"
        if p.resumedFrom > 0 { line += ", resuming after \(Self.bytes(p.resumedFrom))" }
        write(line + "\n")
        lastDraw = now
      case .receiving:
        if isTerminal {
          guard now.timeIntervalSince(lastDraw) >= 0.1 else { return }
          write("\r\u{1B}[K" + Self.bar(p))
          drawnLine = true
        } else {
          guard now.timeIntervalSince(lastDraw) >= 15 else { return }
          write(Self.status(p) + "\n")
        }
        lastDraw = now
      case .verifying:
        if isTerminal {
          write("\r\u{1B}[K" + Self.bar(p))
          drawnLine = true
        }
      case .finished:
        endLine()
        write("\(p.file): verified (\(Self.bytes(p.received)))\n")
      }
    }
  }

  private func endLine() {
    if drawnLine {
      write("\n")
      drawnLine = false
    }
  }

  /// `ViT-B-32.pt  42% [========>           ] 142.1 MiB / 337.6 MiB  11.3 MiB/s  ETA 0:17`
  static func bar(_ p: DownloadProgress) -> String {
    var line = p.file + "  "
    if let total = p.total, total > 0 {
      let fraction = min(1, max(0, Double(p.received) / Double(total)))
      let width = 24
      let filled = Int((fraction * Double(width)).rounded(.down))
      let body =
        String(repeating: "=", count: filled) + (filled < width ? ">" : "")
        + String(repeating: " ", count: max(0, width - filled - 1))
      line += String(format: "%3ld%% [", Int(fraction * 100)) + body + "] "
      line += "\(bytes(p.received)) / \(bytes(total))"
    } else {
      line += bytes(p.received)
    }
    if p.bytesPerSecond > 0 { line += "  \(bytes(Int64(p.bytesPerSecond)))/s" }
    if let left = p.secondsLeft { line += "  ETA \(duration(left))" }
    return line
  }

  /// `ViT-B-32.pt: 42% (142.1 MiB of 337.6 MiB, 11.3 MiB/s, about 0:17 left)`
  static func status(_ p: DownloadProgress) -> String {
    var parts = [String]()
    if let total = p.total, total > 0 {
      parts.append("\(bytes(p.received)) of \(bytes(total))")
    } else {
      parts.append(bytes(p.received))
    }
    if p.bytesPerSecond > 0 { parts.append("\(bytes(Int64(p.bytesPerSecond)))/s") }
    if let left = p.secondsLeft { parts.append("about \(duration(left)) left") }
    let percent =
      p.total.map { $0 > 0 ? " \(Int(Double(p.received) * 100 / Double($0)))%" : "" } ?? ""
    return "\(p.file):\(percent) (\(parts.joined(separator: ", ")))"
  }

  /// A byte count for people: `512 B`, `1.5 KiB`, `337.6 MiB`, `1.7 GiB`.
  public static func bytes(_ n: Int64) -> String {
    let units = ["B", "KiB", "MiB", "GiB", "TiB"]
    var value = Double(n)
    var unit = 0
    while value >= 1024, unit < units.count - 1 {
      value /= 1024
      unit += 1
    }
    return unit == 0 ? "\(n) B" : String(format: "%.1f", value) + " " + units[unit]
  }

  /// `0:07`, `12:34`, `1:02:03`.
  static func duration(_ seconds: Double) -> String {
    guard seconds.isFinite, seconds < 1e7 else { return "?" }
    let s = Int(seconds.rounded(.up))
    let (h, m, r) = (s / 3600, s / 60 % 60, s % 60)
    return h > 0
      ? String(format: "%ld:%02ld:%02ld", h, m, r) : String(format: "%ld:%02ld", m, r)
  }
}
