/// The element types of stored tensors, in one table for every checkpoint reader: raw values
/// are safetensors' dtype names (`F16`, `BF16`, …), `init(storageName:)` maps PyTorch's typed
/// storage classes, and `float(_:at:)` decodes one little-endian element.
public enum TensorDType: String, Sendable, CaseIterable {
  /// Booleans, one byte each.
  case bool = "BOOL"
  /// Unsigned 8-bit integers.
  case u8 = "U8"
  /// Signed 8-bit integers.
  case i8 = "I8"
  /// 8-bit floats with 4 exponent bits (stored, not decoded).
  case f8e4m3 = "F8_E4M3"
  /// 8-bit floats with 5 exponent bits (stored, not decoded).
  case f8e5m2 = "F8_E5M2"
  /// Signed 16-bit integers.
  case i16 = "I16"
  /// Unsigned 16-bit integers.
  case u16 = "U16"
  /// IEEE half precision.
  case f16 = "F16"
  /// bfloat16 (the top half of a binary32).
  case bf16 = "BF16"
  /// Signed 32-bit integers.
  case i32 = "I32"
  /// Unsigned 32-bit integers.
  case u32 = "U32"
  /// IEEE single precision.
  case f32 = "F32"
  /// IEEE double precision.
  case f64 = "F64"
  /// Signed 64-bit integers.
  case i64 = "I64"
  /// Unsigned 64-bit integers.
  case u64 = "U64"

  /// Bytes per element.
  public var size: Int {
    switch self {
    case .bool, .u8, .i8, .f8e4m3, .f8e5m2: return 1
    case .i16, .u16, .f16, .bf16: return 2
    case .i32, .u32, .f32: return 4
    case .f64, .i64, .u64: return 8
    }
  }

  /// The floating-point types that `float(_:at:)` decodes (16, 32 and 64 bits; the 8-bit
  /// floats are not read).
  public var isDecodedFloat: Bool {
    switch self {
    case .f16, .bf16, .f32, .f64: return true
    default: return false
    }
  }

  /// The dtype of a PyTorch typed storage class such as `HalfStorage`, nil for another name.
  public init?(storageName: String) {
    switch storageName {
    case "HalfStorage": self = .f16
    case "BFloat16Storage": self = .bf16
    case "FloatStorage": self = .f32
    case "DoubleStorage": self = .f64
    case "LongStorage": self = .i64
    case "IntStorage": self = .i32
    case "ShortStorage": self = .i16
    case "CharStorage": self = .i8
    case "ByteStorage": self = .u8
    case "BoolStorage": self = .bool
    default: return nil
    }
  }

  /// Element `i` of little-endian `bytes` of this type, as Float (integers converted, bool as
  /// 0 or 1). The 8-bit floats are not decoded: they give NaN.
  @inline(__always)
  public func float(_ bytes: UnsafeRawBufferPointer, at i: Int) -> Float {
    @inline(__always) func load<T: FixedWidthInteger>(_: T.Type) -> T {
      T(littleEndian: bytes.loadUnaligned(fromByteOffset: MemoryLayout<T>.size * i, as: T.self))
    }
    switch self {
    case .f16: return Self.halfToFloat(load(UInt16.self))
    case .bf16: return Float(bitPattern: UInt32(load(UInt16.self)) << 16)
    case .f32: return Float(bitPattern: load(UInt32.self))
    case .f64: return Float(Double(bitPattern: load(UInt64.self)))
    case .i64: return Float(load(Int64.self))
    case .u64: return Float(load(UInt64.self))
    case .i32: return Float(load(Int32.self))
    case .u32: return Float(load(UInt32.self))
    case .i16: return Float(load(Int16.self))
    case .u16: return Float(load(UInt16.self))
    case .i8: return Float(load(Int8.self))
    case .u8, .bool: return Float(load(UInt8.self))
    case .f8e4m3, .f8e5m2: return .nan
    }
  }

  /// IEEE 754 binary16 to binary32, exactly (subnormals, infinities and NaN payloads included).
  public static func halfToFloat(_ h: UInt16) -> Float {
    let sign = UInt32(h & 0x8000) << 16
    let exponent = UInt32(h >> 10) & 0x1F
    let mantissa = UInt32(h & 0x3FF)
    switch exponent {
    case 0:
      // Zero or subnormal: mantissa · 2⁻²⁴.
      let magnitude = Float(mantissa) * 0x1p-24
      return sign == 0 ? magnitude : -magnitude
    case 31:
      return Float(bitPattern: sign | 0x7F80_0000 | mantissa << 13)
    default:
      return Float(bitPattern: sign | (exponent + 112) << 23 | mantissa << 13)
    }
  }
}
