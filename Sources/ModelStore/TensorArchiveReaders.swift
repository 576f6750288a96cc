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
    try checkFinite(buffer, tensor: name, path: path)
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
    try checkFinite(buffer, tensor: name, path: path)
  }
}

/// Throws for a weight that is NaN or infinite: such a file is damaged, and would make every
/// feature NaN (a black image) instead of failing.
func checkFinite(_ buffer: UnsafeMutableBufferPointer<Float>, tensor: String, path: String) throws {
  var bad = 0
  for v in buffer where !v.isFinite { bad += 1 }
  if bad > 0 {
    throw CLIPError.safetensors(
      path: path, tensor: tensor,
      reason:
        "holds \(bad) NaN or infinite value\(bad == 1 ? "" : "s") of \(buffer.count); the file "
        + "is damaged")
  }
}
