import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// `init.video` through the release binary, as a user drives it: small videos made here by
/// ffmpeg (lavfi's test pattern), their frames decoded independently by ffmpeg to PNG and
/// compared with the animation's; `init.blend` by hand; an interruption continued to the same
/// bytes; hostile and out-of-bounds inputs refused before any work with ffmpeg's last line.
/// With `CI=true` a missing ffmpeg fails these tests.
@Suite("Video in")
struct VideoInputTests {
  static let model = TestFiles.tinyModel
  static let ci = ProcessInfo.processInfo.environment["CI"] == "true"
  /// ffmpeg is on PATH, or CI requires it (the test then fails).
  static let ffmpegPresent = ChildProcess.find("ffmpeg") != nil || ci
  static let enabled = ClipigExecutable.shouldTest && ffmpegPresent

  /// ffmpeg, or a recorded failure (only reached when CI requires it).
  static func ffmpeg() -> String? {
    guard let path = ChildProcess.find("ffmpeg") else {
      Issue.record("CI=true requires ffmpeg on PATH (scripts/bootstrap installs it)")
      return nil
    }
    return path
  }

  /// Makes `path`: `seconds` of lavfi's moving test pattern at `size` and `rate`, H.264 yuv420p.
  static func makeVideo(
    _ path: String, size: String = "32x32", rate: Int = 8, seconds: Double = 1,
    source: String = "testsrc"
  ) throws {
    guard let ffmpeg = Self.ffmpeg() else { return }
    let made = try ChildProcess.run(
      ffmpeg,
      [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-y", "-f", "lavfi", "-i",
        source + (source.contains("=") ? ":" : "=")
          + "size=\(size):rate=\(rate):duration=\(seconds)", "-c:v", "libx264",
        "-pix_fmt", "yuv420p", path,
      ])
    #expect(made.status == 0, "\(made.output)")
  }

  /// Every frame of `video` as ffmpeg itself decodes it to PNG (independently of clipig).
  static func decoded(_ video: String) throws -> [Tensor] {
    guard let ffmpeg = Self.ffmpeg() else { return [] }
    let dir = try TestFiles.temporaryDirectory("video-ref")
    let run = try ChildProcess.run(
      ffmpeg,
      [
        "-hide_banner", "-loglevel", "error", "-nostdin", "-i", video, "-fps_mode",
        "passthrough", dir + "/ref-%d.png",
      ])
    #expect(run.status == 0, "\(run.output)")
    var frames: [Tensor] = []
    while FileManager.default.fileExists(atPath: dir + "/ref-\(frames.count + 1).png") {
      frames.append(try PNG.read(path: dir + "/ref-\(frames.count + 1).png"))
    }
    return frames
  }

  /// `clipig render` of `yaml` (written as `dir/anim.yaml`) into `dir/out.mp4`.
  static func render(
    _ yaml: String, in dir: String, output: String = "out.mp4", seed: Int = 1,
    environment: [String: String?] = [:]
  ) throws -> (status: Int32, output: String) {
    try TestFiles.write(yaml, to: dir + "/anim.yaml")
    return try ClipigExecutable.run(
      [
        "render", dir + "/anim.yaml", "--model", model, "--seed", String(seed), "-o",
        dir + "/" + output, "-q",
      ], environment: environment, timeout: 300)
  }

  static func frame(_ dir: String, _ k: Int, video: String = "out") throws -> Tensor {
    try PNG.read(path: AnimationOutput.frame(k, in: dir + "/" + video))
  }

  static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    guard a.shape == b.shape else { return .infinity }
    return zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? 0
  }

  /// With a learning rate of 0 frame 1 keeps its start, and with `animation.epochs: 0` every
  /// later frame too: each is its input frame, exactly as ffmpeg decodes it to PNG. `content`
  /// without image (the input frame) takes part and is 0 there.
  @Test(.enabled(if: enabled, "ffmpeg or the clipig executable is missing"))
  func framesStartFromTheInputFramesAsFFmpegDecodesThem() throws {
    let dir = try TestFiles.temporaryDirectory("video-frames")
    try Self.makeVideo(dir + "/in.mp4")
    let result = try Self.render(
      """
      epochs: 1
      learnrate: 0
      resolution: 32
      init: {video: in.mp4}
      animation: {frames: 4, fps: 8, epochs: 0}
      targets:
        - batch_size: 2
          features: [{text: a red ball}]
          transforms: [{noise: 0.05}]
          constraints: [{content: {weight: 2}}]
      """, in: dir)
    #expect(result.status == 0, "\(result.output)")
    let reference = try Self.decoded(dir + "/in.mp4")
    #expect(reference.count == 8)
    for k in 0..<4 {
      #expect(Self.maxDifference(try Self.frame(dir, k), reference[k]) == 0, "frame \(k + 1)")
    }
    #expect(Self.maxDifference(reference[0], reference[3]) > 0.1, "the test pattern moves")
  }

  /// The input frames are decoded in one pass: asking for every frame in order reads each
  /// once from one ffmpeg process (counted, not timed), and each is exactly ffmpeg's own PNG
  /// decode of it; a continued run asking from frame k on decodes frames 0…k once more, in one
  /// process; only asking for an earlier frame starts another.
  @Test(.enabled(if: ffmpegPresent, "ffmpeg is missing"))
  func framesAreDecodedInOnePass() throws {
    let dir = try TestFiles.temporaryDirectory("video-onepass")
    try Self.makeVideo(dir + "/in.mp4", size: "48x32", rate: 16, seconds: 2)
    let yaml = """
      init: {video: in.mp4}
      animation: {frames: 24}
      targets: [{features: [{text: a red ball}]}]
      """
    let experiment = try Experiment(try YAML.parse(yaml, file: dir + "/v.yaml"))
    let video = try #require(experiment.initialization.video)
    let input = try VideoInput.open(video, frames: 24, baseDirectory: dir)
    let reference = try Self.decoded(dir + "/in.mp4")
    #expect(reference.count == 32)
    for k in 0..<24 {
      #expect(Self.maxDifference(try input.frame(k), reference[k]) == 0, "frame \(k + 1)")
    }
    #expect(input.decoderRuns == 1)
    #expect(input.framesDecoded == 24)

    let continued = try VideoInput.open(video, frames: 24, baseDirectory: dir)
    #expect(Self.maxDifference(try continued.frame(10), reference[10]) == 0)
    #expect(Self.maxDifference(try continued.frame(11), reference[11]) == 0)
    #expect(continued.decoderRuns == 1 && continued.framesDecoded == 12)
    #expect(Self.maxDifference(try continued.frame(3), reference[3]) == 0)
    #expect(continued.decoderRuns == 2 && continued.framesDecoded == 16)
  }

  /// A 48×32 video at resolution 24: frame 1 is the decoded frame resize-cropped to 24×24
  /// (the rule the content fixture checks against PyTorch);
  /// with `blend: ft` frame k (k ≥ 1) is (1 − k/3)·input_k + (k/3)·frame k−1 (the warp is the
  /// identity), within 1/255.
  @Test(.enabled(if: enabled, "ffmpeg or the clipig executable is missing"))
  func blendMixesTheWarpedPreviousFrameIntoTheInputFrame() throws {
    let dir = try TestFiles.temporaryDirectory("video-blend")
    try Self.makeVideo(dir + "/in.mp4", size: "48x32")
    let result = try Self.render(
      """
      epochs: 1
      learnrate: 0
      resolution: 24
      init: {video: in.mp4, blend: ft}
      animation: {frames: 3, epochs: 0}
      targets: [{features: [{text: a red ball}]}]
      """, in: dir)
    #expect(result.status == 0, "\(result.output)")
    // Bicubic overshoots; the start is clamped to [0, 1].
    let reference = try Self.decoded(dir + "/in.mp4").map {
      ImageOps.clamp(ImageOps.resizeCrop($0, width: 24, height: 24), 0, 1)
    }
    guard reference.count >= 3 else { return }
    var previous = try Self.frame(dir, 0)
    #expect(Self.maxDifference(previous, reference[0]) <= 1 / 255 + 1e-6)
    for k in 1..<3 {
      let b = Float(k) / 3
      let expected = Tensor(shape: reference[k].shape) {
        (1 - b) * reference[k].scalars[$0] + b * previous.scalars[$0]
      }
      let got = try Self.frame(dir, k)
      #expect(Self.maxDifference(got, expected) <= 1 / 255 + 1e-6, "frame \(k + 1)")
      #expect(Self.maxDifference(got, reference[k]) > 0.02, "frame \(k + 1) is not blended")
      previous = got
    }
  }

  /// SIGTERM in frame 3 of 5, then the same command: the frames are byte-identical to an
  /// uninterrupted run (the continued run reads its input frame again).
  @Test(.enabled(if: enabled, "ffmpeg or the clipig executable is missing"))
  func sigtermInFrameThreeResumesToTheSameBytes() throws {
    let dir = try TestFiles.temporaryDirectory("video-resume")
    try Self.makeVideo(dir + "/in.mp4", rate: 10)
    let yaml = """
      epochs: 20
      resolution: 32
      snapshot_interval: 0
      init: {video: in.mp4, blend: 0.3}
      animation:
        frames: 5
        epochs: 300
        warp: {zoom: 1.05, rotate: 3}
      targets:
        - batch_size: 2
          features: [{text: a red ball}]
          transforms: [{random_shift: -2 2}, {noise: 0.05}]
          constraints: [{content: {weight: 0.5, loss: l1}}]
      """
    let whole = try Self.render(yaml, in: dir, output: "whole.mp4", seed: 3)
    #expect(whole.status == 0, "\(whole.output)")
    let arguments = [
      "render", dir + "/anim.yaml", "--model", Self.model, "--seed", "3", "-o", dir + "/cut.mp4",
      "-q",
    ]
    let process = try ClipigExecutable.start(arguments)
    #expect(TestFiles.waitForContent(dir + "/cut/frame-00002.png"), "no frame 2")
    process.send(SIGTERM)
    let stopped = process.wait()
    #expect(stopped.status == 143, "\(stopped.output)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/cut/frame-00003.png"))
    let resumed = try ClipigExecutable.run(arguments, timeout: 300)
    #expect(resumed.status == 0, "\(resumed.output)")
    for k in 0..<5 {
      let a = try FileIO.readBytes(
        path: AnimationOutput.frame(k, in: dir + "/whole"), maxBytes: 1 << 24)
      let b = try FileIO.readBytes(
        path: AnimationOutput.frame(k, in: dir + "/cut"), maxBytes: 1 << 24)
      #expect(a == b, "frame \(k + 1)")
    }
  }

  /// Not a video, a cut-off video, a FIFO, a missing file: one error at `init.video`'s place
  /// with ffmpeg's last line where ffmpeg read it, exit status 1, nothing written, no hang.
  @Test(.enabled(if: enabled, "ffmpeg or the clipig executable is missing"))
  func hostileFilesAreClearErrorsBeforeAnyWork() throws {
    let dir = try TestFiles.temporaryDirectory("video-hostile")
    var random = SeededRandom(seed: 77)
    let garbage = (0..<20_000).map { _ in UInt8(truncatingIfNeeded: random.next()) }
    try FileIO.writeAtomically(garbage, to: dir + "/garbage.mp4")
    try Self.makeVideo(dir + "/whole.mp4", seconds: 2)
    let whole = try FileIO.readBytes(path: dir + "/whole.mp4", maxBytes: 1 << 24)
    try FileIO.writeAtomically(Array(whole.prefix(whole.count / 3)), to: dir + "/cut.mp4")
    #expect(mkfifo(dir + "/fifo.mp4", 0o644) == 0)
    let cases: [(String, [String])] = [
      (
        "garbage.mp4",
        ["ffmpeg cannot read garbage.mp4", "Invalid data found when processing input"]
      ),
      ("cut.mp4", ["ffmpeg cannot read cut.mp4", "Invalid data found when processing input"]),
      ("fifo.mp4", ["fifo.mp4 is not a regular file"]),
      ("missing.mp4", ["missing.mp4: No such file or directory"]),
    ]
    for (file, messages) in cases {
      let result = try Self.render(
        """
        resolution: 32
        animation: {frames: 3}
        init:
          video: \(file)
        targets: [{features: [{text: a}]}]
        """, in: dir)
      #expect(result.status == 1, "\(file): \(result.output)")
      #expect(result.output.contains("anim.yaml:4:10: error: 'init.video': "), "\(result.output)")
      for message in messages {
        #expect(result.output.contains(message), "\(file): \(result.output)")
      }
      #expect(!FileManager.default.fileExists(atPath: dir + "/out"), "\(file)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/out.mp4"), "\(file)")
    }
  }

  /// Bounds and misuse, each refused before any work at its place.
  @Test(.enabled(if: enabled, "ffmpeg or the clipig executable is missing"))
  func boundsAndMisuseAreRefusedAtTheirPlace() throws {
    let dir = try TestFiles.temporaryDirectory("video-bounds")
    try Self.makeVideo(dir + "/in.mp4")
    try Self.makeVideo(dir + "/wide.mp4", size: "4112x16", seconds: 0.25, source: "color=c=red")
    let features = "targets: [{features: [{text: a}]}]\n"
    let cases: [(String, String)] = [
      (
        "animation: {frames: 9}\ninit: {video: in.mp4}\n" + features,
        "anim.yaml:2:15: error: 'init.video': in.mp4 has 8 frames and the animation 9: set "
          + "animation.frames to at most 8"
      ),
      (
        "animation: {frames: 2}\ninit: {video: wide.mp4}\n" + features,
        "anim.yaml:2:15: error: 'init.video': wide.mp4 has frames of 4112×16 pixels; at most "
          + "4096 per side"
      ),
      (
        "animation: {frames: 4}\ninit: {video: in.mp4, blend: 1.5 - ft}\n" + features,
        "anim.yaml:2:30: error: 'init.blend': blend must be between 0 and 1, got 1.25 at frame 1"
      ),
      (
        "animation: {frames: 2}\ninit: {video: in.mp4, blend: -1}\n" + features,
        "anim.yaml:2:30: error: 'init.blend': blend must be between 0 and 1, got -1.0"
      ),
      (
        "init: {video: in.mp4}\n" + features,
        "anim.yaml:1:15: error: 'init.video': init.video starts each frame of an animation"
      ),
      (
        "animation: {frames: 2}\ninit: {video: in.mp4, image: a.png}\n" + features,
        "anim.yaml:2:15: error: 'init.video': give init.image or init.video, not both"
      ),
      (
        "animation: {frames: 2}\ninit: {video: in.mp4, std: 1}\n" + features,
        "anim.yaml:2:28: error: 'init.std': init.std does not apply to init.video"
      ),
      (
        "animation: {frames: 2}\ninit: {blend: 0.5}\n" + features,
        "anim.yaml:2:15: error: 'init.blend': init.blend mixes the previous frame into an input "
          + "video's frame; it needs init.video"
      ),
      (
        "animation: {frames: 2}\ninit: {video: 'https://example.org/a.mp4'}\n" + features,
        "'init.video': init.video must be a local file (ffmpeg reads it), not a URL"
      ),
    ]
    for (yaml, message) in cases {
      let result = try Self.render(yaml, in: dir)
      #expect(result.status == 1, "\(yaml): \(result.output)")
      #expect(result.output.contains(message), "\(yaml): \(result.output)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/out"), "\(yaml)")
    }
  }

  /// A PATH without ffmpeg: the video cannot be read, which is said before any work.
  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func withoutFFmpegAVideoIsAClearError() throws {
    let dir = try TestFiles.temporaryDirectory("video-noffmpeg")
    try TestFiles.write("not read", to: dir + "/in.mp4")
    let empty = try TestFiles.temporaryDirectory("video-emptypath")
    let result = try Self.render(
      "animation: {frames: 2}\ninit: {video: in.mp4}\ntargets: [{features: [{text: a}]}]\n",
      in: dir, environment: ["PATH": empty])
    #expect(result.status == 1, "\(result.output)")
    #expect(
      result.output.contains(
        "anim.yaml:2:15: error: 'init.video': reading a video needs the ffmpeg program, which is "
          + "not on PATH"), "\(result.output)")
  }
}
