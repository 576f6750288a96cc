import Foundation
import Testing

@testable import CLIP
@testable import ModelStore

@Suite struct ModelStoreCheckpointTests {
  static let files = ["tiny-openai-jit.pt", "tiny-state-dict.pt", "tiny-state-dict-deflated.pt"]

  /// Every tensor PyTorch reports is read with its name, dtype, shape and exact values.
  @Test(arguments: files)
  func readsEveryTensorExactly(file: String) throws {
    let reference = try ModelStoreFixture.reference()
    let expected = reference.tensors(file)
    #expect(!expected.isEmpty)
    let checkpoint = try TorchCheckpoint(path: ModelStoreFixture.path(file))
    #expect(checkpoint.format.rawValue == reference.files[file]?.format)
    #expect(checkpoint.names == expected.map(\.name))
    let dtypes: [String: TensorDType] = [
      "float16": .f16, "float32": .f32, "int64": .i64, "bfloat16": .bf16,
    ]
    for info in expected {
      let entry = try checkpoint.entry(info.name)
      #expect(entry.shape == info.shape, "\(info.name)")
      #expect(entry.dtype == dtypes[info.dtype], "\(info.name)")
      let values = try checkpoint.floats(info.name, expectedShape: info.shape)
      let f32 = values.withUnsafeBytes { SHA256.hex(of: Array($0)) }
      #expect(f32 == info.sha256_f32, "\(info.name) values")
      #expect(
        zip(values, info.first).allSatisfy { Double($0) == Double($1) }, "\(info.name) first")
      let raw = try checkpoint.data(info.name)
      #expect(raw.count == entry.count * entry.dtype.size)
      #expect(SHA256.hex(of: raw) == info.sha256_raw, "\(info.name) raw bytes")
    }
  }

  /// The TorchScript file has OpenAI's state-dict names and fp16 storages.
  @Test func torchScriptHasOpenAINames() throws {
    let c = try TorchCheckpoint(path: ModelStoreFixture.path("tiny-openai-jit.pt"))
    #expect(c.format == .torchScript)
    for name in [
      "visual.conv1.weight", "visual.class_embedding", "visual.positional_embedding",
      "visual.transformer.resblocks.0.attn.in_proj_weight",
      "visual.transformer.resblocks.1.mlp.c_proj.bias", "visual.proj", "token_embedding.weight",
      "positional_embedding", "transformer.resblocks.0.ln_1.weight", "text_projection",
      "ln_final.bias", "logit_scale",
    ] {
      #expect(c.entries[name]?.dtype == .f16, "\(name)")
    }
    #expect(try c.entry("visual.conv1.weight").shape == [16, 3, 8, 8])
    // Attributes that are not parameters or buffers (training flags) are not tensors here.
    #expect(c.entries["training"] == nil)
  }

  @Test func wrongExpectedShapeIsAnError() throws {
    let c = try TorchCheckpoint(path: ModelStoreFixture.path("tiny-state-dict.pt"))
    #expect(throws: ModelStoreError.self) { try c.floats("visual.proj", expectedShape: [1, 2]) }
    #expect(throws: ModelStoreError.self) { try c.floats("no.such.tensor") }
  }

  // MARK: Untrusted input

  /// Every truncation and many single-byte corruptions of a real checkpoint either fail with a
  /// `ModelStoreError` or read, but never trap.
  @Test func damagedFilesNeverTrap() throws {
    let original = try ModelStoreFixture.bytes("tiny-state-dict.pt")
    let directory = try ModelStoreFixture.scratchDirectory("damaged")
    defer { try? FileManager.default.removeItem(atPath: directory) }
    var cases: [[UInt8]] = []
    for cut in stride(from: 0, to: original.count, by: max(1, original.count / 41)) {
      cases.append(Array(original[..<cut]))
    }
    var x: UInt64 = 99
    for _ in 0..<120 {
      x = x &* 6_364_136_223_846_793_005 &+ 1_442_695_040_888_963_407
      var copy = original
      let i = Int(x >> 33) % copy.count
      copy[i] ^= UInt8(truncatingIfNeeded: x >> 11) | 1
      cases.append(copy)
    }
    var failures = 0
    for (n, bytes) in cases.enumerated() {
      let path = directory + "/case\(n).pt"
      try Data(bytes).write(to: URL(fileURLWithPath: path))
      do {
        let c = try TorchCheckpoint(path: path)
        for name in c.names { _ = try c.floats(name) }
      } catch {
        failures += 1
      }
    }
    #expect(failures > cases.count / 2)
  }

  /// A pickle that names any other global is refused before anything else happens.
  @Test func disallowedGlobalsAreRefused() throws {
    let program: [UInt8] =
      [0x80, 0x02] + Array("cos\nsystem\n".utf8) + [0x58] + le32(2) + Array("ls".utf8)
      + [0x85, 0x52, 0x2E]
    let error = runPickle(program)
    #expect(error?.description.contains("os.system is not allowed") == true)
  }

  /// Malformed programs give errors, not traps: underflow, unknown opcodes, bad memo, huge
  /// lengths, tensor views outside their storage.
  @Test func malformedPicklesAreErrors() throws {
    let programs: [[UInt8]] = [
      [0x2E],  // STOP on an empty stack
      [0x80, 0x02, 0x74, 0x2E],  // TUPLE without a mark
      [0x80, 0x02, 0x68, 0x05, 0x2E],  // BINGET of an unset memo slot
      [0x80, 0x02, 0x58, 0xFF, 0xFF, 0xFF, 0x7F],  // BINUNICODE longer than the data
      [0x80, 0x02, 0xFF],  // unknown opcode
      [0x80, 0x02, 0x28, 0x4E, 0x2E],  // STOP with an open mark
      [0x80, 0x02, 0x4E, 0x4E, 0x52, 0x2E],  // REDUCE with non-tuple arguments
      [0x80, 0x02, 0x8A, 0x09] + [UInt8](repeating: 1, count: 9) + [0x2E],  // LONG1 too long
      [0x80, 0x02, 0x4E, 0x61, 0x2E],  // APPEND to None
      tensorProgram(storageCount: 4, offset: 2, shape: [2, 2], strides: [2, 1]),  // past end
      tensorProgram(storageCount: 4, offset: 0, shape: [Int(Int32.max), 4], strides: [4, 1]),
      // A broadcast view: more elements than its storage.
      tensorProgram(storageCount: 4, offset: 0, shape: [1000, 4], strides: [0, 1]),
      // Deep nesting (releasing it must not recurse deeply): None, then TUPLE1 many times.
      [0x80, 0x02, 0x4E] + [UInt8](repeating: 0x85, count: 100_000) + [0x2E],
      // The same through lists: EMPTY_LIST, DUP… builds nothing deep, so nest lists in lists.
      [0x80, 0x02] + [UInt8](repeating: 0x5D, count: 5000)
        + [UInt8](repeating: 0x61, count: 4999) + [0x2E],
    ]
    for (i, p) in programs.enumerated() {
      #expect(runPickle(p) != nil, "program \(i) should fail")
    }
    #expect(
      runPickle(tensorProgram(storageCount: 4, offset: 0, shape: [2, 2], strides: [2, 1])) == nil)
  }

  @Test func legacyAndNonZipFilesHaveClearErrors() throws {
    let legacy = try ModelStoreFixture.scratchFile(
      [0x80, 0x02, 0x8A, 0x0A] + [UInt8](repeating: 0, count: 40))
    #expect {
      _ = try TorchCheckpoint(path: legacy)
    } throws: { ($0 as? ModelStoreError)?.description.contains("legacy") == true }
    let text = try ModelStoreFixture.scratchFile(Array("hello, not a checkpoint at all".utf8))
    #expect {
      _ = try TorchCheckpoint(path: text)
    } throws: { ($0 as? ModelStoreError)?.description.contains("not a zip archive") == true }
    #expect(throws: ModelStoreError.self) { _ = try TorchCheckpoint(path: "/nonexistent/x.pt") }
  }

  // MARK: Helpers

  private func le32(_ v: Int) -> [UInt8] {
    (0..<4).map { UInt8(truncatingIfNeeded: v >> (8 * $0)) }
  }

  private func runPickle(_ program: [UInt8]) -> ModelStoreError? {
    program.withUnsafeBytes { bytes -> ModelStoreError? in
      var m = PickleMachine(data: bytes, source: "test")
      do {
        _ = try m.run()
        return nil
      } catch let error as ModelStoreError {
        return error
      } catch {
        return nil
      }
    }
  }

  /// `_rebuild_tensor_v2(('storage', torch.FloatStorage, '0', 'cpu', n), offset, shape, strides)`.
  private func tensorProgram(storageCount: Int, offset: Int, shape: [Int], strides: [Int])
    -> [UInt8]
  {
    func int(_ v: Int) -> [UInt8] { [0x4A] + le32(v) }
    func str(_ s: String) -> [UInt8] { [0x58] + le32(s.utf8.count) + Array(s.utf8) }
    var p: [UInt8] = [0x80, 0x02]
    p += Array("ctorch._utils\n_rebuild_tensor_v2\n".utf8)
    p += [0x28]  // MARK (arguments)
    p += [0x28] + str("storage") + Array("ctorch\nFloatStorage\n".utf8) + str("0") + str("cpu")
    p += int(storageCount) + [0x74, 0x51]  // TUPLE, BINPERSID
    p += int(offset)
    p += [0x28] + shape.flatMap(int) + [0x74]
    p += [0x28] + strides.flatMap(int) + [0x74]
    p += [0x89]  // requires_grad False
    p += [0x74, 0x52, 0x2E]  // TUPLE, REDUCE, STOP
    return p
  }
}

@Suite struct ModelStoreSafeTensorsExportTests {
  /// The exported file has a valid safetensors header and every tensor's bytes as stored.
  @Test(arguments: ["tiny-openai-jit.pt", "tiny-state-dict.pt"])
  func exportKeepsNamesShapesAndBytes(file: String) throws {
    let checkpoint = try TorchCheckpoint(path: ModelStoreFixture.path(file))
    let dir = try ModelStoreFixture.scratchDirectory("export")
    defer { try? FileManager.default.removeItem(atPath: dir) }
    let out = dir + "/model.safetensors"
    try checkpoint.writeSafeTensors(to: out, metadata: ["format": "pt", "source": file])
    let bytes = try [UInt8](Data(contentsOf: URL(fileURLWithPath: out)))
    let headerLength = (0..<8).reduce(0) { $0 | Int(bytes[$1]) << (8 * $1) }
    #expect(headerLength % 8 == 0)
    let header = try #require(
      try JSONSerialization.jsonObject(with: Data(bytes[8..<(8 + headerLength)])) as? [String: Any])
    #expect((header["__metadata__"] as? [String: String])?["source"] == file)
    let data = Array(bytes[(8 + headerLength)...])
    var covered = 0
    for name in checkpoint.names {
      let entry = try checkpoint.entry(name)
      let info = try #require(header[name] as? [String: Any], "\(name)")
      #expect(info["dtype"] as? String == entry.dtype.rawValue)
      #expect(info["shape"] as? [Int] == entry.shape)
      let range = try #require(info["data_offsets"] as? [Int])
      #expect(Array(data[range[0]..<range[1]]) == (try checkpoint.data(name)), "\(name)")
      covered += range[1] - range[0]
    }
    #expect(covered == data.count)
    #expect(header.count == checkpoint.names.count + 1)
  }
}
