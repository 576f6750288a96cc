import Foundation

/// Places in the file system the test suites share: fresh scratch folders and the repository's
/// files (the tiny CLIP fixture, the examples).
public enum TestFiles {
  /// A fresh empty folder under the system's temporary directory, named
  /// `clipig-TAG-UUID` so a leftover says which test made it.
  public static func temporaryDirectory(_ tag: String = "test") throws -> String {
    let dir = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-\(tag)-\(UUID().uuidString)").path
    try FileManager.default.createDirectory(atPath: dir, withIntermediateDirectories: true)
    return dir
  }

  /// Writes `text` (UTF-8) to the file at `path`, replacing it; missing parent folders are
  /// created.
  public static func write(_ text: String, to path: String) throws {
    let url = URL(fileURLWithPath: path)
    try FileManager.default.createDirectory(
      at: url.deletingLastPathComponent(), withIntermediateDirectories: true)
    try Data(text.utf8).write(to: url)
  }

  /// The text (UTF-8) of the file at `path`.
  public static func read(_ path: String) throws -> String {
    String(decoding: try Data(contentsOf: URL(fileURLWithPath: path)), as: UTF8.self)
  }

  /// Waits until the file at `path` exists and is not empty, at most `seconds` (a guard
  /// against hangs, not a measurement); true when it is there.
  @discardableResult
  public static func waitForContent(_ path: String, timeout seconds: Double = 300) -> Bool {
    let deadline = Date().addingTimeInterval(seconds)
    func size() -> Int {
      (try? FileManager.default.attributesOfItem(atPath: path))?[.size] as? Int ?? 0
    }
    while size() == 0 && Date() < deadline { Thread.sleep(forTimeInterval: 0.05) }
    return size() > 0
  }

  /// The repository's root directory.
  public static var repository: URL { ClipigExecutable.repository }

  /// The tiny random-initialised CLIP (32-pixel images, Hugging Face layout) that the CLIP,
  /// runner, workflow and studio tests load.
  public static let tinyModel = ClipigExecutable.repository
    .appendingPathComponent("Tests/CLIPTests/Fixtures/tiny-hf").path

  /// The example experiments' folder.
  public static let examples = ClipigExecutable.repository.appendingPathComponent("Examples").path
}
