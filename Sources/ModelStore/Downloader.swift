import CLIP
import Foundation

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
  /// Called with the state of the download (from a background thread).
  public var progress: (@Sendable (DownloadProgress) -> Void)?
  /// Tests only: writing more than this many bytes fails as a full disk would.
  var simulatedFreeSpace: Int64?

  /// Options with the given timeouts and progress handler.
  public init(
    idleTimeout: Double = 60, attempts: Int = 3, lockTimeout: Double = 4 * 3600,
    progress: (@Sendable (DownloadProgress) -> Void)? = nil
  ) {
    self.idleTimeout = idleTimeout
    self.attempts = max(1, attempts)
    self.lockTimeout = lockTimeout
    self.progress = progress
  }
}

/// Downloads one file into the cache: HTTP(S) through URLSession, resumable with `Range`,
/// verified with SHA-256 before it is renamed into place, under a lock so that concurrent
/// processes never write the same file.
///
/// While downloading, the data goes to `<file>.partial`; an interrupted download keeps it and
/// the next attempt (or run) asks the server for the rest. The hash is computed as data
/// arrives (after re-reading a resumed part) and compared with the expected one; a mismatch
/// deletes the partial file, so the cache never holds a bad file under its real name.
public enum Downloader {
  /// Downloads `url` to `path` unless it is already there. `sha256` is the expected hash (nil
  /// if unknown: then a SHA-256 the server declares for the file is used if any, and the hash
  /// of what arrived is recorded). Returns the file's SHA-256.
  @discardableResult
  public static func download(
    url: String, to path: String, sha256 expected: String?, options: DownloadOptions = .init()
  ) throws(ModelStoreError) -> String {
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

    // Another process may have finished it while we waited. A file in place that contradicts
    // the expected hash (say, recorded before an official checksum was known) is replaced.
    if ModelCache.fileSize(path) != nil {
      let recorded = ModelCache.recordedHash(path)
      if let recorded, expected == nil || recorded == expected { return recorded }
      let actual = try ModelCache.hashFile(path)
      if expected == nil || actual == expected {
        try ModelCache.recordHash(actual, for: path)
        return actual
      }
      unlink(path)
      unlink(ModelCache.hashRecordPath(path))
    }

    let partial = path + ".partial"
    var sink = try FileSink(path: partial, freeSpace: options.simulatedFreeSpace)
    defer { sink.closeFile() }
    var declared = expected
    var failure: ModelStoreError?
    for _ in 0..<options.attempts {
      let transfer = Transfer(url: remote, name: name, options: options)
      let outcome = transfer.run(sink: &sink)
      if declared == nil, let linked = outcome.linkedSHA256 { declared = linked }
      switch outcome.result {
      case .complete:
        failure = nil
      case .retry(let error):
        failure = error
        continue
      case .fail(let error):
        failure = error
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
    sink.closeFile()
    guard rename(partial, path) == 0 else {
      throw .io(path: path, reason: String(cString: strerror(errno)))
    }
    try ModelCache.recordHash(actual, for: path)
    options.progress?(
      DownloadProgress(
        file: name, url: url, phase: .finished, received: sink.written, total: sink.written,
        resumedFrom: 0, bytesPerSecond: 0, elapsed: 0))
    return actual
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
/// the calling thread waits and watches for silence.
private final class Transfer: NSObject, URLSessionDataDelegate, @unchecked Sendable {
  enum Result {
    case complete
    case retry(ModelStoreError)
    case fail(ModelStoreError)
  }

  struct Outcome {
    var result: Result
    var linkedSHA256: String?
  }

  private let url: URL
  private let name: String
  private let options: DownloadOptions
  private let lock = NSLock()
  private let finished = DispatchSemaphore(value: 0)

  // Guarded by `lock`.
  private var sink: FileSink?
  private var failure: ModelStoreError?
  private var retryError: ModelStoreError?
  private var transportError: (any Error)?
  private var expectedEnd: Int64?
  private var lastActivity = Date()
  private var started = Date()
  private var startOffset: Int64 = 0
  private var linkedSHA256: String?
  private var responseStarted = false
  private var lastReport = Date.distantPast

  init(url: URL, name: String, options: DownloadOptions) {
    self.url = url
    self.name = name
    self.options = options
  }

  func run(sink: inout FileSink) -> Outcome {
    let offset = sink.written
    lock.withLock {
      self.sink = sink
      startOffset = offset
      started = Date()
      lastActivity = started
    }
    var request = URLRequest(url: url)
    request.cachePolicy = .reloadIgnoringLocalCacheData
    request.setValue("clipig", forHTTPHeaderField: "User-Agent")
    request.setValue("identity", forHTTPHeaderField: "Accept-Encoding")
    if offset > 0 { request.setValue("bytes=\(offset)-", forHTTPHeaderField: "Range") }
    let configuration = URLSessionConfiguration.ephemeral
    configuration.timeoutIntervalForRequest = options.idleTimeout + 30
    configuration.timeoutIntervalForResource = 7 * 24 * 3600
    configuration.urlCache = nil
    let queue = OperationQueue()
    queue.maxConcurrentOperationCount = 1
    let session = URLSession(configuration: configuration, delegate: self, delegateQueue: queue)
    let task = session.dataTask(with: request)
    task.resume()

    // Watch for silence: cancel when nothing arrives for idleTimeout seconds.
    var timedOut = false
    while finished.wait(timeout: .now() + 0.05) == .timedOut {
      let silent = lock.withLock { Date().timeIntervalSince(lastActivity) }
      if silent > options.idleTimeout {
        timedOut = true
        task.cancel()
        _ = finished.wait(timeout: .now() + 10)
        break
      }
    }
    session.invalidateAndCancel()

    return lock.withLock {
      if let s = self.sink { sink = s }
      self.sink = nil
      let urlText = url.absoluteString
      let result: Result
      if let failure {
        result = .fail(failure)
      } else if let retryError {
        result = .retry(retryError)
      } else if timedOut {
        result = .fail(.timedOut(url: urlText, seconds: options.idleTimeout))
      } else if let transportError {
        result = Self.classify(
          transportError, url: urlText, options: options, received: sink.written,
          expected: expectedEnd, responseStarted: responseStarted)
      } else if let expectedEnd, sink.written != expectedEnd {
        result = .retry(.incomplete(url: urlText, received: sink.written, expected: expectedEnd))
      } else {
        result = .complete
      }
      return Outcome(result: result, linkedSHA256: linkedSHA256)
    }
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
      let length = http.expectedContentLength >= 0 ? http.expectedContentLength : nil
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
      case 206:
        let range = Self.contentRange(http.value(forHTTPHeaderField: "Content-Range"))
        guard let range, range.start == startOffset else {
          // A range we did not ask for: drop the partial file and let the next attempt restart.
          _ = try? sink?.reset()
          retryError = .incomplete(
            url: url.absoluteString, received: 0, expected: range?.total ?? -1)
          return false
        }
        expectedEnd = range.total ?? length.map { $0 + startOffset }
      case 416:
        // Nothing left to send: complete if the server's size is what we hold, else start over.
        let total = Self.contentRange(http.value(forHTTPHeaderField: "Content-Range"))?.total
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
      responseStarted = true
      report(.started, force: true)
      return true
    }
    completionHandler(allow ? .allow : .cancel)
  }

  func urlSession(_ session: URLSession, dataTask: URLSessionDataTask, didReceive data: Data) {
    lock.withLock {
      guard failure == nil, sink != nil else { return }
      lastActivity = Date()
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
      if let expectedEnd, let written = sink?.written, written > expectedEnd {
        fail(.http(url: url.absoluteString, status: 200), dataTask)
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
    tag = tag.trimmingCharacters(in: CharacterSet(charactersIn: "\""))
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
