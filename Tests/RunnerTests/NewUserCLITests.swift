import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

/// Issue 24's "what a new user meets": every command of the README tried as one would, through
/// the release binary. Expected texts and numbers come from the issue and from reasoning about
/// the inputs (line and column of a YAML written here, the rows a sort must give), never from a
/// previous run's output.
@Suite("What a new user meets, through the release binary", .serialized)
struct NewUserCLITests {
  /// Runs clipig with `arguments` in `dir`, standard output and error apart.
  static func run(
    _ arguments: [String], in dir: String, environment: [String: String?] = [:]
  ) throws -> ChildProcess.Result? {
    guard try ClipigExecutable.found() != nil else { return nil }
    return try ClipigExecutable.run(arguments, in: dir, environment: environment, timeout: 300)
  }

  /// A small render on the tiny test CLIP.
  static func config(epochs: Int = 2, target: String? = nil, extra: String = "") -> String {
    let target =
      target ?? """
        - batch_size: 2
          features:
            - text: a cat
          transforms:
            - noise: 0.1
        """
    return """
      epochs: \(epochs)
      resolution: 16
      snapshot_interval: 0
      targets:
      \(target.split(separator: "\n").map { "  " + $0 }.joined(separator: "\n"))
      \(extra)
      """
  }

  static func files(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).sorted()
  }

  static func render(_ yaml: String, in dir: String, _ arguments: [String] = [])
    throws -> ChildProcess.Result?
  {
    try TestFiles.write(yaml, to: dir + "/x.yaml")
    return try run(["render", "x.yaml", "--model", TestFiles.tinyModel] + arguments, in: dir)
  }

  // MARK: - Multi-value parameters

  /// `noise: 0.1 * t` is split at blanks into three values; the error says so and shows the
  /// parenthesised form. Blanks inside brackets never split, and the parenthesised form renders.
  @Test func aValueSplitAtBlanksSaysSoAndShowsTheParenthesisedForm() throws {
    let cases: [(value: String, count: Int, parts: String)] = [
      ("0.1 * t", 3, "('0.1', '*', 't')"),
      ("0.1 - 0.05*t", 3, "('0.1', '-', '0.05*t')"),
    ]
    for (value, count, parts) in cases {
      let dir = try TestFiles.temporaryDirectory("split-blanks")
      let yaml = Self.config().replacingOccurrences(of: "noise: 0.1", with: "noise: \(value)")
      guard let r = try Self.render(yaml, in: dir, ["-q"]) else { return }
      #expect(r.status == 1, "\(value): \(r.err)")
      #expect(r.err.contains("split at blanks into \(count) values \(parts)"), "\(r.err)")
      #expect(r.err.contains("'(\(value))'"), "\(r.err)")
      #expect(Self.files(dir) == ["x.yaml"])
    }
    for value in ["(0.1 * t)", "max(0.05, 0.1 * t)", "[0.1 * t, 0.2, 0.1]"] {
      let dir = try TestFiles.temporaryDirectory("split-brackets")
      let yaml = Self.config().replacingOccurrences(of: "noise: 0.1", with: "noise: \(value)")
      guard let r = try Self.render(yaml, in: dir, ["-q", "-o", "out.png"]) else { return }
      #expect(r.status == 0, "\(value): \(r.err)")
      #expect(try PNG.read(path: dir + "/out.png").shape == [3, 16, 16])
    }
  }

  // MARK: - similarity

  /// Three flat images of different greys, rated against one prompt.
  static func greys(in dir: String) throws -> [String] {
    try [0.1, 0.5, 0.9].enumerated().map { k, level in
      let path = dir + "/g\(k).png"
      var image = Tensor(shape: [3, 8, 8])
      for i in 0..<image.scalars.count { image.scalars[i] = Float(level) }
      try PNG.write(image, to: path)
      return path
    }
  }

  /// The values of the first column of similarity's table, in printed order.
  static func firstColumn(_ table: String) -> [Double] {
    let block = table.components(separatedBy: "\n\n")[0].split(separator: "\n").dropFirst()
    return block.compactMap { line in line.split(separator: " ").last.flatMap { Double($0) } }
  }

  @Test func similaritySortsDescendingWithMinusOneAndRefusesMissingFiles() throws {
    let dir = try TestFiles.temporaryDirectory("similarity-sort")
    let images = try Self.greys(in: dir)
    let base = ["similarity"] + images + ["-t", "a cat", "--model", TestFiles.tinyModel]
    guard let down = try Self.run(base + ["-s", "-1"], in: dir) else { return }
    #expect(down.status == 0, "\(down.err)")
    let descending = Self.firstColumn(down.out)
    #expect(descending.count == 3, "\(down.out)")
    #expect(descending == descending.sorted(by: >), "\(down.out)")
    guard let up = try Self.run(base + ["-s", "1"], in: dir) else { return }
    #expect(Self.firstColumn(up.out) == descending.reversed(), "\(up.out)")
    // A file that does not exist is a typo: an error and a failure status, no table.
    guard let missing = try Self.run(base + [dir + "/nothing.png"], in: dir) else { return }
    #expect(missing.status == 1, "\(missing.output)")
    #expect(missing.err.hasPrefix("error: \(dir)/nothing.png: no such file"), "\(missing.err)")
    #expect(missing.out.isEmpty, "\(missing.out)")
  }

  // MARK: - model

  @Test func modelVerifyOfAFolderHashesItsFiles() throws {
    let dir = try TestFiles.temporaryDirectory("verify-folder")
    guard let r = try Self.run(["model", "verify", TestFiles.tinyModel], in: dir) else { return }
    #expect(r.status == 0, "\(r.output)")
    #expect(!r.output.contains("neither"), "\(r.output)")
    #expect(r.out.contains("a local model"), "\(r.out)")
    // The weights' hash, computed here independently of clipig.
    let files = Self.files(TestFiles.tinyModel).filter { $0.hasSuffix(".safetensors") }
    #expect(files.count == 1, "\(files)")
    let weights = TestFiles.tinyModel + "/" + files[0]
    let sha = try ChildProcess.run("/usr/bin/sha256sum", [weights], timeout: 60).out
      .split(separator: " ").first.map(String.init)
    #expect(sha != nil && r.out.contains("sha256 \(sha!)"), "\(r.out)")
  }

  /// No source reachable: one line per source, then one sentence with what to do, and no
  /// advice to use a flag the command does not have.
  @Test func theOfflineErrorIsOneLinePerSourceAndOneSentence() throws {
    let dir = try TestFiles.temporaryDirectory("offline")
    // A port nothing listens on: bound, then closed.
    let socket = LoopbackPort.closed()
    let environment: [String: String?] = [
      "HF_ENDPOINT": "http://127.0.0.1:\(socket)", "CLIPIG_CACHE": dir + "/cache",
      "HF_HUB_CACHE": dir + "/hub", "HOME": dir, "http_proxy": nil, "https_proxy": nil,
      "HTTP_PROXY": nil, "HTTPS_PROXY": nil,
    ]
    guard
      let r = try Self.run(
        ["model", "download", "hf-hub:org/tiny", "--timeout", "5", "-q"], in: dir,
        environment: environment)
    else { return }
    #expect(r.status == 1, "\(r.output)")
    let lines = r.err.split(separator: "\n")
    // "error: no source of … could be downloaded:", one line for each of its two sources (the
    // safetensors and the .bin of the hub repository), the sentence; nothing said twice.
    #expect(lines.count == 4, "\(r.err)")
    #expect(lines.first?.hasPrefix("error: no source of hf-hub:org/tiny") == true, "\(r.err)")
    #expect(
      lines.dropFirst().dropLast().allSatisfy {
        $0.hasPrefix("  hub org/tiny") && $0.contains("cannot reach 127.0.0.1")
      }, "\(r.err)")
    #expect(lines.last?.contains("HF_ENDPOINT") == true, "\(r.err)")
    #expect(!r.err.contains("--model"), "\(r.err)")
    #expect(lines.allSatisfy { $0.count < 300 }, "\(r.err)")
  }

  @Test func misspelledCommandsModelsAndStagesGetSuggestions() throws {
    let dir = try TestFiles.temporaryDirectory("did-you-mean")
    try TestFiles.write(Self.config(), to: dir + "/x.yaml")
    guard let command = try Self.run(["rendr", "x.yaml"], in: dir) else { return }
    #expect(command.status != 0)
    #expect(command.err.hasPrefix("error: 'rendr' is not a clipig command"), "\(command.err)")
    #expect(command.err.contains("did you mean 'render'?"), "\(command.err)")
    guard let file = try Self.run(["x.yaml"], in: dir) else { return }
    #expect(file.status != 0)
    #expect(file.err.contains("(to render it: clipig render x.yaml)"), "\(file.err)")
    guard let model = try Self.run(["render", "x.yaml", "--model", "ViT-B/33"], in: dir) else {
      return
    }
    #expect(model.status == 1, "\(model.err)")
    #expect(model.err.contains("did you mean 'ViT-B/32'?"), "\(model.err)")
    #expect(Self.files(dir) == ["x.yaml"], "\(Self.files(dir))")
    guard let stage = try Self.run(["docs", "nosie"], in: dir) else { return }
    #expect(stage.status != 0)
    #expect(stage.err.contains("did you mean 'noise'?"), "\(stage.err)")
  }

  // MARK: - Sidecars, outputs, options

  /// The sidecar names its image without a folder: copied elsewhere and rendered, it writes
  /// into the current folder, never back into the original's.
  @Test func aCopiedSidecarWritesWhereItIsRunNotIntoTheOriginalFolder() throws {
    let dir = try TestFiles.temporaryDirectory("sidecar-copy")
    guard let first = try Self.render(Self.config(epochs: 1), in: dir, ["-q", "-o", "out/"])
    else { return }
    #expect(first.status == 0, "\(first.err)")
    let sidecar = try TestFiles.read(dir + "/out/x.yaml")
    #expect(sidecar.contains("\noutput: x.png\n"), "\(sidecar)")
    try FileManager.default.createDirectory(
      atPath: dir + "/elsewhere", withIntermediateDirectories: true)
    try TestFiles.write(sidecar, to: dir + "/elsewhere/copy.yaml")
    guard
      let again = try Self.run(
        ["render", dir + "/elsewhere/copy.yaml", "--model", TestFiles.tinyModel, "-q"],
        in: dir + "/elsewhere")
    else { return }
    #expect(again.status == 0, "\(again.err)")
    #expect(Self.files(dir + "/out") == ["x.png", "x.yaml"])
    #expect(Self.files(dir + "/elsewhere") == ["copy.yaml", "x.png", "x.yaml"])
  }

  @Test func resolutionAsWxHAnExistingFolderAndQualityWithPNG() throws {
    let dir = try TestFiles.temporaryDirectory("options")
    try FileManager.default.createDirectory(
      atPath: dir + "/folder", withIntermediateDirectories: true)
    guard
      let r = try Self.render(
        Self.config(epochs: 1), in: dir, ["-r", "16x12", "-o", "folder", "--quality", "50"])
    else { return }
    #expect(r.status == 0, "\(r.err)")
    // W×H: 16 wide, 12 high; into the folder, not a file named folder.png.
    #expect(try PNG.read(path: dir + "/folder/x.png").shape == [3, 12, 16])
    #expect(Self.files(dir) == ["folder", "x.yaml"], "\(Self.files(dir))")
    #expect(r.err.contains("warning: --quality"), "\(r.err)")
    guard let bad = try Self.render(Self.config(epochs: 1), in: dir, ["-r", "16x"]) else {
      return
    }
    #expect(bad.status != 0)
    #expect(bad.err.hasPrefix("error: -r 16x: '' is no whole number"), "\(bad.err)")
  }

  // MARK: - Warnings

  @Test func runsThatDoNothingUsefulAreWarnedAbout() throws {
    let cases: [(yaml: String, warning: String?)] = [
      ("epochs: 2\nresolution: 16\n", "no active target"),
      // Epoch 10 of a 3-epoch run (indices 0…2) never comes.
      (
        Self.config(epochs: 3).replacingOccurrences(
          of: "- batch_size", with: "- start: 10\n    batch_size"), "is never active"
      ),
      // t is 0, 0.5 and 1 in a 3-epoch run: none lies in 0.9…0.95.
      (
        Self.config(epochs: 3).replacingOccurrences(
          of: "- batch_size", with: "- start: 0.9\n    end: 0.95\n    batch_size"),
        "is never active"
      ),
      // t = 0.5 at the second epoch: active once, no warning.
      (
        Self.config(epochs: 3).replacingOccurrences(
          of: "- batch_size", with: "- start: 0.5\n    end: 0.5\n    batch_size"), nil
      ),
      (
        Self.config(epochs: 3).replacingOccurrences(
          of: "- batch_size", with: "- start: 2\n    batch_size"), nil
      ),
      (
        Self.config().replacingOccurrences(of: "text: a cat", with: "text: a {{animal}} of salami"),
        "contains {{animal}}"
      ),
    ]
    for (yaml, warning) in cases {
      let dir = try TestFiles.temporaryDirectory("warnings")
      guard let r = try Self.render(yaml, in: dir, ["-o", "out.png"]) else { return }
      #expect(r.status == 0, "\(r.err)")
      if let warning {
        #expect(r.err.contains("warning: ") && r.err.contains(warning), "\(yaml)\n\(r.err)")
      } else {
        #expect(!r.err.contains("warning:"), "\(yaml)\n\(r.err)")
      }
    }
  }

  /// A prompt longer than CLIP's 77 tokens is truncated: said once, not once per rank run.
  @Test func theTruncationWarningComesOncePerPrompt() throws {
    let dir = try TestFiles.temporaryDirectory("truncation")
    let long = Array(repeating: "cat", count: 100).joined(separator: " ")
    try TestFiles.write(
      Self.config(epochs: 1).replacingOccurrences(of: "text: a cat", with: "text: \(long)"),
      to: dir + "/x.yaml")
    guard
      let r = try Self.run(
        [
          "rank", "x.yaml", "--runs", "3", "--epochs", "1", "--keep", "1", "--continue", "1",
          "-o", "ranked", "--model", TestFiles.tinyModel,
        ], in: dir)
    else { return }
    #expect(r.status == 0, "\(r.err)")
    #expect(r.err.components(separatedBy: "was truncated").count - 1 == 1, "\(r.err)")
  }

  // MARK: - rank and batch

  @Test func keepBeyondRunsIsClampedAndRoundedOnce() throws {
    let dir = try TestFiles.temporaryDirectory("rank-keep")
    try TestFiles.write(Self.config(epochs: 1), to: dir + "/x.yaml")
    guard
      let r = try Self.run(
        [
          "rank", "x.yaml", "--runs", "2", "--epochs", "1", "--keep", "5", "--continue", "1",
          "-o", "ranked//", "--model", TestFiles.tinyModel,
        ], in: dir)
    else { return }
    #expect(r.status == 0, "\(r.err)")
    #expect(r.err.contains("note: --keep 5 is more than the 2 runs: continuing 2 best"), "\(r.err)")
    #expect(!r.output.contains("//"), "\(r.output)")
    let csv = try TestFiles.read(dir + "/ranked/rank.csv").split(separator: "\n").dropFirst()
      .map { $0.split(separator: ",", omittingEmptySubsequences: false).map(String.init) }
    #expect(csv.count == 2 && csv.allSatisfy { $0[6] == "best" }, "\(csv)")
    // Every similarity is rounded once, from the value rank.json keeps: the CSV and the printed
    // line say the same two decimals.
    let state =
      try JSONSerialization.jsonObject(
        with: Data(contentsOf: URL(fileURLWithPath: dir + "/ranked/rank.json"))) as? [String: Any]
    let runs = state?["runs"] as? [[String: Any]] ?? []
    #expect(runs.count == 2)
    for run in runs {
      guard let id = run["id"] as? Int, let sim = run["similarity"] as? Double else { continue }
      let once = String(format: "%.2f", sim)
      let row = csv.first { $0[1] == String(id) }
      #expect(row?[3] == once, "\(id): \(row ?? []) vs \(sim)")
      #expect(r.out.contains("#\(id) sim: \(once)"), "\(r.out)")
    }
  }

  /// batch and rank follow one rule: other files in the folder are fine; a name the command
  /// writes, there without the command's marker, is someone else's and refused.
  @Test func batchAndRankAgreeOnNonEmptyFolders() throws {
    let dir = try TestFiles.temporaryDirectory("folders")
    try TestFiles.write(Self.config(epochs: 1), to: dir + "/template.yaml")
    try TestFiles.write(
      "template: template.yaml\nname: \"{{v}}\"\nvariables:\n  v: [a]\n", to: dir + "/grid.yaml")
    let model = ["--model", TestFiles.tinyModel, "-q"]
    let rank = ["rank", "template.yaml", "--runs", "1", "--epochs", "1", "--continue", "0"] + model
    for folder in ["b", "r"] {
      try TestFiles.write("mine", to: dir + "/\(folder)/notes.txt")
    }
    guard let batchOK = try Self.run(["batch", "grid.yaml", "-o", "b"] + model, in: dir),
      let rankOK = try Self.run(rank + ["-o", "r"], in: dir)
    else { return }
    #expect(batchOK.status == 0, "\(batchOK.err)")
    #expect(rankOK.status == 0, "\(rankOK.err)")
    try TestFiles.write("someone's", to: dir + "/b2/manifest.csv")
    try TestFiles.write("someone's", to: dir + "/r2/short/x.png")
    guard let batchNo = try Self.run(["batch", "grid.yaml", "-o", "b2"] + model, in: dir),
      let rankNo = try Self.run(rank + ["-o", "r2"], in: dir)
    else { return }
    #expect(batchNo.status == 1 && batchNo.err.contains("not a clipig batch directory"))
    #expect(rankNo.status == 1 && rankNo.err.contains("not a clipig rank directory"))
    #expect(Self.files(dir + "/b2") == ["manifest.csv"], "\(Self.files(dir + "/b2"))")
    #expect(Self.files(dir + "/r2") == ["short"], "\(Self.files(dir + "/r2"))")
  }

  // MARK: - Errors

  /// A missing image names the file, line and column of its key and the folder relative paths
  /// resolve against.
  @Test func aMissingImageNamesItsPlaceAndTheFolder() throws {
    let dir = try TestFiles.temporaryDirectory("missing-image")
    let yaml = """
      epochs: 1
      resolution: 16
      init:
        image: pics/missing.png
      targets:
        - features:
            - text: a cat

      """
    try TestFiles.write(yaml, to: dir + "/conf/x.yaml")
    guard
      let r = try Self.run(
        ["render", "conf/x.yaml", "--model", TestFiles.tinyModel, "-o", "out.png"], in: dir)
    else { return }
    #expect(r.status == 1, "\(r.err)")
    // Line 4, the value after "  image: " (9 characters) starts at column 10.
    #expect(r.err.hasPrefix("conf/x.yaml:4:10: error: 'init.image': conf/pics/missing.png"))
    let real = URL(fileURLWithPath: dir).resolvingSymlinksInPath().path
    #expect(
      r.err.contains("resolve against \(real)/conf") || r.err.contains("against \(dir)/conf"),
      "\(r.err)")
    #expect(Self.files(dir) == ["conf"], "\(Self.files(dir))")
  }

  @Test func everyErrorHasOneStyleAndEpochsCountFromOne() throws {
    let dir = try TestFiles.temporaryDirectory("style")
    try TestFiles.write(Self.config(), to: dir + "/x.yaml")
    let image = try Self.greys(in: dir)[0]
    let cases: [[String]] = [
      ["render", "missing.yaml"],
      ["render", "x.yaml", "-e", "abc"],
      ["model", "verify", "ViT-B/33"],
      ["similarity", image],
      ["schedule", "x.yaml", "--epoch", "-1"],
      ["docs", "nosie"],
    ]
    for arguments in cases {
      guard let r = try Self.run(arguments, in: dir) else { return }
      #expect(r.status != 0, "\(arguments)")
      // `error: …`, or `PLACE: error: …` for an error with a place (file:line:col).
      let first = r.err.split(separator: "\n").first.map(String.init) ?? ""
      #expect(first.hasPrefix("error: ") || first.contains(": error: "), "\(arguments): \(r.err)")
      #expect(!r.err.contains("Error: "), "\(arguments): \(r.err)")
    }
    // The largest count a run can reach, refused with the bound, not a trap.
    guard
      let huge = try Self.run(
        ["render", "x.yaml", "--model", TestFiles.tinyModel, "-e", "9223372036854775807"], in: dir)
    else { return }
    #expect(huge.status == 1)
    #expect(huge.err.contains("epochs must be at most 1000000000"), "\(huge.err)")
  }

  // MARK: - Progress line

  /// On a terminal the progress line is rewritten after a carriage return: replayed as a
  /// terminal shows it, the screen's line is always the latest progress line, nothing of a
  /// longer one before it left over. (Runs under `script`, which gives it a pseudo-terminal.)
  @Test func theProgressLineClearsWhatItOverwrites() throws {
    guard let binary = try ClipigExecutable.found() else { return }
    guard let script = ChildProcess.find("script") else {
      if ClipigExecutable.isRequired { Issue.record("script (util-linux) is not installed") }
      return
    }
    let dir = try TestFiles.temporaryDirectory("progress")
    try TestFiles.write(Self.config(epochs: 1500), to: dir + "/x.yaml")
    let command =
      "'\(binary)' render x.yaml --model '\(TestFiles.tinyModel)' -o out.png 2>&1"
    let r = try ChildProcess.run(
      script, ["-qec", command, "/dev/null"], directory: dir, timeout: 300)
    #expect(r.status == 0, "\(r.output)")
    // The text written to the line: carriage-return-separated rewrites up to the final newline.
    let text = r.out.replacingOccurrences(of: "\r\n", with: "\n")
    let line = text.split(separator: "\n").first { $0.contains("\r") } ?? ""
    let writes = line.split(separator: "\r", omittingEmptySubsequences: true).map(String.init)
    #expect(writes.count >= 2, "\(text)")
    var screen = ""
    for write in writes {
      screen = write + screen.dropFirst(write.count)
      let shown = screen.replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
      let latest = write.replacingOccurrences(of: #"\s+$"#, with: "", options: .regularExpression)
      #expect(shown == latest, "left over: '\(screen)' after '\(write)'")
    }
  }

  // MARK: - Help, version, docs

  /// The argument parser wraps every help text: a paragraph of a command's description has no
  /// short line before its last (a hard break in the source would leave one at each break).
  @Test func helpTextIsWrappedByTheArgumentParserAlone() throws {
    let dir = try TestFiles.temporaryDirectory("help")
    let commands: [[String]] = [
      ["render"], ["schedule"], ["preview"], ["expr"], ["docs"], ["similarity"], ["model"],
      ["model", "verify"], ["rank"], ["batch"], ["gallery"], ["studio"], ["bench", "stages"],
      ["bench", "clip"], ["bench", "render"],
    ]
    for command in commands {
      guard let r = try Self.run(command + ["--help"], in: dir, environment: ["COLUMNS": "80"])
      else { return }
      #expect(r.status == 0, "\(command)")
      guard let usage = r.out.range(of: "\nUSAGE:") else { continue }
      let description = r.out[..<usage.lowerBound]
      for paragraph in description.components(separatedBy: "\n\n").dropFirst() {
        let lines = paragraph.split(separator: "\n")
        for line in lines.dropLast() where !line.hasPrefix(" ") {
          #expect(line.count >= 55, "\(command): a short line '\(line)' in:\n\(paragraph)")
        }
      }
    }
  }

  @Test func versionDocsCompletionAndHelp() throws {
    let dir = try TestFiles.temporaryDirectory("version")
    guard let version = try Self.run(["--version"], in: dir) else { return }
    #expect(version.status == 0, "\(version.err)")
    #expect(version.out.contains("release build"), "\(version.out)")
    if let git = ChildProcess.find("git") {
      let head = try ChildProcess.run(
        git, ["-C", ClipigExecutable.repository.path, "rev-parse", "HEAD"], timeout: 60
      ).out.trimmingCharacters(in: .whitespacesAndNewlines)
      #expect(
        head.count == 40 && version.out.contains("commit \(head.prefix(12))"), "\(version.out)")
    }
    guard let docs = try Self.run(["docs", "noise"], in: dir) else { return }
    #expect(docs.status == 0)
    #expect(docs.out.hasPrefix("### `noise`"), "\(docs.out.prefix(200))")
    #expect(docs.out.components(separatedBy: "### ").count == 2, "one stage only")
    guard let completion = try Self.run(["--generate-completion-script", "bash"], in: dir),
      let help = try Self.run(["--help"], in: dir),
      let schedule = try Self.run(["schedule", "--help"], in: dir)
    else { return }
    #expect(completion.status == 0 && completion.out.contains("_clipig"))
    #expect(help.out.contains("--generate-completion-script"), "\(help.out)")
    #expect(schedule.out.contains("samples the first and the last epoch"), "\(schedule.out)")
  }
}

/// A TCP port on the loopback that nothing listens on (bound, then closed).
enum LoopbackPort {
  static func closed() -> Int {
    let fd = socket(AF_INET, Int32(SOCK_STREAM.rawValue), 0)
    defer { close(fd) }
    var address = sockaddr_in()
    address.sin_family = sa_family_t(AF_INET)
    address.sin_addr.s_addr = inet_addr("127.0.0.1")
    address.sin_port = 0
    var length = socklen_t(MemoryLayout<sockaddr_in>.size)
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { bind(fd, $0, length) }
    }
    _ = withUnsafeMutablePointer(to: &address) {
      $0.withMemoryRebound(to: sockaddr.self, capacity: 1) { getsockname(fd, $0, &length) }
    }
    return Int(UInt16(bigEndian: address.sin_port))
  }
}
