import Formats
import Foundation
import PipelineKit
import Runner
import TestSupport
import Testing

/// Issue 24's crashes, hangs and lost files, driven through the release binary the way the
/// probe did: a closed standard error, checkpoints that are no files or too large, shard ids
/// near Int64.max, long output names, a full disk at the claim, `-o .jpg`.
@Suite("Hostile input, round 3, through the release binary", .serialized)
struct HostileRound3CLITests {
  struct Run {
    var status: Int32
    var output: String
  }

  /// Runs `executable` with `arguments` in `dir`, output and error together, killed after
  /// `seconds` (a hang is a failure, never a hung test); a signal's end is a negative status.
  static func run(
    _ executable: String, _ arguments: [String], in dir: String,
    environment: [String: String] = [:], seconds: Double = 120
  ) throws -> Run {
    let result = try ChildProcess.run(
      executable, arguments, environment: environment, directory: dir, mergingErrors: true,
      timeout: seconds)
    return Run(status: result.exited ? result.status : -result.status, output: result.out)
  }

  /// The binary, nil (skip) when not built outside CI.
  static func binary() throws -> String? { try ClipigExecutable.found() }

  static func config(epochs: Int = 3, snapshots: String = "0") -> String {
    """
    epochs: \(epochs)
    resolution: 16
    snapshot_interval: \(snapshots)
    verbose: 0
    targets:
      - batch_size: 2
        features:
          - text: a cat

    """
  }

  static func files(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
  }

  // MARK: - 1. A closed standard error

  /// `clipig render … 2>&1 | head -1`: the next write meets EPIPE; the render ends as after
  /// SIGTERM (exit 128 + SIGPIPE, image, sidecar and checkpoint kept), not with a trap (132)
  /// and a 0-byte image.
  @Test func aClosedStandardErrorEndsTheRenderLikeSIGTERM() throws {
    guard let b = try Self.binary() else { return }
    let dir = try TestFiles.temporaryDirectory("closed-stderr")
    try TestFiles.write(Self.config(epochs: 1_000_000, snapshots: "1"), to: dir + "/x.yaml")
    let script =
      "\"$0\" render x.yaml --model \"$1\" -o out/x.png -v 2>&1 | head -1; "
      + "echo \"clipig exit ${PIPESTATUS[0]}\""
    let r = try Self.run(
      "/bin/bash", ["-c", script, b, TestFiles.tinyModel], in: dir, seconds: 180)
    #expect(r.output.contains("clipig exit \(128 + SIGPIPE)"), "\(r.output)")
    let image = dir + "/out/x.png"
    #expect(try PNG.read(path: image).shape == [3, 16, 16])
    let sidecar = try TestFiles.read(dir + "/out/x.yaml")
    #expect(sidecar.contains("# interrupted at epoch"), "\(sidecar.prefix(300))")
    #expect(FileManager.default.fileExists(atPath: Checkpoint.path(forImage: image)))
  }

  // MARK: - 2. Checkpoints (and configurations) that are no regular files or too large

  @Test func checkpointsThatAreNoFilesOrTooLargeAreRefusedBeforeAnyRead() throws {
    guard let b = try Self.binary() else { return }
    let cases: [(name: String, make: (String) -> Void, message: String)] = [
      ("FIFO", { #expect(mkfifo($0, 0o644) == 0) }, "FIFO"),
      (
        "link to /dev/zero",
        { #expect(symlink("/dev/zero", $0) == 0) }, "device"
      ),
      (
        "3 GiB file",
        { path in
          let fd = open(path, O_CREAT | O_WRONLY, 0o644)
          #expect(ftruncate(fd, 3 << 30) == 0)  // sparse: no disk space used
          close(fd)
        },
        "more than the limit"
      ),
    ]
    for (name, make, message) in cases {
      let dir = try TestFiles.temporaryDirectory("hostile-checkpoint")
      try TestFiles.write(Self.config(), to: dir + "/x.yaml")
      try FileManager.default.createDirectory(
        atPath: dir + "/out", withIntermediateDirectories: true)
      make(Checkpoint.path(forImage: dir + "/out/x.png"))
      let r = try Self.run(
        b, ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/x.png", "-q"], in: dir,
        seconds: 60)
      #expect(r.status == 1, "\(name): \(r.status) \(r.output)")
      #expect(r.output.contains("checkpoint"), "\(name): \(r.output)")
      #expect(r.output.contains(message), "\(name): \(r.output)")
    }
    // A configuration that is a FIFO does not block either.
    let dir = try TestFiles.temporaryDirectory("hostile-fifo-yaml")
    #expect(mkfifo(dir + "/x.yaml", 0o644) == 0)
    let r = try Self.run(
      b, ["render", "x.yaml", "--model", TestFiles.tinyModel, "-q"], in: dir, seconds: 60)
    #expect(r.status == 1, "\(r.output)")
    #expect(r.output.contains("FIFO"), "\(r.output)")
  }

  @Test func theCheckpointBoundFollowsTheRun() throws {
    let small = try Experiment(try YAML.parse(Self.config(), file: "a.yaml"))
    let limit = try Checkpoint.sizeLimit(for: small, seed: 1)
    // 16×16 pixels: the parameters and three optimizer buffers (Float32) of the largest
    // parametrization fit, a 3 GiB file does not.
    #expect(limit >= 4 * 4 * 3 * 16 * 16)
    #expect(limit < 1 << 30)
    let large = try Experiment(
      try YAML.parse(Self.config().replacingOccurrences(of: "16", with: "1024"), file: "b.yaml"))
    #expect(try Checkpoint.sizeLimit(for: large, seed: 1) >= 4 * 4 * 3 * 1024 * 1024)
  }

  // MARK: - 3. Shard ids and counts near Int64.max

  @Test func slurmIdsNearInt64MaxAreClearErrors() throws {
    guard let b = try Self.binary() else { return }
    let dir = try TestFiles.temporaryDirectory("hostile-shard")
    try TestFiles.write(Self.config(), to: dir + "/template.yaml")
    let grid = dir + "/grid.yaml"
    try TestFiles.write(
      "template: template.yaml\nname: \"{{v}}\"\nvariables:\n  v: [a, b, c]\n", to: grid)
    let max = String(Int64.max)
    let cases: [[String: String]] = [
      ["SLURM_ARRAY_TASK_ID": max, "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_MAX": max],
      ["SLURM_ARRAY_TASK_ID": max, "SLURM_ARRAY_TASK_MIN": "0", "SLURM_ARRAY_TASK_COUNT": max],
    ]
    for environment in cases {
      let r = try Self.run(
        b, ["batch", grid, "-o", dir + "/out", "--list"], in: dir,
        environment: environment, seconds: 60)
      #expect(r.status == 1, "\(environment): \(r.status) \(r.output)")
      #expect(r.output.contains("SLURM_ARRAY_TASK"), "\(r.output)")
    }
  }

  // MARK: - 4, 5, 8. Output names

  /// A legal name of 255 bytes renders with snapshots (and so checkpoints) and its sidecar.
  @Test func theLongestLegalOutputNameGetsItsSidecarAndCheckpoint() throws {
    guard let b = try Self.binary() else { return }
    let dir = try TestFiles.temporaryDirectory("hostile-long-name")
    try TestFiles.write(Self.config(epochs: 4, snapshots: "1"), to: dir + "/x.yaml")
    let name = String(repeating: "n", count: 251) + ".png"
    #expect(name.utf8.count == 255)
    let r = try Self.run(
      b, ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/" + name, "-q"], in: dir)
    #expect(r.status == 0, "\(r.output)")
    #expect(try PNG.read(path: dir + "/out/" + name).shape == [3, 16, 16])
    let sidecar = OutputNaming.sidecarPath(dir + "/out/" + name)
    #expect(try TestFiles.read(sidecar).contains("epochs: 4"))
    #expect(Self.files(dir + "/out").count == 2, "\(Self.files(dir + "/out"))")
    // A second run takes the next name, shortened to fit, with its own sidecar.
    let again = try Self.run(
      b, ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", "out/" + name, "-q"], in: dir)
    #expect(again.status == 0, "\(again.output)")
    let names = Self.files(dir + "/out")
    #expect(names.count == 4, "\(names)")
    #expect(names.allSatisfy { $0.utf8.count <= 255 })
  }

  @Test func aNameThatIsOnlyAnExtensionIsRefused() throws {
    guard let b = try Self.binary() else { return }
    let dir = try TestFiles.temporaryDirectory("hostile-ext-only")
    try TestFiles.write(Self.config(), to: dir + "/x.yaml")
    for output in [".jpg", "out/.png", ".WEBP"] {
      let r = try Self.run(
        b, ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", output, "-q"], in: dir)
      #expect(r.status == 1, "\(output): \(r.output)")
      #expect(r.output.contains("only an extension"), "\(output): \(r.output)")
    }
    #expect(Self.files(dir) == ["x.yaml"], "\(Self.files(dir))")
  }

  /// A disk so full that the empty image claim fits but the sidecar's placeholder does not:
  /// nothing stays behind (the image claim was left as a 0-byte file).
  @Test func aDiskFullAtTheSidecarClaimLeavesNoEmptyImage() throws {
    guard let b = try Self.binary() else { return }
    guard let disk = try HostileInputCLITests.tmpfs(size: "64k") else { return }
    defer { HostileInputCLITests.unmount(disk) }
    let filler = disk + "/filler"
    let fd = open(filler, O_CREAT | O_WRONLY, 0o644)
    let page = [UInt8](repeating: 7, count: 4096)
    while write(fd, page, page.count) > 0 {}
    close(fd)
    let dir = try TestFiles.temporaryDirectory("hostile-full-claim")
    try TestFiles.write(Self.config(), to: dir + "/x.yaml")
    let r = try Self.run(
      b, ["render", "x.yaml", "--model", TestFiles.tinyModel, "-o", disk + "/x.png", "-q"], in: dir)
    #expect(r.status == 1, "\(r.output)")
    #expect(r.output.contains("No space left on device"), "\(r.output)")
    #expect(Self.files(disk) == ["filler"], "\(Self.files(disk))")
  }
}
