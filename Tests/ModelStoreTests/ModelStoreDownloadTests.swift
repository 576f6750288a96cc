import Foundation
import Testing

@testable import CLIP
@testable import ModelStore

/// The downloader against a loopback server started by each test (127.0.0.1 only).
@Suite struct ModelStoreDownloadTests {
  let payload: [UInt8]
  let sha: String

  init() throws {
    payload = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    sha = SHA256.hex(of: payload)
  }

  /// Collects progress events.
  final class Events: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [DownloadProgress] = []
    var all: [DownloadProgress] { lock.withLock { items } }
    var handler: @Sendable (DownloadProgress) -> Void {
      { [self] p in lock.withLock { items.append(p) } }
    }
  }

  private func contents(_ path: String) -> [UInt8]? {
    FileManager.default.contents(atPath: path).map { [UInt8]($0) }
  }

  private func fastOptions(_ events: Events? = nil, attempts: Int = 3) -> DownloadOptions {
    DownloadOptions(idleTimeout: 2, attempts: attempts, lockTimeout: 20, progress: events?.handler)
  }

  @Test func downloadsVerifiesAndRecords() throws {
    let server = try LoopbackServer(routes: ["/m/tiny.pt": .file(payload)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("ok")
    let target = dir + "/cache/openai/tiny.pt"
    let events = Events()
    let digest = try Downloader.download(
      url: server.url("/m/tiny.pt"), to: target, sha256: sha, options: fastOptions(events))
    #expect(digest == sha)
    #expect(contents(target) == payload)
    #expect(ModelCache.recordedHash(target) == sha)
    #expect(ModelCache.fileSize(target + ".partial") == nil)
    // The downloaded file is a checkpoint clipig reads.
    #expect(try TorchCheckpoint(path: target).format == .torchScript)
    let phases = events.all.map(\.phase)
    #expect(phases.first == .started)
    #expect(phases.last == .finished)
    #expect(events.all.first?.total == Int64(payload.count))
    // Already there: no second request.
    try Downloader.download(url: server.url("/m/tiny.pt"), to: target, sha256: sha)
    #expect(server.requests.count == 1)
  }

  @Test func resumesAfterACutConnection() throws {
    let cut = 40_000
    let server = try LoopbackServer(routes: ["/f": .cut(payload, after: cut, times: 1)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("cut") + "/f.pt"
    try Downloader.download(url: server.url("/f"), to: target, sha256: sha, options: fastOptions())
    #expect(contents(target) == payload)
    #expect(server.requests.map(\.range) == [nil, "bytes=\(cut)-"])
  }

  @Test func keepsThePartialFileAndResumesOnTheNextRun() throws {
    let cut = 50_000
    let server = try LoopbackServer(routes: ["/f": .cut(payload, after: cut, times: 1)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("resume") + "/f.pt"
    #expect {
      try Downloader.download(
        url: server.url("/f"), to: target, sha256: sha, options: fastOptions(attempts: 1))
    } throws: { error in
      guard case .incomplete(_, let received, let expected)? = error as? ModelStoreError else {
        return false
      }
      return received == Int64(cut) && expected == Int64(payload.count)
    }
    #expect(ModelCache.fileSize(target + ".partial") == Int64(cut))
    #expect(ModelCache.fileSize(target) == nil)
    let events = Events()
    try Downloader.download(
      url: server.url("/f"), to: target, sha256: sha, options: fastOptions(events, attempts: 1))
    #expect(contents(target) == payload)
    #expect(server.requests.last?.range == "bytes=\(cut)-")
    #expect(events.all.first { $0.phase == .started }?.resumedFrom == Int64(cut))
  }

  @Test func wrongChecksumIsRejectedAndLeavesTheCacheClean() throws {
    var other = payload
    other[1000] ^= 0xFF
    let server = try LoopbackServer(routes: ["/f": .file(other)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("sha")
    let target = dir + "/f.pt"
    #expect {
      try Downloader.download(
        url: server.url("/f"), to: target, sha256: sha, options: fastOptions())
    } throws: { error in
      guard case .checksumMismatch(_, let expected, let actual)? = error as? ModelStoreError else {
        return false
      }
      return expected == sha && actual == SHA256.hex(of: other)
    }
    let left = try FileManager.default.contentsOfDirectory(atPath: dir).filter {
      !$0.hasSuffix(".lock")
    }
    #expect(left.isEmpty, "cache holds \(left)")
  }

  @Test func httpErrorsAreOneClearSentence() throws {
    let server = try LoopbackServer(routes: ["/gone": .status(500)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("404")
    for (path, status) in [("/missing", 404), ("/gone", 500)] {
      #expect {
        try Downloader.download(
          url: server.url(path), to: dir + "/x.pt", sha256: nil, options: fastOptions())
      } throws: { error in
        guard let e = error as? ModelStoreError, case .http(_, let s) = e else { return false }
        return s == status && e.description.contains("HTTP \(status)")
          && !e.description.contains("\n")
      }
    }
    #expect(ModelCache.fileSize(dir + "/x.pt") == nil)
    #expect(ModelCache.fileSize(dir + "/x.pt.partial") == nil)
  }

  @Test func aStalledServerTimesOut() throws {
    let server = try LoopbackServer(routes: ["/s": .stall(payload, after: 1000)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("stall") + "/s.pt"
    let start = Date()
    #expect {
      try Downloader.download(
        url: server.url("/s"), to: target, sha256: sha,
        options: DownloadOptions(idleTimeout: 0.5, attempts: 3))
    } throws: { error in
      guard case .timedOut(_, let seconds)? = error as? ModelStoreError else { return false }
      return seconds == 0.5
    }
    #expect(Date().timeIntervalSince(start) < 120, "a hang guard, not a measurement")
    // What arrived is kept for the next run.
    #expect(ModelCache.fileSize(target + ".partial") == 1000)
  }

  @Test func aFullDiskStopsTheDownload() throws {
    // Simulated: a real full file system (a tiny tmpfs) needs privileges tests do not have.
    let server = try LoopbackServer(routes: ["/f": .file(payload)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("full") + "/f.pt"
    var options = fastOptions()
    options.simulatedFreeSpace = 10_000
    #expect {
      try Downloader.download(url: server.url("/f"), to: target, sha256: sha, options: options)
    } throws: { error in
      guard let e = error as? ModelStoreError, case .diskFull = e else { return false }
      return e.description.contains("disk is full")
    }
    #expect(ModelCache.fileSize(target) == nil)
  }

  @Test func anUnreachableHostIsReported() throws {
    // A port nobody listens on: start a server and stop it.
    let server = try LoopbackServer(routes: [:])
    let url = server.url("/f")
    server.stop()
    let target = try ModelStoreFixture.scratchDirectory("down") + "/f.pt"
    #expect {
      try Downloader.download(url: url, to: target, sha256: sha, options: fastOptions())
    } throws: { error in
      guard let e = error as? ModelStoreError, case .unreachable = e else { return false }
      return e.description.contains("127.0.0.1")
    }
  }

  @Test func aServerIgnoringRangeRestartsTheFile() throws {
    let server = try LoopbackServer(routes: ["/f": .ignoreRange(payload)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("norange") + "/f.pt"
    // A stale partial file of the wrong content.
    try Data(repeating: 0x55, count: 3000).write(to: URL(fileURLWithPath: target + ".partial"))
    try Downloader.download(url: server.url("/f"), to: target, sha256: sha, options: fastOptions())
    #expect(contents(target) == payload)
    #expect(server.requests.first?.range == "bytes=3000-")
  }

  @Test func aCompletePartialFileIsFinishedWithoutData() throws {
    let server = try LoopbackServer(routes: ["/f": .file(payload)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("whole") + "/f.pt"
    try Data(payload).write(to: URL(fileURLWithPath: target + ".partial"))
    try Downloader.download(url: server.url("/f"), to: target, sha256: sha, options: fastOptions())
    #expect(contents(target) == payload)
    #expect(server.requests.map(\.range) == ["bytes=\(payload.count)-"])
  }

  @Test func redirectsKeepTheRangeAndTheDeclaredHashIsChecked() throws {
    let server = try LoopbackServer(routes: [
      "/resolve": .redirect(location: "/cdn", headers: ["X-Linked-Etag": "\"\(sha)\""]),
      "/bad": .redirect(
        location: "/cdn", headers: ["X-Linked-Etag": String(repeating: "0", count: 64)]),
      "/cdn": .cut(payload, after: 30_000, times: 1),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("redirect")
    // No checksum in the table: the server's declared SHA-256 is used, and recorded.
    let digest = try Downloader.download(
      url: server.url("/resolve"), to: dir + "/a.pt", sha256: nil, options: fastOptions())
    #expect(digest == sha)
    #expect(ModelCache.recordedHash(dir + "/a.pt") == sha)
    #expect(
      server.requests.map(\.range) == [nil, nil, "bytes=30000-", "bytes=30000-"],
      "\(server.requests)")
    #expect(throws: ModelStoreError.self) {
      try Downloader.download(
        url: server.url("/bad"), to: dir + "/b.pt", sha256: nil, options: fastOptions())
    }
  }

  @Test func concurrentDownloadsOfOneFileShareOneTransfer() throws {
    let server = try LoopbackServer(routes: ["/f": .slow(payload, pieces: 10, pause: 0.03)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("concurrent") + "/f.pt"
    let results = Results()
    let group = DispatchGroup()
    for _ in 0..<3 {
      group.enter()
      Thread { [url = server.url("/f"), sha] in
        do {
          let d = try Downloader.download(
            url: url, to: target, sha256: sha,
            options: DownloadOptions(idleTimeout: 5, attempts: 1, lockTimeout: 20))
          results.add(d)
        } catch {
          results.add("error: \(error)")
        }
        group.leave()
      }.start()
    }
    #expect(group.wait(timeout: .now() + 30) == .success)
    #expect(results.all == [sha, sha, sha])
    #expect(contents(target) == payload)
    #expect(server.requests.count == 1)
  }

  final class Results: @unchecked Sendable {
    private let lock = NSLock()
    private var items: [String] = []
    func add(_ s: String) { lock.withLock { items.append(s) } }
    var all: [String] { lock.withLock { items } }
  }
}

extension ModelStoreDownloadTests {
  /// A file in place whose recorded hash contradicts the expected one is downloaded again.
  @Test func aFileContradictingTheExpectedHashIsReplaced() throws {
    let server = try LoopbackServer(routes: ["/f": .file(payload)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("replace") + "/f.pt"
    try Data("stale".utf8).write(to: URL(fileURLWithPath: target))
    try ModelCache.recordHash(SHA256.hex(of: Array("stale".utf8)), for: target)
    try Downloader.download(
      url: server.url("/f"), to: target, sha256: sha, options: DownloadOptions(idleTimeout: 2))
    #expect(FileManager.default.contents(atPath: target).map { [UInt8]($0) } == payload)
    #expect(ModelCache.recordedHash(target) == sha)
    // With no expectation, the file in place is kept.
    try Downloader.download(url: server.url("/f"), to: target, sha256: nil)
    #expect(server.requests.count == 1)
  }
}
