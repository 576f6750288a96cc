internal import CZlib

#if canImport(Glibc)
  import Glibc
#elseif canImport(Darwin)
  import Darwin
#endif

/// Whole-file reading and gzip/zlib decompression, without Foundation.
enum FileBytes {
  /// The bytes of the file at `path`.
  static func read(_ path: String) throws -> [UInt8] {
    guard let f = fopen(path, "rb") else {
      throw CLIPError.unreadable(path: path, reason: String(cString: strerror(errno)))
    }
    defer { fclose(f) }
    var out = [UInt8]()
    var chunk = [UInt8](repeating: 0, count: 1 << 16)
    while true {
      let n = chunk.withUnsafeMutableBytes { fread($0.baseAddress, 1, $0.count, f) }
      if n > 0 { out.append(contentsOf: chunk[0..<n]) }
      if n < chunk.count {
        if ferror(f) != 0 { throw CLIPError.unreadable(path: path, reason: "read error") }
        break
      }
    }
    return out
  }

  /// True when `bytes` start with the gzip magic number.
  static func isGzip(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
  }

  /// Decompresses a gzip (or zlib) stream; `path` only names the source in errors.
  static func gunzip(_ input: [UInt8], path: String) throws -> [UInt8] {
    var stream = z_stream()
    // 15 window bits + 32: detect gzip or zlib headers automatically.
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw CLIPError.unreadable(path: path, reason: "zlib initialisation failed") }
    defer { inflateEnd(&stream) }
    var out = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 1 << 18)
    var status: Int32 = Z_OK
    try input.withUnsafeBufferPointer { inBuf in
      stream.next_in = UnsafeMutablePointer(mutating: inBuf.baseAddress)
      stream.avail_in = uInt(inBuf.count)
      repeat {
        let produced = buffer.withUnsafeMutableBufferPointer { outBuf -> Int in
          stream.next_out = outBuf.baseAddress
          stream.avail_out = uInt(outBuf.count)
          status = inflate(&stream, Z_NO_FLUSH)
          return outBuf.count - Int(stream.avail_out)
        }
        if status != Z_OK && status != Z_STREAM_END {
          throw CLIPError.unreadable(
            path: path, reason: "corrupt gzip data (zlib status \(status))")
        }
        out.append(contentsOf: buffer[0..<produced])
        if status == Z_OK && produced == 0 && stream.avail_in == 0 {
          throw CLIPError.unreadable(path: path, reason: "truncated gzip data")
        }
      } while status != Z_STREAM_END
    }
    return out
  }
}
