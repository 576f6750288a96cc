import Formats
import Foundation

/// Output file names (CLIPig's output names), with CLIPig's defects fixed: `-o name` without an extension
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
    if configOutput.isEmpty || configOutput.hasSuffix("/") || isDirectory(configOutput) {
      name = FileIO.path(stem + ".png", in: configOutput.isEmpty ? "." : configOutput)
    } else {
      name = configOutput
    }
    if let cli = commandLine {
      if cli.hasSuffix("/") || isDirectory(cli) {
        // `-o out` naming an existing folder writes into it, as `-o out/` does.
        name = FileIO.path((name as NSString).lastPathComponent, in: cli)
      } else {
        name = cli
      }
    }
    if (name as NSString).pathExtension.isEmpty { name += ".png" }
    return name
  }

  /// Whether `path` is an existing folder (or a link to one).
  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return !path.isEmpty && stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// Refuses output names that cannot work: an empty `-o`, a `-o` that is a device or another
  /// non-regular file (`/dev/null`), an image named `.yaml` (its sidecar would be the same file,
  /// and with `-o x.yaml` the configuration itself), or an image name without a stem (`.png`).
  public static func validate(requested: String, commandLine: String?) throws(FileIOError) {
    if let cli = commandLine {
      guard !cli.isEmpty else {
        throw FileIOError(path: "-o ''", message: "-o needs an image file or folder name")
      }
      var info = stat()
      if stat(cli, &info) == 0 {
        let type = info.st_mode & S_IFMT
        if type != S_IFDIR && type != S_IFREG {
          throw FileIOError(
            path: cli,
            message: "is not a regular file or a folder; -o names the image file or its folder")
        }
      }
    }
    let name = (requested as NSString).lastPathComponent
    let ext = (name as NSString).pathExtension.lowercased()
    if ext == "yaml" || ext == "yml" {
      throw FileIOError(
        path: requested,
        message: "an image cannot have the extension .\(ext): its .yaml sidecar (the "
          + "configuration as run) would be the same file; name the image .png")
    }
    if name.isEmpty || name.lastIndex(of: ".") == name.startIndex {
      throw FileIOError(path: requested, message: "the image name has nothing before its extension")
    }
    // `-o .jpg` would write a hidden `.jpg.png`: a name that is only an extension names nothing.
    let stem = (name as NSString).deletingPathExtension
    if stem.hasPrefix("."), !stem.dropFirst().contains("."),
      Self.imageLikeExtensions.contains(stem.dropFirst().lowercased())
    {
      throw FileIOError(
        path: requested,
        message: "\(stem) is only an extension; name the image, e.g. image\(stem.lowercased())")
    }
  }

  /// Claims a free name for `path` and (with `sidecar`) its `.yaml` sidecar: `img.png`, else
  /// `img-N.png` with N one above the largest existing number. The image and the sidecar are
  /// both created with O_EXCL, so two processes can never get the same image or sidecar (also
  /// `-o c/x.png` beside `-o c/x.tif`). The sidecar placeholder records this process's id, so a
  /// claim left empty by a killed run is reused. Missing directories are created.
  public static func claim(_ path: String, sidecar: Bool = true) throws(FileIOError) -> String {
    let url = URL(fileURLWithPath: path).standardizedFileURL
    let directory = url.deletingLastPathComponent().path
    try FileIO.createParentDirectory(of: url.path)
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
      if sidecar { removeAbandonedClaim(candidate) }
      if try create(candidate, content: []) {
        guard sidecar else { return candidate }
        let marker = Array("\(placeholderPrefix)\(getpid())\n".utf8)
        let claimed: Bool
        do {
          claimed = try create(sidecarPath(candidate), content: marker)
        } catch {
          // A full disk or a read-only folder: no empty image stays behind.
          _ = unlink(candidate)
          throw error
        }
        if claimed { return candidate }
        _ = unlink(candidate)
      }
      let largest = largestNumber(stem: stem, ext: ext, in: directory)
      remembered = max(largest, remembered) + 1
      candidate = FileIO.fittingName(
        directory + "/" + stem + "-\(remembered)" + (ext.isEmpty ? "" : "." + ext))
    }
    throw FileIOError(path: path, message: "no free name after 10000 tries")
  }

  /// Removes the claimed image and sidecar of a run that failed before writing them (each only
  /// while it is still the empty placeholder), so a failure leaves nothing behind.
  public static func releaseClaim(_ imagePath: String) {
    let side = sidecarPath(imagePath)
    if isPlaceholder(side, ofProcess: getpid()) { _ = unlink(side) }
    if size(imagePath) == 0 && !FileManager.default.fileExists(atPath: side) {
      _ = unlink(imagePath)
    }
  }

  /// Extensions that, alone as a name (`.jpg`), mean an image format rather than a name.
  static let imageLikeExtensions: Set<String> = [
    "png", "jpg", "jpeg", "webp", "gif", "tif", "tiff", "bmp", "yaml", "yml",
  ]

  /// The first line of a sidecar placeholder, followed by the claiming process's id.
  static let placeholderPrefix = "# clipig render in progress, process "

  /// A claim whose process is gone (killed, trapped) and whose image is still empty is freed.
  static func removeAbandonedClaim(_ imagePath: String) {
    let side = sidecarPath(imagePath)
    guard size(imagePath) == 0, let pid = placeholderProcess(side), kill(pid, 0) != 0,
      errno == ESRCH
    else { return }
    _ = unlink(imagePath)
    _ = unlink(side)
  }

  static func placeholderProcess(_ path: String) -> pid_t? {
    guard size(path).map({ $0 < 100 }) == true,
      let bytes = try? FileIO.readBytes(path: path, maxBytes: 100)
    else { return nil }
    let text = String(decoding: bytes, as: UTF8.self)
    guard text.hasPrefix(placeholderPrefix) else { return nil }
    return pid_t(
      text.dropFirst(placeholderPrefix.count).trimmingCharacters(in: .whitespacesAndNewlines))
  }

  static func isPlaceholder(_ path: String, ofProcess pid: pid_t) -> Bool {
    placeholderProcess(path) == pid
  }

  static func size(_ path: String) -> Int? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int(info.st_size)
  }

  /// The YAML sidecar of an image path: the extension replaced by `.yaml` (shortened by
  /// `FileIO.fittingName` when `.yaml` makes a legal image name too long).
  public static func sidecarPath(_ imagePath: String) -> String {
    FileIO.fittingName((imagePath as NSString).deletingPathExtension + ".yaml")
  }

  /// Creates `path` with O_EXCL holding `content`: false when it exists, an error for any
  /// other reason (a read-only file system, a parent that is a file, a name too long).
  static func create(_ path: String, content: [UInt8]) throws(FileIOError) -> Bool {
    let fd = open(path, O_CREAT | O_EXCL | O_WRONLY | O_CLOEXEC, 0o644)
    guard fd >= 0 else {
      if errno == EEXIST { return false }
      throw FileIOError(
        path: path, message: "cannot create the file: \(String(cString: strerror(errno)))")
    }
    let written = content.withUnsafeBytes { write(fd, $0.baseAddress, $0.count) }
    close(fd)
    if written != content.count {
      _ = unlink(path)
      throw FileIOError(
        path: path, message: "cannot write the file: \(String(cString: strerror(errno)))")
    }
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
