import CLIP

/// The checkpoint readers as the model loader sees them.
extension SafeTensorsFile: TensorArchive {
  public func contains(_ name: String) -> Bool { entries[name] != nil }
  public var tensorNames: [String] { Array(entries.keys) }
  public func shape(of name: String) throws -> [Int] { try entry(name).shape }
  public func read(
    _ name: String, expectedShape: [Int], into buffer: UnsafeMutableBufferPointer<Float>
  )
    throws
  {
    try read(name, expectedShape: Optional(expectedShape), into: buffer)
  }
}

extension TorchCheckpoint: TensorArchive {
  public func contains(_ name: String) -> Bool { entries[name] != nil }
  public var tensorNames: [String] { names }
  public func shape(of name: String) throws -> [Int] { try entry(name).shape }
  public func read(
    _ name: String, expectedShape: [Int], into buffer: UnsafeMutableBufferPointer<Float>
  )
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
