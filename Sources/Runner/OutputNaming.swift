import Foundation

/// Output file names (spec §9.1), with CLIPig's defects fixed: `-o name` without an extension
/// gets `.png`, stdin without `-o` writes `clipig.png`, and a name is claimed atomically so
/// parallel runs never collide or overwrite anything.
public enum OutputNaming {
  /// The requested image path before uniquifying.
  ///
  /// - Parameters:
  ///   - configOutput: the configuration's `output` value.
  ///   - lastConfigFile: the last YAML file given (`-` for stdin).
  ///   - commandLine: the `-o` option, if any.
  public static func requestedPath(
    configOutput: String, lastConfigFile: String?, commandLine: String?
  ) -> String {
    let stem: String = {
      guard let file = lastConfigFile, file != "-" else { return "clipig" }
      let base = (file as NSString).lastPathComponent
      let dot = base.lastIndex(of: ".")
      return dot.map { String(base[..<$0]) } ?? base
    }()
    var name: String
    if configOutput.isEmpty || configOutput.hasSuffix("/") {
      name = (configOutput.isEmpty ? "./" : configOutput) + stem + ".png"
    } else {
      name = configOutput
    }
    if let cli = commandLine {
      if cli.hasSuffix("/") {
        name = cli + (name as NSString).lastPathComponent
      } else {
        name = cli
      }
    }
    if (name as NSString).pathExtension.isEmpty { name += ".png" }
    return name
  }

  /// Claims a free name for `path` and its `.yaml` sidecar: `img.png`, else `img-N.png` with N
  /// one above the largest existing number. The image path is created empty with O_EXCL, so two
  /// processes can never get the same name. Missing directories are created.
  public static func claim(_ path: String) throws -> String {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let directory = url.deletingLastPathComponent().path
    try FileManager.default.createDirectory(atPath: directory, withIntermediateDirectories: true)
    let ext = url.pathExtension
    var stem = url.deletingPathExtension().lastPathComponent
    var remembered = 0
    if let dash = stem.lastIndex(of: "-"), let n = Int(stem[stem.index(after: dash)...]), n >= 0,
      !stem[stem.index(after: dash)...].contains("+")
    {
      remembered = n
      stem = String(stem[..<dash])
    }
    var candidate = url.path
    for _ in 0..<10_000 {
      if !exists(sidecarPath(candidate)), create(candidate) { return candidate }
      let largest = largestNumber(stem: stem, ext: ext, in: directory)
      remembered = max(largest, remembered) + 1
      candidate = directory + "/" + stem + "-\(remembered)" + (ext.isEmpty ? "" : "." + ext)
    }
    throw CocoaError(.fileWriteFileExists)
  }

  /// The YAML sidecar of an image path: the extension replaced by `.yaml`.
  public static func sidecarPath(_ imagePath: String) -> String {
    (imagePath as NSString).deletingPathExtension + ".yaml"
  }

  static func exists(_ path: String) -> Bool { FileManager.default.fileExists(atPath: path) }

  static func create(_ path: String) -> Bool {
    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY, 0o644)
    guard fd >= 0 else { return false }
    close(fd)
    return true
  }

  static func largestNumber(stem: String, ext: String, in directory: String) -> Int {
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    var largest = 0
    let prefix = stem + "-"
    for f in files where f.hasPrefix(prefix) {
      var rest = f.dropFirst(prefix.count)
      if let dot = rest.firstIndex(of: ".") { rest = rest[..<dot] }
      if let n = Int(rest), n >= 0, rest.allSatisfy(\.isNumber) { largest = max(largest, n) }
    }
    return largest
  }
}
