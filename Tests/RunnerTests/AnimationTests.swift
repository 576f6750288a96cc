import Formats
import Foundation
import PipelineKit
import PipelineKitTesting
import Runner
import TestSupport
import Testing

/// Animations through the release binary, as a user drives them: the warp against a reference
/// computed here by hand, the video files as ffprobe and the WebP's own chunks see them,
/// reproducibility, an interruption in frame 3 of 6 continued to the same bytes, and a PATH
/// without ffmpeg. Plus the warp in the gradient harness and the scenes' weights.
@Suite("Animation")
struct AnimationTests {
  static let model = TestFiles.tinyModel
  static let ci = ProcessInfo.processInfo.environment["CI"] == "true"
  /// ffmpeg and ffprobe are on PATH, or CI requires them (the test then fails).
  static let videoTools =
    (ChildProcess.find("ffmpeg") != nil && ChildProcess.find("ffprobe") != nil) || ci

  /// Runs `clipig render` of `yaml` into `output`; fails the test on a non-zero status.
  @discardableResult
  static func render(
    _ yaml: String, output: String, seed: Int = 1, environment: [String: String?] = [:],
    extra: [String] = []
  ) throws -> String {
    let dir = try TestFiles.temporaryDirectory("anim-yaml")
    let file = dir + "/anim.yaml"
    try TestFiles.write(yaml, to: file)
    let result = try ClipigExecutable.run(
      ["render", file, "--model", model, "--seed", String(seed), "-o", output, "-q"] + extra,
      environment: environment)
    #expect(result.status == 0, "\(result.output)")
    return result.output
  }

  static func warpOnly(_ warp: String, size: Int = 32) -> String {
    """
    epochs: 3
    resolution: \(size)
    animation:
      frames: 2
      epochs: 0
      warp: \(warp)
    targets:
      - batch_size: 2
        features: [{text: a red ball}]
        transforms: [{noise: 0.1}]
    """
  }

  /// Frame 1 and frame 2 of a warp-only animation.
  static func twoFrames(_ warp: String) throws -> (Tensor, Tensor) {
    let dir = try TestFiles.temporaryDirectory("anim-warp")
    try render(warpOnly(warp), output: dir + "/w.mp4")
    return (
      try PNG.read(path: dir + "/w/frame-00001.png"), try PNG.read(path: dir + "/w/frame-00002.png")
    )
  }

  static func maxDifference(_ a: Tensor, _ b: Tensor) -> Float {
    zip(a.scalars, b.scalars).map { abs($0 - $1) }.max() ?? .infinity
  }

  // MARK: - The warp against a hand calculation

  /// The reference, derived from the documented meaning rather than from the code: the content
  /// point q of the previous frame appears at p = C + zoom·Rccw(θ)(q − C) + t, Rccw(θ) the
  /// counter-clockwise turn on screen (y down): (dx, dy) ↦ (dx cos θ + dy sin θ,
  /// −dx sin θ + dy cos θ). Inverted per output pixel centre, then read bilinearly with the
  /// outermost pixels repeated.
  static func handWarp(
    _ x: Tensor, zoom: Double, degrees: Double, tx: Double, ty: Double, cx: Double, cy: Double
  ) -> Tensor {
    let (c, h, w) = x.chw
    let theta = degrees * Double.pi / 180
    let (cs, sn) = (cos(theta), sin(theta))
    let centerX = cx * Double(w)
    let centerY = cy * Double(h)
    var out = Tensor(shape: [c, h, w])
    for j in 0..<h {
      for i in 0..<w {
        // (p − t − C) / zoom, then the inverse turn Rccw(−θ): (dx cos θ − dy sin θ, dx sin θ + dy cos θ).
        let dx = (Double(i) + 0.5 - tx - centerX) / zoom
        let dy = (Double(j) + 0.5 - ty - centerY) / zoom
        let qx = centerX + dx * cs - dy * sn
        let qy = centerY + dx * sn + dy * cs
        let u = qx - 0.5
        let v = qy - 0.5
        let x0 = Int(u.rounded(.down))
        let y0 = Int(v.rounded(.down))
        let fx = u - Double(x0)
        let fy = v - Double(y0)
        func pixel(_ ch: Int, _ yy: Int, _ xx: Int) -> Double {
          Double(x.scalars[ch * h * w + min(max(yy, 0), h - 1) * w + min(max(xx, 0), w - 1)])
        }
        for ch in 0..<c {
          let top = pixel(ch, y0, x0) * (1 - fx) + pixel(ch, y0, x0 + 1) * fx
          let bottom = pixel(ch, y0 + 1, x0) * (1 - fx) + pixel(ch, y0 + 1, x0 + 1) * fx
          out.scalars[ch * h * w + j * w + i] = Float(top * (1 - fy) + bottom * fy)
        }
      }
    }
    return out
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func warpOnlyFrameTwoIsFrameOneZoomedRotatedAndMoved() throws {
    let (one, two) = try Self.twoFrames(
      "{zoom: 1.25, rotate: 30, translate: 3 -2, center: 0.4 0.6, edge: edge}")
    let expected = Self.handWarp(one, zoom: 1.25, degrees: 30, tx: 3, ty: -2, cx: 0.4, cy: 0.6)
    #expect(Self.maxDifference(two, expected) <= 1 / 255 + 1e-6)
    #expect(Self.maxDifference(two, one) > 0.05, "the warp changed nothing")
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func quarterTurnIsAPermutation() throws {
    // A 90° counter-clockwise turn about the centre of a 32×32 image moves pixel centres onto
    // pixel centres: frame 2 at (row j, column i) is frame 1 at (row i, column 31 − j).
    let (one, two) = try Self.twoFrames("{rotate: 90}")
    var expected = Tensor(shape: [3, 32, 32])
    for c in 0..<3 {
      for j in 0..<32 {
        for i in 0..<32 {
          expected.scalars[c * 1024 + j * 32 + i] = one.scalars[c * 1024 + i * 32 + (31 - j)]
        }
      }
    }
    #expect(Self.maxDifference(two, expected) <= 1 / 255 + 1e-6)
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func wholePixelMovesWrapAndReflect() throws {
    // 5 right and 3 up: output (j, i) reads (j + 3, i − 5), continued periodically (wrap) or
    // mirrored with the border pixel repeated (reflect: index −1 reads 0, 32 reads 31).
    for edge in ["wrap", "reflect"] {
      let (one, two) = try Self.twoFrames("{translate: 5 -3, edge: \(edge)}")
      func resolve(_ k: Int) -> Int {
        if edge == "wrap" { return (k % 32 + 32) % 32 }
        return k < 0 ? -k - 1 : k > 31 ? 63 - k : k
      }
      var expected = Tensor(shape: [3, 32, 32])
      for c in 0..<3 {
        for j in 0..<32 {
          for i in 0..<32 {
            expected.scalars[c * 1024 + j * 32 + i] =
              one.scalars[c * 1024 + resolve(j + 3) * 32 + resolve(i - 5)]
          }
        }
      }
      #expect(Self.maxDifference(two, expected) <= 1 / 255 + 1e-6, "\(edge)")
    }
  }

  @Test func warpPassesTheGradientHarnessInEveryEdgeMode() throws {
    var random = SeededRandom(seed: 11)
    let x = Tensor(shape: [3, 7, 9]) { _ in Float(random.uniform()) }
    let values = Animation.WarpValues(
      zoom: 0.8, rotate: 23, translate: (1.5, -0.75), center: (0.3, 0.6))
    for edge in WarpEdge.allCases {
      let warp = BilinearWarp(
        sourceFromOutput: values.map(width: 9, height: 7), inputHeight: 7, inputWidth: 9,
        edge: edge)
      let failures = GradientHarness.check("warp \(edge)", at: x) { image in
        (warp.apply(image, fill: [0.2, 0.5, 0.9]), { warp.adjoint($0) })
      }
      #expect(failures.isEmpty, "\(failures)")
      // The adjoint is the transpose of the linear part: ⟨A x, v⟩ = ⟨x, Aᵀ v⟩ (no fill).
      let v = Tensor(shape: [3, 7, 9]) { _ in Float(random.uniform() - 0.5) }
      let ax = warp.apply(x)
      let atv = warp.adjoint(v)
      var left: Double = 0
      var right: Double = 0
      for k in 0..<ax.scalars.count { left += Double(ax.scalars[k]) * Double(v.scalars[k]) }
      for k in 0..<x.scalars.count { right += Double(x.scalars[k]) * Double(atv.scalars[k]) }
      let gap: Double = (left - right).magnitude
      #expect(gap <= 1e-4 * Swift.max(1, left.magnitude), "\(edge): \(left) vs \(right)")
    }
  }

  // MARK: - Video files

  static let small = """
    epochs: 4
    resolution: 32
    animation:
      frames: 5
      fps: 8
      epochs: 3
      warp: {zoom: 1.05, rotate: 2}
    targets:
      - batch_size: 2
        features: [{text: a red ball}]
        transforms: [{random_shift: -2 2}, {noise: 0.05}]
    """

  /// The number of `ANMF` (animation frame) chunks of a RIFF WebP file.
  static func webpFrameCount(_ bytes: [UInt8]) -> Int? {
    guard bytes.count >= 12, Array(bytes[0..<4]) == Array("RIFF".utf8),
      Array(bytes[8..<12]) == Array("WEBP".utf8)
    else { return nil }
    var offset = 12
    var frames = 0
    while offset + 8 <= bytes.count {
      let tag = String(decoding: bytes[offset..<(offset + 4)], as: UTF8.self)
      let size = (0..<4).reduce(0) { $0 | Int(bytes[offset + 4 + $1]) << (8 * $1) }
      if tag == "ANMF" { frames += 1 }
      offset += 8 + size + (size & 1)
    }
    return frames
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest && videoTools, "ffmpeg/ffprobe not on PATH"))
  func mp4AndWebPHoldEveryFrameAtTheRateAndSize() throws {
    guard let ffprobe = ChildProcess.find("ffprobe"), ChildProcess.find("ffmpeg") != nil else {
      Issue.record("CI=true requires ffmpeg and ffprobe on PATH (scripts/bootstrap installs them)")
      return
    }
    let dir = try TestFiles.temporaryDirectory("anim-video")
    try Self.render(Self.small, output: dir + "/")
    let video = dir + "/anim.mp4"
    let probe = try ChildProcess.run(
      ffprobe,
      [
        "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
        "stream=codec_name,pix_fmt,width,height,r_frame_rate,nb_read_frames", "-of",
        "default=noprint_wrappers=1", video,
      ])
    #expect(probe.status == 0, "\(probe.output)")
    for line in [
      "codec_name=h264", "pix_fmt=yuv420p", "width=32", "height=32", "r_frame_rate=8/1",
      "nb_read_frames=5",
    ] {
      #expect(probe.out.contains(line), "\(line) in \(probe.out)")
    }
    let webp = try FileIO.readBytes(path: dir + "/anim.webp", maxBytes: 1 << 24)
    #expect(Self.webpFrameCount(webp) == 5)
    if let webpmux = ChildProcess.find("webpmux") {
      let info = try ChildProcess.run(webpmux, ["-info", dir + "/anim.webp"])
      #expect(info.out.contains("Number of frames: 5"), "\(info.output)")
    }
    let sidecar = try TestFiles.read(dir + "/anim.yaml")
    #expect(sidecar.contains("# frames: 5 of 5"), "\(sidecar)")
    // The sidecar names its output by the bare name, beside it (issue 24).
    #expect(sidecar.contains("\noutput: anim.mp4\n"), "\(sidecar)")
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func withoutFFmpegTheFramesAndWebPStayAndEncodeMakesTheVideoLater() throws {
    let dir = try TestFiles.temporaryDirectory("anim-noffmpeg")
    let empty = try TestFiles.temporaryDirectory("anim-emptypath")
    let output = try Self.render(
      Self.small, output: dir + "/z.mp4", environment: ["PATH": empty], extra: ["-v"])
    #expect(output.contains("ffmpeg is not on PATH"), "\(output)")
    #expect(output.contains("clipig encode \(dir)/z/"), "\(output)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/z.mp4"))
    #expect(AnimationVideo.frameCount(in: dir + "/z") == 5)
    #expect(
      Self.webpFrameCount(try FileIO.readBytes(path: dir + "/z.webp", maxBytes: 1 << 24)) == 5)
    guard ChildProcess.find("ffmpeg") != nil else {
      if Self.ci { Issue.record("CI=true requires ffmpeg on PATH") }
      return
    }
    let encode = try ClipigExecutable.run(["encode", dir + "/z/"])
    #expect(encode.status == 0, "\(encode.output)")
    #expect(
      ((try? FileManager.default.attributesOfItem(atPath: dir + "/z.mp4"))?[.size] as? Int ?? 0) > 0
    )
  }

  // MARK: - Reproducible and resumable

  static func frames(_ directory: String) throws -> [[UInt8]] {
    try (0..<AnimationVideo.frameCount(in: directory)).map {
      try FileIO.readBytes(path: AnimationOutput.frame($0, in: directory), maxBytes: 1 << 24)
    }
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func theSameSeedMakesTheSameFrames() throws {
    let dir = try TestFiles.temporaryDirectory("anim-seed")
    try Self.render(Self.small, output: dir + "/a.mp4", seed: 5)
    try Self.render(Self.small, output: dir + "/b.mp4", seed: 5)
    try Self.render(Self.small, output: dir + "/c.mp4", seed: 6)
    let a = try Self.frames(dir + "/a")
    #expect(a.count == 5)
    #expect(a == (try Self.frames(dir + "/b")))
    #expect(a != (try Self.frames(dir + "/c")), "another seed, the same frames")
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func sigtermInFrameThreeOfSixResumesToTheSameBytes() throws {
    let yaml = """
      epochs: 20
      resolution: 32
      snapshot_interval: 0
      animation:
        frames: 6
        fps: 6
        epochs: 300
        warp: {zoom: 1.05, rotate: 3, translate: 1 -1}
      targets:
        - batch_size: 2
          features: [{text: a red ball}]
          transforms: [{random_shift: -2 2}, {noise: 0.05}]
      """
    let dir = try TestFiles.temporaryDirectory("anim-resume")
    let file = dir + "/anim.yaml"
    try TestFiles.write(yaml, to: file)
    try Self.render(yaml, output: dir + "/whole.mp4", seed: 3)
    let arguments = [
      "render", file, "--model", Self.model, "--seed", "3", "-o", dir + "/cut.mp4", "-q",
    ]
    let process = try ClipigExecutable.start(arguments)
    // Frame 2 written: frame 3 (300 epochs) is training.
    #expect(TestFiles.waitForContent(dir + "/cut/frame-00002.png"), "no frame 2")
    process.send(SIGTERM)
    let stopped = process.wait()
    #expect(stopped.status == 143, "\(stopped.output)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/cut/frame-00003.png"))
    #expect(FileManager.default.fileExists(atPath: dir + "/.cut.mp4.checkpoint"))
    let resumed = try ClipigExecutable.run(arguments)
    #expect(resumed.status == 0, "\(resumed.output)")
    let whole = try Self.frames(dir + "/whole")
    #expect(whole.count == 6)
    #expect(whole == (try Self.frames(dir + "/cut")))
    #expect(!FileManager.default.fileExists(atPath: dir + "/.cut.mp4.checkpoint"))
    #expect(
      (try FileIO.readBytes(path: dir + "/whole.webp", maxBytes: 1 << 24))
        == (try FileIO.readBytes(path: dir + "/cut.webp", maxBytes: 1 << 24)))
  }

  // MARK: - Bounds and the configuration

  @Test(.enabled(if: ClipigExecutable.shouldTest, "the clipig executable is not built"))
  func outOfBoundsValuesAreRefusedBeforeWorkAtTheirPlace() throws {
    let cases: [(String, String)] = [
      ("animation:\n  frames: 0\n", "anim.yaml:2:11: error: 'animation.frames'"),
      ("animation:\n  fps: 0\n", "anim.yaml:2:8: error: 'animation.fps'"),
      ("animation:\n  epochs: -1\n", "anim.yaml:2:11: error: 'animation.epochs'"),
      ("animation:\n  warp: {zoom: 0}\n", "anim.yaml:2:16: error: 'animation.warp.zoom'"),
      (
        "animation:\n  frames: 9\n  warp: {rotate: 100*frame}\n",
        "anim.yaml:3:18: error: 'animation.warp.rotate': rotate must be between -360 and 360 "
          + "degrees, got 400.0 at frame 4"
      ),
      ("animation:\n  warp: {zoom: 1 + t}\n", "'animation.warp.zoom': variable 't'"),
      ("animation:\n  warp: {edge: mirror}\n", "'animation.warp.edge'"),
    ]
    for (yaml, message) in cases {
      let dir = try TestFiles.temporaryDirectory("anim-bounds")
      let file = dir + "/anim.yaml"
      try TestFiles.write(yaml + "targets: [{features: [{text: a}]}]\n", to: file)
      let result = try ClipigExecutable.run([
        "render", file, "--model", Self.model, "-o", dir + "/out/",
      ])
      #expect(result.status == 1, "\(yaml): \(result.output)")
      #expect(result.output.contains(message), "\(yaml): \(result.output)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/out/anim.mp4"), "\(yaml)")
      #expect(!FileManager.default.fileExists(atPath: dir + "/out/anim"), "\(yaml)")
    }
  }

  @Test func scenesCrossFadeWithWeightsThatSumToOne() throws {
    let root = try YAML.parse(
      """
      animation:
        frames: 10
        fade: 4
        scenes:
          - {text: a forest, frames: 6}
          - {text: [a city, rain], weight: 2}
      targets:
        - features: [{text: always}]
      """, file: "scenes.yaml")
    let experiment = try Experiment(root)
    let features = experiment.targets[0].features
    #expect(features.map(\.text) == ["always", "a forest", "a city", "rain"])
    var random = SeededRandom(seed: 0)
    func weight(_ f: Int, _ frame: Int) throws -> Double {
      var context = experiment.context(atEpoch: 0)
      context.frame = frame
      context.frames = 10
      return try features[f].weight.value(in: context, random: &random)
    }
    // Scene 1 covers frames 0…5, scene 2 frames 6…9, the change fading over frames 4…8:
    // (6 − frame)/4 + 0.5 for the first, (frame − 6)/4 + 0.5 for the second (×2).
    let expected: [(Int, Double, Double)] = [
      (0, 1, 0), (3, 1, 0), (4, 1, 0), (5, 0.75, 0.25), (6, 0.5, 0.5), (7, 0.25, 0.75),
      (8, 0, 1), (9, 0, 1),
    ]
    for (frame, first, second) in expected {
      #expect(try weight(0, frame) == 1)
      #expect(abs(try weight(1, frame) - first) < 1e-12, "frame \(frame)")
      #expect(abs(try weight(2, frame) - 2 * second) < 1e-12, "frame \(frame)")
      #expect(abs(try weight(3, frame) - 2 * second) < 1e-12, "frame \(frame)")
    }
  }

  @Test func laterFramesDrawFromStreamsOfTheirOwn() {
    let still = RandomStreams(seed: 9)
    let first = RandomStreams(seed: 9, frame: 0)
    let second = RandomStreams(seed: 9, frame: 1)
    let third = RandomStreams(seed: 9, frame: 2)
    func draw(_ s: RandomStreams) -> [UInt64] {
      var r = s.view(epoch: 0, target: 0, view: 0)
      return (0..<4).map { _ in r.next() }
    }
    #expect(draw(still) == draw(first), "frame 1 draws as the still image")
    #expect(draw(first) != draw(second))
    #expect(draw(second) != draw(third))
    var a = second.expressions(epoch: 1)
    var b = still.stream(.expressions, 1, 1)
    #expect(a.next() != b.next(), "a frame's stream is not another purpose's indices")
  }
}
