import Formats
import Foundation
import PipelineKit

/// `init.video`: an animation's input video, decoded by the `ffmpeg` program.
///
/// `open` checks the video before any work: ffmpeg on PATH, a regular file, its first frame
/// decoded (which says the decoded size, after ffmpeg applied the stream's rotation: at most
/// `maxSide` per side) and its first `frames` frames decoded once, to count them — a video
/// shorter than the animation is refused. `frame(k)` then gives input frame k (0-based, the
/// k-th frame ffmpeg decodes, in presentation order) as `[3, H, W]` in [0, 1], the 8-bit RGB
/// values ffmpeg converts it to (as its PNG of the frame holds them). The frames are decoded in
/// one pass: one ffmpeg process streams them over a pipe (`VideoFrameStream`) and frame k is
/// read when it is asked for, so an animation of N frames decodes N frames (a run continued at
/// frame k decodes frames 0…k once more; only asking for an earlier frame starts over). Every
/// ffmpeg run has a time limit (each streamed frame its own) and reads only the file (its
/// `file` protocol); a failure is a `ConfigError` at `init.video` with ffmpeg's last error line.
public final class VideoInput {
  /// The longest side of a video's frames that is read (a 4K video fits).
  public static let maxSide = 4096
  /// The largest frame ffmpeg's decoder may allocate (`-max_pixels`, with room for a codec's
  /// padding of the coded size): a file that declares a larger one fails in the decoder,
  /// before it allocates it.
  static let maxPixels = (maxSide + 64) * (maxSide + 64)
  /// Seconds ffmpeg may take to deliver one streamed frame (a hostile file that makes the
  /// decoder crawl is stopped).
  static let frameTimeLimit = 60.0

  /// The video as written in the configuration.
  public let name: String
  /// Its path (relative paths resolved against the configuration's folder).
  public let path: String
  /// Width of the decoded frames.
  public let width: Int
  /// Height of the decoded frames.
  public let height: Int
  /// The frames the animation reads (the video has at least these).
  public let count: Int
  /// Where `init.video` was written.
  let location: SourceLocation
  let ffmpeg: ExternalTool
  /// The decoder streaming the frames, positioned after the last frame read.
  private var stream: VideoFrameStream?
  /// Frames read from decoders so far, the ones skipped on the way included: the decode work
  /// of `frame` (N for N frames asked in order).
  public private(set) var framesDecoded = 0
  /// ffmpeg processes `frame` started (1 for frames asked in order).
  public private(set) var decoderRuns = 0

  private init(
    video: Experiment.Video, path: String, ffmpeg: ExternalTool, size: (width: Int, height: Int),
    count: Int
  ) {
    name = video.path
    self.path = path
    location = video.location
    self.ffmpeg = ffmpeg
    width = size.width
    height = size.height
    self.count = count
  }

  /// The video `video` (relative to `baseDirectory`) checked for an animation of `frames`
  /// frames, with `ffmpeg` from the PATH of `environment`.
  public static func open(
    _ video: Experiment.Video, frames: Int, baseDirectory: String,
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) throws -> VideoInput {
    func fail(_ message: String) -> ConfigError {
      ConfigError(message, at: video.location, path: "init.video")
    }
    guard let ffmpeg = ExternalTool.find("ffmpeg", environment: environment) else {
      throw fail(
        "reading a video needs the ffmpeg program, which is not on PATH (Debian: apt-get "
          + "install ffmpeg)")
    }
    let path =
      video.path.hasPrefix("/") || baseDirectory.isEmpty || baseDirectory == "."
      ? video.path : baseDirectory + "/" + video.path
    var info = stat()
    guard stat(path, &info) == 0 else {
      var message = "\(video.path): \(String(cString: strerror(errno)))"
      if !video.path.hasPrefix("/") {
        let folder = URL(fileURLWithPath: baseDirectory).standardizedFileURL.path
        message += " (relative paths resolve against \(folder), the last YAML file's folder)"
      }
      throw fail(message)
    }
    guard info.st_mode & S_IFMT == S_IFREG else {
      throw fail("\(video.path) is not a regular file")
    }
    let directory = FileManager.default.temporaryDirectory
      .appendingPathComponent("clipig-video-\(UUID().uuidString)").path
    do {
      try FileManager.default.createDirectory(
        atPath: directory, withIntermediateDirectories: true)
    } catch {
      throw fail("cannot create a folder for its frames: \(FileIO.reason(error))")
    }
    // The folder holds the probes' files only: the frames stream over a pipe.
    defer { try? FileManager.default.removeItem(atPath: directory) }
    // The first frame: the file is a video ffmpeg reads, and the size of its frames.
    let first = directory + "/first.png"
    try run(
      ffmpeg, path: path, name: video.path, location: video.location,
      ["-map", "0:v:0", "-frames:v", "1", "-pix_fmt", "rgb24", "-y", first], frames: 1)
    guard FileManager.default.fileExists(atPath: first) else {
      throw fail("\(video.path) holds no video frame")
    }
    let image: Tensor
    do {
      image = try ImageFile.read(path: first)
    } catch {
      throw fail("\(video.path): its first frame as ffmpeg decoded it: \(error.message)")
    }
    unlink(first)
    let (_, h, w) = image.chw
    guard w <= maxSide && h <= maxSide else {
      throw fail(
        "\(video.path) has frames of \(w)×\(h) pixels; at most \(maxSide) per side are read "
          + "(scale it first, e.g. ffmpeg -i in.mp4 -vf scale=1280:-2 smaller.mp4)")
    }
    // Its length: the first `frames` frames decoded once, counted by ffmpeg itself.
    let progress = directory + "/progress.txt"
    try run(
      ffmpeg, path: path, name: video.path, location: video.location,
      [
        "-map", "0:v:0", "-frames:v", String(frames), "-fps_mode", "passthrough", "-f", "null", "-",
      ],
      frames: frames, global: ["-progress", "file:" + progress])
    let counted = frameCount(progress: progress)
    guard counted >= frames else {
      throw fail(
        "\(video.path) has \(counted) frame\(counted == 1 ? "" : "s") and the animation "
          + "\(frames): set animation.frames to at most \(counted) (frames are not made up "
          + "beyond the video's end)")
    }
    return VideoInput(video: video, path: path, ffmpeg: ffmpeg, size: (w, h), count: frames)
  }

  /// Input frame `k` (0-based, below `count`) as `[3, H, W]` in [0, 1].
  public func frame(_ k: Int) throws -> Tensor {
    precondition(k >= 0 && k < count, "VideoInput: frame \(k) of \(count)")
    if let current = stream, current.next > k { stream = nil }
    let decoder: VideoFrameStream
    if let stream {
      decoder = stream
    } else {
      decoder = try startStream()
      stream = decoder
    }
    var bytes: [UInt8] = []
    while decoder.next <= k {
      do {
        bytes = try decoder.nextFrame()
      } catch let failure as VideoFrameStream.Failure {
        stream = nil
        let missing = decoder.next + 1
        switch failure {
        case .timedOut(let seconds, let line):
          throw ConfigError(
            "ffmpeg did not deliver frame \(missing) of \(name) within \(Int(seconds)) s and was "
              + "stopped" + (line.isEmpty ? "" : ": \(line)"), at: location, path: "init.video")
        case .ended(let status, let line):
          throw ConfigError(
            "ffmpeg decoded no frame \(missing) of \(name) (exit status \(status); the video was "
              + "read as \(count) frames or more before)" + (line.isEmpty ? "" : ": \(line)"),
            at: location, path: "init.video")
        }
      }
      framesDecoded += 1
    }
    // [H, W, 3] bytes → [3, H, W] in [0, 1], as PNG.read makes of the same bytes.
    let plane = width * height
    var image = Tensor(shape: [3, height, width])
    image.scalars.withUnsafeMutableBufferPointer { out in
      for i in 0..<plane {
        for c in 0..<3 { out[c * plane + i] = Float(bytes[3 * i + c]) / 255 }
      }
    }
    return image
  }

  /// A new decoder from the video's first frame: raw RGB frames of the probed size.
  func startStream() throws -> VideoFrameStream {
    decoderRuns += 1
    let absolute =
      path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    do {
      return try VideoFrameStream(
        ffmpeg: ffmpeg.path,
        arguments: [
          "-hide_banner", "-loglevel", "error", "-nostdin", "-protocol_whitelist", "file",
          "-max_pixels", String(Self.maxPixels), "-i", "file:" + absolute, "-map", "0:v:0",
          "-fps_mode", "passthrough", "-frames:v", String(count),
          // Every frame at the probed size, so that the raw stream never loses its framing
          // (a stream whose frames change size is scaled to its first frame's).
          "-vf", "scale=\(width):\(height)", "-f", "rawvideo", "-pix_fmt", "rgb24", "pipe:1",
        ], frameBytes: width * height * 3, frameTimeLimit: Self.frameTimeLimit)
    } catch {
      throw ConfigError(
        "cannot start ffmpeg to read \(name): \(error)", at: location, path: "init.video")
    }
  }

  /// The time ffmpeg may take to decode `frames` frames before it is stopped.
  static func timeLimit(frames: Int) -> Double { 60 + Double(frames) }

  /// Runs ffmpeg on the video at `path` (only as a file) with the output `arguments` and the
  /// `global` options, for at most the time of decoding `frames` frames.
  static func run(
    _ ffmpeg: ExternalTool, path: String, name: String, location: SourceLocation,
    _ arguments: [String], frames: Int, global: [String] = []
  ) throws {
    let absolute =
      path.hasPrefix("/") ? path : FileManager.default.currentDirectoryPath + "/" + path
    let limit = timeLimit(frames: frames)
    let outcome = try ffmpeg.run(
      [
        "-hide_banner", "-loglevel", "error", "-nostdin",
      ] + global + [
        "-protocol_whitelist", "file", "-max_pixels", String(maxPixels), "-i", "file:" + absolute,
      ] + arguments, timeLimit: limit)
    let detail = outcome.lastErrorLine.isEmpty ? "" : ": \(outcome.lastErrorLine)"
    if outcome.timedOut {
      throw ConfigError(
        "ffmpeg did not finish reading \(name) within \(Int(limit)) s and was stopped" + detail,
        at: location, path: "init.video")
    }
    guard outcome.status == 0 else {
      throw ConfigError(
        "ffmpeg cannot read \(name) (exit status \(outcome.status))" + detail, at: location,
        path: "init.video")
    }
  }

  /// The last `frame=N` of an ffmpeg progress file (0 when there is none).
  static func frameCount(progress path: String) -> Int {
    guard let text = try? String(contentsOfFile: path, encoding: .utf8) else { return 0 }
    var count = 0
    for line in text.split(separator: "\n") where line.hasPrefix("frame=") {
      count = Int(line.dropFirst("frame=".count).trimmingCharacters(in: .whitespaces)) ?? count
    }
    return count
  }
}
