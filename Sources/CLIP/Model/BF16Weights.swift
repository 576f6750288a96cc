/// A tower's parameters rounded to bfloat16 once, at the same offsets as the fp32
/// `ParameterStorage` they come from, with the path the tower's bf16 GEMMs run on. Immutable
/// after construction and shareable.
final class BF16Weights: @unchecked Sendable {
  /// Start of the bf16 copy (same offsets as the fp32 storage).
  let base: UnsafeMutablePointer<UInt16>
  /// Number of values.
  let count: Int
  /// How the products with these weights are computed.
  let path: BF16Path

  /// Rounds every value of `storage` to bf16.
  init(_ storage: ParameterStorage, path: BF16Path) {
    count = storage.count
    self.path = path
    base = .allocate(capacity: max(1, count))
    base.initialize(repeating: 0, count: max(1, count))
    BFloat16.convert(storage.base, into: base, count: count)
  }

  deinit { base.deallocate() }

  /// `existing` when it already holds `storage` in bf16 for `path`, else a new conversion.
  static func reusing(_ existing: BF16Weights?, storage: ParameterStorage, path: BF16Path)
    -> BF16Weights
  {
    if let existing, existing.path == path { return existing }
    return BF16Weights(storage, path: path)
  }

  /// The GEMM operand of the parameter at `offset` of `storage`.
  func operand(_ storage: ParameterStorage, _ offset: Int) -> GEMMOperand {
    GEMMOperand(
      UnsafePointer(storage.base + offset), bf16: UnsafePointer(base + offset), path: path)
  }
}

extension ParameterStorage {
  /// The GEMM operand of the weight at `offset`: bf16 (with its copy in `bf16`) when the tower
  /// runs in bf16, else the fp32 values.
  @inline(__always)
  func operand(_ offset: Int, _ bf16: BF16Weights?) -> GEMMOperand {
    if let bf16 { return bf16.operand(self, offset) }
    return GEMMOperand(UnsafePointer(base + offset))
  }
}
