import Formats
import Foundation
import PipelineKit

/// What an animation's frames become at its end: the animated WebP (libwebpmux, always) and
/// the MP4 (H.264, yuv420p, through the `ffmpeg` program when it is on PATH). `clipig encode`
/// makes the MP4 of a frame folder later.
public enum AnimationVideo {
  /// An MP4 could not be made.
  public struct EncodeError: Error, CustomStringConvertible, Sendable {
    /// The file being made.
    public var path: String
    /// What went wrong (with ffmpeg's last line of errors).
    public var message: String
    /// `path: message`.
    public var description: String { "\(path): \(message)" }
  }

  /// The note printed when `ffmpeg` is not on PATH.
  public static func missingFFmpegNote(frames directory: String) -> String {
    "note: ffmpeg is not on PATH, so no MP4 was made; the frames (\(directory)/) and the "
      + "animated WebP are kept. Install ffmpeg (Debian: apt-get install ffmpeg) and run "
      + "'clipig encode \(directory)/' to make the MP4.\n"
  }

  /// The number of consecutive frames `frame-00001.png`, `frame-00002.png`, … in `directory`.
  public static func frameCount(in directory: String) -> Int {
    var n = 0
    while FileManager.default.fileExists(atPath: AnimationOutput.frame(n, in: directory)) {
      n += 1
    }
    return n
  }

  /// Encodes the first `count` frames of `directory` as `[3, H, W]` images into `path`
  /// (atomically) as an animated WebP at `fps`.
  public static func writeWebP(
    frames directory: String, count: Int, fps: Double, quality: Int, to path: String
  ) throws {
    let bytes = try AnimatedWebP.encode(count: count, fps: fps, quality: quality, name: path) {
      try ImageFile.read(path: AnimationOutput.frame($0, in: directory))
    }
    try FileIO.writeAtomically(bytes, to: path)
  }

  /// The time `ffmpeg` may take for `count` frames before it is stopped.
  static func timeLimit(frames count: Int) -> Double { 120 + 2 * Double(count) }

  /// Encodes the first `count` frames of `directory` into `path` as H.264 in yuv420p at `fps`
  /// with `ffmpeg` (odd sizes are padded by one black row or column, as yuv420p needs even
  /// ones); the file appears only when ffmpeg succeeded (written beside it, then renamed).
  public static func writeMP4(
    frames directory: String, count: Int, fps: Double, to path: String, ffmpeg: ExternalTool
  ) throws {
    let temporary = FileIO.fittingName(
      ((path as NSString).deletingLastPathComponent as NSString)
        .appendingPathComponent("." + (path as NSString).lastPathComponent + ".partial"))
    defer { _ = unlink(temporary) }
    let rate = String(fps)
    let pattern = directory.replacingOccurrences(of: "%", with: "%%") + "/frame-%05d.png"
    let outcome = try ffmpeg.run(
      [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-framerate", rate,
        "-start_number", "1", "-i", pattern, "-frames:v", String(count), "-c:v", "libx264",
        "-pix_fmt", "yuv420p", "-vf", "pad=ceil(iw/2)*2:ceil(ih/2)*2", "-r", rate,
        "-movflags", "+faststart", "-f", "mp4", temporary,
      ], timeLimit: timeLimit(frames: count))
    if outcome.timedOut {
      throw EncodeError(
        path: path,
        message: "ffmpeg did not finish within \(Int(timeLimit(frames: count))) s and was "
          + "stopped" + (outcome.lastErrorLine.isEmpty ? "" : ": \(outcome.lastErrorLine)"))
    }
    guard outcome.status == 0 else {
      throw EncodeError(
        path: path,
        message: "ffmpeg failed (exit status \(outcome.status))"
          + (outcome.lastErrorLine.isEmpty ? "" : ": \(outcome.lastErrorLine)"))
    }
    guard rename(temporary, path) == 0 else {
      throw EncodeError(
        path: path, message: "cannot move the video in place: \(String(cString: strerror(errno)))")
    }
  }

  /// `clipig encode DIR/`: the MP4 of the frames in `directory`, at `fps` (else the `fps` of
  /// the animation's sidecar `DIR.yaml`, else 12), written to `output` (else `DIR.mp4`, which
  /// may replace an empty placeholder but no video). Returns the path written.
  public static func encode(
    directory given: String, fps: Double?, output: String?,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> String {
    var directory = given
    while directory.count > 1 && directory.hasSuffix("/") { directory.removeLast() }
    let count = frameCount(in: directory)
    guard count >= 1 else {
      throw EncodeError(
        path: directory, message: "no frames (frame-00001.png, …) in this folder")
    }
    let sidecar = directory + ".yaml"
    var rate = fps
    if rate == nil, FileManager.default.fileExists(atPath: sidecar),
      let root = try? YAML.load(path: sidecar), let node = root["animation"]?["fps"]
    {
      switch node.value {
      case .int(let i): rate = Double(i)
      case .float(let d): rate = d
      default: break
      }
    }
    let chosen = rate ?? 12
    guard chosen.isFinite, chosen > 0, chosen <= Animation.maxFPS else {
      throw EncodeError(
        path: directory, message: "fps must be above 0 and at most \(Int(Animation.maxFPS))")
    }
    let path = output ?? directory + ".mp4"
    var info = stat()
    if stat(path, &info) == 0 && info.st_size > 0 {
      throw EncodeError(path: path, message: "exists; clipig never overwrites a file (use -o)")
    }
    guard let ffmpeg = ExternalTool.find("ffmpeg", environment: environment) else {
      throw EncodeError(
        path: path, message: "ffmpeg is not on PATH (Debian: apt-get install ffmpeg)")
    }
    try writeMP4(frames: directory, count: count, fps: chosen, to: path, ffmpeg: ffmpeg)
    return path
  }
}
