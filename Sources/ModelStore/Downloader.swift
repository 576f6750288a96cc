import CLIP
import Foundation
import PipelineKit

#if canImport(FoundationNetworking)
  import FoundationNetworking
#endif
#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The state of a download, reported to a progress handler.
public struct DownloadProgress: Sendable, Equatable {
  /// What is happening.
  public enum Phase: Sendable, Equatable {
    /// Another process holds the file's lock (it is downloading the same file).
    case waitingForLock
    /// The server answered; `received` bytes are already present (resumed).
    case started
    /// Bytes are arriving.
    case receiving
    /// The file is complete and its checksum is being checked.
    case verifying
    /// The file is verified and in place.
    case finished
  }

  /// File name being downloaded.
  public var file: String
  /// Where it comes from.
  public var url: String
  /// What is happening.
  public var phase: Phase
  /// Bytes of the file present so far (including a resumed part).
  public var received: Int64
  /// Size of the whole file, if the server said.
  public var total: Int64?
  /// Bytes that were already present when this transfer started.
  public var resumedFrom: Int64
  /// Average speed of this transfer in bytes per second.
  public var bytesPerSecond: Double
  /// Seconds since this transfer started.
  public var elapsed: Double

  /// Estimated seconds left, when the size and a speed are known.
  public var secondsLeft: Double? {
    guard let total, bytesPerSecond > 0, total >= received else { return nil }
    return Double(total - received) / bytesPerSecond
  }
}

/// How downloads behave.
public struct DownloadOptions: Sendable {
  /// Seconds without any data after which a transfer is abandoned.
  public var idleTimeout: Double
  /// Transfers tried per file when the connection is cut (each resumes where the last stopped).
  public var attempts: Int
  /// Seconds to wait for another process downloading the same file.
  public var lockTimeout: Double
  /// Seconds the whole download (every attempt) may take; nil for no limit.
  public var deadline: Double?
  /// Bytes per second a transfer must average over every `speedWindow` seconds (0: no minimum),
  /// so that a server trickling a byte now and then is abandoned.
  public var minimumSpeed: Double
  /// The window of `minimumSpeed`, in seconds.
  public var speedWindow: Double
  /// The largest file accepted, in bytes; nil for no limit. A larger answer keeps nothing.
  public var maximumBytes: Int64?
  /// Extra request headers (say, `Authorization`); dropped when a redirect leaves the host.
  public var headers: [String: String]
  /// Polled while transferring; returning true stops the download (`interrupted`).
  public var isCancelled: (@Sendable () -> Bool)?
  /// Whether SIGINT, SIGTERM and SIGHUP stop a transfer (`interrupted`), also where the
  /// program ignores them to handle them itself.
  public var stopOnSignals: Bool
  /// Called with one-line notes for the user (a source failed, resuming is disabled, …).
  public var notice: (@Sendable (String) -> Void)?
  /// Called with the state of the download (from a background thread).
  public var progress: (@Sendable (DownloadProgress) -> Void)?
  /// The environment consulted for proxies (`https_proxy`, `no_proxy`, …).
  public var environment: [String: String]
  /// Tests only: writing more than this many bytes fails as a full disk would.
  var simulatedFreeSpace: Int64?

  /// Options with the given timeouts and progress handler; notes go to standard error.
  public init(
    idleTimeout: Double = 60, attempts: Int = 3, lockTimeout: Double = 4 * 3600,
    deadline: Double? = nil, minimumSpeed: Double = 1024, speedWindow: Double = 60,
    maximumBytes: Int64? = nil, headers: [String: String] = [:],
    progress: (@Sendable (DownloadProgress) -> Void)? = nil
  ) {
    self.idleTimeout = idleTimeout
    self.attempts = max(1, attempts)
    self.lockTimeout = lockTimeout
    self.deadline = deadline
    self.minimumSpeed = minimumSpeed
    self.speedWindow = speedWindow
    self.maximumBytes = maximumBytes
    self.headers = headers
    self.isCancelled = nil
    self.stopOnSignals = true
    self.notice = { line in StandardStream.error.write(line + "\n") }
    self.progress = progress
    self.environment = ProcessInfo.processInfo.environment
  }

  /// The longest time any option may name: about 11.5 days (longer values overflow timers).
  public static let maximumSeconds: Double = 1_000_000

  /// Throws `invalidOption` for a time that is not a finite positive number of seconds up to
  /// `maximumSeconds`, or a negative speed or size.
  public func validate() throws(ModelStoreError) {
    func seconds(_ name: String, _ value: Double?) throws(ModelStoreError) {
      guard let value else { return }
      guard value.isFinite, value > 0, value <= Self.maximumSeconds else {
        throw .invalidOption(
          name: name,
          reason: "must be a number of seconds greater than 0 and at most "
            + "\(Int(Self.maximumSeconds)), not \(value)")
      }
    }
    try seconds("the idle timeout", idleTimeout)
    try seconds("the lock timeout", lockTimeout)
    try seconds("the deadline", deadline)
    try seconds("the speed window", speedWindow)
    guard minimumSpeed.isFinite, minimumSpeed >= 0 else {
      throw .invalidOption(
        name: "the minimum speed", reason: "must be a number of bytes per second >= 0")
    }
    if let maximumBytes, maximumBytes < 0 {
      throw .invalidOption(name: "the maximum size", reason: "must not be negative")
    }
  }
}

/// What `Downloader.revalidate` found.
public enum Revalidation: Sendable, Equatable {
  /// The server said the cached file is current (HTTP 304); it was kept. Its SHA-256.
  case notModified(sha256: String)
  /// A new file arrived and replaced the cached one (or there was none). Its SHA-256.
  case downloaded(sha256: String)
}

/// Downloads one file into the cache: HTTP(S) through URLSession, resumable with `Range`,
/// verified with SHA-256 before it is renamed into place, under a lock so that concurrent
/// processes never write the same file.
///
/// While downloading, the data goes to `<file>.partial`; an interrupted download keeps it and
/// the next attempt (or run) asks the server for the rest. The hash is computed as data
/// arrives (after re-reading a resumed part) and compared with the expected one; a mismatch
/// deletes the partial file, so the cache never holds a bad file under its real name. A file
/// with no known hash must at least have the size announced (by the caller or the server).
public enum Downloader {
  /// Downloads `url` to `path` unless it is already there. `sha256` is the expected hash (nil
  /// if unknown: then a SHA-256 the server declares for the file is used if any, and the hash
  /// of what arrived is recorded); `size` the expected size, if known. Returns the file's
  /// SHA-256.
  @discardableResult
  public static func download(
    url: String, to path: String, sha256 expected: String?, size: Int64? = nil,
    options: DownloadOptions = .init()
  ) throws(ModelStoreError) -> String {
    try run(url: url, to: path, sha256: expected, size: size, revalidate: false, options: options)
      .sha256
  }

  /// Makes sure `path` holds the current version of `url`: a cached file with recorded
  /// validators (`ETag`, `Last-Modified`) is revalidated with a conditional request
  /// (`If-None-Match`, `If-Modified-Since`) and kept on HTTP 304; otherwise, or when the server
  /// sends a new version, the file is downloaded (atomically replacing the old one).
  public static func revalidate(url: String, to path: String, options: DownloadOptions = .init())
    throws(ModelStoreError) -> Revalidation
  {
    let result = try run(
      url: url, to: path, sha256: nil, size: nil, revalidate: true, options: options)
    return result.notModified
      ? .notModified(sha256: result.sha256) : .downloaded(sha256: result.sha256)
  }

  private struct RunResult {
    var sha256: String
    var notModified: Bool
  }

  private static func run(
    url: String, to path: String, sha256 expected: String?, size expectedSize: Int64?,
    revalidate: Bool, options: DownloadOptions
  ) throws(ModelStoreError) -> RunResult {
    try options.validate()
    guard let remote = URL(string: url), let scheme = remote.scheme?.lowercased(),
      scheme == "https" || scheme == "http"
    else { throw .io(path: url, reason: "not an http(s) URL") }
    let name = path.split(separator: "/").last.map(String.init) ?? path
    let directory = path.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/")
    try ModelCache.makeDirectory(directory.isEmpty ? "." : directory)

    let lock = try ModelCache.lock(
      path: (directory.isEmpty ? "." : directory) + "/." + name + ".lock",
      timeout: options.lockTimeout
    ) {
      options.progress?(
        DownloadProgress(
          file: name, url: url, phase: .waitingForLock, received: 0, total: nil, resumedFrom: 0,
          bytesPerSecond: 0, elapsed: 0))
    }
    defer { lock.unlock() }

    // Another process may have finished it while we waited. A file in place is trusted when
    // its record's size and time still match; otherwise it is hashed again. One that
    // contradicts the expected hash or size is replaced.
    var validators: (etag: String?, lastModified: String?)?
    if ModelCache.fileSize(path) != nil {
      let record = CacheRecord.read(for: path)
      if let actual = try verifiedInPlace(
        path, record: record, sha256: expected, size: expectedSize)
      {
        if !revalidate { return RunResult(sha256: actual, notModified: false) }
        if let record, record.etag != nil || record.lastModified != nil {
          validators = (record.etag, record.lastModified)
        }
      } else {
        unlink(path)
        unlink(ModelCache.hashRecordPath(path))
      }
    }

    // SIGINT, SIGTERM and SIGHUP stop the transfer (the partial file stays for the next run),
    // beside any watch of the program's own.
    let signalled = options.stopOnSignals ? InterruptFlag() : nil
    let watch = signalled.map { SignalWatch($0) }
    defer { withExtendedLifetime(watch) {} }
    let started = Date()
    let deadline = options.deadline.map { started.addingTimeInterval($0) }
    let proxy = Proxy.variable(for: remote, environment: options.environment)

    let partial = path + ".partial"
    var sink = try FileSink(path: partial, freeSpace: options.simulatedFreeSpace)
    defer { sink.closeFile() }
    if let proxy, sink.written > 0 {
      options.notice?(
        "note: resuming is disabled because \(proxy) is set (a proxy can garble partial "
          + "answers); downloading \(name) from the start")
      try sink.reset()
    }
    var declared = expected
    var failure: ModelStoreError?
    var answer = Transfer.Outcome(result: .complete)
    for _ in 0..<options.attempts {
      let transfer = Transfer(
        url: remote, name: name, options: options, deadline: deadline,
        canResume: proxy == nil, conditional: validators, signalled: signalled)
      answer = transfer.run(sink: &sink)
      if declared == nil, let linked = answer.linkedSHA256 { declared = linked }
      switch answer.result {
      case .complete, .notModified:
        failure = nil
      case .retry(let error):
        failure = error
        continue
      case .fail(let error):
        failure = error
      case .discard(let error):
        sink.closeFile()
        unlink(partial)
        throw error
      }
      break
    }
    if let failure {
      // Keep what arrived for the next run; an empty partial file is only clutter.
      if sink.written == 0 {
        sink.closeFile()
        unlink(partial)
      }
      throw failure
    }
    if case .notModified = answer.result {
      sink.closeFile()
      if sink.written == 0 { unlink(partial) }
      var sha = CacheRecord.read(for: path)?.sha256 ?? ""
      if sha.isEmpty { sha = try ModelCache.hashFile(path) }
      return RunResult(sha256: sha, notModified: true)
    }

    options.progress?(
      DownloadProgress(
        file: name, url: url, phase: .verifying, received: sink.written, total: sink.written,
        resumedFrom: 0, bytesPerSecond: 0, elapsed: 0))
    try sink.sync()
    let actual = sink.hasher.hexDigest()
    if let declared, actual != declared {
      sink.closeFile()
      unlink(partial)
      throw .checksumMismatch(file: name, expected: declared, actual: actual)
    }
    // Without a hash, the size is the only check: the caller's, else the server's.
    let announced = expectedSize ?? answer.announcedSize
    if declared == nil, let announced, announced != sink.written {
      sink.closeFile()
      if sink.written > announced { unlink(partial) }
      throw .sizeMismatch(file: name, expected: announced, actual: sink.written)
    }
    if let expectedSize, expectedSize != sink.written {
      sink.closeFile()
      unlink(partial)
      throw .sizeMismatch(file: name, expected: expectedSize, actual: sink.written)
    }
    sink.closeFile()
    guard rename(partial, path) == 0 else {
      throw .io(path: path, reason: String(cString: strerror(errno)))
    }
    // A body without a length ends when the connection closes, also when it is cut off: its
    // hash is recorded, but as `unsized` (unverified until a known hash matches it).
    let provenance: CacheRecord.Provenance =
      expected != nil
      ? .table : declared != nil ? .server : announced != nil ? .unverified : .unsized
    try CacheRecord(
      sha256: actual, provenance: provenance, etag: answer.etag, lastModified: answer.lastModified
    ).write(for: path)
    options.progress?(
      DownloadProgress(
        file: name, url: url, phase: .finished, received: sink.written, total: sink.written,
        resumedFrom: 0, bytesPerSecond: 0, elapsed: 0))
    return RunResult(sha256: actual, notModified: false)
  }

  /// The SHA-256 of the file in place if it is acceptable, nil if it must be replaced.
  /// A record whose size and time match is trusted without hashing.
  private static func verifiedInPlace(
    _ path: String, record: CacheRecord?, sha256 expected: String?, size: Int64?
  ) throws(ModelStoreError) -> String? {
    if let size, ModelCache.fileSize(path) != size { return nil }
    if let record, record.stampMatches(path) {
      return expected == nil || record.sha256 == expected ? record.sha256 : nil
    }
    let actual = try ModelCache.hashFile(path)
    if let expected { return actual == expected ? actual : nil }
    // No expectation: a record that disagrees with the bytes means the file changed.
    if let record, record.sha256 != actual { return nil }
    var updated = record ?? CacheRecord(sha256: actual, provenance: .unverified)
    updated.sha256 = actual
    try updated.write(for: path)
    return actual
  }
}

/// Which proxy variable applies to a URL, as libcurl (under URLSession) reads them.
enum Proxy {
  /// The name of the variable that sends `url` through a proxy, nil when none applies.
  static func variable(for url: URL, environment: [String: String]) -> String? {
    let scheme = url.scheme?.lowercased() ?? ""
    // libcurl ignores upper-case HTTP_PROXY (a CGI header could set it).
    let names =
      scheme == "https"
      ? ["https_proxy", "HTTPS_PROXY", "all_proxy", "ALL_PROXY"]
      : ["http_proxy", "all_proxy", "ALL_PROXY"]
    guard let name = names.first(where: { !(environment[$0] ?? "").isEmpty }) else { return nil }
    let host = (url.host ?? "").lowercased()
    let exclusions = (environment["no_proxy"] ?? environment["NO_PROXY"] ?? "")
      .split(separator: ",").map { $0.trimmingCharacters(in: .whitespaces).lowercased() }
    for entry in exclusions where !entry.isEmpty {
      if entry == "*" { return nil }
      let bare = entry.hasPrefix(".") ? String(entry.dropFirst()) : entry
      if host == bare || host.hasSuffix("." + bare) { return nil }
    }
    return name
  }
}

/// The `.partial` file: appends, hashes what it holds, fails like a full disk when told to.
struct FileSink {
  let path: String
  private var fd: Int32
  private(set) var hasher = SHA256()
  private(set) var written: Int64 = 0
  private let freeSpace: Int64?

  /// Opens (or creates) `path` and hashes what it already holds, to resume after it.
  init(path: String, freeSpace: Int64?) throws(ModelStoreError) {
    self.path = path
    self.freeSpace = freeSpace
    let fd = open(path, O_RDWR | O_CREAT | O_CLOEXEC, 0o644)
    guard fd >= 0 else { throw .io(path: path, reason: String(cString: strerror(errno))) }
    var h = SHA256()
    do {
      written = try ModelCache.hashFile(path, into: &h, limit: nil)
    } catch {
      closeDescriptor(fd)
      throw error
    }
    guard lseek(fd, off_t(written), SEEK_SET) >= 0 else {
      let reason = String(cString: strerror(errno))
      closeDescriptor(fd)
      throw .io(path: path, reason: reason)
    }
    self.fd = fd
    hasher = h
  }

  /// Appends `bytes`.
  mutating func append(_ bytes: UnsafeRawBufferPointer) throws(ModelStoreError) {
    if let freeSpace, written + Int64(bytes.count) > freeSpace {
      throw .diskFull(path: path)
    }
    try Self.writeAll(fd: fd, bytes, path: path)
    hasher.update(bytes)
    written += Int64(bytes.count)
  }

  /// Empties the file (the server sent the whole file instead of the rest).
  mutating func reset() throws(ModelStoreError) {
    guard ftruncate(fd, 0) == 0, lseek(fd, 0, SEEK_SET) == 0 else {
      throw .io(path: path, reason: String(cString: strerror(errno)))
    }
    hasher = SHA256()
    written = 0
  }

  /// Flushes the file to the disk.
  func sync() throws(ModelStoreError) {
    guard fd >= 0, fsync(fd) == 0 else {
      throw .io(path: path, reason: String(cString: strerror(errno)))
    }
  }

  /// Closes the file (further appends fail).
  mutating func closeFile() {
    if fd >= 0 {
      closeDescriptor(fd)
      fd = -1
    }
  }

  /// Writes all of `bytes` to `fd`, retrying short writes; a full disk is `diskFull`.
  static func writeAll(fd: Int32, _ bytes: UnsafeRawBufferPointer, path: String)
    throws(ModelStoreError)
  {
    var offset = 0
    while offset < bytes.count {
      let n = write(fd, bytes.baseAddress.unsafelyUnwrapped + offset, bytes.count - offset)
      if n < 0 {
        let e = errno
        if e == EINTR { continue }
        if e == ENOSPC || e == EDQUOT { throw .diskFull(path: path) }
        throw .io(path: path, reason: String(cString: strerror(e)))
      }
      offset += n
    }
  }

  static func writeAll(fd: Int32, _ bytes: [UInt8], path: String) throws(ModelStoreError) {
    let result = bytes.withUnsafeBytes { raw in
      Result { () throws(ModelStoreError) in try writeAll(fd: fd, raw, path: path) }
    }
    try result.get()
  }
}

/// One HTTP request for the rest of a file, run to its end on URLSession's delegate queue while
/// the calling thread waits and watches for silence, slowness, the deadline and signals.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
  enum Result {
    case complete
    /// HTTP 304 to a conditional request: the cached file is current.
    case notModified
    case retry(ModelStoreError)
    case fail(ModelStoreError)
    /// A final error after which the partial file must not be kept.
    case discard(ModelStoreError)
  }

  struct Outcome {
    var result: Result
    var linkedSHA256: String?
    /// The size of the whole file as the server announced it (Content-Length/Content-Range).
    var announcedSize: Int64?
    var etag: String?
    var lastModified: String?
  }

  private let url: URL
  private let name: String
  private let options: DownloadOptions
  private let deadline: Date?
  private let canResume: Bool
  private let conditional: (etag: String?, lastModified: String?)?
  /// Set by a stopping signal while the download watches them.
  private let signalled: InterruptFlag?
  private let lock = NSLock()
  private let finished = DispatchSemaphore(value: 0)

  // Guarded by `lock`.
  private var sink: FileSink?
  private var failure: ModelStoreError?
  private var discard: ModelStoreError?
  private var retryError: ModelStoreError?
  private var transportError: (any Error)?
  private var expectedEnd: Int64?
  private var lastActivity = Date()
  private var started = Date()
  private var startOffset: Int64 = 0
  private var linkedSHA256: String?
  private var etag: String?
  private var lastModified: String?
  private var notModified = false
  private var responseStarted = false
  /// Set when the answer is refused: later data is dropped, never written.
  private var rejected = false
  private var lastReport = Date.distantPast

  init(
    url: URL, name: String, options: DownloadOptions, deadline: Date?, canResume: Bool,
    conditional: (etag: String?, lastModified: String?)?, signalled: InterruptFlag?
  ) {
    self.url = url
    self.name = name
    self.options = options
    self.deadline = deadline
    self.canResume = canResume
    self.conditional = conditional
    self.signalled = signalled
  }

  func run(sink: inout FileSink) -> Outcome {
    if !canResume && sink.written > 0 {
      do {
        try sink.reset()
      } catch {
        return Outcome(result: .fail(error))
      }
    }
    let offset = sink.written
    lock.withLock {
      self.sink = sink
      startOffset = offset
      started = Date()
      lastActivity = started
    }
    var request = URLRequest(url: url)
    request.cachePolicy = .reloadIgnoringLocalCacheData
    for (key, value) in options.headers { request.setValue(value, forHTTPHeaderField: key) }
    request.setValue("clipig", forHTTPHeaderField: "User-Agent")
    // Compressed answers have lengths and ranges of the compressed bytes: ask for none.
    request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
    if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
    if offset == 0, let conditional {
      if let tag = conditional.etag { request.setValue(tag, forHTTPHeaderField: "If-None-Match") }
      if let date = conditional.lastModified {
        request.setValue(date, forHTTPHeaderField: "If-Modified-Since")
      }
    }
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = options.idleTimeout + 30
    configuration.timeoutIntervalForResource = DownloadOptions.maximumSeconds
    configuration.urlCache = nil
    let queue = OperationQueue()
    queue.maxConcurrentOperationCount = 1
    let session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
    let task = session.dataTask(with: request)
    task.resume()

    // Watch: silence, slowness, the overall deadline, signals and the caller's cancellation.
    var stopped: ModelStoreError?
    var windowStart = Date()
    var windowBytes = offset
    let urlText = url.absoluteString
    while finished.wait(timeout: .now() + 0.05) == .timedOut {
      let now = Date()
      let (silent, written) = lock.withLock {
        (now.timeIntervalSince(lastActivity), self.sink?.written ?? 0)
      }
      if silent > options.idleTimeout {
        stopped = .timedOut(url: urlText, seconds: options.idleTimeout)
      } else if let deadline, now > deadline {
        stopped = .tooSlow(
          url: urlText,
          reason: "it took longer than the deadline of \(Self.seconds(options.deadline ?? 0))")
      } else if signalled?.isSet == true || options.isCancelled?() == true {
        stopped = .interrupted(url: urlText)
      } else if options.minimumSpeed > 0, now.timeIntervalSince(windowStart) >= options.speedWindow
      {
        let speed = Double(written - windowBytes) / now.timeIntervalSince(windowStart)
        if speed < options.minimumSpeed {
          stopped = .tooSlow(
            url: urlText,
            reason: "it averaged \(Int(speed)) bytes/s over \(Self.seconds(options.speedWindow)), "
              + "below the minimum of \(Int(options.minimumSpeed)) bytes/s")
        }
        windowStart = now
        windowBytes = written
      }
      if stopped != nil {
        lock.withLock { rejected = true }
        task.cancel()
        _ = finished.wait(timeout: .now() + 10)
        break
      }
    }
    session.invalidateAndCancel()

    return lock.withLock {
      if let s = self.sink { sink = s }
      self.sink = nil
      let result: Result
      if let discard {
        result = .discard(discard)
      } else if let failure {
        result = .fail(failure)
      } else if let stopped {
        result = .fail(stopped)
      } else if let retryError {
        result = .retry(retryError)
      } else if notModified {
        result = .notModified
      } else if let transportError {
        result = Self.classify(
          transportError, url: urlText, options: options, received: sink.written,
          expected: expectedEnd, responseStarted: responseStarted)
      } else if let expectedEnd, sink.written != expectedEnd {
        result = .retry(.incomplete(url: urlText, received: sink.written, expected: expectedEnd))
      } else {
        result = .complete
      }
      return Outcome(
        result: result, linkedSHA256: linkedSHA256, announcedSize: expectedEnd, etag: etag,
        lastModified: lastModified)
    }
  }

  private static func seconds(_ s: Double) -> String {
    s == s.rounded() && abs(s) < 1e15 ? "\(Int(s)) s" : "\(s) s"
  }

  /// Maps a transport error to a retry (connection cut) or a final error.
  private static func classify(
    _ error: any Error, url: String, options: DownloadOptions, received: Int64, expected: Int64?,
    responseStarted: Bool
  ) -> Result {
    if responseStarted && (error as? URLError)?.code != .timedOut {
      // The server answered and the body stopped early (curl reports several codes for it).
      return .retry(.incomplete(url: url, received: received, expected: expected ?? -1))
    }
    guard let e = error as? URLError else {
      return .fail(.unreachable(url: url, reason: "\(error.localizedDescription)"))
    }
    switch e.code {
    case .timedOut:
      return .fail(.timedOut(url: url, seconds: options.idleTimeout))
    case .networkConnectionLost, .cannotParseResponse, .badServerResponse, .zeroByteResource:
      return .retry(.incomplete(url: url, received: received, expected: expected ?? -1))
    case .notConnectedToInternet:
      return .fail(.unreachable(url: url, reason: "no internet connection"))
    case .cannotFindHost, .dnsLookupFailed:
      return .fail(.unreachable(url: url, reason: "the host name cannot be resolved"))
    case .cannotConnectToHost:
      return .fail(.unreachable(url: url, reason: "the connection was refused"))
    case .secureConnectionFailed, .serverCertificateUntrusted, .serverCertificateHasBadDate,
      .serverCertificateNotYetValid, .serverCertificateHasUnknownRoot:
      return .fail(.unreachable(url: url, reason: "the secure connection failed"))
    default:
      return .fail(.unreachable(url: url, reason: e.localizedDescription))
    }
  }

  private func fail(_ error: ModelStoreError, _ task: URLSessionTask) {
    if failure == nil { failure = error }
    rejected = true
    task.cancel()
  }

  private func report(_ phase: DownloadProgress.Phase, force: Bool) {
    guard let handler = options.progress, let sink else { return }
    let now = Date()
    guard force || now.timeIntervalSince(lastReport) >= 0.05 else { return }
    lastReport = now
    let elapsed = now.timeIntervalSince(started)
    let speed = elapsed > 0 ? Double(sink.written - startOffset) / elapsed : 0
    handler(
      DownloadProgress(
        file: name, url: url.absoluteString, phase: phase, received: sink.written,
        total: expectedEnd, resumedFrom: startOffset, bytesPerSecond: speed, elapsed: elapsed))
  }

  // MARK: URLSessionDataDelegate

  func urlSession(
    _ session: URLSession, dataTask: URLSessionDataTask, didReceive response: URLResponse,
    completionHandler: @escaping @Sendable (URLSession.ResponseDisposition) -> Void
  ) {
    let allow: Bool = lock.withLock {
      lastActivity = Date()
      guard let http = response as? HTTPURLResponse else {
        fail(.unreachable(url: url.absoluteString, reason: "not an HTTP response"), dataTask)
        return false
      }
      captureLinkedHash(http)
      etag = http.value(forHTTPHeaderField: "ETag")
      lastModified = http.value(forHTTPHeaderField: "Last-Modified")
      var length = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
      // A compressed answer (sent although identity was asked for) is decoded on the way in:
      // its Content-Length counts the compressed bytes, so only the hash can check it.
      let encoding = http.value(forHTTPHeaderField: "Content-Encoding")?.lowercased()
        .trimmingCharacters(in: .whitespaces)
      let encoded = encoding.map { !$0.isEmpty && $0 != "identity" } ?? false
      if encoded { length = nil }
      switch http.statusCode {
      case 200:
        // The whole file: start over if something was present.
        if startOffset > 0 {
          do {
            try sink?.reset()
          } catch let error as ModelStoreError {
            fail(error, dataTask)
            return false
          } catch {
            return false
          }
          startOffset = 0
        }
        expectedEnd = length
      case 206 where encoded:
        rejected = true
        _ = try? sink?.reset()
        retryError = .badResponse(
          url: url.absoluteString, reason: "a compressed partial answer cannot be resumed")
        return false
      case 206:
        let range = Self.contentRange(http.value(forHTTPHeaderField: "Content-Range"))
        guard let range, range.start == startOffset else {
          // A range we did not ask for: write none of it, drop the partial file and let the
          // next attempt ask for the whole file.
          rejected = true
          _ = try? sink?.reset()
          retryError = .badResponse(
            url: url.absoluteString,
            reason: "it sent bytes from \(range.map { String($0.start) } ?? "an unknown offset") "
              + "when bytes from \(startOffset) were asked for")
          return false
        }
        expectedEnd = range.total ?? length.map { $0 + startOffset }
      case 304 where conditional != nil && startOffset == 0:
        notModified = true
        return false
      case 416:
        // Nothing left to send: complete if the server's size is what we hold, else start over.
        let total = Self.contentRange(http.value(forHTTPHeaderField: "Content-Range"))?.total
        rejected = true
        if let total, total == sink?.written {
          expectedEnd = total
        } else {
          _ = try? sink?.reset()
          retryError = .incomplete(url: url.absoluteString, received: 0, expected: total ?? -1)
        }
        return false
      default:
        fail(.http(url: url.absoluteString, status: http.statusCode), dataTask)
        return false
      }
      if let limit = options.maximumBytes, let expectedEnd, expectedEnd > limit {
        rejected = true
        discard = .tooLarge(url: url.absoluteString, limit: limit)
        return false
      }
      responseStarted = true
      report(.started, force: true)
      return true
    }
    completionHandler(allow ? .allow : .cancel)
  }

  func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
    lock.withLock {
      guard !rejected, failure == nil, discard == nil, retryError == nil, sink != nil else {
        return
      }
      lastActivity = Date()
      if let limit = options.maximumBytes, let written = sink?.written,
        written + Int64(data.count) > limit
      {
        rejected = true
        discard = .tooLarge(url: url.absoluteString, limit: limit)
        dataTask.cancel()
        return
      }
      if let expectedEnd, let written = sink?.written, written + Int64(data.count) > expectedEnd {
        rejected = true
        discard = .badResponse(
          url: url.absoluteString,
          reason: "it sent more than the \(expectedEnd) bytes it announced")
        dataTask.cancel()
        return
      }
      do {
        try data.withUnsafeBytes { (raw: UnsafeRawBufferPointer) throws(ModelStoreError) in
          try sink?.append(raw)
        }
      } catch let error as ModelStoreError {
        fail(error, dataTask)
        return
      } catch {
        fail(.io(path: name, reason: "\(error)"), dataTask)
        return
      }
      report(.receiving, force: false)
    }
  }

  func urlSession(
    _ session: URLSession, task: URLSessionTask,
    willPerformHTTPRedirection response: HTTPURLResponse,
    newRequest request: URLRequest, completionHandler: @escaping @Sendable (URLRequest?) -> Void
  ) {
    var next = request
    lock.withLock {
      lastActivity = Date()
      captureLinkedHash(response)
      if startOffset > 0 { next.setValue("bytes=\(startOffset)-", forHTTPHeaderField: "Range") }
      // Credentials are for the host they were given for (Hugging Face's CDN needs none).
      if request.url?.host?.lowercased() != url.host?.lowercased() {
        for key in options.headers.keys where key.lowercased() == "authorization" {
          next.setValue(nil, forHTTPHeaderField: key)
        }
        next.setValue(nil, forHTTPHeaderField: "Authorization")
      }
    }
    completionHandler(next)
  }

  func urlSession(
    _ session: URLSession, task: URLSessionTask, didCompleteWithError error: (any Error)?
  ) {
    lock.withLock {
      if failure == nil, let error {
        // A cancellation we asked for is already described by `failure` or the timeout.
        if (error as? URLError)?.code != .cancelled { transportError = error }
      }
      if failure == nil, error == nil { report(.receiving, force: true) }
    }
    finished.signal()
  }

  /// Hugging Face sends the SHA-256 of large files as `X-Linked-Etag`.
  private func captureLinkedHash(_ response: HTTPURLResponse) {
    guard let value = response.value(forHTTPHeaderField: "X-Linked-Etag") else { return }
    var tag = value.trimmingCharacters(in: .whitespaces)
    if tag.hasPrefix("W/") { tag.removeFirst(2) }
    tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\"")).lowercased()
    if ModelCache.isHexDigest(tag) { linkedSHA256 = tag }
  }

  /// `bytes START-END/TOTAL` (TOTAL may be `*`).
  static func contentRange(_ header: String?) -> (start: Int64, total: Int64?)? {
    guard let header, header.hasPrefix("bytes ") else { return nil }
    let spec = header.dropFirst(6)
    let parts = spec.split(separator: "/", maxSplits: 1)
    guard let range = parts.first else { return nil }
    let total = parts.count == 2 ? Int64(parts[1]) : nil
    if range == "*" { return (-1, total) }
    guard let dash = range.firstIndex(of: "-"), let start = Int64(range[..<dash]) else {
      return nil
    }
    return (start, total)
  }
}

/// `close(2)`, callable where a method of that name would shadow it.
private func closeDescriptor(_ fd: Int32) {
  _ = close(fd)
}
