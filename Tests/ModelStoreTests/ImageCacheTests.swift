import Formats
import Foundation
import PipelineKit
import Synchronization
import TestSupport
import Testing

@testable import ModelStore

/// A small PNG and its decoded pixels: `[3,4,6]`, values on the 1/255 grid.
private func samplePNG() throws -> (bytes: [UInt8], image: Tensor) {
  var image = Tensor(shape: [3, 4, 6])
  image.scalars = (0..<72).map { Float(($0 * 37) % 256) / 255 }
  return (try ImageFile.encode(image, format: .png), image)
}

/// Notes the cache printed.
private final class Notes: Sendable {
  private let lines = Mutex<[String]>([])
  var all: [String] { lines.withLock { $0 } }
  var sink: @Sendable (String) -> Void { { [self] line in lines.withLock { $0.append(line) } } }
}

/// A cache in a scratch folder with short timeouts, notes recorded.
private func scratchCache(_ notes: Notes) throws -> ImageCache {
  var cache = ImageCache(directory: try ModelStoreFixture.scratchDirectory("images") + "/images")
  cache.idleTimeout = 2
  cache.deadline = 10
  cache.notice = notes.sink
  return cache
}

/// The files in the cache folder (none when it does not exist).
private func cacheContents(_ cache: ImageCache) -> [String] {
  ((try? FileManager.default.contentsOfDirectory(atPath: cache.directory)) ?? []).sorted()
}

@Suite("Images from http(s) URLs, cached")
struct ImageCacheTests {
  @Test("200: downloaded once into <cache>/images/<sha256 of the URL>, decoded by content")
  func downloadsOnce() throws {
    let (png, image) = try samplePNG()
    let server = try LoopbackServer(routes: ["/a/picture.jpg": .file(png)])
    defer { server.stop() }
    let notes = Notes()
    let cache = try scratchCache(notes)
    let url = server.url("/a/picture.jpg")
    let loaded = try ImageInput.load(url, cache: cache)
    #expect(loaded.scalars == image.scalars)
    // SHA-256 of the URL text, computed independently of the cache's own hasher.
    var hasher = SHA256()
    hasher.update(Array(url.utf8))
    #expect(cache.path(for: url) == cache.directory + "/" + hasher.hexDigest())
    #expect(try FileIO.readBytes(path: cache.path(for: url)) == png)
    #expect(!cacheContents(cache).contains { $0.hasSuffix(".partial") })
  }

  @Test("304: a cached image is revalidated with its ETag and kept")
  func revalidates() throws {
    let (png, image) = try samplePNG()
    let server = try LoopbackServer(routes: ["/c.png": .conditional(png, tag: "\"v1\"")])
    defer { server.stop() }
    let notes = Notes()
    let cache = try scratchCache(notes)
    let url = server.url("/c.png")
    _ = try ImageInput.load(url, cache: cache)
    let second = try ImageInput.load(url, cache: cache)
    #expect(second.scalars == image.scalars)
    let requests = server.requests.filter { $0.path == "/c.png" }
    #expect(requests.count == 2)
    #expect(requests.last?.headers["if-none-match"] == "\"v1\"", "\(requests)")
    #expect(notes.all.isEmpty, "\(notes.all)")
  }

  @Test("a changed image replaces the cached one")
  func replacesChanged() throws {
    let (png, _) = try samplePNG()
    var other = Tensor(shape: [3, 2, 2])
    other.scalars = [Float](repeating: 1, count: 12)
    let server = try LoopbackServer(routes: ["/c.png": .conditional(png, tag: "\"v1\"")])
    defer { server.stop() }
    let cache = try scratchCache(Notes())
    let url = server.url("/c.png")
    _ = try ImageInput.load(url, cache: cache)
    server.setRoute(
      "/c.png", .conditional(try ImageFile.encode(other, format: .png), tag: "\"v2\""))
    #expect(try ImageInput.load(url, cache: cache).shape == [3, 2, 2])
  }

  @Test("offline: the cached copy is used as it is, with a note")
  func offline() throws {
    let (png, image) = try samplePNG()
    let server = try LoopbackServer(routes: ["/c.png": .conditional(png, tag: "\"v1\"")])
    let notes = Notes()
    let cache = try scratchCache(notes)
    let url = server.url("/c.png")
    _ = try ImageInput.load(url, cache: cache)
    server.stop()
    #expect(try ImageInput.load(url, cache: cache).scalars == image.scalars)
    #expect(notes.all.contains { $0.contains("using the cached copy") }, "\(notes.all)")
  }

  @Test("404: an error naming the URL and the key; nothing is cached")
  func notFound() throws {
    let server = try LoopbackServer(routes: [:])
    defer { server.stop() }
    let cache = try scratchCache(Notes())
    let url = server.url("/missing.jpg")
    do {
      _ = try ImageInput.load(url, key: "init.image", cache: cache)
      Issue.record("a 404 was accepted")
    } catch {
      #expect(error.file == url)
      #expect(error.description.hasPrefix("init.image: \(url): cannot download image"))
      #expect(error.message.contains("404"), "\(error.message)")
    }
    #expect(cacheContents(cache).allSatisfy { !$0.hasPrefix(cache.path(for: url).suffix(64)) })
    #expect(!FileManager.default.fileExists(atPath: cache.path(for: url)))
  }

  @Test("a server that stops sending is abandoned after the idle timeout; no partial file")
  func stalled() throws {
    let (png, _) = try samplePNG()
    let server = try LoopbackServer(routes: ["/s.png": .stall(png, after: 20)])
    defer { server.stop() }
    let cache = try scratchCache(Notes())
    let url = server.url("/s.png")
    let started = Date()
    #expect(throws: ImageIOError.self) { try ImageInput.load(url, cache: cache) }
    #expect(Date().timeIntervalSince(started) < 120, "a hang guard, not a measurement")
    #expect(!FileManager.default.fileExists(atPath: cache.path(for: url)))
    #expect(!FileManager.default.fileExists(atPath: cache.path(for: url) + ".partial"))
  }

  @Test("an image above the size limit is refused and nothing is kept")
  func oversized() throws {
    let big = [UInt8](repeating: 7, count: 200_000)
    let server = try LoopbackServer(routes: ["/big.png": .file(big)])
    defer { server.stop() }
    var cache = try scratchCache(Notes())
    cache.maxBytes = 50_000
    let url = server.url("/big.png")
    #expect(throws: ImageIOError.self) { try ImageInput.load(url, cache: cache) }
    #expect(!FileManager.default.fileExists(atPath: cache.path(for: url)))
    #expect(!FileManager.default.fileExists(atPath: cache.path(for: url) + ".partial"))
  }

  @Test("a corrupt image from a URL is an error naming the URL")
  func corruptDownload() throws {
    let server = try LoopbackServer(routes: ["/x.jpg": .file([0xFF, 0xD8, 0xFF, 0xE0, 0, 16])])
    defer { server.stop() }
    let cache = try scratchCache(Notes())
    let url = server.url("/x.jpg")
    do {
      _ = try ImageInput.load(url, key: "targets[0].features[0].image", cache: cache)
      Issue.record("a corrupt JPEG was accepted")
    } catch {
      #expect(error.description.hasPrefix("targets[0].features[0].image: \(url): truncated JPEG"))
    }
  }

  @Test("standard(): images/ inside CLIPIG_CACHE")
  func standardLocation() {
    #expect(ImageCache.standard(environment: ["CLIPIG_CACHE": "/x/c"]).directory == "/x/c/images")
    #expect(ImageCache.isURL("HTTPS://a/b.png") && ImageCache.isURL("http://a"))
    #expect(!ImageCache.isURL("httpx.png") && !ImageCache.isURL("/http://"))
  }

  @Test("the release binary rates an image URL, caching it under CLIPIG_CACHE")
  func binaryURL() throws {
    let root = URL(fileURLWithPath: #filePath).deletingLastPathComponent()
      .deletingLastPathComponent().deletingLastPathComponent()
    let (png, _) = try samplePNG()
    let server = try LoopbackServer(routes: ["/p.png": .file(png)])
    defer { server.stop() }
    let cacheDirectory = try ModelStoreFixture.scratchDirectory("binary")
    let (status, output) = try ClipigExecutable.run(
      [
        "similarity", server.url("/p.png"), "-t", "a cat", "--model",
        root.appendingPathComponent("Tests/CLIPTests/Fixtures/tiny-hf").path,
      ], environment: ["CLIPIG_CACHE": cacheDirectory])
    #expect(status == 0, "\(output)")
    #expect(output.contains("p.png"), "\(output)")
    let cached = ImageCache(directory: cacheDirectory + "/images").path(for: server.url("/p.png"))
    #expect(try FileIO.readBytes(path: cached) == png)
  }
}
