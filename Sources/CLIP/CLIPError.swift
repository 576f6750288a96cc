/// Errors of the CLIP module: unreadable or malformed files, unsupported models.
///
/// Every message names the file and, where there is one, the tensor or key at fault.
public enum CLIPError: Error, Equatable, CustomStringConvertible {
  /// A file could not be opened or read.
  case unreadable(path: String, reason: String)
  /// A safetensors file is malformed; `tensor` is empty for file-level faults.
  case safetensors(path: String, tensor: String, reason: String)
  /// A model configuration (config.json or tensor shapes) is missing, inconsistent or unsupported.
  case config(path: String, reason: String)
  /// A BPE merges file is malformed.
  case merges(path: String, reason: String)
  /// An input does not fit the model (token id outside the vocabulary, prompt too long, …).
  case invalidInput(String)

  /// A one-line, user-facing description.
  public var description: String {
    switch self {
    case .unreadable(let path, let reason): return "cannot read \(path): \(reason)"
    case .safetensors(let path, let tensor, let reason):
      return tensor.isEmpty
        ? "\(path): invalid safetensors file: \(reason)"
        : "\(path): tensor '\(tensor)': \(reason)"
    case .config(let path, let reason): return "\(path): \(reason)"
    case .merges(let path, let reason): return "\(path): invalid BPE merges: \(reason)"
    case .invalidInput(let reason): return reason
    }
  }
}
