import CLIP
import Formats
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where downloaded models live: `$CLIPIG_CACHE`, else `$XDG_CACHE_HOME/clipig`, else
/// `~/.cache/clipig`, with one folder per source (`openai/ViT-B-32.pt`,
/// `huggingface/openai--clip-vit-base-patch32/model.safetensors`). Next to each downloaded file
/// a `<file>.sha256` line in `sha256sum` format records the verified hash.
///
/// CLIPig's own cache (`~/.cache/clip`, where OpenAI's `clip.load` downloads) is searched too, so
/// an existing `ViT-B-32.pt` is reused instead of downloaded again, and so is the Hugging Face
/// cache where open_clip downloads (`models--ORG--NAME/snapshots/REV/FILE`).
public struct ModelCache: Sendable, Equatable {
  /// The cache folder.
  public var directory: String
  /// Folders searched for OpenAI's `.pt` files downloaded by other programs.
  public var legacyDirectories: [String]
  /// The home folder (for `~/` in paths).
  public var home: String
  /// The Hugging Face hub to download from: `$HF_ENDPOINT` (a mirror), else huggingface.co.
  public var hubEndpoint: String
  /// `$HF_TOKEN`, sent to the hub as `Authorization: Bearer` (gated or private repositories).
  public var hubToken: String?
  /// The Hugging Face cache whose files are used in place (`$HF_HUB_CACHE`, else
  /// `$HF_HOME/hub`, else `~/.cache/huggingface/hub`); nil to use none.
  public var hubCache: String?

  /// A cache in `directory`, also looking in `legacyDirectories` and the Hugging Face cache
  /// `hubCache`, downloading hub files from `hubEndpoint`.
  public init(
    directory: String, legacyDirectories: [String] = [], home: String = NSHomeDirectory(),
    hubEndpoint: String = "https://huggingface.co", hubToken: String? = nil,
    hubCache: String? = nil
  ) {
    self.directory = directory
    self.legacyDirectories = legacyDirectories
    self.home = home
    self.hubEndpoint = hubEndpoint
    self.hubToken = hubToken
    self.hubCache = hubCache
  }

  /// The cache the environment selects (see the type's summary).
  public static func standard(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> ModelCache {
    let home = environment["HOME"].flatMap { $0.isEmpty ? nil : $0 } ?? NSHomeDirectory()
    let directory: String
    if let own = environment["CLIPIG_CACHE"], !own.isEmpty {
      directory = own
    } else if let xdg = environment["XDG_CACHE_HOME"], xdg.hasPrefix("/") {
      directory = xdg + "/clipig"
    } else {
      directory = home + "/.cache/clipig"
    }
    func value(_ key: String) -> String? { environment[key].flatMap { $0.isEmpty ? nil : $0 } }
    let hubCache =
      value("HF_HUB_CACHE") ?? value("HF_HOME").map { $0 + "/hub" }
      ?? home + "/.cache/huggingface/hub"
    return ModelCache(
      directory: directory, legacyDirectories: [home + "/.cache/clip"], home: home,
      hubEndpoint: value("HF_ENDPOINT") ?? "https://huggingface.co", hubToken: value("HF_TOKEN"),
      hubCache: hubCache)
  }

  /// The folder of `source` in the cache.
  public func folder(_ source: ModelSource) -> String { directory + "/" + source.folder }

  /// The cached path of `file` from `source` (which may not exist yet).
  public func path(_ file: RemoteFile, in source: ModelSource) -> String {
    folder(source) + "/" + file.name
  }

  /// The path of the hash record of a cached file.
  static func hashRecordPath(_ path: String) -> String { CacheRecord.path(for: path) }

  /// The SHA-256 recorded next to `path`, if any.
  static func recordedHash(_ path: String) -> String? { CacheRecord.read(for: path)?.sha256 }

  /// Records `sha256` next to `path`, as `sha256sum` would print it, with the file's stamp.
  static func recordHash(
    _ sha256: String, for path: String, provenance: CacheRecord.Provenance? = nil
  ) throws(ModelStoreError) {
    try CacheRecord(sha256: sha256, provenance: provenance).write(for: path)
  }

  /// `s` is 64 lowercase hexadecimal digits.
  static func isHexDigest(_ s: String) -> Bool {
    s.utf8.count == 64
      && s.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
  }

  /// Writes a small file atomically (temporary name, then rename).
  static func writeSmallFile(_ bytes: [UInt8], to path: String) throws(ModelStoreError) {
    try writeAtomically(to: path, syncing: false) { fd throws(ModelStoreError) in
      try FileSink.writeAll(fd: fd, bytes, path: path)
    }
  }

  /// Creates `path` atomically through `FileIO.writeAtomically` (a temporary beside it that
  /// `write` fills, flushed when `syncing`, renamed over `path`); file system errors are `.io`.
  static func writeAtomically(
    to path: String, syncing: Bool, _ write: (Int32) throws(ModelStoreError) -> Void
  ) throws(ModelStoreError) {
    try FileIO.writeAtomically(
      to: path, syncing: syncing,
      failure: { ModelStoreError.io(path: $0.path, reason: $0.message) },
      write)
  }

  /// Creates `path` and its parents.
  static func makeDirectory(_ path: String) throws(ModelStoreError) {
    do {
      try FileManager.default.createDirectory(atPath: path, withIntermediateDirectories: true)
    } catch {
      throw .io(path: path, reason: "cannot create this folder (\(error.localizedDescription))")
    }
  }

  /// Size in bytes of the regular file at `path`, nil if there is none.
  static func fileSize(_ path: String) -> Int64? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    return Int64(info.st_size)
  }

  /// Whether `path` is a directory.
  static func isDirectory(_ path: String) -> Bool {
    var info = stat()
    return stat(path, &info) == 0 && (info.st_mode & S_IFMT) == S_IFDIR
  }

  /// The SHA-256 of the file at `path`, read in large chunks.
  public static func hashFile(_ path: String) throws(ModelStoreError) -> String {
    var hasher = SHA256()
    try hashFile(path, into: &hasher, limit: nil)
    return hasher.hexDigest()
  }

  /// Feeds the first `limit` bytes (all if nil) of the file at `path` to `hasher`; returns the
  /// number of bytes fed.
  @discardableResult
  static func hashFile(_ path: String, into hasher: inout SHA256, limit: Int64?)
    throws(ModelStoreError) -> Int64
  {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var buffer = [UInt8](repeating: 0, count: 1 << 20)
    var total: Int64 = 0
    while limit.map({ total < $0 }) ?? true {
      let want = limit.map { Int(min(Int64(buffer.count), $0 - total)) } ?? buffer.count
      let n = buffer.withUnsafeMutableBytes { read(fd, $0.baseAddress, want) }
      if n < 0 {
        if errno == EINTR { continue }
        throw .io(path: path, reason: String(cString: strerror(errno)))
      }
      if n == 0 { break }
      buffer.withUnsafeBytes { hasher.update(UnsafeRawBufferPointer(rebasing: $0[0..<n])) }
      total += Int64(n)
    }
    return total
  }
}

extension ModelCache {
  /// The cache's lock on `path` (see `FileLock.lock`), with errors as `ModelStoreError`.
  static func lock(path: String, timeout: Double, waiting: () -> Void) throws(ModelStoreError)
    -> FileLock
  {
    do {
      return try FileLock.lock(path: path, timeout: timeout, waiting: waiting)
    } catch {
      throw .io(path: path, reason: error.message)
    }
  }
}
