import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

/// What scripts/gen_png_fixtures.py wrote next to the PNG fixtures.
private struct PNGManifest: Decodable {
  struct Expected: Decodable {
    var width: Int
    var height: Int
    /// 255 or 65535.
    var scale: Int
    /// Expected R, G, B samples, pixel by pixel, row-major.
    var rgb: [Int]
    /// Alpha samples of 16-bit images with an alpha channel (premultiplied by libpng).
    var alpha: [Int]?
  }
  var valid: [String: Expected]
  var malformed: [String: String]

  static func load() throws -> PNGManifest {
    let data = try Data(contentsOf: fixtureURL("png-fixtures.json"))
    return try JSONDecoder().decode(PNGManifest.self, from: data)
  }
}

/// A fresh temporary directory, removed by the caller.
private func temporaryDirectory() throws -> URL {
  URL(fileURLWithPath: try TestFiles.temporaryDirectory("png"))
}

@Suite("PNG reading and writing")
struct PNGTests {
  static let validNames: [String] = (try? PNGManifest.load().valid.keys.sorted()) ?? []
  static let malformedNames: [String] = (try? PNGManifest.load().malformed.keys.sorted()) ?? []

  @Test("the fixture set covers every colour type, bit depth, palette+tRNS and interlacing")
  func coverage() throws {
    #expect(Self.validNames.count >= 20)
    #expect(Self.malformedNames.count >= 10)
    for name in [
      "gray1.png", "gray2.png", "gray4.png", "gray8.png", "gray16.png", "graya8.png",
      "graya16.png", "rgb8.png", "rgb16.png", "rgba8.png", "rgba16.png", "palette1.png",
      "palette2.png", "palette4.png", "palette8.png", "palette8-trns.png", "rgb8-interlaced.png",
    ] {
      #expect(Self.validNames.contains(name), "\(name)")
    }
  }

  @Test("each valid fixture decodes to the expected RGB values", arguments: validNames)
  func decodesFixture(_ name: String) throws {
    let manifest = try PNGManifest.load()
    let expected = try #require(manifest.valid[name])
    let image = try PNG.read(path: fixtureURL("png/" + name).path)
    #expect(image.shape == [3, expected.height, expected.width])
    guard image.shape == [3, expected.height, expected.width] else { return }
    let plane = expected.width * expected.height
    var mismatches: [String] = []
    for i in 0..<plane {
      for c in 0..<3 {
        let got = image.scalars[c * plane + i]
        let sample = expected.rgb[i * 3 + c]
        let want = Float(sample) / Float(expected.scale)
        var tolerance: Float = 0
        if let alpha = expected.alpha?[i] {
          // 16-bit with alpha: libpng premultiplies; colour is recovered within 0.5/alpha,
          // and fully transparent pixels read as black.
          if alpha == 0 {
            if got != 0 { mismatches.append("pixel \(i) channel \(c): \(got) for alpha 0") }
            continue
          }
          tolerance = 0.5 / Float(alpha) + 1e-6
        }
        if abs(got - want) > tolerance {
          mismatches.append("pixel \(i) channel \(c): got \(got), expected \(want) (\(sample))")
        }
      }
    }
    #expect(mismatches.isEmpty, "\(name): \(mismatches.prefix(5))")
  }

  @Test("opaque 16-bit samples are exact: value / 65535")
  func sixteenBitExact() throws {
    let manifest = try PNGManifest.load()
    for name in ["gray16.png", "rgb16.png", "rgb16-trns.png", "rgb16-srgb.png", "gray16-gamma.png"]
    {
      let expected = try #require(manifest.valid[name])
      let image = try PNG.read(path: fixtureURL("png/" + name).path)
      let plane = expected.width * expected.height
      for i in 0..<plane {
        for c in 0..<3 {
          #expect(image.scalars[c * plane + i] == Float(expected.rgb[i * 3 + c]) / 65535, "\(name)")
        }
      }
    }
  }

  @Test(
    "malformed files give a clear error naming the file, never a crash", arguments: malformedNames)
  func rejectsMalformed(_ name: String) throws {
    let manifest = try PNGManifest.load()
    let expectedText = try #require(manifest.malformed[name])
    let path = try fixtureURL("png/" + name).path
    do {
      let image = try PNG.read(path: path)
      Issue.record("\(name) decoded to \(image.shape)")
    } catch {
      #expect(error.file == path)
      #expect(error.description.hasPrefix(path + ": "))
      #expect(error.message.contains(expectedText), "\(name): \(error.message)")
    }
  }

  @Test("every truncation of a valid PNG is rejected cleanly")
  func everyTruncation() throws {
    let bytes = try [UInt8](Data(contentsOf: fixtureURL("png/rgb8-interlaced.png")))
    for length in 0..<bytes.count {
      do {
        _ = try PNG.decode(Array(bytes.prefix(length)), name: "cut.png")
        Issue.record("a PNG cut to \(length) of \(bytes.count) bytes decoded")
      } catch {
        #expect(error.file == "cut.png")
        #expect(!error.message.isEmpty)
      }
    }
  }

  @Test("single-byte corruption never crashes")
  func corruption() throws {
    let bytes = try [UInt8](Data(contentsOf: fixtureURL("png/rgba16-interlaced.png")))
    var rng = SystemRandomNumberGenerator()
    for _ in 0..<300 {
      var copy = bytes
      let i = Int.random(in: 0..<copy.count, using: &rng)
      copy[i] ^= UInt8.random(in: 1...255, using: &rng)
      // Either decodes (an ancillary byte changed) or fails with a message; never traps.
      if let image = try? PNG.decode(copy, name: "x.png") {
        #expect(image.shape.count == 3)
      }
    }
  }

  @Test("a missing file is a clear error")
  func missingFile() {
    do {
      _ = try PNG.read(path: "/nonexistent/image.png")
      Issue.record("a missing file was read")
    } catch {
      #expect(error.file == "/nonexistent/image.png")
      #expect(error.message.contains("No such file"), "\(error)")
    }
  }

  // MARK: Writing

  @Test("written 8-bit values are ⌊clamp(v)·255 + 0.5⌋ and read back exactly")
  func writeRoundTrip() throws {
    let (h, w) = (5, 7)
    let special: [Float] = [-1, 0, 0.5 / 255, 0.499 / 255, 1.5 / 255, 0.5, 254.5 / 255, 1, 2, .nan]
    var rng = SystemRandomNumberGenerator()
    let image = Tensor(shape: [3, h, w]) { i in
      i < special.count ? special[i] : Float.random(in: -0.1...1.1, using: &rng)
    }
    let bytes = try PNG.encode(image)
    #expect(bytes.starts(with: [137, 80, 78, 71, 13, 10, 26, 10]))
    let back = try PNG.decode(bytes, name: "mem.png")
    #expect(back.shape == [3, h, w])
    for (v, r) in zip(image.scalars, back.scalars) {
      let clamped: Float = v.isNaN ? 0 : min(max(v, 0), 1)
      let expected: Float = (clamped * 255 + 0.5).rounded(.down) / 255
      #expect(r == expected, "value \(v)")
    }
    let bytesBack: [Int] = back.scalars.prefix(special.count).map { Int(($0 * 255).rounded()) }
    #expect(bytesBack == [0, 0, 1, 0, 2, 128, 255, 255, 255, 0])
  }

  @Test("channel layout: [3,H,W] planar RGB, x along the last axis")
  func layout() throws {
    // 2×3 image: R increases along x, G along y, B constant.
    let (h, w) = (2, 3)
    var scalars = [Float](repeating: 0, count: 3 * h * w)
    for y in 0..<h {
      for x in 0..<w {
        scalars[0 * h * w + y * w + x] = Float(x) / 2
        scalars[1 * h * w + y * w + x] = Float(y)
        scalars[2 * h * w + y * w + x] = 0.2
      }
    }
    let image = Tensor(shape: [3, h, w], scalars: scalars)
    let back = try PNG.decode(PNG.encode(image), name: "layout.png")
    for (a, b) in zip(image.scalars, back.scalars) {
      #expect(abs(a - b) <= 0.5 / 255 + 1e-6)
    }
  }

  @Test("gray [1,H,W] is written as gray and read back as three equal channels")
  func grayWrite() throws {
    let image = Tensor(shape: [1, 2, 2], scalars: [0, 0.25, 0.75, 1])
    let back = try PNG.decode(PNG.encode(image), name: "gray.png")
    #expect(back.shape == [3, 2, 2])
    let expected: [Float] = [0, 64 / 255, 191 / 255, 1]
    for c in 0..<3 {
      let channel = Array(back.scalars[(c * 4)..<(c * 4 + 4)])
      #expect(channel == expected)
    }
  }

  @Test("write is atomic, creates parent directories and replaces an existing file")
  func atomicWrite() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("a/b/c/out.png").path
    let first = Tensor(shape: [3, 4, 4], repeating: 0.25)
    try PNG.write(first, to: path)
    #expect(try PNG.read(path: path).scalars.allSatisfy { $0 == 64 / 255 })
    let second = Tensor(shape: [3, 8, 2], repeating: 1)
    try PNG.write(second, to: path)
    let back = try PNG.read(path: path)
    #expect(back.shape == [3, 8, 2] && back.scalars.allSatisfy { $0 == 1 })
    // No temporary files are left behind.
    let left = try FileManager.default.contentsOfDirectory(
      atPath: dir.appendingPathComponent("a/b/c").path)
    #expect(left == ["out.png"])
  }

  @Test("concurrent writers to one path never leave a partial file")
  func concurrentWrites() async throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let path = dir.appendingPathComponent("race.png").path
    try await withThrowingTaskGroup(of: Void.self) { group in
      for k in 0..<8 {
        group.addTask {
          let image = Tensor(shape: [3, 16, 16], repeating: Float(k) / 8)
          for _ in 0..<5 { try PNG.write(image, to: path) }
        }
        group.addTask {
          for _ in 0..<5 {
            if FileManager.default.fileExists(atPath: path) {
              let image = try PNG.read(path: path)
              let v = image.scalars[0]
              #expect(image.scalars.allSatisfy { $0 == v })
            }
          }
        }
      }
      try await group.waitForAll()
    }
    let left = try FileManager.default.contentsOfDirectory(atPath: dir.path)
    #expect(left == ["race.png"])
  }

  @Test("writing bad shapes, empty images or into a file-as-directory fails clearly")
  func writeErrors() throws {
    let dir = try temporaryDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let cases: [(Tensor, String)] = [
      (Tensor(shape: [4, 2, 2]), "shape"), (Tensor(shape: [2, 2]), "shape"),
      (Tensor(shape: [3, 0, 5]), "empty"), (Tensor(shape: [1, 2, 2, 2]), "shape"),
    ]
    for (image, text) in cases {
      do {
        try PNG.write(image, to: dir.appendingPathComponent("x.png").path)
        Issue.record("wrote \(image.shape)")
      } catch {
        #expect(error.message.contains(text), "\(error)")
      }
    }
    let blocker = dir.appendingPathComponent("file")
    try Data([1]).write(to: blocker)
    do {
      try PNG.write(Tensor(shape: [3, 1, 1]), to: blocker.path + "/sub/x.png")
      Issue.record("wrote below a regular file")
    } catch {
      #expect(error.file == blocker.path + "/sub/x.png")
    }
    do {
      try PNG.write(Tensor(shape: [3, 1, 1]), to: dir.path)
      Issue.record("wrote over a directory")
    } catch {
      #expect(!error.message.isEmpty)
    }
  }
}
