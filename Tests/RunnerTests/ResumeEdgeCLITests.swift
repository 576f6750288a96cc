import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// Issue 24, item 7, through the release binary: an explicit seed against a checkpoint's, and a
/// user's file that took the place of an interrupted render's image.
@Suite("Resume edge cases, through the release binary", .serialized)
struct ResumeEdgeCLITests {
  /// Long enough to be interrupted after its first snapshot, short enough to finish after.
  static let yaml = """
    epochs: 2000
    resolution: 16
    snapshot_interval: 1
    targets:
      - batch_size: 2
        features:
          - text: a cat
        transforms:
          - noise: 0.1

    """

  /// Starts `render x.yaml -o out/x.png` in `dir` with `extra` arguments, waits for its first
  /// checkpoint and stops it with SIGTERM; returns the seed the sidecar records, nil (skip)
  /// when the binary is not built.
  static func interruptedRender(in dir: String, _ extra: [String] = []) throws -> UInt64? {
    guard try ClipigExecutable.found() != nil else { return nil }
    try TestFiles.write(yaml, to: dir + "/x.yaml")
    let render = try ClipigExecutable.start(
      ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/x.png", "-q"] + extra,
      directory: dir, mergingErrors: true)
    let checkpoint = Checkpoint.path(forImage: dir + "/out/x.png")
    #expect(TestFiles.waitForContent(checkpoint, timeout: 300), "no checkpoint")
    render.send(SIGTERM)
    let ended = render.wait()
    #expect(ended.status == 128 + SIGTERM, "\(ended.output)")
    let sidecar = try TestFiles.read(dir + "/out/x.yaml")
    let seed = sidecar.firstMatch(of: /\n# seed: (\d+)\n/).flatMap { UInt64($0.1) }
    #expect(seed != nil, "\(sidecar.prefix(300))")
    return seed
  }

  static func files(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
  }

  /// A drawn seed's checkpoint: `--seed` with another seed is refused naming both seeds and
  /// leaves every file as it was; `--seed` with the drawn one continues it, to the image an
  /// uninterrupted `--seed` render of that seed makes.
  @Test func anExplicitSeedNeverSilentlyLosesToTheCheckpoints() throws {
    let dir = try TestFiles.temporaryDirectory("resume-seed")
    guard let seed = try Self.interruptedRender(in: dir) else { return }
    let before = Self.files(dir + "/out")
    let other = seed == 1 ? 2 : seed - 1
    let refused = try ClipigExecutable.run(
      [
        "render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/x.png", "-q", "--seed",
        String(other),
      ], in: dir)
    #expect(refused.status == 1, "\(refused.output)")
    #expect(refused.err.contains("with seed \(seed), but this run asks for seed \(other)"))
    #expect(refused.err.contains("give --seed \(seed)"), "\(refused.err)")
    #expect(Self.files(dir + "/out") == before)
    let resumed = try ClipigExecutable.run(
      [
        "render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/x.png", "--seed",
        String(seed),
      ], in: dir)
    #expect(resumed.status == 0, "\(resumed.output)")
    #expect(resumed.err.contains("resuming"), "\(resumed.err)")
    #expect(Self.files(dir + "/out") == ["x.png", "x.yaml"])
    // The same seed uninterrupted, elsewhere: the same pixels.
    let fresh = try ClipigExecutable.run(
      [
        "render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "fresh/x.png", "-q", "--seed",
        String(seed),
      ], in: dir)
    #expect(fresh.status == 0, "\(fresh.output)")
    #expect(
      try PNG.read(path: dir + "/out/x.png").scalars
        == PNG.read(path: dir + "/fresh/x.png").scalars)
  }

  /// The user put their own file where the interrupted image was: the resumed run claims a new
  /// name and finishes there; the user's bytes stay.
  @Test func aFileThatTookTheImagesPlaceIsNeverOverwritten() throws {
    let dir = try TestFiles.temporaryDirectory("resume-claim")
    guard try Self.interruptedRender(in: dir) != nil else { return }
    let mine = Data("my own picture, not a PNG".utf8)
    try mine.write(to: URL(fileURLWithPath: dir + "/out/x.png"))
    let resumed = try ClipigExecutable.run(
      ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/x.png"], in: dir)
    #expect(resumed.status == 0, "\(resumed.output)")
    #expect(resumed.err.contains("is no longer the image this run saved"), "\(resumed.err)")
    #expect(try Data(contentsOf: URL(fileURLWithPath: dir + "/out/x.png")) == mine)
    #expect(try PNG.read(path: dir + "/out/x-1.png").shape == [3, 16, 16])
    #expect(try TestFiles.read(dir + "/out/x-1.yaml").contains("epochs: 2000 of 2000"))
    // Finished: no checkpoint is left, neither the old nor the moved one.
    #expect(Self.files(dir + "/out") == ["x-1.png", "x-1.yaml", "x.png", "x.yaml"])
  }
}
