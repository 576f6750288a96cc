import Foundation
import Testing

@testable import CLIP
@testable import ModelStore

/// The downloader's limits and its general API (maximum size, deadline, minimum speed,
/// conditional revalidation, cancellation) against misbehaving loopback servers.
@Suite struct ModelStoreDownloadLimitsTests {
  let payload: [UInt8]
  let sha: String

  init() throws {
    payload = try ModelStoreFixture.bytes("tiny-openai-jit.pt")
    sha = SHA256.hex(of: payload)
  }

  private func options(idle: Double = 3, attempts: Int = 1) -> DownloadOptions {
    var o = DownloadOptions(idleTimeout: idle, attempts: attempts, lockTimeout: 20)
    o.notice = nil
    o.environment = [:]
    return o
  }

  private func listing(_ dir: String) -> [String] {
    ((try? FileManager.default.contentsOfDirectory(atPath: dir)) ?? []).filter {
      !$0.hasSuffix(".lock")
    }.sorted()
  }

  @Test func timesThatAreNotFinitePositiveSecondsAreRefused() throws {
    let server = try LoopbackServer(routes: ["/f": .file(payload)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("badtime")
    for value in [Double.nan, .infinity, 1e300, -1, 0] {
      var o = options()
      o.idleTimeout = value
      #expect {
        try Downloader.download(url: server.url("/f"), to: dir + "/f", sha256: nil, options: o)
      } throws: { error in
        guard let e = error as? ModelStoreError, case .invalidOption = e else { return false }
        return e.description.contains("timeout")
      }
      var d = options()
      d.deadline = value
      #expect(throws: ModelStoreError.self) { try d.validate() }
    }
    #expect(server.requests.isEmpty)
    #expect(listing(dir).isEmpty)
  }

  @Test func aTrickleIsAbandonedByTheMinimumSpeed() throws {
    // One byte every 0.1 s never trips the idle timeout (3 s).
    let server = try LoopbackServer(routes: ["/t": .trickle(payload, interval: 0.1)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("trickle") + "/t.pt"
    var o = options()
    o.minimumSpeed = 1000
    o.speedWindow = 1
    let start = Date()
    #expect {
      try Downloader.download(url: server.url("/t"), to: target, sha256: sha, options: o)
    } throws: { error in
      guard let e = error as? ModelStoreError, case .tooSlow = e else { return false }
      return e.description.contains("minimum")
    }
    #expect(Date().timeIntervalSince(start) < 120, "a hang guard, not a measurement")
    #expect(ModelCache.fileSize(target) == nil)
  }

  @Test func aTrickleIsAbandonedAtTheDeadline() throws {
    let server = try LoopbackServer(routes: ["/t": .trickle(payload, interval: 0.1)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("deadline") + "/t.pt"
    var o = options(attempts: 3)
    o.minimumSpeed = 0
    o.deadline = 1
    let start = Date()
    #expect {
      try Downloader.download(url: server.url("/t"), to: target, sha256: sha, options: o)
    } throws: { error in
      guard let e = error as? ModelStoreError, case .tooSlow = e else { return false }
      return e.description.contains("deadline")
    }
    #expect(Date().timeIntervalSince(start) < 120, "a hang guard, not a measurement")
    #expect(server.requests.count == 1)
  }

  @Test func aFileOverTheMaximumSizeKeepsNothing() throws {
    let server = try LoopbackServer(routes: [
      "/big": .file(payload), "/nolength": .noLength(payload, sent: payload.count),
    ])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("max")
    for path in ["/big", "/nolength"] {
      var o = options()
      o.maximumBytes = 10_000
      #expect {
        try Downloader.download(url: server.url(path), to: dir + "/f", sha256: nil, options: o)
      } throws: { error in
        guard let e = error as? ModelStoreError, case .tooLarge(_, let limit) = e else {
          return false
        }
        return limit == 10_000
      }
      #expect(listing(dir).isEmpty, "\(path): \(listing(dir))")
    }
    // At the limit it is fine.
    var o = options()
    o.maximumBytes = Int64(payload.count)
    try Downloader.download(url: server.url("/big"), to: dir + "/f", sha256: sha, options: o)
  }

  @Test func conditionalRevalidationKeepsACurrentFile() throws {
    let server = try LoopbackServer(routes: ["/img": .conditional(payload, tag: "\"v1\"")])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("reval") + "/img.png"
    #expect(
      try Downloader.revalidate(url: server.url("/img"), to: target, options: options())
        == .downloaded(sha256: sha))
    #expect(CacheRecord.read(for: target)?.etag == "\"v1\"")
    #expect(
      try Downloader.revalidate(url: server.url("/img"), to: target, options: options())
        == .notModified(sha256: sha))
    #expect(server.requests.last?.headers["if-none-match"] == "\"v1\"")
    #expect(server.requests.last?.headers["if-modified-since"] == "Wed, 21 Oct 2015 07:28:00 GMT")
    // A new version replaces the file.
    let newer = Array(payload.reversed())
    server.setRoute("/img", .conditional(newer, tag: "\"v2\""))
    #expect(
      try Downloader.revalidate(url: server.url("/img"), to: target, options: options())
        == .downloaded(sha256: SHA256.hex(of: newer)))
    #expect(FileManager.default.contents(atPath: target).map { [UInt8]($0) } == newer)
    #expect(server.requests.count == 3)
  }

  @Test func aResumedAnswerAtTheWrongOffsetWritesNothing() throws {
    let server = try LoopbackServer(routes: ["/r": .wrongRange(payload, start: 5000)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("wrongrange")
    let target = dir + "/r.pt"
    try Data(payload.prefix(3000)).write(to: URL(fileURLWithPath: target + ".partial"))
    #expect {
      try Downloader.download(
        url: server.url("/r"), to: target, sha256: sha, options: options(attempts: 2))
    } throws: { error in
      guard let e = error as? ModelStoreError, case .badResponse = e else { return false }
      return e.description.contains("5000")
    }
    #expect(server.requests.map(\.range) == ["bytes=3000-", nil])
    // None of the misplaced bytes were written.
    #expect((ModelCache.fileSize(target + ".partial") ?? 0) == 0)
    #expect(ModelCache.fileSize(target) == nil)
  }

  @Test func halfAFileWithoutLengthOrHashMustMatchTheAnnouncedSize() throws {
    let half = payload.count / 2
    let server = try LoopbackServer(routes: ["/h": .noLength(payload, sent: half)])
    defer { server.stop() }
    let dir = try ModelStoreFixture.scratchDirectory("half")
    #expect {
      try Downloader.download(
        url: server.url("/h"), to: dir + "/h.pt", sha256: nil, size: Int64(payload.count),
        options: options())
    } throws: { error in
      guard case .sizeMismatch(_, let expected, let actual)? = error as? ModelStoreError else {
        return false
      }
      return expected == Int64(payload.count) && actual == Int64(half)
    }
    #expect(ModelCache.fileSize(dir + "/h.pt") == nil)
    // With nothing announced at all it is kept, and recorded as unsized (it may be cut off).
    try Downloader.download(
      url: server.url("/h"), to: dir + "/u.pt", sha256: nil, options: options())
    #expect(CacheRecord.read(for: dir + "/u.pt")?.provenance == .unsized)
  }

  @Test func aGzipEncodedAnswerIsDecodedOrRefusedClearly() throws {
    let server = try LoopbackServer(routes: ["/z": .gzip(payload)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("gzip") + "/z.pt"
    // Decoded on the way in (libcurl under URLSession) and checked by its hash.
    let digest = try Downloader.download(
      url: server.url("/z"), to: target, sha256: sha, options: options())
    #expect(digest == sha)
    #expect(server.requests.first?.headers["accept-encoding"] == "identity")
  }

  @Test func theCallerCanStopADownload() throws {
    let server = try LoopbackServer(routes: ["/s": .stall(payload, after: 1000)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("cancel") + "/s.pt"
    let start = Date()
    var o = options(idle: 30)
    o.isCancelled = { Date().timeIntervalSince(start) > 0.5 }
    #expect {
      try Downloader.download(url: server.url("/s"), to: target, sha256: sha, options: o)
    } throws: { error in
      guard case .interrupted? = error as? ModelStoreError else { return false }
      return true
    }
    #expect(Date().timeIntervalSince(start) < 120, "a hang guard, not a measurement")
    #expect(ModelCache.fileSize(target + ".partial") == 1000)
  }

  @Test func extraHeadersAreSent() throws {
    let server = try LoopbackServer(routes: ["/f": .file(payload)])
    defer { server.stop() }
    let target = try ModelStoreFixture.scratchDirectory("auth") + "/f.pt"
    var o = options()
    o.headers = ["Authorization": "Bearer hf_test"]
    try Downloader.download(url: server.url("/f"), to: target, sha256: sha, options: o)
    #expect(server.requests.first?.headers["authorization"] == "Bearer hf_test")
  }

  @Test func proxyVariablesAreReadAsLibcurlDoes() throws {
    let https = try #require(URL(string: "https://huggingface.co/x"))
    let http = try #require(URL(string: "http://127.0.0.1:8/x"))
    #expect(
      Proxy.variable(for: https, environment: ["https_proxy": "http://p:3128"]) == "https_proxy")
    #expect(Proxy.variable(for: https, environment: ["http_proxy": "http://p:3128"]) == nil)
    #expect(Proxy.variable(for: http, environment: ["HTTP_PROXY": "http://p:3128"]) == nil)
    #expect(
      Proxy.variable(
        for: https,
        environment: ["https_proxy": "http://p", "no_proxy": "example.com,.huggingface.co"])
        == nil)
    #expect(
      Proxy.variable(for: http, environment: ["all_proxy": "http://p", "NO_PROXY": "*"]) == nil)
  }
}
