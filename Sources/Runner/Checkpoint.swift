import Formats
import Foundation
import ModelStore
import PipelineKit

/// A checkpoint file could not be used: unreadable, damaged, or from another configuration.
public struct CheckpointError: Error, CustomStringConvertible, Sendable {
  /// The checkpoint file.
  public var path: String
  /// What is wrong, and what to do.
  public var message: String

  /// An error about the checkpoint at `path`.
  public init(path: String, _ message: String) {
    self.path = path
    self.message = message
  }

  /// `path: message`.
  public var description: String { "\(path): \(message)" }
}

/// Everything a render needs to continue after an interruption and end bit-identical to an
/// uninterrupted run: the raw pixels, the optimizer's state, the next epoch and the seed (every
/// random stream derives from the seed, the epoch, the target and the view, so no generator
/// state is needed), the fair-scaling factors (checked against the recomputed ones), and the
/// SHA-256 of the configuration so that a checkpoint is never continued with another one.
///
/// The file (`.NAME.png.checkpoint` beside the image) is binary, little-endian:
/// `"CLIPIGCK"`, the format version (UInt32), the length of a JSON header (UInt32), the header,
/// the Float32 pixels `[3, H, W]`, the optimizer's three Float32 buffers, the Float64 scales,
/// and the SHA-256 of all bytes before it.
public struct Checkpoint: Sendable, Equatable {
  /// The format version this program writes and reads.
  public static let version: UInt32 = 1
  static let magic = Array("CLIPIGCK".utf8)

  /// The seed of the run.
  public var seed: UInt64
  /// The animation frame it continues (0-based), nil for a still image.
  public var frame: Int?
  /// The first epoch still to run.
  public var nextEpoch: Int
  /// The SHA-256 (hex) of the configuration text (`Checkpoint.digest`).
  public var configDigest: String
  /// The trained parameters of the image parametrization (for raw pixels `[3, H, W]`; else
  /// `[1, 1, count]`).
  public var pixels: Tensor
  /// The image width the parameters make.
  public var width: Int
  /// The image height the parameters make.
  public var height: Int
  /// The optimizer's state.
  public var optimizer: Optimizer.State
  /// The similarity scales `[target][feature]` (fair scaling) of the run.
  public var scales: [[Double]]
  /// The SHA-256 (hex) of the image file written with this checkpoint, when known: a resumed
  /// render continues into that file only while it still holds these bytes (never over a file
  /// that took its place).
  public var imageDigest: String?

  /// A checkpoint from its parts.
  public init(
    seed: UInt64, frame: Int? = nil, nextEpoch: Int, configDigest: String, pixels: Tensor,
    optimizer: Optimizer.State, scales: [[Double]], width: Int? = nil, height: Int? = nil
  ) {
    self.frame = frame
    self.width = width ?? pixels.shape.last ?? 1
    self.height = height ?? (pixels.shape.count == 3 ? pixels.shape[1] : 1)
    self.seed = seed
    self.nextEpoch = nextEpoch
    self.configDigest = configDigest
    self.pixels = pixels
    self.optimizer = optimizer
    self.scales = scales
  }

  /// The checkpoint file of an image: `.NAME.checkpoint` in the image's directory (shortened
  /// by `FileIO.fittingName` when the image's name leaves no room for the 12 bytes added).
  public static func path(forImage image: String) -> String {
    let ns = image as NSString
    let directory = ns.deletingLastPathComponent
    let name = "." + ns.lastPathComponent + ".checkpoint"
    return FileIO.fittingName(directory.isEmpty ? name : directory + "/" + name)
  }

  /// The SHA-256 (hex) identifying a run's configuration: the configuration tree as YAML text
  /// and the seed when it was chosen (nil: drawn, then the checkpoint's seed is used).
  public static func digest(_ root: ConfigNode, seed: UInt64?, repetition: Int = 0) -> String {
    var text = root.yamlText()
    text += "\n# seed: \(seed.map { String($0) } ?? "drawn"), repetition \(repetition)\n"
    // Checkpoints of runs whose random streams were derived otherwise do not continue here.
    text += "# random streams: \(streamsVersion)\n"
    var hash = SHA256()
    hash.update(Array(text.utf8))
    return hash.hexDigest()
  }

  /// Names how a run's random streams are derived (`RandomStreams`); part of the digest, so
  /// a checkpoint written with other streams is never continued with these.
  static let streamsVersion = "by purpose label (2)"

  private struct Header: Codable {
    var seed: String
    var nextEpoch: Int
    var configSHA256: String
    var optimizer: String
    var optimizerStep: Int
    var pixelShape: [Int]
    var bufferLength: Int
    var scaleCounts: [Int]
    var width: Int
    var height: Int
    var imageSHA256: String?
    var frame: Int?
  }

  /// The file's bytes.
  public func encoded() -> [UInt8] {
    let length = optimizer.buffers.first?.count ?? 0
    let header = Header(
      seed: String(seed), nextEpoch: nextEpoch, configSHA256: configDigest,
      optimizer: optimizer.kind.rawValue, optimizerStep: optimizer.step,
      pixelShape: pixels.shape, bufferLength: length, scaleCounts: scales.map(\.count),
      width: width, height: height, imageSHA256: imageDigest, frame: frame)
    let json = (try? JSONEncoder().encode(header)).map { [UInt8]($0) } ?? []
    var out = Self.magic
    Self.append(Self.version, to: &out)
    Self.append(UInt32(json.count), to: &out)
    out += json
    for x in pixels.scalars { Self.append(x.bitPattern, to: &out) }
    for buffer in optimizer.buffers {
      for i in 0..<length { Self.append((i < buffer.count ? buffer[i] : 0).bitPattern, to: &out) }
    }
    for row in scales { for x in row { Self.append(x.bitPattern, to: &out) } }
    var hash = SHA256()
    out.withUnsafeBytes { hash.update($0) }
    out += hash.finalize()
    return out
  }

  /// Decodes a checkpoint file's bytes; `path` names it in errors.
  public init(decoding bytes: [UInt8], path: String) throws(CheckpointError) {
    func fail(_ why: String) -> CheckpointError {
      CheckpointError(
        path: path, "not a usable clipig checkpoint (\(why)); delete it to start afresh")
    }
    guard bytes.count >= 16 + 32, Array(bytes[0..<8]) == Self.magic else {
      throw fail("no checkpoint header")
    }
    var reader = Reader(bytes: bytes, offset: 8)
    let version: UInt32 = reader.read()
    guard version == Self.version else {
      throw fail("format version \(version); this clipig reads version \(Self.version)")
    }
    var hash = SHA256()
    bytes.withUnsafeBytes {
      hash.update(UnsafeRawBufferPointer(rebasing: $0[0..<(bytes.count - 32)]))
    }
    guard hash.finalize() == Array(bytes[(bytes.count - 32)...]) else {
      throw fail("its checksum does not match: the file is truncated or damaged")
    }
    let jsonLength = Int(reader.read() as UInt32)
    guard jsonLength <= bytes.count - 32 - reader.offset,
      let header = try? JSONDecoder().decode(
        Header.self, from: Data(bytes[reader.offset..<(reader.offset + jsonLength)])),
      let seed = UInt64(header.seed), let kind = OptimizerKind(rawValue: header.optimizer),
      header.pixelShape.count == 3, header.pixelShape.allSatisfy({ $0 >= 1 && $0 <= 1 << 28 }),
      header.pixelShape.reduce(1, *) <= 1 << 28, (1...8192).contains(header.width),
      (1...8192).contains(header.height),
      header.bufferLength >= 0, header.scaleCounts.allSatisfy({ $0 >= 0 }), header.nextEpoch >= 0,
      (header.frame ?? 0) >= 0
    else { throw fail("its header is invalid") }
    reader.offset += jsonLength
    let pixelCount = header.pixelShape.reduce(1, *)
    let scaleCount = header.scaleCounts.reduce(0, +)
    let expected = pixelCount * 4 + 3 * header.bufferLength * 4 + scaleCount * 8
    guard bytes.count - 32 - reader.offset == expected else {
      throw fail("its size does not match its header")
    }
    let pixelScalars = (0..<pixelCount).map { _ in Float(bitPattern: reader.read()) }
    var buffers: [[Float]] = []
    for _ in 0..<3 {
      buffers.append((0..<header.bufferLength).map { _ in Float(bitPattern: reader.read()) })
    }
    var scales: [[Double]] = []
    for n in header.scaleCounts {
      scales.append((0..<n).map { _ in Double(bitPattern: reader.read()) })
    }
    self.init(
      seed: seed, frame: header.frame, nextEpoch: header.nextEpoch,
      configDigest: header.configSHA256,
      pixels: Tensor(shape: header.pixelShape, scalars: pixelScalars),
      optimizer: Optimizer.State(kind: kind, step: header.optimizerStep, buffers: buffers),
      scales: scales, width: header.width, height: header.height)
    imageDigest = header.imageSHA256
  }

  /// The largest checkpoint a run of `experiment` with `seed` can write: the JSON header, the
  /// parameters and the optimizer's three buffers (Float32) at the run's largest resolution,
  /// with room for twice the 3·W·H values of raw pixels (a Fourier spectrum has 3·H·(W/2+1)·2),
  /// the similarity scales and the hash. A file at a checkpoint's name that is larger is
  /// refused before anything is read (it is not this run's).
  public static func sizeLimit(for experiment: Experiment, seed: UInt64) throws -> Int {
    let largest = try MemoryBudget.largestResolution(
      experiment, streams: RandomStreams(seed: seed))
    let values = 2 * 3 * largest.width * largest.height
    let features = experiment.targets.reduce(0) { $0 + $1.features.count }
    return (1 << 20) + values * 4 * 4 + features * experiment.models.count * 8 + 32
  }

  /// Reads the checkpoint at `path`, a regular file of at most `maxBytes` (see `sizeLimit`);
  /// nil when there is none.
  public static func load(path: String, maxBytes: Int = 1 << 32) throws(CheckpointError)
    -> Checkpoint?
  {
    var info = stat()
    guard lstat(path, &info) == 0 else { return nil }
    let bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(path: path, maxBytes: maxBytes)
    } catch {
      throw CheckpointError(path: path, "cannot read the checkpoint: \(error.message)")
    }
    return try Checkpoint(decoding: bytes, path: path)
  }

  /// Reads the checkpoint at `path` and checks that it belongs to the configuration `digest`.
  public static func load(path: String, expecting digest: String, maxBytes: Int = 1 << 32)
    throws(CheckpointError) -> Checkpoint?
  {
    guard let checkpoint = try load(path: path, maxBytes: maxBytes) else { return nil }
    guard checkpoint.configDigest == digest else {
      throw mismatch(checkpoint, digest: digest, path: path)
    }
    return checkpoint
  }

  /// The checkpoint at `path` belongs to another configuration than `digest`'s.
  static func mismatch(_ checkpoint: Checkpoint, digest: String, path: String) -> CheckpointError {
    CheckpointError(
      path: path,
      "this checkpoint was written by a run of another configuration (SHA-256 "
        + "\(checkpoint.configDigest.prefix(12))…, this run \(digest.prefix(12))…) and is not "
        + "continued; run the original command again to resume it, or delete the checkpoint "
        + "to start afresh")
  }

  /// This checkpoint with the SHA-256 of the image file at `imagePath` (just written with it).
  public func recordingImage(at imagePath: String) -> Checkpoint {
    var copy = self
    copy.imageDigest = try? ModelCache.hashFile(imagePath)
    return copy
  }

  /// Whether the file at `imagePath` is the image this checkpoint was written with (true when
  /// the checkpoint recorded none, as older ones did not).
  public func holdsItsImage(_ imagePath: String) -> Bool {
    guard let imageDigest else { return true }
    return (try? ModelCache.hashFile(imagePath)) == imageDigest
  }

  /// Writes the checkpoint to `path` atomically.
  public func write(to path: String) throws(CheckpointError) {
    do {
      try FileIO.writeAtomically(encoded(), to: path)
    } catch {
      throw CheckpointError(path: path, "cannot write the checkpoint: \(error.message)")
    }
  }

  /// Removes the checkpoint at `path` if there is one.
  public static func remove(path: String) {
    _ = unlink(path)
  }

  /// The interrupted render to continue for the output `requested` (before never-overwrite
  /// naming): the checkpoint beside `requested`, or beside one of the names `claim` gives it
  /// (`NAME-N.png`), whose configuration digest is `digest`. A checkpoint beside `requested`
  /// itself from another configuration is an error (it would otherwise be silently left
  /// behind); nil when there is nothing to continue.
  ///
  /// With `seed` (a seed the user gave: `--seed`, `seed:`), a checkpoint of the same
  /// configuration whose seed was drawn (`drawnDigest`) continues when it drew that seed; one
  /// that drew another is refused, naming both seeds.
  public static func resumable(
    forRequested requested: String, digest: String, seed: UInt64? = nil,
    drawnDigest: String? = nil, maxBytes: Int = 1 << 32
  ) throws(CheckpointError) -> (imagePath: String, checkpoint: Checkpoint)? {
    func matches(_ c: Checkpoint) -> Bool {
      c.configDigest == digest || (c.configDigest == drawnDigest && c.seed == seed)
    }
    let url = URL(fileURLWithPath: requested).standardizedFileURL
    let directory = url.deletingLastPathComponent().path
    let ext = url.pathExtension
    let stem = url.deletingPathExtension().lastPathComponent
    let suffix = ext.isEmpty ? "" : "." + ext
    var candidates = [url.path]
    let files = (try? FileManager.default.contentsOfDirectory(atPath: directory)) ?? []
    for file in files.sorted()
    where file.hasPrefix("." + stem + "-") && file.hasSuffix(suffix + ".checkpoint") {
      let image = String(file.dropFirst().dropLast(".checkpoint".count))
      let number = image.dropFirst(stem.count + 1).dropLast(suffix.count)
      if !number.isEmpty, number.allSatisfy(\.isASCII), Int(number) != nil {
        candidates.append(directory + "/" + image)
      }
    }
    for (k, image) in candidates.enumerated() {
      let checkpointPath = path(forImage: image)
      if k == 0 {
        guard let c = try load(path: checkpointPath, maxBytes: maxBytes) else { continue }
        if matches(c) { return (image, c) }
        if let seed, c.configDigest == drawnDigest {
          throw CheckpointError(
            path: checkpointPath,
            "this checkpoint continues the same configuration with seed \(c.seed), but this run "
              + "asks for seed \(seed) (--seed or the YAML's seed:); give --seed \(c.seed) (or "
              + "none) to resume it, or delete the checkpoint to start afresh")
        }
        throw mismatch(c, digest: digest, path: checkpointPath)
      } else if let c = try? load(path: checkpointPath, maxBytes: maxBytes), matches(c) {
        return (image, c)
      }
    }
    return nil
  }

  private static func append<T: FixedWidthInteger>(_ value: T, to out: inout [UInt8]) {
    withUnsafeBytes(of: value.littleEndian) { out += $0 }
  }

  private struct Reader {
    let bytes: [UInt8]
    var offset: Int

    mutating func read<T: FixedWidthInteger>() -> T {
      var value: T = 0
      for k in 0..<MemoryLayout<T>.size { value |= T(bytes[offset + k]) << (8 * k) }
      offset += MemoryLayout<T>.size
      return value
    }
  }
}

extension Checkpoint {
  /// Writes, beside `imagePath` (an image whose sidecar was just written), the checkpoint with
  /// which `clipig render SIDECAR -o IMAGE` continues the run at `nextEpoch`: its digest is the
  /// one `render` computes for that sidecar, read back from the file as `render` reads it.
  public static func writeForSidecar(of imagePath: String, trainer: Trainer, nextEpoch: Int)
    throws
  {
    let plan = try RunPlan(files: [Sidecar.path(forImage: imagePath)])
    try trainer.checkpoint(nextEpoch: nextEpoch, configDigest: plan.checkpointDigest)
      .recordingImage(at: imagePath).write(to: path(forImage: imagePath))
  }
}
