import Formats
import Foundation

/// The files of one animation, named after its video `NAME.mp4`: the frames
/// `NAME/frame-00001.png` … (written as they finish), `NAME.webp`, the sidecar `NAME.yaml` and,
/// while it runs or after an interruption, the checkpoint `.NAME.mp4.checkpoint`.
///
/// The requested name comes from `output:` and `-o` as for images (`OutputNaming`), its
/// extension replaced by `.mp4`: `-o out/zoom.mp4` (or `zoom.webp`, `zoom.png`, `zoom`)
/// writes `out/zoom.mp4`, `out/zoom.webp`, `out/zoom/frame-*.png`, `out/zoom.yaml`; `-o DIR/`
/// writes `DIR/EXPERIMENT.mp4` and the rest beside it. Nothing is overwritten: when the video,
/// the WebP or the frame folder exists, the next free `NAME-N` is taken.
public struct AnimationOutput: Sendable {
  /// `NAME.mp4`.
  public let video: String

  /// The files of the video `video`.
  public init(video: String) {
    self.video = video
  }

  /// `NAME`: the path without the extension.
  public var stem: String { (video as NSString).deletingPathExtension }
  /// The folder of the frames, `NAME/`.
  public var frameDirectory: String { stem }
  /// `NAME.webp`.
  public var webp: String { stem + ".webp" }
  /// `NAME.yaml`.
  public var sidecar: String { OutputNaming.sidecarPath(video) }
  /// `.NAME.mp4.checkpoint`.
  public var checkpoint: String { Checkpoint.path(forImage: video) }

  /// Frame `index` (0-based) as `NAME/frame-00001.png` (1-based in the name).
  public func frame(_ index: Int) -> String {
    Self.frame(index, in: frameDirectory)
  }

  /// Frame `index` (0-based) in `directory`.
  public static func frame(_ index: Int, in directory: String) -> String {
    let number = String(index + 1)
    return directory + "/frame-" + String(repeating: "0", count: max(0, 5 - number.count))
      + number + ".png"
  }

  /// The extensions an animation's `-o` may have (each means `NAME.mp4`).
  static let acceptedExtensions: Set<String> = ["mp4", "webp", "png"]

  /// The video path `output:` and `-o` ask for, before never-overwrite naming.
  public static func requested(plan: RunPlan, commandLine: String?) throws(FileIOError) -> String {
    let image = plan.requestedOutput(commandLine: commandLine)
    try OutputNaming.validate(requested: image, commandLine: commandLine)
    let ext = (image as NSString).pathExtension.lowercased()
    guard acceptedExtensions.contains(ext) else {
      throw FileIOError(
        path: image,
        message: "an animation is written as NAME.mp4 with NAME.webp and NAME/frame-*.png; "
          + "name it NAME.mp4 (or give a folder DIR/)")
    }
    return (image as NSString).deletingPathExtension + ".mp4"
  }

  /// Claims the video's name (and its sidecar, as `OutputNaming.claim` does) where neither the
  /// WebP nor the frame folder exists yet, and creates the folder.
  public static func claim(_ requested: String) throws(FileIOError) -> AnimationOutput {
    var candidate = requested
    for _ in 0..<1000 {
      let claimed = try OutputNaming.claim(candidate)
      let output = AnimationOutput(video: claimed)
      let free = !FileManager.default.fileExists(atPath: output.webp)
      if free && mkdir(output.frameDirectory, 0o755) == 0 { return output }
      let reason = errno
      OutputNaming.releaseClaim(claimed)
      if free && reason != EEXIST {
        throw FileIOError(
          path: output.frameDirectory,
          message: "cannot create the frame folder: \(String(cString: strerror(reason)))")
      }
      candidate = next(after: output.stem) + ".mp4"
    }
    throw FileIOError(path: requested, message: "no free name after 1000 tries")
  }

  /// `NAME-2` after `NAME`, `NAME-4` after `NAME-3`.
  static func next(after stem: String) -> String {
    if let dash = stem.lastIndex(of: "-"), let n = Int(stem[stem.index(after: dash)...]), n >= 0,
      !stem[stem.index(after: dash)...].contains("+")
    {
      return String(stem[..<dash]) + "-\(n + 1)"
    }
    return stem + "-2"
  }

  /// Removes what a run that failed before its first frame claimed: the empty video and
  /// sidecar placeholders and the empty frame folder.
  public func releaseIfEmpty() {
    OutputNaming.releaseClaim(video)
    if (try? FileManager.default.contentsOfDirectory(atPath: frameDirectory))?.isEmpty == true,
      !FileManager.default.fileExists(atPath: video)
    {
      _ = rmdir(frameDirectory)
    }
  }
}
