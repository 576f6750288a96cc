import CLIP
import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Where a model's files are on disk and in which format, as `ModelStore.locate` found them.
public struct ModelFiles: Sendable, Equatable {
  /// How the weights are stored.
  public enum Format: String, Sendable {
    /// A Hugging Face folder: `model.safetensors` with `config.json`, `merges.txt`, `vocab.json`.
    case huggingFaceDirectory
    /// One `.safetensors` file (Hugging Face or OpenAI/open_clip tensor names).
    case safetensors
    /// A zip-format PyTorch checkpoint: OpenAI's TorchScript `.pt` or a `torch.save` state dict;
    /// read it with `TorchCheckpoint`.
    case pytorchCheckpoint
    /// open_clip's hub layout: `open_clip_config.json` (in `config`) with
    /// `open_clip_model.safetensors` or the pickled `open_clip_pytorch_model.bin`.
    case openCLIP
  }

  /// How the weights are stored.
  public var format: Format
  /// Path of the weights file.
  public var weights: String
  /// Path of `config.json`, if there is one.
  public var config: String?
  /// Path of the BPE merges (`merges.txt` or `bpe_simple_vocab_16e6.txt.gz`), if available.
  public var merges: String?
  /// Path of `vocab.json`, if there is one.
  public var vocabulary: String?
  /// The known model's canonical name, nil for a path given by the user.
  public var model: String?
  /// The weights' verified (or recorded) SHA-256, when known without hashing.
  public var sha256: String?

  /// Files found at the given paths.
  public init(
    format: Format, weights: String, config: String? = nil, merges: String? = nil,
    vocabulary: String? = nil, model: String? = nil, sha256: String? = nil
  ) {
    self.format = format
    self.weights = weights
    self.config = config
    self.merges = merges
    self.vocabulary = vocabulary
    self.model = model
    self.sha256 = sha256
  }
}

/// The result of checking one cached file.
public struct VerifiedFile: Sendable, Equatable {
  /// Where the expected hash comes from.
  public enum Expectation: String, Sendable {
    /// The official checksum in clipig's table.
    case documented
    /// The SHA-256 the server stated for the file when it was downloaded.
    case stated
    /// The hash recorded when the file was first downloaded; no hash was known to check it
    /// against, so the file is unverified.
    case recorded
    /// The hash recorded of a download that came with neither a length nor a hash: it may have
    /// been cut off unnoticed, so the file is unverified.
    case recordedWithoutLength
    /// Neither: the file is only hashed.
    case none
  }

  /// Path of the file.
  public var path: String
  /// The expected SHA-256, if any.
  public var expected: String?
  /// Where `expected` comes from.
  public var expectation: Expectation
  /// The SHA-256 of the file as it is now.
  public var actual: String

  /// The file matches its expected hash (or there is none).
  public var isValid: Bool { expected.map { $0 == actual } ?? true }
}

/// Finds CLIP weights by model name or path, downloading official files on first use.
public enum ModelStore {
  /// The files of `nameOrPath`: a known model name (`ViT-B/32`, `ViT-L-14`, …) or a path to a
  /// Hugging Face folder, a `.safetensors` file or a PyTorch `.pt` checkpoint.
  ///
  /// A known model is looked for in the cache, then in CLIPig's cache (`~/.cache/clip`, whose
  /// `.pt` is verified once and linked into the cache), and is downloaded from `source`
  /// (OpenAI's original files by default) when `download` is true. A name that is not known is
  /// taken as a path (a leading `~/` is the home folder).
  public static func locate(
    _ nameOrPath: String, download: Bool = true, source: ModelSource.Kind? = nil,
    cache: ModelCache = .standard(), options: DownloadOptions = .init()
  ) throws(ModelStoreError) -> ModelFiles {
    if let model = KnownModels.named(nameOrPath) ?? KnownModels.hubModel(nameOrPath) {
      return try locate(model, download: download, source: source, cache: cache, options: options)
    }
    let path = expandTilde(nameOrPath, home: cache.home)
    if FileManager.default.fileExists(atPath: path) {
      return try files(atPath: path, cache: cache)
    }
    if nameOrPath.lowercased().hasPrefix("hf-hub:") {
      throw .unknownModel(nameOrPath, known: ["hf-hub:ORG/NAME or hf-hub:ORG/NAME@REVISION"])
    }
    throw .unknownModel(nameOrPath, known: KnownModels.all.map(\.name))
  }

  /// `locate` with the standard cache and a progress handler.
  public static func locate(
    _ nameOrPath: String, download: Bool,
    progress: (@Sendable (DownloadProgress) -> Void)?
  ) throws(ModelStoreError) -> ModelFiles {
    try locate(nameOrPath, download: download, options: DownloadOptions(progress: progress))
  }

  /// The files of a known model (see `locate(_:download:source:cache:options:)`): from the
  /// cache, else the Hugging Face cache, else CLIPig's cache, else downloaded from the first
  /// source that works (an unreachable host, an HTTP error or a file contradicting its hash or
  /// size moves on to the next source, with a note saying so).
  public static func locate(
    _ model: KnownModel, download: Bool, source: ModelSource.Kind? = nil, cache: ModelCache,
    options: DownloadOptions
  ) throws(ModelStoreError) -> ModelFiles {
    let candidates =
      source.map { kind in model.sources.filter { $0.kind == kind } } ?? model.sources
    guard !candidates.isEmpty else {
      throw .unsupportedModel(model.name, reason: "no \(source?.rawValue ?? "") source is known")
    }
    // 1. Complete in the cache.
    for s in candidates where try isComplete(s, cache: cache, options: options) {
      return files(model, s, cache: cache)
    }
    // 2. In the Hugging Face cache, used in place.
    for s in candidates {
      if let found = try HubCache.files(of: s, model: model, cache: cache, options: options) {
        return found
      }
    }
    // 3. OpenAI's file in CLIPig's cache.
    if let openAI = candidates.first(where: { $0.kind == .openAI }) {
      try adoptLegacy(openAI, cache: cache, options: options)
    }
    // 4. Weights present (maybe adopted): fetch what is missing if allowed.
    for s in candidates {
      guard let weights = s.weights, cachedWeights(weights, in: s, cache: cache) != nil else {
        continue
      }
      if download {
        try fetch(missingFiles(s, cache: cache), of: s, cache: cache, options: options)
      }
      return files(model, s, cache: cache)
    }
    // 5. Download, trying each source in turn.
    guard download else { throw .notDownloaded(model.name) }
    var failures = [String]()
    for s in candidates {
      do {
        try fetch(missingFiles(s, cache: cache), of: s, cache: cache, options: options)
        // The sources that failed before are said once: here when one worked, else in the
        // error that lists every source.
        for failure in failures {
          options.notice?("source \(failure); downloaded from \(s.label) instead")
        }
        return files(model, s, cache: cache)
      } catch {
        guard Self.movesToNextSource(error) else { throw error }
        failures.append("\(s.label): \(error.brief)")
      }
    }
    throw .allSourcesFailed(model: model.name, failures: failures)
  }

  /// Errors after which the next source is tried; others (a full disk, an interrupt) stop.
  static func movesToNextSource(_ error: ModelStoreError) -> Bool {
    switch error {
    case .unreachable, .http, .checksumMismatch, .sizeMismatch, .badResponse, .timedOut,
      .tooSlow, .incomplete:
      return true
    default:
      return false
    }
  }

  /// Downloads every missing file of `model` from `source` (its default source if nil).
  @discardableResult
  public static func download(
    _ model: KnownModel, source: ModelSource.Kind? = nil, cache: ModelCache = .standard(),
    options: DownloadOptions = .init()
  ) throws(ModelStoreError) -> ModelFiles {
    try locate(model, download: true, source: source, cache: cache, options: options)
  }

  /// Where the weights of `model` from `source` are on disk (clipig's cache, an adopted
  /// `~/.cache/clip` file, or the Hugging Face cache), without checking them; nil if nowhere.
  public static func cachedPath(_ model: KnownModel, _ source: ModelSource, cache: ModelCache)
    -> String?
  {
    guard let weights = source.weights else { return nil }
    if let path = cachedWeights(weights, in: source, cache: cache) { return path }
    if let snapshot = HubCache.snapshot(of: source, cache: cache) {
      return present(snapshot + "/" + weights.name)
    }
    if source.kind == .openAI {
      for folder in cache.legacyDirectories {
        if let p = present(folder + "/" + weights.name) { return p }
      }
    }
    return nil
  }

  /// The model's files already in the cache (no download, no hashing), if its weights are there.
  public static func cached(_ model: KnownModel, cache: ModelCache = .standard()) -> ModelFiles? {
    for s in model.sources {
      if let weights = s.weights, cachedWeights(weights, in: s, cache: cache) != nil {
        return files(model, s, cache: cache)
      }
    }
    return nil
  }

  /// Hashes every cached file of `model` and compares it with its official or recorded hash.
  public static func verify(_ model: KnownModel, cache: ModelCache = .standard())
    throws(ModelStoreError) -> [VerifiedFile]
  {
    var results = [VerifiedFile]()
    for s in model.sources {
      for file in s.files {
        guard
          let path = file.role == .weights
            ? cachedWeights(file, in: s, cache: cache)
            : present(cache.path(file, in: s))
        else { continue }
        let actual = try ModelCache.hashFile(path)
        let record = CacheRecord.read(for: cache.path(file, in: s))
        let stated: VerifiedFile.Expectation =
          switch record?.provenance {
          case .server?, .table?: .stated
          case .unsized?: .recordedWithoutLength
          default: .recorded
          }
        let (expected, expectation): (String?, VerifiedFile.Expectation) =
          file.sha256.map { ($0, .documented) } ?? record.map { ($0.sha256, stated) }
          ?? (nil, .none)
        results.append(
          VerifiedFile(path: path, expected: expected, expectation: expectation, actual: actual))
      }
    }
    return results
  }

  // MARK: Paths given by the user

  /// The files at a user-given path: a folder (Hugging Face layout, or holding one weights file)
  /// or a weights file whose format is recognised from its first bytes.
  static func files(atPath path: String, cache: ModelCache) throws(ModelStoreError) -> ModelFiles {
    if ModelCache.isDirectory(path) {
      let folder = path.hasSuffix("/") ? String(path.dropLast()) : path
      if let openCLIP = openCLIPFiles(in: folder, cache: cache) { return openCLIP }
      let safetensors = folder + "/model.safetensors"
      if ModelCache.fileSize(safetensors) != nil {
        return ModelFiles(
          format: .huggingFaceDirectory, weights: safetensors,
          config: present(folder + "/config.json"), merges: merges(near: folder, cache: cache),
          vocabulary: present(folder + "/vocab.json"))
      }
      let names = (try? FileManager.default.contentsOfDirectory(atPath: folder)) ?? []
      let weights = names.filter { $0.hasSuffix(".safetensors") || $0.hasSuffix(".pt") }.sorted()
      guard weights.count == 1, let only = weights.first else {
        throw .io(
          path: path,
          reason: weights.isEmpty
            ? "this folder holds no model.safetensors, open_clip_config.json or .pt file"
            : "this folder holds several weights files (\(weights.joined(separator: ", "))); "
              + "name one")
      }
      return try files(atPath: folder + "/" + only, cache: cache)
    }
    guard ModelCache.fileSize(path) != nil else {
      throw .io(path: path, reason: "not a regular file or folder")
    }
    let format = try sniff(path)
    let folder = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/")
    let near = folder.isEmpty ? "." : folder
    if let config = present(near + "/open_clip_config.json") {
      return ModelFiles(
        format: .openCLIP, weights: path, config: config, merges: merges(near: near, cache: cache))
    }
    return ModelFiles(
      format: format, weights: path, config: present(near + "/config.json"),
      merges: merges(near: near, cache: cache), vocabulary: present(near + "/vocab.json"))
  }

  /// open_clip's layout in `folder`: `open_clip_config.json` with `open_clip_model.safetensors`
  /// (preferred, as open_clip prefers it) or `open_clip_pytorch_model.bin`.
  static func openCLIPFiles(in folder: String, cache: ModelCache) -> ModelFiles? {
    guard let config = present(folder + "/open_clip_config.json") else { return nil }
    let weights =
      present(folder + "/open_clip_model.safetensors")
      ?? present(folder + "/open_clip_pytorch_model.bin")
    guard let weights else { return nil }
    return ModelFiles(
      format: .openCLIP, weights: weights, config: config,
      merges: merges(near: folder, cache: cache)
    )
  }

  /// The format of a weights file from its first bytes.
  static func sniff(_ path: String) throws(ModelStoreError) -> ModelFiles.Format {
    let fd = open(path, O_RDONLY | O_CLOEXEC)
    guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    defer { close(fd) }
    var head = [UInt8](repeating: 0, count: 10)
    let n = head.withUnsafeMutableBytes { read(fd, $0.baseAddress, 10) }
    if n >= 4, head[0] == 0x50, head[1] == 0x4B, head[2] == 0x03, head[3] == 0x04 {
      return .pytorchCheckpoint
    }
    // torch.save's legacy format starts with a protocol-2 pickle of its magic number (LONG1, 10
    // bytes).
    if n >= 4, head[0] == 0x80, head[1] == 0x02, head[2] == 0x8A, head[3] == 0x0A {
      throw .checkpoint(
        path: path,
        reason: "it is in PyTorch's legacy (pre-1.6) format, which clipig does not read; load it "
          + "in PyTorch and save it again with torch.save")
    }
    // safetensors: an 8-byte little-endian header length, then the JSON header; the reader
    // says what is wrong with a header that is not a JSON object.
    if n >= 9 {
      var length: UInt64 = 0
      for i in (0..<8).reversed() { length = length << 8 | UInt64(head[i]) }
      let size = UInt64(ModelCache.fileSize(path) ?? 0)
      if length >= 2, length <= 100 << 20, length + 8 <= size {
        return .safetensors
      }
    }
    throw .io(path: path, reason: "not a safetensors file or a PyTorch zip checkpoint")
  }

  /// Merges next to a user's weights, else OpenAI's merges from the cache.
  private static func merges(near folder: String, cache: ModelCache) -> String? {
    if let m = present(folder + "/merges.txt") { return m }
    if let m = present(folder + "/" + KnownModels.openAIMerges.name) { return m }
    return present(cache.directory + "/openai/" + KnownModels.openAIMerges.name)
  }

  // MARK: Cache

  static func present(_ path: String) -> String? {
    ModelCache.fileSize(path) != nil ? path : nil
  }

  private static func missingFiles(_ s: ModelSource, cache: ModelCache) -> [RemoteFile] {
    s.files.filter { present(cache.path($0, in: s)) == nil }
  }

  /// Whether every file of `s` is in the cache and trustworthy: its size is the table's, and
  /// its record's size and time match (else it is hashed again and compared with the table's
  /// or the recorded hash). A file that fails is removed, with a note.
  private static func isComplete(_ s: ModelSource, cache: ModelCache, options: DownloadOptions)
    throws(ModelStoreError) -> Bool
  {
    for file in s.files {
      let path = cache.path(file, in: s)
      if file.role == .weights, present(path) == nil, AdoptionRecord.read(for: path) != nil {
        continue
      }
      guard present(path) != nil else { return false }
      if try !isTrustworthy(file, at: path) {
        options.notice?(
          "note: \(path) does not match its \(file.size != nil ? "size or " : "")hash; "
            + "it was removed and will be downloaded again")
        unlink(path)
        unlink(ModelCache.hashRecordPath(path))
        return false
      }
    }
    return true
  }

  /// See `isComplete`.
  private static func isTrustworthy(_ file: RemoteFile, at path: String) throws(ModelStoreError)
    -> Bool
  {
    if let size = file.size, ModelCache.fileSize(path) != size { return false }
    let record = CacheRecord.read(for: path)
    if let record, record.stampMatches(path) {
      return file.sha256 == nil || record.sha256 == file.sha256
    }
    let expected = file.sha256 ?? record?.sha256
    let actual = try ModelCache.hashFile(path)
    if let expected, actual != expected { return false }
    var updated =
      record ?? CacheRecord(sha256: actual, provenance: file.sha256 != nil ? .table : .unverified)
    updated.sha256 = actual
    try updated.write(for: path)
    return true
  }

  /// The weights in the cache, or where an adopted legacy file lives if it could not be linked.
  private static func cachedWeights(_ file: RemoteFile, in s: ModelSource, cache: ModelCache)
    -> String?
  {
    let path = cache.path(file, in: s)
    if present(path) != nil { return path }
    return AdoptionRecord.read(for: path)
  }

  /// The format of a source's files.
  static func format(of s: ModelSource) -> ModelFiles.Format {
    switch s.kind {
    case .openAI: return .pytorchCheckpoint
    case .huggingFace: return .huggingFaceDirectory
    case .hub: return .openCLIP
    }
  }

  private static func files(_ model: KnownModel, _ s: ModelSource, cache: ModelCache) -> ModelFiles
  {
    func path(_ role: RemoteFile.Role) -> String? {
      guard let f = s.files.first(where: { $0.role == role }) else { return nil }
      return role == .weights
        ? cachedWeights(f, in: s, cache: cache) : present(cache.path(f, in: s))
    }
    let weightsFile = s.weights
    let weightsPath = path(.weights) ?? weightsFile.map { cache.path($0, in: s) } ?? ""
    let sha = weightsFile.flatMap { $0.sha256 ?? ModelCache.recordedHash(cache.path($0, in: s)) }
    return ModelFiles(
      format: format(of: s), weights: weightsPath,
      config: path(s.kind == .hub ? .openCLIPConfig : .config), merges: path(.merges),
      vocabulary: path(.vocabulary), model: model.name, sha256: sha)
  }

  /// Request headers for `s`: the hub token for hub-hosted sources on the configured endpoint.
  static func options(_ options: DownloadOptions, for s: ModelSource, cache: ModelCache)
    -> DownloadOptions
  {
    var o = options
    if s.repo != nil, let token = cache.hubToken {
      o.headers["Authorization"] = "Bearer \(token)"
    }
    return o
  }

  private static func fetch(
    _ files: [RemoteFile], of s: ModelSource, cache: ModelCache, options: DownloadOptions
  ) throws(ModelStoreError) {
    let o = Self.options(options, for: s, cache: cache)
    // Weights last, so a failure on a small file is reported before the long download.
    for file in files.sorted(by: { ($0.role == .weights ? 1 : 0) < ($1.role == .weights ? 1 : 0) })
    {
      try Downloader.download(
        url: s.url(of: file, endpoint: cache.hubEndpoint), to: cache.path(file, in: s),
        sha256: file.sha256, size: file.size, options: o)
    }
  }

  /// Reuses OpenAI's `.pt` from CLIPig's cache: verified against the official hash, then
  /// hard-linked into the cache (or, across file systems, recorded so it is used in place).
  /// A file that contradicts the hash is reported once and remembered (by size and time) so
  /// that it is not hashed again on every run.
  private static func adoptLegacy(_ s: ModelSource, cache: ModelCache, options: DownloadOptions)
    throws(ModelStoreError)
  {
    guard let weights = s.weights, let expected = weights.sha256 else { return }
    let target = cache.path(weights, in: s)
    guard present(target) == nil, AdoptionRecord.read(for: target) == nil else { return }
    for folder in cache.legacyDirectories {
      let legacy = folder + "/" + weights.name
      guard present(legacy) != nil else { continue }
      let rejected = target + ".rejected"
      if AdoptionRecord.read(recordAt: rejected) == legacy { continue }
      let actual = try ModelCache.hashFile(legacy)
      guard actual == expected else {
        try ModelCache.makeDirectory(cache.folder(s))
        try AdoptionRecord.write(legacy, recordAt: rejected)
        options.notice?(
          "note: \(legacy) is damaged (SHA-256 \(actual) instead of \(expected)); it is not "
            + "used (delete it, or let clipig download the model)")
        continue
      }
      try ModelCache.makeDirectory(cache.folder(s))
      if link(legacy, target) == 0 {
        try ModelCache.recordHash(expected, for: target, provenance: .table)
      } else {
        try AdoptionRecord.write(legacy, for: target)
      }
      return
    }
  }

  private static func expandTilde(_ path: String, home: String) -> String {
    path.hasPrefix("~/") ? home + path.dropFirst() : path
  }
}

/// `<cached path>.adopted`: a verified file outside the cache used in place, with its size and
/// modification time so that a changed file is noticed (and verified again).
enum AdoptionRecord {
  static func recordPath(_ target: String) -> String { target + ".adopted" }

  static func read(for target: String) -> String? { read(recordAt: recordPath(target)) }

  static func write(_ path: String, for target: String) throws(ModelStoreError) {
    try write(path, recordAt: recordPath(target))
  }

  /// The path named by the record at `record`, if that file still has the recorded stamp.
  static func read(recordAt record: String) -> String? {
    guard let data = FileManager.default.contents(atPath: record) else { return nil }
    let fields = String(decoding: data, as: UTF8.self).split(
      separator: " ", maxSplits: 2, omittingEmptySubsequences: false)
    guard fields.count == 3, let size = Int64(fields[0]), let mtime = Int64(fields[1]) else {
      return nil
    }
    let path = String(fields[2]).trimmingCharacters(in: .newlines)
    guard let stamp = stamp(path), stamp == (size, mtime) else { return nil }
    return path
  }

  /// Records `path` with its stamp at `record`.
  static func write(_ path: String, recordAt record: String) throws(ModelStoreError) {
    guard let (size, mtime) = stamp(path) else { return }
    try ModelCache.writeSmallFile(Array("\(size) \(mtime) \(path)\n".utf8), to: record)
  }

  private static func stamp(_ path: String) -> (Int64, Int64)? {
    var info = stat()
    guard stat(path, &info) == 0, (info.st_mode & S_IFMT) == S_IFREG else { return nil }
    #if canImport(Darwin)
      return (Int64(info.st_size), Int64(info.st_mtimespec.tv_sec))
    #else
      return (Int64(info.st_size), Int64(info.st_mtim.tv_sec))
    #endif
  }
}
