import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// The size, file, non-finite and error-message cases of issue 18, driven through the release
/// executable `.build/release/clipig` as the report did. With CI=true a missing executable (or
/// a missing `mount` for the tmpfs cases) fails the tests instead of skipping them.
@Suite("Hostile input through the release binary", .serialized)
struct HostileInputCLITests {
  static let isCI = ProcessInfo.processInfo.environment["CI"] == "true"

  /// Runs the binary with `arguments` in `dir`, standard input from the file `stdin` (else
  /// /dev/null); nil when the binary is not built and CI does not require it.
  static func run(_ arguments: [String], in dir: String, stdin: String? = nil) throws
    -> ChildProcess.Result?
  {
    guard try ClipigExecutable.found() != nil else { return nil }
    return try ClipigExecutable.run(arguments, in: dir, input: stdin.map { .file($0) } ?? .none)
  }

  /// A small render on the tiny test CLIP (32-pixel views), `extra` appended to the YAML.
  static func config(_ extra: String = "", resolution: String = "16", epochs: Int = 3) -> String {
    """
    epochs: \(epochs)
    resolution: \(resolution)
    snapshot_interval: 0
    verbose: 0
    targets:
      - batch_size: 2
        features:
          - text: a cat
        transforms:
          - noise: 0.1

    """ + extra
  }

  /// Writes `yaml` as `dir/x.yaml` and renders it with `arguments` (default `-o out/`).
  static func render(
    _ yaml: String, in dir: String, _ arguments: [String] = ["-o", "out/"]
  ) throws -> ChildProcess.Result? {
    try TestFiles.write(yaml, to: dir + "/x.yaml")
    return try run(
      ["render", "x.yaml", "--model", TestFiles.tinyModel, "-q"] + arguments, in: dir)
  }

  static func files(_ dir: String) -> [String] {
    ((try? FileManager.default.subpathsOfDirectory(atPath: dir)) ?? []).sorted()
  }

  /// The messages users must never see: raw Foundation error dumps.
  static func expectNoRawError(_ r: ChildProcess.Result, _ comment: String) {
    #expect(!r.err.contains("Error Domain"), "\(comment): \(r.err)")
    #expect(!r.err.contains("NSCocoaErrorDomain"), "\(comment): \(r.err)")
    #expect(!r.err.contains("CocoaError("), "\(comment): \(r.err)")
    #expect(!r.err.contains("already exists"), "\(comment): \(r.err)")
  }

  // MARK: - 1. Sizes

  @Test func sizesBeyondTheLimitsAreRefusedBeforeTraining() throws {
    let cases: [(yaml: String, message: String)] = [
      (
        Self.config("init: {resolution: 100000}\n"),
        "init.resolution 100000×100000: a side can have"
      ),
      (
        Self.config(resolution: "6000"),
        "resolution 6000×6000 at epoch 1: an image can have at most"
      ),
      (
        Self.config(resolution: "[16, '16 + 40000 * t']"),
        "at epoch 3: a side can have at most 32768"
      ),
      (
        Self.config(resolution: "['16 + 6000 * t', '16 + 6000 * t']"),
        "resolution 6016×6016 at epoch 3: an image can have"
      ),
      (
        Self.config().replacingOccurrences(of: "batch_size: 2", with: "batch_size: 100000000"),
        "lower batch_size or resolution"
      ),
      (Self.config("start_epoch: 3\n"), "start_epoch 3 is past the last epoch (2)"),
      (Self.config("start_epoch: -1\n"), "start_epoch counts from 0 and cannot be negative"),
      (
        Self.config().replacingOccurrences(
          of: "  - batch_size: 2", with: "  - start: .nan\n    batch_size: 2"),
        "expected a finite fraction"
      ),
    ]
    for (yaml, message) in cases {
      let dir = try TestFiles.temporaryDirectory("hostile-size")
      guard let r = try Self.render(yaml, in: dir) else { return }
      #expect(r.status == 1, "\(message): \(r.err)")
      #expect(r.err.contains(message), "\(r.err)")
      #expect(Self.files(dir) == ["x.yaml"], "\(message): \(Self.files(dir))")
    }
  }

  @Test func largestWritableResolutionIsAccepted() throws {
    // 5792² ≤ 2^25 < 5793²: the schedule check must accept the limit exactly (one epoch
    // reaching it is enough; `schedule` evaluates without training).
    let dir = try TestFiles.temporaryDirectory("hostile-limit")
    let largest = "['16 + 5776 * t', '16 + 5776 * t']"
    try TestFiles.write(Self.config(resolution: largest, epochs: 2), to: dir + "/x.yaml")
    guard let ok = try Self.run(["schedule", "x.yaml"], in: dir) else { return }
    #expect(ok.status == 0, "\(ok.err)")
    // One more pixel per side is refused by `render` before training (`schedule` only marks
    // the epoch "error" in its table).
    let over = "['17 + 5776 * t', '17 + 5776 * t']"
    guard let no = try Self.render(Self.config(resolution: over, epochs: 2), in: dir) else {
      return
    }
    #expect(no.status == 1, "\(no.out)")
    #expect(
      no.err.contains("resolution 5793×5793 at epoch 2: an image can have at most"), "\(no.err)")
  }

  /// A WebP file has at most 16383 pixels per side (the format stores side − 1 in 14 bits): a
  /// `.webp` render whose resolution schedule passes that at any epoch is refused before
  /// training, naming the key and the epoch, and leaves no file; the bound itself renders.
  @Test func webpOutputsAreBoundedBeforeTraining() throws {
    let dir = try TestFiles.temporaryDirectory("hostile-webp")
    // 16 + 16400·t is 8216 at the 2nd epoch (t = 0.5) and 16416 at the 3rd, the last (t = 1).
    let over = Self.config(resolution: "[16, '16 + 16400 * t']")
    for output in ["out.webp", "sub/OUT.WEBP"] {
      guard let r = try Self.render(over, in: dir, ["-o", output]) else { return }
      #expect(r.status == 1, "\(output): \(r.err)")
      #expect(r.err.hasPrefix("x.yaml:2:"), "the resolution key's line: \(r.err)")
      #expect(r.err.contains("'resolution'"), "\(r.err)")
      #expect(
        r.err.contains(
          "resolution 16×16416 at epoch 3: a side can have at most 16383 pixels in a WebP file"),
        "\(r.err)")
      #expect(Self.files(dir) == ["x.yaml"], "\(output): \(Self.files(dir))")
    }
    // The same schedule with a PNG output passes the size checks (`schedule` evaluates them).
    guard let png = try Self.run(["schedule", "x.yaml"], in: dir) else { return }
    #expect(png.status == 0, "\(png.err)")
    // -r on the command line: the message names the flag's value.
    guard let flag = try Self.render(Self.config(), in: dir, ["-o", "f.webp", "-r", "16384", "8"])
    else { return }
    #expect(flag.status == 1, "\(flag.err)")
    #expect(flag.err.contains("resolution 16384×8 at epoch 1: a side can have"), "\(flag.err)")
    #expect(Self.files(dir) == ["x.yaml"], "\(Self.files(dir))")
    // Exactly 16383 pixels is a valid WebP: rendered and read back.
    let bound = Self.config(resolution: "[16, '16 + 16367 * t']", epochs: 2)
    guard let ok = try Self.render(bound, in: dir, ["-o", "ok.webp"]) else { return }
    #expect(ok.status == 0, "\(ok.err)")
    #expect(try ImageFile.read(path: dir + "/ok.webp").shape == [3, 16383, 16])
  }

  /// A render that fails in its first epoch (a division by zero at epoch 0, non-finite pixels
  /// after the first step) trained nothing: it exits 1 with the error and leaves neither its
  /// claimed image nor its sidecar behind, so the next render gets the same name.
  @Test func aRenderFailingInItsFirstEpochLeavesNoFile() throws {
    let cases: [(yaml: String, message: String)] = [
      (
        Self.config().replacingOccurrences(of: "noise: 0.1", with: "noise: 1/epoch"),
        "division by zero"
      ),
      (Self.config("learnrate: 1e38*1e38\n"), "epoch 1: the pixels after the optimizer step"),
    ]
    for (yaml, message) in cases {
      let dir = try TestFiles.temporaryDirectory("hostile-epoch0")
      for output in ["e.png", "e.webp", "e.jpg"] {
        guard let r = try Self.render(yaml, in: dir, ["-o", output]) else { return }
        #expect(r.status == 1, "\(output): \(r.err)")
        #expect(r.err.contains(message), "\(output): \(r.err)")
        #expect(Self.files(dir) == ["x.yaml"], "\(output): \(Self.files(dir))")
      }
      // The name is free again: a good render of it gets exactly `e.png`.
      guard let good = try Self.render(Self.config(epochs: 1), in: dir, ["-o", "e.png"]) else {
        return
      }
      #expect(good.status == 0, "\(good.err)")
      #expect(Self.files(dir) == ["e.png", "e.yaml", "x.yaml"], "\(Self.files(dir))")
    }
  }

  // MARK: - 2. Standard input

  @Test func standardInputHasTheFileSizeCap() throws {
    let dir = try TestFiles.temporaryDirectory("hostile-stdin")
    guard
      let r = try Self.run(
        ["render", "-", "--model", TestFiles.tinyModel, "-q"], in: dir, stdin: "/dev/zero")
    else { return }
    #expect(r.status == 1, "\(r.err)")
    #expect(
      r.err.contains("<stdin>") && r.err.contains("limit of \(YAML.maxFileBytes)"), "\(r.err)")
    #expect(Self.files(dir).isEmpty)
  }

  // MARK: - 3. Lost or damaged files

  @Test func outputNamesThatCannotWorkAreRefused() throws {
    let nullPNGExisted = FileManager.default.fileExists(atPath: "/dev/null.png")
    let cases: [([String], String)] = [
      (["-o", "x.yaml"], "an image cannot have the extension .yaml"),
      (["-o", "result.yaml"], "an image cannot have the extension .yaml"),
      (["-o", "out/r.YML"], "an image cannot have the extension .yml"),
      (["-o", ""], "-o needs an image file or folder name"),
      (["-o", "/dev/null"], "/dev/null: is not a regular file or a folder"),
    ]
    for (arguments, message) in cases {
      let dir = try TestFiles.temporaryDirectory("hostile-name")
      let yaml = Self.config()
      guard let r = try Self.render(yaml, in: dir, arguments) else { return }
      #expect(r.status == 1, "\(arguments): \(r.err)")
      #expect(r.err.contains(message), "\(arguments): \(r.err)")
      #expect(Self.files(dir) == ["x.yaml"], "\(arguments): \(Self.files(dir))")
      #expect(try TestFiles.read(dir + "/x.yaml") == yaml, "the configuration was changed")
    }
    if !nullPNGExisted { #expect(!FileManager.default.fileExists(atPath: "/dev/null.png")) }
  }

  /// Two runs into one folder with `x.png` and `x.jpg` must not share the sidecar `x.yaml`: the
  /// sidecar is claimed with the image (the second claim happens while the first run trains).
  @Test func theSidecarIsClaimedWithTheImage() throws {
    let dir = try TestFiles.temporaryDirectory("hostile-sidecar")
    let first = try OutputNaming.claim(dir + "/c/x.png")
    let second = try OutputNaming.claim(dir + "/c/x.jpg")
    #expect(first == dir + "/c/x.png")
    #expect(second == dir + "/c/x-1.jpg")
    #expect(Self.files(dir + "/c") == ["x-1.jpg", "x-1.yaml", "x.png", "x.yaml"])
    // Through the binary: the first run's sidecar stays its own.
    guard let a = try Self.render(Self.config(), in: dir, ["-o", "d/x.png"]) else { return }
    guard let b = try Self.render(Self.config(), in: dir, ["-o", "d/x.jpg"]) else { return }
    #expect(a.status == 0 && b.status == 0, "\(a.err) \(b.err)")
    #expect(Self.files(dir + "/d") == ["x-1.jpg", "x-1.yaml", "x.png", "x.yaml"])
    // The sidecar names its own image (by name: it resolves where the sidecar is run).
    #expect(try TestFiles.read(dir + "/d/x.yaml").contains("\noutput: x.png\n"))
  }

  @Test func longNamesStaleTemporariesAndAbandonedClaims() throws {
    let dir = try TestFiles.temporaryDirectory("hostile-long")
    // 254 bytes: the image and its sidecar fit the 255-byte limit, the temporaries must too.
    let long = String(repeating: "n", count: 250) + ".png"
    guard let r = try Self.render(Self.config(), in: dir, ["-o", "o/" + long]) else { return }
    #expect(r.status == 0, "\(r.err)")
    #expect(try PNG.read(path: dir + "/o/" + long).shape == [3, 16, 16])
    // A writer killed mid-write (its process is gone) left a temporary of our naming, and a
    // killed run left its empty claim: both are cleaned when the same name is written.
    let stale = dir + "/o/.s.png.2147483646-abc.tmp"
    let foreign = dir + "/o/.s.png.notours.tmp"
    for path in [stale, foreign] {
      FileManager.default.createFile(atPath: path, contents: Data([1]))
    }
    FileManager.default.createFile(atPath: dir + "/o/s.png", contents: Data())
    try TestFiles.write(
      "# clipig render in progress, process 2147483646\n", to: dir + "/o/s.yaml")
    guard let s = try Self.render(Self.config(), in: dir, ["-o", "o/s.png"]) else { return }
    #expect(s.status == 0, "\(s.err)")
    #expect(!FileManager.default.fileExists(atPath: stale))
    #expect(FileManager.default.fileExists(atPath: foreign), "only our own naming is removed")
    #expect(try PNG.read(path: dir + "/o/s.png").shape == [3, 16, 16])
    #expect(try TestFiles.read(dir + "/o/s.yaml").contains("\noutput: s.png\n"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/o/s-1.png"))
  }

  /// Mounts a tmpfs of `size` at a fresh folder (`options` e.g. "ro"); nil (a failure under CI)
  /// when mounting is not possible here.
  static func tmpfs(size: String, options: String = "") throws -> String? {
    let dir = try TestFiles.temporaryDirectory("hostile-tmpfs")
    let mount = ChildProcess.find("mount", also: ["/usr/bin", "/bin"])
    guard let mount,
      let r = try? ChildProcess.run(
        mount,
        [
          "-t", "tmpfs", "-o", "size=\(size)" + (options.isEmpty ? "" : "," + options),
          "tmpfs", dir,
        ]), r.status == 0
    else {
      if isCI { Issue.record("cannot mount a tmpfs (root and mount(8) are needed)") }
      return nil
    }
    return dir
  }

  static func unmount(_ dir: String) {
    if let umount = ChildProcess.find("umount", also: ["/usr/bin", "/bin"]) {
      _ = try? ChildProcess.run(umount, [dir])
    }
  }

  @Test func aFullDiskLeavesNothingBehind() throws {
    guard let disk = try Self.tmpfs(size: "64k") else { return }
    defer { Self.unmount(disk) }
    // Fill the disk but for a few kilobytes: the claims (empty files) fit, the image does not.
    let filler = disk + "/filler"
    _ = FileManager.default.createFile(
      atPath: filler, contents: Data(repeating: 7, count: 64 * 1024 - 8192))
    let dir = try TestFiles.temporaryDirectory("hostile-full")
    guard let r = try Self.render(Self.config(resolution: "128"), in: dir, ["-o", disk + "/x.png"])
    else { return }
    #expect(r.status == 1, "\(r.err)")
    #expect(r.err.contains("No space left on device"), "\(r.err)")
    Self.expectNoRawError(r, "full disk")
    #expect(Self.files(disk) == ["filler"], "\(Self.files(disk))")
  }

  // MARK: - 4. Non-finite values

  @Test func nonFiniteParametersAreRefusedAtLoad() throws {
    let cases: [(String, String)] = [
      (Self.config("learnrate: .nan\n"), "learnrate"),
      (Self.config().replacingOccurrences(of: "noise: 0.1", with: "noise: .inf"), "noise"),
      (Self.config("init: {mean: .nan}\n"), "init.mean"),
      (Self.config("init: {std: [0.1, -.inf, 0.1]}\n"), "init.std"),
      (
        Self.config().replacingOccurrences(
          of: "- text: a cat", with: "- text: a cat\n        weight: .nan"),
        "weight"
      ),
    ]
    for (yaml, key) in cases {
      let dir = try TestFiles.temporaryDirectory("hostile-nan")
      guard let r = try Self.render(yaml, in: dir) else { return }
      #expect(r.status == 1, "\(key): \(r.err)")
      #expect(r.err.contains(key) && r.err.contains("finite"), "\(key): \(r.err)")
      #expect(Self.files(dir) == ["x.yaml"])
    }
  }

  /// Finite parameters whose product overflows Float from the second epoch on (`epoch` = 1): the views (then the
  /// loss) or the post-processed pixels become infinite or NaN. The run stops naming the
  /// epoch, keeps the last good image (epoch 0's) and notes the stop in the sidecar. (A run
  /// that fails in its first epoch keeps nothing: `aRenderFailingInItsFirstEpochLeavesNoFile`.)
  @Test func nonFiniteValuesDuringTrainingStopTheRun() throws {
    let cases: [(String, String)] = [
      (
        Self.config().replacingOccurrences(
          of: "- noise: 0.1",
          with: "- noise: 0.1\n      - mul: 1+epoch*1e30\n      - mul: 1+epoch*1e30"),
        "epoch 2: the loss became NaN"
      ),
      (
        Self.config("postproc:\n  - mul: 1+epoch*1e30\n  - mul: 1+epoch*1e30\n"),
        "epoch 2: the pixels after post-processing became"
      ),
    ]
    for (yaml, message) in cases {
      let dir = try TestFiles.temporaryDirectory("hostile-runtime-nan")
      guard let r = try Self.render(yaml, in: dir, ["-o", "out/r.png"]) else { return }
      #expect(r.status == 1, "\(r.err)")
      #expect(r.err.contains(message), "\(r.err)")
      let image = try PNG.read(path: dir + "/out/r.png")
      #expect(image.shape == [3, 16, 16])
      #expect(image.scalars.allSatisfy { $0.isFinite })
      // `epoch` is 1 in the second epoch; the error and the sidecar both count from 1: 2.
      #expect(try TestFiles.read(dir + "/out/r.yaml").contains("# stopped by an error at epoch 2"))
    }
  }

  // MARK: - 5. Clear errors

  @Test func fileSystemErrorsAreOneSentence() throws {
    let dir = try TestFiles.temporaryDirectory("hostile-errors")
    try TestFiles.write("a file", to: dir + "/file")
    var cases: [([String], String)] = [
      (["-o", "file/x.png"], "not a folder"),
      (["-o", "file/sub/x.png"], "not a folder"),
      (["-o", String(repeating: "l", count: 300) + ".png"], "File name too long"),
    ]
    let readOnly = try Self.tmpfs(size: "64k", options: "ro")
    defer { readOnly.map(Self.unmount) }
    if let readOnly { cases.append((["-o", readOnly + "/x.png"], "Read-only file system")) }
    for (arguments, message) in cases {
      guard let r = try Self.render(Self.config(), in: dir, arguments) else { return }
      #expect(r.status == 1, "\(arguments): \(r.err)")
      #expect(r.err.contains(message), "\(arguments): \(r.err)")
      #expect(r.err.split(separator: "\n").count == 1, "\(arguments): \(r.err)")
      Self.expectNoRawError(r, "\(arguments)")
    }
    #expect(Self.files(dir) == ["file", "x.yaml"], "\(Self.files(dir))")
  }
}
