import CLIP
import Foundation
import ModelStore
import TestSupport
import Testing

/// The safetensors header is untrusted: every malformed file must throw a message naming the
/// tensor (or the file-level fault), never trap.
@Suite struct SafeTensorsTests {
  /// Writes a safetensors file with the given header text and `dataBytes` bytes of data.
  static func write(header: String, dataBytes: Int, lengthOverride: UInt64? = nil) throws -> String
  {
    let h = Array(header.utf8)
    var bytes = [UInt8]()
    var n = lengthOverride ?? UInt64(h.count)
    for _ in 0..<8 {
      bytes.append(UInt8(n & 0xFF))
      n >>= 8
    }
    bytes += h
    bytes += (0..<dataBytes).map { UInt8(truncatingIfNeeded: $0) }
    let path = try TestFiles.temporaryDirectory("safetensors") + "/model.safetensors"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  static func message(header: String, dataBytes: Int, lengthOverride: UInt64? = nil) -> String? {
    do {
      let path = try write(header: header, dataBytes: dataBytes, lengthOverride: lengthOverride)
      defer { try? FileManager.default.removeItem(atPath: path) }
      _ = try SafeTensorsFile(path: path)
      return nil
    } catch {
      return "\(error)"
    }
  }

  @Test func readsValidFileWithAllFloatTypes() throws {
    // 1.5 as F32, F16 (0x3E00), BF16 (0x3FC0), F64; plus metadata.
    var data = [UInt8]()
    data += [0x00, 0x00, 0xC0, 0x3F]  // F32 1.5
    data += [0x00, 0x3E]  // F16 1.5
    data += [0xC0, 0x3F]  // BF16 1.5
    data += [0, 0, 0, 0, 0, 0, 0xF8, 0x3F]  // F64 1.5
    let header = """
      {"__metadata__":{"format":"pt"},"a":{"dtype":"F32","shape":[1],"data_offsets":[0,4]},\
      "b":{"dtype":"F16","shape":[1,1],"data_offsets":[4,6]},\
      "c":{"dtype":"BF16","shape":[1],"data_offsets":[6,8]},\
      "d":{"dtype":"F64","shape":[],"data_offsets":[8,16]},\
      "e":{"dtype":"I64","shape":[0],"data_offsets":[16,16]}}
      """
    let h = Array(header.utf8)
    var bytes = (0..<8).map { UInt8((h.count >> (8 * $0)) & 0xFF) }
    bytes += h + data
    let path = try TestFiles.temporaryDirectory("safetensors") + "/ok.safetensors"
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    let file = try SafeTensorsFile(path: path)
    #expect(file.metadata == ["format": "pt"])
    for name in ["a", "b", "c", "d"] { #expect(try file.floats(name) == [1.5]) }
    #expect(throws: CLIPError.self) { try file.floats("e") }  // integer tensor
    #expect(throws: CLIPError.self) { try file.floats("a", expectedShape: [2]) }
    #expect(throws: CLIPError.self) { try file.floats("missing") }
  }

  /// The one half-precision conversion of every checkpoint reader, against IEEE 754 values.
  @Test func halfPrecisionConversion() {
    #expect(TensorDType.halfToFloat(0x3C00) == 1)
    #expect(TensorDType.halfToFloat(0xC000) == -2)
    #expect(
      TensorDType.halfToFloat(0x0001) == Float(sign: .plus, exponent: -24, significand: 1))
    #expect(TensorDType.halfToFloat(0x03FF) == Float(1023) * 0x1p-24)
    #expect(TensorDType.halfToFloat(0x7BFF) == 65504)
    #expect(TensorDType.halfToFloat(0x7C00) == .infinity)
    #expect(TensorDType.halfToFloat(0x7E00).isNaN)
    #expect(TensorDType.halfToFloat(0x8000).sign == .minus)
  }

  struct Bad: Sendable, CustomStringConvertible {
    var header: String
    var data: Int
    var expect: String
    var length: UInt64? = nil
    var description: String { expect }
  }

  @Test(arguments: [
    Bad(header: "{}", data: 0, expect: "exceeds the file", length: 1 << 40),
    Bad(header: "not json", data: 0, expect: "not a JSON object"),
    Bad(header: "[1,2]", data: 0, expect: "not a JSON object"),
    Bad(
      header: #"{"w":{"dtype":"Q4","shape":[1],"data_offsets":[0,4]}}"#, data: 4,
      expect: "'w': unknown dtype"),
    Bad(
      header: #"{"w":{"shape":[1],"data_offsets":[0,4]}}"#, data: 4, expect: "'w': missing dtype"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[-1],"data_offsets":[0,4]}}"#, data: 4,
      expect: "'w': shape"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[1.5],"data_offsets":[0,4]}}"#, data: 4,
      expect: "'w': shape"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[true],"data_offsets":[0,4]}}"#, data: 4,
      expect: "'w': shape"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0,8]}}"#, data: 4,
      expect: "'w': data_offsets [0, 8] outside"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[4,0]}}"#, data: 4,
      expect: "'w': data_offsets"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[1],"data_offsets":[0]}}"#, data: 4,
      expect: "'w': data_offsets is not"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[2],"data_offsets":[0,4]}}"#, data: 4,
      expect: "'w': shape [2] of F32 needs 8 bytes"),
    Bad(
      header: #"{"w":{"dtype":"F32","shape":[4611686018427387904,4],"data_offsets":[0,4]}}"#,
      data: 4,
      expect: "'w': shape"),
    Bad(
      header:
        #"{"a":{"dtype":"F32","shape":[2],"data_offsets":[0,8]},"b":{"dtype":"F32","shape":[1],"data_offsets":[4,8]}}"#,
      data: 8, expect: "overlaps"),
    Bad(header: #"{"__metadata__":{"k":1}}"#, data: 0, expect: "__metadata__"),
    Bad(header: #"{"w":[1]}"#, data: 0, expect: "'w': entry is not an object"),
  ])
  func rejectsMalformedHeader(_ bad: Bad) {
    let message = Self.message(header: bad.header, dataBytes: bad.data, lengthOverride: bad.length)
    #expect(message?.contains(bad.expect) == true, "got \(message ?? "no error")")
  }

  @Test func rejectsShortAndMissingFiles() throws {
    #expect(throws: CLIPError.self) { try SafeTensorsFile(path: "/nonexistent/model.safetensors") }
    let path = try TestFiles.temporaryDirectory("safetensors") + "/short.safetensors"
    try Data([1, 2, 3]).write(to: URL(fileURLWithPath: path))
    #expect(throws: CLIPError.self) { try SafeTensorsFile(path: path) }
  }

  /// A checkpoint whose tensor has the wrong shape for its config names that tensor.
  @Test func modelLoadNamesTheMismatchedTensor() throws {
    var cfg = try CLIPModel.load(directory: TestFiles.tinyModel, parts: []).config
    cfg.vision.mlpWidth = 128
    do {
      _ = try CLIPModel.load(file: TestFiles.tinyModel + "/model.safetensors", config: cfg)
      Issue.record("loaded a mismatched checkpoint")
    } catch {
      #expect("\(error)".contains("vision_model.encoder.layers.0.mlp.fc1.weight"), "\(error)")
    }
  }

  /// A config promising a huge model is checked against the file's header before any memory
  /// is allocated (this one would need about 400 GB).
  @Test func hugeConfigFailsBeforeAllocating() throws {
    var cfg = try CLIPModel.load(directory: TestFiles.tinyModel, parts: []).config
    cfg.vision.width = 8192
    cfg.vision.heads = 128
    cfg.vision.layers = 128
    cfg.vision.mlpWidth = 32768
    #expect(throws: CLIPError.self) {
      try CLIPModel.load(file: TestFiles.tinyModel + "/model.safetensors", config: cfg)
    }
    cfg.vision.layers = 100_000
    #expect(throws: CLIPError.self) {
      try CLIPModel.load(file: TestFiles.tinyModel + "/model.safetensors", config: cfg)
    }
  }

  @Test func rejectsBadConfigJSON() {
    let bad = [
      #"{"vision_config":{"hidden_size":"x"}}"#,
      #"{"vision_config":{"hidden_size":100,"num_attention_heads":3}}"#,
      #"{"vision_config":{"hidden_act":"relu"}}"#, "[]", #"{"projection_dim":-1}"#,
    ]
    for json in bad {
      #expect(throws: CLIPError.self) {
        try CLIPConfig.huggingFace(json: Data(json.utf8), source: "config.json")
      }
    }
    #expect((try? CLIPConfig.huggingFace(json: Data("{}".utf8), source: "c")) == .vitB32)
  }
}
