import Formats
import Foundation
import PipelineKit
import TestSupport
import Testing

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// What scripts/gen_image_fixtures.py wrote next to the JPEG/WebP/PNG fixtures (pixels by PIL).
private struct ImageManifest: Decodable {
  struct Expected: Decodable {
    var width: Int
    var height: Int
    /// 255 or 65535.
    var scale: Int
    /// R, G, B samples pixel by pixel, row-major, as PIL decodes them.
    var rgb: [Int]
    /// Decoded by a lossy codec: our libjpeg-turbo/libwebp may be another version than PIL's.
    var lossy: Bool
  }
  var valid: [String: Expected]
  /// Hostile file → a phrase its error must contain ("decodes": it must decode).
  var hostile: [String: String]

  static func load() throws -> ImageManifest {
    let data = try Data(contentsOf: fixtureURL("images/image-fixtures.json"))
    return try JSONDecoder().decode(ImageManifest.self, from: data)
  }
}

/// A fresh temporary directory, removed by the caller.
private func scratchDirectory() throws -> URL {
  URL(fileURLWithPath: try TestFiles.temporaryDirectory("image"))
}

/// Peak signal-to-noise ratio in dB of two images of equal shape with values in [0, 1].
private func psnr(_ a: Tensor, _ b: Tensor) -> Double {
  var sum = 0.0
  for (x, y) in zip(a.scalars, b.scalars) { sum += Double(x - y) * Double(x - y) }
  let mse = sum / Double(a.scalars.count)
  return mse == 0 ? .infinity : 10 * log10(1 / mse)
}

/// A smooth test image `[3,h,w]` (gradients and a ripple), the kind lossy codecs keep well.
private func smoothImage(width w: Int, height h: Int) -> Tensor {
  var t = Tensor(shape: [3, h, w])
  for y in 0..<h {
    for x in 0..<w {
      let u = Float(x) / Float(w)
      let v = Float(y) / Float(h)
      t.scalars[(0 * h + y) * w + x] = u
      t.scalars[(1 * h + y) * w + x] = v
      t.scalars[(2 * h + y) * w + x] = 0.5 + 0.4 * sin(6 * u + 4 * v)
    }
  }
  return t
}

/// Largest difference between PIL's samples and ours, in units of 1/scale.
private func largestDifference(_ image: Tensor, _ e: ImageManifest.Expected) -> Float {
  let plane = e.width * e.height
  var worst: Float = 0
  for i in 0..<plane {
    for ch in 0..<3 {
      let ours = image.scalars[ch * plane + i] * Float(e.scale)
      worst = max(worst, abs(ours - Float(e.rgb[i * 3 + ch])))
    }
  }
  return worst
}

@Suite("Images in any format: PNG, JPEG, WebP by content")
struct ImageFileTests {
  static let validNames: [String] = (try? ImageManifest.load().valid.keys.sorted()) ?? []
  static let hostileNames: [String] = (try? ImageManifest.load().hostile.keys.sorted()) ?? []

  @Test("the fixtures cover gray, RGB, CMYK, progressive, EXIF 1–8, 16-bit, palette, alpha, WebP")
  func coverage() {
    var names = [
      "rgb420.jpg", "rgb444.jpg", "gray.jpg", "progressive.jpg", "restart.jpg",
      "cmyk-adobe.jpg", "cmyk-plain.jpg", "exif6-bigendian.jpg", "gray.png", "rgb.png",
      "palette.png", "rgba.png", "gray16.png", "lossless.webp", "lossless-alpha.webp",
      "lossy.webp", "lossy-alpha.webp",
    ]
    names += (1...8).map { "exif\($0).jpg" }
    for name in names { #expect(Self.validNames.contains(name), "\(name)") }
    #expect(Self.hostileNames.count >= 18)
  }

  /// Lossless decoders must give PIL's samples exactly; lossy ones (JPEG, lossy WebP) within one
  /// step of 1/255, since PIL may bundle another libjpeg-turbo/libwebp version (measured with
  /// Debian 12's libjpeg-turbo 2.1.5 / libwebp 1.2.4 against Pillow 13's: identical, 0 steps).
  @Test("each fixture decodes to PIL's pixels", arguments: validNames)
  func matchesPIL(_ name: String) throws {
    let expected = try #require(try ImageManifest.load().valid[name])
    let path = try fixtureURL("images/" + name).path
    let image = try ImageFile.read(path: path)
    #expect(image.shape == [3, expected.height, expected.width])
    guard image.shape == [3, expected.height, expected.width] else { return }
    let worst = largestDifference(image, expected)
    if expected.lossy {
      #expect(worst <= 1.0001, "\(name): largest difference \(worst)/255")
    } else {
      #expect(worst <= 1e-3, "\(name): largest difference \(worst)/\(expected.scale)")
    }
  }

  @Test("EXIF orientations 5–8 swap width and height; 1–4 keep them")
  func orientationShapes() throws {
    for n in 1...8 {
      let image = try ImageFile.read(path: try fixtureURL("images/exif\(n).jpg").path)
      #expect(image.shape == (n >= 5 ? [3, 13, 9] : [3, 9, 13]), "orientation \(n)")
    }
  }

  @Test("each hostile file gives one clear error naming it", arguments: hostileNames)
  func hostile(_ name: String) throws {
    let phrase = try #require(try ImageManifest.load().hostile[name])
    let path = try fixtureURL("images/hostile/" + name).path
    if phrase == "decodes" {
      _ = try ImageFile.read(path: path)
      return
    }
    do {
      let image = try ImageFile.read(path: path)
      Issue.record("\(name) decoded to \(image.shape); expected an error with '\(phrase)'")
    } catch {
      #expect(error.file == path)
      #expect(
        error.message.lowercased().contains(phrase.lowercased()),
        "\(name): '\(error.message)' lacks '\(phrase)'")
      #expect(error.description.hasPrefix(path + ": "))
    }
  }

  @Test("every truncation of a JPEG is an error; every truncation of a WebP decodes or fails")
  func truncations() throws {
    let jpeg = Array(try Data(contentsOf: fixtureURL("images/progressive.jpg")))
    for n in 0..<jpeg.count {
      #expect(throws: ImageIOError.self, "JPEG cut at \(n)") {
        try ImageFile.decode(Array(jpeg.prefix(n)), name: "cut")
      }
    }
    for file in ["images/lossy-alpha.webp", "images/lossless.webp"] {
      let webp = Array(try Data(contentsOf: fixtureURL(file)))
      for n in 0..<webp.count {
        if let image = try? ImageFile.decode(Array(webp.prefix(n)), name: "cut") {
          #expect(image.shape == [3, 9, 13], "\(file) cut at \(n)")
        }
      }
    }
  }

  @Test("single-byte corruption of JPEG and WebP never crashes")
  func corruption() throws {
    var random = SeededRandom(seed: 7)
    for file in ["images/rgb420.jpg", "images/progressive.jpg", "images/lossy.webp"] {
      let bytes = Array(try Data(contentsOf: fixtureURL(file)))
      for _ in 0..<300 {
        var damaged = bytes
        let at = Int(random.next() % UInt64(bytes.count))
        damaged[at] = UInt8(truncatingIfNeeded: random.next())
        if let image = try? ImageFile.decode(damaged, name: "damaged") {
          #expect(image.rank == 3 && image.shape[0] == 3)
          #expect(image.scalars.allSatisfy { $0 >= 0 && $0 <= 1 })
        }
      }
    }
  }

  @Test("the format comes from the content: a JPEG named .png and a PNG named .jpg both read")
  func byContent() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let jpeg = try Data(contentsOf: fixtureURL("images/rgb444.jpg"))
    let png = try Data(contentsOf: fixtureURL("images/rgb.png"))
    try jpeg.write(to: dir.appendingPathComponent("photo.png"))
    try png.write(to: dir.appendingPathComponent("drawing.jpg"))
    let a = try ImageFile.read(path: dir.appendingPathComponent("photo.png").path)
    let b = try ImageFile.read(path: dir.appendingPathComponent("drawing.jpg").path)
    let expectedA = try ImageFile.read(path: fixtureURL("images/rgb444.jpg").path)
    let expectedB = try ImageFile.read(path: fixtureURL("images/rgb.png").path)
    #expect(a.scalars == expectedA.scalars)
    #expect(b.scalars == expectedB.scalars)
  }

  @Test("a FIFO, a directory and a device are refused at once, without blocking")
  func nonRegularFiles() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let fifo = dir.appendingPathComponent("pipe.png").path
    #expect(mkfifo(fifo, 0o644) == 0)
    let cases = [(fifo, "FIFO"), (dir.path, "directory"), ("/dev/zero", "device")]
    for (path, word) in cases {
      do {
        _ = try ImageFile.read(path: path)
        Issue.record("\(path) was read")
      } catch {
        #expect(error.file == path)
        #expect(error.message.contains(word), "\(error.message)")
      }
    }
    #expect(throws: ImageIOError.self) {
      try ImageFile.read(path: dir.appendingPathComponent("missing.jpg").path)
    }
  }

  @Test("PNG and lossless WebP round trips are exact; JPEG and lossy WebP stay above a PSNR")
  func writeRoundTrips() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    // Values on the 1/255 grid, so that lossless formats must give them back exactly.
    var image = smoothImage(width: 40, height: 24)
    image.scalars = image.scalars.map { ($0 * 255).rounded() / 255 }
    let cases: [(String, Int, Double)] = [
      ("a.png", 95, .infinity), ("b.webp", 100, .infinity), ("c.jpg", 95, 38),
      ("d.jpeg", 75, 32), ("e.webp", 90, 32), ("F.JPG", 95, 38),
    ]
    for (name, quality, bound) in cases {
      let path = dir.appendingPathComponent(name).path
      try ImageFile.write(image, to: path, quality: quality)
      let bytes = Array(try Data(contentsOf: URL(fileURLWithPath: path)))
      #expect(ImageFormat.sniff(bytes) == ImageFormat.forExtension(of: name), "\(name)")
      let back = try ImageFile.read(path: path)
      #expect(back.shape == image.shape)
      let p = psnr(image, back)
      #expect(p >= bound, "\(name) at quality \(quality): PSNR \(p) dB < \(bound)")
    }
    // Higher quality means a closer JPEG.
    let low = try ImageFile.decode(
      ImageFile.encode(image, format: .jpeg, quality: 30), name: "low")
    let high = try ImageFile.decode(
      ImageFile.encode(image, format: .jpeg, quality: 98), name: "high")
    #expect(psnr(image, high) > psnr(image, low))
  }

  @Test("gray [1,H,W] JPEG is written as gray and read back as three equal channels")
  func grayJPEG() throws {
    var gray = Tensor(shape: [1, 8, 8])
    gray.scalars = (0..<64).map { Float($0 % 8) / 7 }
    let bytes = try ImageFile.encode(gray, format: .jpeg, quality: 100)
    let back = try ImageFile.decode(bytes, name: "gray")
    #expect(back.shape == [3, 8, 8])
    #expect(Array(back.scalars[0..<64]) == Array(back.scalars[64..<128]))
    #expect(psnr(gray, Tensor(shape: [1, 8, 8], scalars: Array(back.scalars[0..<64]))) > 40)
  }

  @Test("an unknown output extension, a bad quality and an oversized WebP are refused")
  func writeErrors() throws {
    let dir = try scratchDirectory()
    defer { try? FileManager.default.removeItem(at: dir) }
    let image = smoothImage(width: 4, height: 4)
    for name in ["x.tif", "x.gif", "noext"] {
      let path = dir.appendingPathComponent(name).path
      #expect(throws: ImageIOError.self) { try ImageFile.write(image, to: path) }
      #expect(!FileManager.default.fileExists(atPath: path))
    }
    for quality in [0, 101, -5] {
      #expect(throws: ImageIOError.self) {
        try ImageFile.encode(image, format: .jpeg, quality: quality)
      }
    }
    #expect(throws: ImageIOError.self) {
      try ImageFile.encode(Tensor(shape: [3, 1, 17000]), format: .webp)
    }
    #expect((try? FileManager.default.contentsOfDirectory(atPath: dir.path))?.isEmpty == true)
  }

  @Test("an error names the YAML key that named the file")
  func keyedErrors() {
    let error = ImageIOError(file: "a.jpg", message: "truncated JPEG").named(
      by: "targets[0].features[1].image")
    #expect(error.description == "targets[0].features[1].image: a.jpg: truncated JPEG")
  }
}
