/// A file of named tensors the model loader can read weights from: a safetensors file or a
/// PyTorch checkpoint (OpenAI's TorchScript `.pt`, a `torch.save` state dict).
public protocol TensorArchive {
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

extension TensorArchive {
  /// How many of `prefix`0.`suffix`, `prefix`1.`suffix`, … exist in a row (at most 1000): the
  /// layers of a stack.
  func countLayers(_ prefix: String, _ suffix: String) -> Int {
    var n = 0
    while n < 1000 && contains(prefix + "\(n)." + suffix) { n += 1 }
    return n
  }

  /// A configuration error about this file.
  func configError(_ reason: String) -> CLIPError { .config(path: path, reason: reason) }
}
