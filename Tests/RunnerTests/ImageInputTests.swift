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

/// A fixture of FormatsTests (scripts/gen_image_fixtures.py).
private func imageFixture(_ name: String) -> String {
  TestFiles.repository.appendingPathComponent("Tests/FormatsTests/Fixtures/images/" + name).path
}

/// A two-epoch experiment for the tiny model with the given start image and reference image.
private func experiment(initImage: String?, featureImage: String?) -> String {
  var text = "epochs: 2\nresolution: 16\nverbose: 0\n"
  if let initImage { text += "init: {image: \"\(initImage)\"}\n" }
  text += "targets:\n  - batch_size: 1\n    features:\n      - text: a cat\n"
  if let featureImage { text += "      - image: \"\(featureImage)\"\n" }
  return text
}

/// Runs `clipig args…` to its end; a run still going after `limit` seconds (a hang) is killed
/// and fails the test.
private func run(_ arguments: [String], limit: Double = 600) throws -> ChildProcess.Result {
  try ClipigExecutable.run(arguments, in: nil, timeout: limit)
}

@Suite("Images through the release binary: formats, hostile files, output formats")
struct ImageInputTests {
  @Test("a FIFO as init.image ends at once with an error naming the key and the file")
  func fifoInitImage() throws {
    let dir = try TestFiles.temporaryDirectory("fifo")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let fifo = dir + "/start.png"
    #expect(mkfifo(fifo, 0o644) == 0)
    try TestFiles.write(experiment(initImage: fifo, featureImage: nil), to: dir + "/x.yaml")
    // A reader blocked on the FIFO would hang: the deadline kills it and fails the test.
    let r = try run(
      ["render", dir + "/x.yaml", "--model", TestFiles.tinyModel, "-o", dir + "/out.png"],
      limit: 300)
    #expect(!r.timedOut)
    #expect(r.status != 0)
    #expect(r.err.contains("error: 'init.image': \(fifo): "), "\(r.err)")
    #expect(r.err.contains("FIFO"), "\(r.err)")
    #expect(!FileManager.default.fileExists(atPath: dir + "/out.png"))
    #expect(!FileManager.default.fileExists(atPath: dir + "/out.yaml"))
  }

  @Test(
    "hostile images are refused before training, naming the YAML key",
    arguments: [
      ("hostile/huge.jpg", "exceeds the limit"), ("hostile/truncated-scan.jpg", "truncated JPEG"),
      ("hostile/random.bin", "not an image"), ("hostile/huge.webp", "exceeds the limit"),
      ("hostile/empty.jpg", "empty file"),
    ])
  func hostileImages(_ name: String, _ phrase: String) throws {
    let dir = try TestFiles.temporaryDirectory("hostile")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let file = imageFixture(name)
    for (initImage, featureImage, key) in [
      (file, nil, "init.image"), (nil, file, "targets[0].features[1].image"),
    ] {
      try TestFiles.write(
        experiment(initImage: initImage, featureImage: featureImage), to: dir + "/x.yaml")
      let r = try run(
        ["render", dir + "/x.yaml", "--model", TestFiles.tinyModel, "-o", dir + "/out.png"])
      #expect(r.status == 1, "\(r.err)")
      #expect(r.err.contains("error: '\(key)': \(file): "), "\(r.err)")
      #expect(r.err.contains(phrase), "\(r.err)")
      #expect(!r.err.contains("Fatal error"))
      #expect(!FileManager.default.fileExists(atPath: dir + "/out.png"))
    }
  }

  @Test("JPEG and WebP inputs render; -o .jpg and .webp write those formats, --quality applies")
  func formatsEndToEnd() throws {
    let dir = try TestFiles.temporaryDirectory("formats")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try TestFiles.write(
      experiment(
        initImage: imageFixture("cmyk-adobe.jpg"), featureImage: imageFixture("lossy.webp")),
      to: dir + "/x.yaml")
    var sizes: [String: Int] = [:]
    for (name, quality, format) in [
      ("a.jpg", "95", ImageFormat.jpeg), ("b.jpg", "20", .jpeg), ("c.webp", "100", .webp),
      ("d.png", "95", .png),
    ] {
      let out = dir + "/" + name
      let r = try run([
        "render", dir + "/x.yaml", "--model", TestFiles.tinyModel, "-o", out, "--quality",
        quality, "--seed", "3",
      ])
      #expect(r.status == 0, "\(r.err)")
      let bytes = try FileIO.readBytes(path: out)
      #expect(ImageFormat.sniff(bytes) == format, "\(name)")
      #expect(try ImageFile.read(path: out).shape == [3, 16, 16])
      sizes[name] = bytes.count
      let sidecar = try TestFiles.read((out as NSString).deletingPathExtension + ".yaml")
      #expect(sidecar.contains("output_quality: \(quality)"), "\(sidecar.prefix(400))")
    }
    #expect((sizes["b.jpg"] ?? 0) < (sizes["a.jpg"] ?? 0))
  }

  @Test("an output name with another extension or a bad quality is refused before any work")
  func badOutputs() throws {
    let dir = try TestFiles.temporaryDirectory("outputs")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    try TestFiles.write(experiment(initImage: nil, featureImage: nil), to: dir + "/x.yaml")
    let tif = try run(
      ["render", dir + "/x.yaml", "--model", TestFiles.tinyModel, "-o", dir + "/x.tif"])
    #expect(tif.status == 1)
    #expect(tif.err.contains("cannot write '.tif' images"), "\(tif.err)")
    let quality = try run([
      "render", dir + "/x.yaml", "--model", TestFiles.tinyModel, "-o", dir + "/q.jpg",
      "--quality", "0",
    ])
    #expect(quality.status == 1)
    #expect(quality.err.contains("output_quality must be between 1 and 100"), "\(quality.err)")
    let left = try FileManager.default.contentsOfDirectory(atPath: dir).sorted()
    #expect(left == ["x.yaml"])
  }

  @Test("similarity rates a directory of images; --image DIR is an error naming it")
  func similarityDirectories() throws {
    let dir = try TestFiles.temporaryDirectory("similarity")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    for name in ["rgb420.jpg", "lossless.webp", "rgb.png"] {
      try FileIO.writeAtomically(
        try FileIO.readBytes(path: imageFixture(name)), to: dir + "/pics/" + name)
    }
    let rated = try run([
      "similarity", dir + "/pics", "-t", "a cat", "--model", TestFiles.tinyModel,
    ])
    #expect(rated.status == 0, "\(rated.err)")
    for name in ["rgb420.jpg", "lossless.webp", "rgb.png"] {
      #expect(rated.out.contains(name), "\(rated.out)")
    }
    let reference = try run([
      "similarity", dir + "/pics/rgb.png", "--image", dir + "/pics", "--model",
      TestFiles.tinyModel,
    ])
    #expect(reference.status == 1)
    #expect(reference.err.contains("--image: \(dir)/pics: "), "\(reference.err)")
    #expect(reference.err.contains("directory"), "\(reference.err)")
    try FileManager.default.createDirectory(
      atPath: dir + "/empty", withIntermediateDirectories: true)
    let empty = try run(["similarity", dir + "/empty", "-t", "x", "--model", TestFiles.tinyModel])
    #expect(empty.status != 0)
    #expect(empty.err.contains("without .png, .jpg"), "\(empty.err)")
  }
}
