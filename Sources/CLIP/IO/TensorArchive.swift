/// A file of named tensors the model loader can read weights from: a safetensors file or a
/// PyTorch checkpoint (OpenAI's TorchScript `.pt`, a `torch.save` state dict).
protocol TensorArchive {
  /// The file, for messages.
  var path: String { get }
  /// Whether a tensor of this name exists.
  func contains(_ name: String) -> Bool
  /// Every tensor name.
  var tensorNames: [String] { get }
  /// The stored shape of `name`.
  func shape(of name: String) throws -> [Int]
  /// Reads `name` as Float32 into `buffer`, checking its shape.
  func read(_ name: String, expectedShape: [Int], into buffer: UnsafeMutableBufferPointer<Float>)
    throws
}

extension SafeTensorsFile: TensorArchive {
  func contains(_ name: String) -> Bool { entries[name] != nil }
  var tensorNames: [String] { Array(entries.keys) }
  func shape(of name: String) throws -> [Int] { try entry(name).shape }
  func read(_ name: String, expectedShape: [Int], into buffer: UnsafeMutableBufferPointer<Float>)
    throws
  {
    try read(name, expectedShape: Optional(expectedShape), into: buffer)
  }
}

extension TorchCheckpoint: TensorArchive {
  func contains(_ name: String) -> Bool { entries[name] != nil }
  var tensorNames: [String] { names }
  func shape(of name: String) throws -> [Int] { try entry(name).shape }
  func read(_ name: String, expectedShape: [Int], into buffer: UnsafeMutableBufferPointer<Float>)
    throws
  {
    let values = try floats(name, expectedShape: expectedShape)
    guard values.count == buffer.count else {
      throw CLIPError.safetensors(
        path: path, tensor: name, reason: "has \(values.count) values, expected \(buffer.count)")
    }
    _ = buffer.initialize(from: values)
  }
}
