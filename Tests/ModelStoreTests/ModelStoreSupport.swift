import Foundation
import TestSupport
import Testing

@testable import CLIP
@testable import ModelStore

/// Paths of the model store fixtures (Tests/ModelStoreTests/Fixtures) and scratch folders.
enum ModelStoreFixture {
  /// Absolute path of `name` in Fixtures (e.g. `openclip/gelu-bin`).
  static func fixture(_ name: String) -> String {
    guard let base = Bundle.module.resourceURL else { return "Fixtures/" + name }
    return base.appendingPathComponent("Fixtures").appendingPathComponent(name).path
  }

  /// Absolute path of fixture `name` in Fixtures/modelstore.
  static func path(_ name: String) -> String { fixture("modelstore/" + name) }

  /// The bytes of fixture `name` in Fixtures/modelstore.
  static func bytes(_ name: String) throws -> [UInt8] {
    [UInt8](try Data(contentsOf: URL(fileURLWithPath: path(name))))
  }

  /// The decoded JSON fixture `name` (in Fixtures).
  static func json<T: Decodable>(_ name: String, as type: T.Type) throws -> T {
    let data = try Data(contentsOf: URL(fileURLWithPath: fixture(name)))
    return try JSONDecoder().decode(T.self, from: data)
  }

  /// A new empty directory under the system's temporary directory.
  static func scratchDirectory(_ label: String) throws -> String {
    try TestFiles.temporaryDirectory("modelstore-" + label)
  }

  /// Writes `bytes` to a new file in a scratch directory and returns its path.
  static func scratchFile(_ bytes: [UInt8], name: String = "file.pt") throws -> String {
    let path = try scratchDirectory("file") + "/" + name
    try Data(bytes).write(to: URL(fileURLWithPath: path))
    return path
  }

  /// Tensor descriptions written by scripts/modelstore_fixtures.py.
  struct Reference: Decodable {
    struct TensorInfo: Decodable {
      var name: String
      var dtype: String
      var shape: [Int]
      var sha256_f32: String
      var sha256_raw: String
      /// Python `repr` of the first values (`-inf` included).
      var first: [String]
    }
    struct FileInfo: Decodable {
      var format: String
      var tensors: [TensorInfo]?
      var tensors_as: String?
      var sha256: String
      var size: Int
    }
    var files: [String: FileInfo]

    init(from decoder: any Decoder) throws {
      files = try [String: FileInfo](from: decoder)
    }

    /// The tensors of `file` (following `tensors_as`).
    func tensors(_ file: String) -> [TensorInfo] {
      guard let info = files[file] else { return [] }
      if let other = info.tensors_as { return tensors(other) }
      return info.tensors ?? []
    }
  }

  static func reference() throws -> Reference {
    let data = try Data(contentsOf: URL(fileURLWithPath: path("reference.json")))
    return try JSONDecoder().decode(Reference.self, from: data)
  }
}
