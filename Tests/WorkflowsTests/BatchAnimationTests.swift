import Formats
import Foundation
import Runner
import TestSupport
import Testing
import Workflows

/// Animations in a `clipig batch` grid through the release binary: every item writes its
/// frames, MP4, WebP and sidecar under its name; ffprobe and webpmux count the frames; a batch
/// stopped by SIGTERM inside an animation continues it from its checkpoint to the same bytes
/// as a batch never stopped.
@Suite("clipig batch of animations", .serialized)
struct BatchAnimationTests {
  static let ci = ProcessInfo.processInfo.environment["CI"] == "true"
  static let videoTools =
    (ChildProcess.find("ffmpeg") != nil && ChildProcess.find("ffprobe") != nil) || ci
  static let names = ["cat", "penguin"]
  static let frames = 3

  /// A 2-item grid of 3-frame animations (16 × 16, many epochs per frame so that a signal
  /// lands inside one).
  static func grid(in dir: String) throws -> String {
    try TestFiles.write(
      """
      epochs: 20
      resolution: 16
      snapshot_interval: 0
      animation:
        frames: \(frames)
        fps: 6
        epochs: 100
        warp: {zoom: 1.05, rotate: 2}
      targets:
        - batch_size: 2
          features: [{text: "a {{animal}}"}]
          transforms: [{random_shift: -2 2}, {noise: 0.05}]
      """, to: dir + "/template.yaml")
    try TestFiles.write(
      """
      template: template.yaml
      name: "{{animal}}"
      seed: 9
      variables:
        animal: [cat, penguin]
      """, to: dir + "/grid.yaml")
    return dir + "/grid.yaml"
  }

  /// Every regular file under `dir` but the batch's own `.clipig/` folder, the manifests
  /// (which hold wall times) and the MP4s (ffmpeg's encoder need not repeat its bytes):
  /// relative path → bytes, the sidecars without their date and wall time.
  static func outputs(_ dir: String) throws -> [String: [UInt8]] {
    var out: [String: [UInt8]] = [:]
    let e = FileManager.default.enumerator(atPath: dir)
    while let f = e?.nextObject() as? String {
      guard !f.hasPrefix(".clipig"), !f.hasPrefix("manifest."), !f.hasSuffix(".mp4") else {
        continue
      }
      var isDirectory: ObjCBool = false
      if FileManager.default.fileExists(atPath: dir + "/" + f, isDirectory: &isDirectory),
        !isDirectory.boolValue
      {
        var bytes = try FileIO.readBytes(path: dir + "/" + f, maxBytes: 1 << 24)
        if f.hasSuffix(".yaml") {
          // The sidecar's date and wall time differ between any two runs.
          bytes = Array(
            String(decoding: bytes, as: UTF8.self).split(separator: "\n")
              .filter { !$0.hasPrefix("# clipig render, ") && !$0.hasPrefix("# runtime: ") }
              .joined(separator: "\n").utf8)
        }
        out[f] = bytes
      }
    }
    return out
  }

  @Test(.enabled(if: ClipigExecutable.shouldTest && videoTools, "clipig or ffmpeg missing"))
  func aGridOfAnimationsWritesEachItemsFilesAndResumesToTheSameBytes() throws {
    guard let ffprobe = ChildProcess.find("ffprobe"), ChildProcess.find("ffmpeg") != nil else {
      Issue.record("CI=true requires ffmpeg and ffprobe on PATH (scripts/bootstrap installs them)")
      return
    }
    let dir = try TestFiles.temporaryDirectory("batch-animation")
    let grid = try Self.grid(in: dir)
    let arguments = ["batch", grid, "--model", TestFiles.tinyModel]
    let straight = try ClipigExecutable.run(arguments + ["-o", dir + "/straight", "-q"])
    #expect(straight.status == 0, "\(straight.output)")

    let out = dir + "/straight"
    for name in Self.names {
      for k in 0..<Self.frames {
        #expect(
          FileManager.default.fileExists(atPath: AnimationOutput.frame(k, in: out + "/" + name)))
      }
      #expect(
        !FileManager.default.fileExists(
          atPath: AnimationOutput.frame(Self.frames, in: out + "/" + name)))
      let probe = try ChildProcess.run(
        ffprobe,
        [
          "-v", "error", "-select_streams", "v:0", "-count_frames", "-show_entries",
          "stream=codec_name,width,height,r_frame_rate,nb_read_frames", "-of",
          "default=noprint_wrappers=1", out + "/" + name + ".mp4",
        ])
      #expect(probe.status == 0, "\(probe.output)")
      for line in [
        "codec_name=h264", "width=16", "height=16", "r_frame_rate=6/1",
        "nb_read_frames=\(Self.frames)",
      ] {
        #expect(probe.out.contains(line), "\(name): \(line) in \(probe.out)")
      }
      if let webpmux = ChildProcess.find("webpmux") {
        let info = try ChildProcess.run(webpmux, ["-info", out + "/" + name + ".webp"])
        #expect(info.out.contains("Number of frames: \(Self.frames)"), "\(info.output)")
      } else if Self.ci {
        Issue.record("CI=true requires webpmux on PATH (Debian package webp)")
      }
      let sidecar = try TestFiles.read(out + "/" + name + ".yaml")
      #expect(sidecar.contains("# frames: \(Self.frames) of \(Self.frames)"), "\(sidecar)")
      #expect(sidecar.contains("files: \(name)/frame-*.png, \(name).webp, \(name).mp4"))
    }
    let manifest = try Manifest.read(directory: out)
    #expect(manifest.done == 2 && manifest.missing.isEmpty)
    #expect(manifest.items.map(\.animation) == Self.names.map { $0 + ".webp" })
    #expect(manifest.items.map(\.image) == Self.names.map { $0 + "/frame-00003.png" })
    #expect(manifest.items.map(\.epochs) == [20 + 2 * 100, 20 + 2 * 100])
    let leftovers = try FileManager.default.contentsOfDirectory(atPath: out + "/.clipig/partial")
    #expect(leftovers.isEmpty, "\(leftovers)")

    // Stopped while the first item's second frame trains, then the same command again.
    let cut = dir + "/cut"
    let process = try ClipigExecutable.start(arguments + ["-o", cut], mergingErrors: true)
    #expect(
      TestFiles.waitForContent(cut + "/.clipig/partial/cat/frame-00001.png"), "no first frame")
    process.send(SIGTERM)
    let stopped = process.wait()
    #expect(stopped.status == 143, "\(stopped.out)")
    #expect(
      FileManager.default.fileExists(atPath: cut + "/.clipig/partial/.cat.mp4.checkpoint"),
      "\(stopped.out)")
    #expect(!FileManager.default.fileExists(atPath: cut + "/cat.webp"))
    #expect(try Manifest.read(directory: cut).missing == Self.names)
    let resumed = try ClipigExecutable.run(arguments + ["-o", cut])
    #expect(resumed.status == 0, "\(resumed.output)")
    #expect(resumed.output.contains("resuming \(cut)/.clipig/partial/cat.mp4 at frame "))
    #expect(
      resumed.output.contains("saved \(cut)/penguin/frame-*.png, \(cut)/penguin.webp"),
      "\(resumed.output)")
    let a = try Self.outputs(out)
    let b = try Self.outputs(cut)
    #expect(a.count == 2 * (Self.frames + 2), "\(a.keys.sorted())")
    #expect(b.keys.sorted() == a.keys.sorted())
    let differing = a.keys.filter { a[$0] != b[$0] }.sorted()
    #expect(differing.isEmpty, "these differ from the uninterrupted batch's: \(differing)")
    #expect(try Manifest.read(directory: cut).done == 2)
  }
}
