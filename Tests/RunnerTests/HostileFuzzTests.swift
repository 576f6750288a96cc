import Formats
import Foundation
import ModelStore
import PipelineKit
import Runner
import TestSupport
import Testing

/// Mutated inputs for the three parsers a user's files reach: YAML (libyaml through
/// `YAML.parse`, then `Experiment` decoding), PNG (`PNG.decode`, libpng) and safetensors headers
/// (`SafeTensorsFile`). Whatever the bytes, each must end with a value or a thrown error —
/// never a trap or a hang. Each runs for a bounded time (8 s) from a fixed seed; the input being
/// tried is kept in `last-input` of a temporary folder, so a crash leaves it for reproduction.
@Suite("Fuzzing the file parsers", .serialized)
struct HostileFuzzTests {
  /// Seconds per parser.
  static let budget: Double = 8

  /// SplitMix64: a reproducible stream of mutations.
  struct Mutator {
    var bits: SplitMix64
    init(state: UInt64) { bits = SplitMix64(seed: state) }
    mutating func next() -> UInt64 { bits.next() }
    mutating func below(_ n: Int) -> Int { Int(next() % UInt64(max(n, 1))) }

    /// One to four random edits: flip, set, insert, delete, duplicate a span, or insert one of
    /// `tokens`.
    mutating func mutate(_ input: [UInt8], tokens: [[UInt8]]) -> [UInt8] {
      var bytes = input
      for _ in 0...below(4) {
        let at = below(bytes.count + 1)
        switch below(7) {
        case 0 where at < bytes.count: bytes[at] ^= UInt8(1 << below(8))
        case 1 where at < bytes.count: bytes[at] = UInt8(truncatingIfNeeded: next())
        case 2: bytes.insert(UInt8(truncatingIfNeeded: next()), at: at)
        case 3 where at < bytes.count:
          bytes.removeSubrange(at..<min(bytes.count, at + 1 + below(16)))
        case 4 where at < bytes.count:
          let span = Array(bytes[at..<min(bytes.count, at + 1 + below(64))])
          bytes.insert(contentsOf: span, at: below(bytes.count + 1))
        default: bytes.insert(contentsOf: tokens[below(tokens.count)], at: at)
        }
      }
      return bytes
    }
  }

  /// Runs `body` on mutations of `seeds` for `budget` seconds; returns the number of inputs.
  static func fuzz(
    _ name: String, seeds: [[UInt8]], tokens: [String], seed: UInt64,
    _ body: ([UInt8], String) -> Void
  ) throws -> Int {
    let dir = try TestFiles.temporaryDirectory()
    let keep = dir + "/last-input"
    var mutator = Mutator(state: seed)
    let tokenBytes = tokens.map { Array($0.utf8) }
    let end = Date().addingTimeInterval(budget)
    var count = 0
    while Date() < end {
      var input = seeds[mutator.below(seeds.count)]
      for _ in 0...mutator.below(3) { input = mutator.mutate(input, tokens: tokenBytes) }
      _ = FileManager.default.createFile(atPath: keep, contents: Data(input))
      body(input, dir)
      count += 1
    }
    try? FileManager.default.removeItem(atPath: dir)
    print("fuzzed \(count) \(name) inputs")
    return count
  }

  @Test func yamlAndExperimentDecoding() throws {
    var seeds = Repository.exampleFiles.compactMap {
      try? FileIO.readBytes(path: TestFiles.examples + "/" + $0)
    }
    // A grid template: placeholders inside a flow mapping and a quoted string.
    seeds.append(
      Array(
        """
        epochs: 3
        init: {mean: 0.5, std: 0.1}
        targets:
          - features:
              - text: "a {{animal}} made of {{thing}}"
        """.utf8))
    let tokens = [
      "&a ", "*a", "<<: *a\n", "!!binary ", "!!int ", "{", "}", "[", "]", ": ", "- ", "\t", "\"",
      "'", "%YAML 1.1\n", "---\n", "...\n", "? ", "|\n", ">-\n", "\u{0}", "\u{FEFF}", "1e999",
      ".nan", "-.inf", "99999999999999999999", "100000", "-1", "0", "start: .nan\n",
      "resolution: 100000\n", "batch_size: 1000000\n", "start_epoch: -5\n", "epochs: 0\n",
      "init: {mean: .nan}\n", "  - noise: .inf\n", "'1/0'", "\"[0]*10**9\"", "\\x", "é",
      "\n  ", "#", ",", "~", "null", "yes", "0x1F", "0o17", "1_000",
    ]
    let n = try Self.fuzz("YAML", seeds: seeds, tokens: tokens, seed: 18) { input, _ in
      guard let root = try? YAML.parse(String(decoding: input, as: UTF8.self), file: "f.yaml")
      else { return }
      _ = try? Experiment(root)
    }
    #expect(n > 100)
  }

  @Test func pngDecoding() throws {
    let fixtures = TestFiles.repository.appendingPathComponent("Tests/FormatsTests/Fixtures/png")
      .path
    var seeds = ((try? FileManager.default.contentsOfDirectory(atPath: fixtures)) ?? [])
      .filter { $0.hasSuffix(".png") && !$0.contains("huge") }
      .compactMap { try? FileIO.readBytes(path: fixtures + "/" + $0) }
    var image = Tensor(shape: [3, 5, 7])
    for i in 0..<image.scalars.count { image.scalars[i] = Float(i % 11) / 10 }
    seeds.append(try PNG.encode(image))
    let tokens = [
      "IHDR", "IDAT", "IEND", "PLTE", "tRNS", "gAMA", "iCCP", "zTXt", "\u{0}\u{0}\u{0}",
    ]
    let n = try Self.fuzz("PNG", seeds: seeds, tokens: tokens, seed: 19) { input, _ in
      _ = try? PNG.decode(Self.fixingCRCs(input), name: "f.png")
      _ = try? PNG.decode(input, name: "f.png")
    }
    #expect(n > 100)
  }

  @Test func safetensorsHeaders() throws {
    func file(_ header: String, data: Int) -> [UInt8] {
      let h = Array(header.utf8)
      var bytes = withUnsafeBytes(of: UInt64(h.count).littleEndian, Array.init)
      bytes += h
      bytes += [UInt8](repeating: 0x3F, count: data)
      return bytes
    }
    let seeds = [
      file(
        #"{"a":{"dtype":"F32","shape":[2,2],"data_offsets":[0,16]},"__metadata__":{"k":"v"}}"#,
        data: 16),
      file(
        #"{"w":{"dtype":"F16","shape":[3],"data_offsets":[0,6]},"b":{"dtype":"BF16","shape":[],"data_offsets":[6,8]}}"#,
        data: 8),
      file(#"{}"#, data: 0),
    ]
    let tokens = [
      "9223372036854775807", "-1", "1e400", "[", "]", "{", "}", ",", "\"", ":", "null",
      "\"F64\"", "\"I64\"", "\"U8\"", "\"BOOL\"", "\\u0000", "[4294967296,4294967296]", "0",
      "\"__metadata__\"", "\"data_offsets\"", "\"shape\"",
    ]
    let n = try Self.fuzz("safetensors", seeds: seeds, tokens: tokens, seed: 20) { input, dir in
      let path = dir + "/f.safetensors"
      guard FileManager.default.createFile(atPath: path, contents: Data(input)),
        let st = try? SafeTensorsFile(path: path)
      else { return }
      for (name, entry) in st.entries where entry.range.count <= 1 << 20 {
        _ = try? st.floats(name)
      }
    }
    #expect(n > 100)
  }

  /// `bytes` with every complete chunk's CRC recomputed, so that mutations reach libpng's
  /// decoding instead of stopping at the checksum.
  static func fixingCRCs(_ input: [UInt8]) -> [UInt8] {
    var bytes = input
    var p = 8
    while p + 12 <= bytes.count {
      let length =
        Int(bytes[p]) << 24 | Int(bytes[p + 1]) << 16 | Int(bytes[p + 2]) << 8 | Int(bytes[p + 3])
      guard length <= bytes.count - p - 12 else { break }
      let crc = bytes[(p + 4)..<(p + 8 + length)].withUnsafeBytes { Compression.crc32($0) }
      for k in 0..<4 { bytes[p + 8 + length + k] = UInt8(truncatingIfNeeded: crc >> (24 - 8 * k)) }
      p += 12 + length
    }
    return bytes
  }
}
