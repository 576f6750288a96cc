internal import CZlib
import PipelineKit

/// Why compressed data could not be decompressed.
public struct CompressionError: Error, Sendable, CustomStringConvertible {
  /// What was wrong with the data, e.g. "is not a valid deflate stream".
  public var reason: String
  /// Creates an error.
  public init(reason: String) { self.reason = reason }
  /// The reason.
  public var description: String { reason }
}

/// zlib's decompression and checksums: gzip/zlib streams, raw deflate (zip entries), CRC-32.
public enum Compression {
  /// True when `bytes` start with the gzip magic number.
  public static func isGzip(_ bytes: [UInt8]) -> Bool {
    bytes.count >= 2 && bytes[0] == 0x1f && bytes[1] == 0x8b
  }

  /// Decompresses a gzip (or zlib) stream.
  public static func gunzip(_ input: [UInt8]) throws(CompressionError) -> [UInt8] {
    var stream = z_stream()
    // 15 window bits + 32: detect gzip or zlib headers automatically.
    guard inflateInit2_(&stream, 15 + 32, ZLIB_VERSION, Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw CompressionError(reason: "zlib initialisation failed") }
    defer { inflateEnd(&stream) }
    var out = [UInt8]()
    var buffer = [UInt8](repeating: 0, count: 1 << 18)
    var status: Int32 = Z_OK
    try input.withUnsafeBufferPointer { (inBuf) throws(CompressionError) in
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
          throw CompressionError(reason: "corrupt gzip data (zlib status \(status))")
        }
        out.append(contentsOf: buffer[0..<produced])
        if status == Z_OK && produced == 0 && stream.avail_in == 0 {
          throw CompressionError(reason: "truncated gzip data")
        }
      } while status != Z_STREAM_END
    }
    return out
  }

  /// Inflates a raw deflate stream (as in zip entries) that must fill `dst` exactly.
  public static func inflateRaw(
    _ src: UnsafeRawBufferPointer, into dst: UnsafeMutableRawBufferPointer
  ) throws(CompressionError) {
    var stream = z_stream()
    guard inflateInit2_(&stream, -15, zlibVersion(), Int32(MemoryLayout<z_stream>.size)) == Z_OK
    else { throw CompressionError(reason: "cannot start inflating") }
    defer { inflateEnd(&stream) }
    var inOffset = 0
    var outOffset = 0
    let step = 1 << 30
    while true {
      if stream.avail_in == 0 && inOffset < src.count {
        let n = min(step, src.count - inOffset)
        stream.next_in = UnsafeMutablePointer(
          mutating: src.baseAddress.unsafelyUnwrapped.advanced(by: inOffset)
            .assumingMemoryBound(to: Bytef.self))
        stream.avail_in = uInt(n)
        inOffset += n
      }
      if stream.avail_out == 0 && outOffset < dst.count {
        let n = min(step, dst.count - outOffset)
        stream.next_out = dst.baseAddress.unsafelyUnwrapped.advanced(by: outOffset)
          .assumingMemoryBound(to: Bytef.self)
        stream.avail_out = uInt(n)
        outOffset += n
      }
      if dst.count == 0 {
        // Nothing to produce; the stream must still end.
        var dummy: UInt8 = 0
        let status = withUnsafeMutablePointer(to: &dummy) { p -> Int32 in
          stream.next_out = p
          stream.avail_out = 1
          return inflate(&stream, Z_FINISH)
        }
        guard status == Z_STREAM_END, stream.avail_out == 1 else {
          throw CompressionError(reason: "does not inflate to its declared size")
        }
        return
      }
      let before = (stream.avail_in, stream.avail_out)
      let status = inflate(&stream, Z_NO_FLUSH)
      if status == Z_STREAM_END {
        guard outOffset == dst.count, stream.avail_out == 0 else {
          throw CompressionError(reason: "inflates to fewer bytes than declared")
        }
        return
      }
      guard status == Z_OK || status == Z_BUF_ERROR else {
        throw CompressionError(reason: "is not a valid deflate stream")
      }
      if stream.avail_out == 0 && outOffset == dst.count {
        // Output full but the stream has not ended: either it ends with no more output or the
        // entry is larger than declared.
        var extra: UInt8 = 0
        let end = withUnsafeMutablePointer(to: &extra) { p -> Int32 in
          stream.next_out = p
          stream.avail_out = 1
          return inflate(&stream, Z_NO_FLUSH)
        }
        guard end == Z_STREAM_END, stream.avail_out == 1 else {
          throw CompressionError(reason: "inflates to more bytes than declared")
        }
        return
      }
      if (stream.avail_in, stream.avail_out) == before && inOffset == src.count {
        throw CompressionError(reason: "ends before its deflate stream does")
      }
    }
  }

  /// The CRC-32 (ISO 3309) of `bytes`, as zip, gzip and PNG chunks store it.
  public static func crc32(_ bytes: UnsafeRawBufferPointer) -> UInt32 {
    var crc: UInt = CZlib.crc32(0, nil, 0)
    var offset = 0
    while offset < bytes.count {
      let chunk = min(bytes.count - offset, 1 << 30)
      let base = bytes.baseAddress.map { $0 + offset }?.assumingMemoryBound(to: Bytef.self)
      crc = CZlib.crc32(crc, base, uInt(chunk))
      offset += chunk
    }
    return UInt32(truncatingIfNeeded: crc)
  }
}
