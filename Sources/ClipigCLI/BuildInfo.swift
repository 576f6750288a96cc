import Formats
import Foundation

/// What `clipig --version` says: the release, the commit checked out in the git repository the
/// executable was built in (`.build/CONFIG/clipig` sits inside it; uncommitted changes are not
/// detected), the build configuration, when the executable was linked, the compiler and the CPU
/// architecture.
enum BuildInfo {
  /// The release this source belongs to.
  static let release = "0.9"

  /// One line: `0.9 (commit 5bcf8a8, release build of 2026-12-07 19:40 UTC, Swift 6, x86_64)`.
  static var version: String {
    var parts: [String] = []
    parts.append("commit " + (commit().map { String($0.prefix(12)) } ?? "unknown"))
    #if DEBUG
      var build = "debug build"
    #else
      var build = "release build"
    #endif
    if let built = buildDate() { build += " of " + built }
    parts.append(build)
    #if compiler(>=6.2)
      parts.append("Swift 6.2+")
    #elseif compiler(>=6.1)
      parts.append("Swift 6.1")
    #else
      parts.append("Swift 6.0")
    #endif
    #if arch(x86_64)
      parts.append("x86_64")
    #elseif arch(arm64)
      parts.append("arm64")
    #endif
    return release + " (" + parts.joined(separator: ", ") + ")"
  }

  /// The executable's own path.
  static var executable: String? {
    Bundle.main.executablePath ?? CommandLine.arguments.first
  }

  /// The modification time of the executable (its link time), in UTC.
  static func buildDate() -> String? {
    guard let path = executable,
      let date = try? FileManager.default.attributesOfItem(atPath: path)[.modificationDate]
        as? Date
    else { return nil }
    let format = DateFormatter()
    format.locale = Locale(identifier: "en_US_POSIX")
    format.timeZone = TimeZone(identifier: "UTC")
    format.dateFormat = "yyyy-MM-dd HH:mm 'UTC'"
    return format.string(from: date)
  }

  /// The commit checked out in the repository that holds the executable (found upwards from
  /// it: a `.git` folder, or a worktree's `.git` file naming its folder), nil outside one.
  static func commit() -> String? {
    guard let path = executable else { return nil }
    var folder = URL(fileURLWithPath: path).resolvingSymlinksInPath().deletingLastPathComponent()
    for _ in 0..<8 {
      if let gitDirectory = gitDirectory(in: folder.path) {
        return resolveHead(gitDirectory)
      }
      let parent = folder.deletingLastPathComponent()
      if parent.path == folder.path { break }
      folder = parent
    }
    return nil
  }

  /// The git folder of a checkout at `folder`: `.git` itself, or what a `.git` file points to.
  static func gitDirectory(in folder: String) -> String? {
    let dotGit = folder + "/.git"
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: dotGit, isDirectory: &isDirectory) else {
      return nil
    }
    if isDirectory.boolValue { return dotGit }
    guard let text = small(dotGit), text.hasPrefix("gitdir:") else { return nil }
    let target = text.dropFirst("gitdir:".count).trimmingCharacters(in: .whitespacesAndNewlines)
    return target.hasPrefix("/") ? target : folder + "/" + target
  }

  /// The commit HEAD names: a hash, or a branch looked up in the refs (a worktree's refs are in
  /// its common folder) and in `packed-refs`.
  static func resolveHead(_ gitDirectory: String) -> String? {
    guard let head = small(gitDirectory + "/HEAD")?.trimmingCharacters(in: .whitespacesAndNewlines)
    else { return nil }
    guard head.hasPrefix("ref: ") else { return isHash(head) ? head : nil }
    let ref = String(head.dropFirst("ref: ".count))
    var folders = [gitDirectory]
    if let common = small(gitDirectory + "/commondir")?.trimmingCharacters(
      in: .whitespacesAndNewlines)
    {
      folders.append(common.hasPrefix("/") ? common : gitDirectory + "/" + common)
    }
    for folder in folders {
      if let hash = small(folder + "/" + ref)?.trimmingCharacters(in: .whitespacesAndNewlines),
        isHash(hash)
      {
        return hash
      }
      for line in (small(folder + "/packed-refs") ?? "").split(separator: "\n")
      where line.hasSuffix(" " + ref) {
        let hash = String(line.prefix { $0 != " " })
        if isHash(hash) { return hash }
      }
    }
    return nil
  }

  static func isHash(_ text: String) -> Bool {
    text.count >= 40 && text.allSatisfy(\.isHexDigit)
  }

  /// A small regular text file (at most 1 MB), nil when missing, no regular file or larger.
  static func small(_ path: String) -> String? {
    guard let bytes = try? FileIO.readBytes(path: path, maxBytes: 1 << 20) else { return nil }
    return String(decoding: bytes, as: UTF8.self)
  }
}
