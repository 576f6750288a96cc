#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

extension TorchCheckpoint {
  /// Writes every tensor to a safetensors file at `path`: same names, stored dtypes (fp16 for
  /// OpenAI's files), row-major data; written to a temporary name and renamed into place.
  ///
  /// This lets code that reads safetensors use an OpenAI `.pt` without knowing its format.
  public func writeSafeTensors(to path: String, metadata: [String: String] = [:])
    throws(ModelStoreError)
  {
    // Header: {"name": {"dtype": "F16", "shape": [..], "data_offsets": [begin, end]}, …}
    var header = "{"
    var offset = 0
    var first = true
    if !metadata.isEmpty {
      header += "\"__metadata__\":{"
      header += metadata.sorted { $0.key < $1.key }
        .map { "\(Self.jsonString($0.key)):\(Self.jsonString($0.value))" }
        .joined(separator: ",")
      header += "}"
      first = false
    }
    for name in names {
      guard let e = entries[name] else { continue }
      let size = e.count * e.dtype.size
      if !first { header += "," }
      first = false
      header += "\(Self.jsonString(name)):{\"dtype\":\"\(e.dtype.rawValue)\",\"shape\":["
      header += e.shape.map(String.init).joined(separator: ",")
      header += "],\"data_offsets\":[\(offset),\(offset + size)]}"
      offset += size
    }
    header += "}"
    var headerBytes = Array(header.utf8)
    while headerBytes.count % 8 != 0 { headerBytes.append(0x20) }
    var prefix = (0..<8).map { UInt8(truncatingIfNeeded: UInt64(headerBytes.count) >> (8 * $0)) }
    prefix += headerBytes

    try ModelCache.writeAtomically(to: path, syncing: true) { fd throws(ModelStoreError) in
      try FileSink.writeAll(fd: fd, prefix, path: path)
      for name in names {
        try FileSink.writeAll(fd: fd, try data(name), path: path)
      }
    }
  }

  /// `s` as a JSON string literal.
  static func jsonString(_ s: String) -> String {
    var out = "\""
    for scalar in s.unicodeScalars {
      switch scalar {
      case "\"": out += "\\\""
      case "\\": out += "\\\\"
      case "\n": out += "\\n"
      case "\r": out += "\\r"
      case "\t": out += "\\t"
      default:
        if scalar.value < 0x20 {
          let hex = String(scalar.value, radix: 16)
          out += "\\u" + String(repeating: "0", count: 4 - hex.count) + hex
        } else {
          out.unicodeScalars.append(scalar)
        }
      }
    }
    return out + "\""
  }
}
