internal import CPNG
import PipelineKit

/// An image that could not be read, decoded, encoded or written: which file and what is wrong.
public struct ImageIOError: Error, Sendable, Equatable, CustomStringConvertible {
  /// The file (or name given to `decode`).
  public var file: String
  /// One sentence saying what is wrong.
  public var message: String
  /// The configuration key or option that named the file (`init.image`,
  /// `targets[0].features[1].image`, `--image`), when known.
  public var key: String?

  /// An error about `file`, named by `key` when given.
  public init(file: String, message: String, key: String? = nil) {
    self.file = file
    self.message = message
    self.key = key
  }

  /// The same error, saying that `key` named the file.
  public func named(by key: String) -> ImageIOError {
    ImageIOError(file: file, message: message, key: key)
  }

  /// `key: file: message`, or `file: message` without a key.
  public var description: String {
    (key.map { "\($0): " } ?? "") + "\(file): \(message)"
  }
}

/// PNG reading and writing with libpng's simplified API (which reports errors by return value,
/// so no libpng `longjmp` ever crosses a Swift frame).
///
/// Reading accepts every PNG colour type and bit depth — 1/2/4/8/16-bit gray, gray+alpha, RGB,
/// RGBA, palette — interlaced or not, and returns an RGB image `[3,H,W]` with values in [0, 1]:
/// 8-bit (and expanded 1/2/4-bit) samples are divided by 255, 16-bit samples by 65535; gray is
/// copied to all three channels; palette entries are looked up.
///
/// - Alpha (an alpha channel or a `tRNS` chunk) is **ignored**, not composited: colours are
///   returned as stored. One exception: for 16-bit gray+alpha and RGBA, libpng only hands out
///   colour premultiplied by alpha, so the colour is divided back (exact when opaque, within
///   1/alpha otherwise) and fully transparent pixels read as black.
/// - Colour-space chunks (`gAMA`, `cHRM`, `sRGB`, `iCCP`) are ignored: samples are returned as
///   stored, without gamma conversion (as PIL, which CLIPig used, returns them).
/// - Images larger than ``maxSide`` per side or ``maxPixels`` in total are rejected before any
///   pixel memory is allocated.
///
/// Writing produces 8-bit RGB (or gray for `[1,H,W]`) with value ⌊clamp(v, 0, 1)·255 + 0.5⌋
/// (NaN is written as 0), atomically, creating missing parent directories.
public enum PNG {
  /// Largest accepted width or height.
  public static let maxSide = 1 << 15
  /// Largest accepted number of pixels (width × height).
  public static let maxPixels = 1 << 25
  /// Largest PNG file `read` accepts.
  public static let maxFileBytes = 1 << 28

  /// Reads the PNG file at `path` as an RGB image `[3,H,W]` in [0, 1].
  public static func read(path: String) throws(ImageIOError) -> Tensor {
    try decode(try ImageFile.readBytes(path: path), name: path)
  }

  /// Decodes PNG bytes as an RGB image `[3,H,W]` in [0, 1]; `name` labels errors.
  public static func decode(_ bytes: [UInt8], name: String) throws(ImageIOError) -> Tensor {
    let scan: ChunkScan
    switch ChunkScan.scan(bytes) {
    case .success(let s): scan = s
    case .failure(let problem): throw ImageIOError(file: name, message: problem.message)
    }
    let result = scan.sanitized.withUnsafeBytes { raw in
      readPixels(raw, header: scan.header)
    }
    switch result {
    case .success(let image): return image
    case .failure(let problem): throw ImageIOError(file: name, message: problem.message)
    }
  }

  /// Encodes an image `[3,H,W]` (RGB) or `[1,H,W]` (gray) as 8-bit PNG bytes.
  public static func encode(_ image: Tensor) throws(ImageIOError) -> [UInt8] {
    try encode(image, name: "<image>")
  }

  /// Writes an image `[3,H,W]` or `[1,H,W]` to `path` as an 8-bit PNG, atomically (temporary
  /// file in the same directory, then rename); missing parent directories are created.
  public static func write(_ image: Tensor, to path: String) throws(ImageIOError) {
    let bytes = try encode(image, name: path)
    do {
      try FileIO.writeAtomically(bytes, to: path)
    } catch {
      throw ImageIOError(file: path, message: error.message)
    }
  }

  // MARK: - Encoding

  static func encode(_ image: Tensor, name: String) throws(ImageIOError) -> [UInt8] {
    guard image.rank == 3, image.shape[0] == 3 || image.shape[0] == 1 else {
      throw ImageIOError(
        file: name, message: "expected an image of shape [3,H,W] or [1,H,W], got \(image.shape)")
    }
    let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
    guard h > 0, w > 0 else {
      throw ImageIOError(file: name, message: "cannot write an empty image of shape \(image.shape)")
    }
    guard w <= maxSide, h <= maxSide, w * h <= maxPixels else {
      throw ImageIOError(
        file: name,
        message: "image of \(w)×\(h) pixels exceeds the limit of \(maxSide) per side "
          + "and \(maxPixels) in total")
    }
    // Channel-planar floats → interleaved bytes.
    var pixels = [UInt8](repeating: 0, count: c * h * w)
    let plane = h * w
    image.scalars.withUnsafeBufferPointer { src in
      pixels.withUnsafeMutableBufferPointer { dst in
        for ch in 0..<c {
          for i in 0..<plane {
            dst[i * c + ch] = quantize(src[ch * plane + i])
          }
        }
      }
    }
    var png = png_image()
    png.version = png_uint_32(PNG_IMAGE_VERSION)
    png.width = png_uint_32(w)
    png.height = png_uint_32(h)
    png.format = c == 3 ? png_uint_32(PNG_FORMAT_FLAG_COLOR) : 0
    defer { png_image_free(&png) }
    let stride = png_int_32(w * c)
    var size: png_alloc_size_t = 0
    let sized = pixels.withUnsafeBytes { raw in
      png_image_write_to_memory(&png, nil, &size, 0, raw.baseAddress, stride, nil)
    }
    guard sized != 0, size > 0 else {
      throw ImageIOError(file: name, message: "cannot encode PNG: \(message(of: png))")
    }
    var out = [UInt8](repeating: 0, count: Int(size))
    let written = out.withUnsafeMutableBytes { dst in
      pixels.withUnsafeBytes { raw in
        png_image_write_to_memory(&png, dst.baseAddress, &size, 0, raw.baseAddress, stride, nil)
      }
    }
    guard written != 0 else {
      throw ImageIOError(file: name, message: "cannot encode PNG: \(message(of: png))")
    }
    return Array(out.prefix(Int(size)))
  }

  /// ⌊clamp(v, 0, 1)·255 + 0.5⌋ as a byte; NaN → 0.
  @inline(__always) private static func quantize(_ v: Float) -> UInt8 {
    guard v > 0 else { return 0 }  // also NaN
    guard v < 1 else { return 255 }
    return UInt8((v * 255 + 0.5).rounded(.down))
  }

  // MARK: - Decoding

  /// Decodes the sanitized PNG with libpng into planar floats.
  private static func readPixels(_ raw: UnsafeRawBufferPointer, header: ChunkScan.Header)
    -> Result<Tensor, ChunkScan.Problem>
  {
    var png = png_image()
    png.version = png_uint_32(PNG_IMAGE_VERSION)
    defer { png_image_free(&png) }
    guard let base = raw.baseAddress,
      png_image_begin_read_from_memory(&png, base, raw.count) != 0
    else {
      return .failure(.init(message: "corrupt PNG: \(message(of: png))"))
    }
    let (w, h) = (Int(png.width), Int(png.height))
    guard w == header.width, h == header.height else {
      return .failure(.init(message: "corrupt PNG: inconsistent image size"))
    }
    let sixteen = header.bitDepth == 16
    let alpha = header.colorType == 4 || header.colorType == 6
    let channels = alpha ? 4 : 3
    var format = png_uint_32(PNG_FORMAT_FLAG_COLOR)
    if alpha { format |= png_uint_32(PNG_FORMAT_FLAG_ALPHA) }
    if sixteen { format |= png_uint_32(PNG_FORMAT_FLAG_LINEAR) }
    png.format = format
    let stride = png_int_32(w * channels)  // in components
    let plane = w * h
    var out = [Float](repeating: 0, count: 3 * plane)

    if sixteen {
      var buffer = [UInt16](repeating: 0, count: channels * plane)
      let ok = buffer.withUnsafeMutableBytes { dst in
        png_image_finish_read(&png, nil, dst.baseAddress, stride, nil)
      }
      guard ok != 0 else { return .failure(.init(message: "corrupt PNG: \(message(of: png))")) }
      out.withUnsafeMutableBufferPointer { out in
        buffer.withUnsafeBufferPointer { src in
          for i in 0..<plane {
            let p = i * channels
            if alpha {
              // libpng's linear output is premultiplied by alpha: divide it back out.
              let a = Float(src[p + 3])
              for ch in 0..<3 {
                out[ch * plane + i] = a > 0 ? min(1, Float(src[p + ch]) / a) : 0
              }
            } else {
              for ch in 0..<3 { out[ch * plane + i] = Float(src[p + ch]) / 65535 }
            }
          }
        }
      }
    } else {
      var buffer = [UInt8](repeating: 0, count: channels * plane)
      let ok = buffer.withUnsafeMutableBytes { dst in
        png_image_finish_read(&png, nil, dst.baseAddress, stride, nil)
      }
      guard ok != 0 else { return .failure(.init(message: "corrupt PNG: \(message(of: png))")) }
      out.withUnsafeMutableBufferPointer { out in
        buffer.withUnsafeBufferPointer { src in
          for i in 0..<plane {
            let p = i * channels
            for ch in 0..<3 { out[ch * plane + i] = Float(src[p + ch]) / 255 }
          }
        }
      }
    }
    return .success(Tensor(shape: [3, h, w], scalars: out))
  }

  /// libpng's error or warning message stored in the image structure.
  private static func message(of png: png_image) -> String {
    let text = withUnsafeBytes(of: png.message) { raw in
      String(decoding: raw.prefix(while: { $0 != 0 }), as: UTF8.self)
    }
    return text.isEmpty ? "libpng reported an unspecified error" : text
  }
}

// MARK: - Chunk scan

/// Checks the chunk structure of a PNG before libpng sees it — signature, lengths, CRCs, IHDR,
/// size limits, presence of IDAT and IEND — for clear error messages, and removes the chunks
/// whose meaning clipig ignores (colour space, transparency) so libpng returns stored samples.
private struct ChunkScan {
  struct Problem: Error {
    var message: String
  }

  struct Header {
    var width: Int
    var height: Int
    var bitDepth: Int
    var colorType: Int
  }

  var header: Header
  var sanitized: [UInt8]

  static let signature: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
  /// Ancillary chunks dropped before decoding: gamma/colour space (samples are taken as stored)
  /// and transparency (alpha is ignored).
  static let ignoredChunks: Set<String> = ["gAMA", "cHRM", "sRGB", "iCCP", "tRNS"]

  static func scan(_ bytes: [UInt8]) -> Result<ChunkScan, Problem> {
    func fail(_ message: String) -> Result<ChunkScan, Problem> {
      .failure(Problem(message: message))
    }
    if bytes.isEmpty { return fail("empty file (0 bytes), not a PNG image") }
    if bytes.count < 8 || !bytes.starts(with: signature) {
      if signature.starts(with: bytes) {
        return fail("truncated PNG: the file ends inside the 8-byte signature")
      }
      return fail("not a PNG image (\(describeFormat(bytes)))")
    }
    var header: Header?
    var out = signature
    out.reserveCapacity(bytes.count)
    var offset = 8
    var sawIDAT = false
    var sawIEND = false
    while offset < bytes.count {
      guard bytes.count - offset >= 8 else {
        return fail("truncated PNG: the file ends inside a chunk header at byte \(offset)")
      }
      let length = Int(be32(bytes, offset))
      let typeBytes = bytes[(offset + 4)..<(offset + 8)]
      guard typeBytes.allSatisfy({ (65...90).contains($0) || (97...122).contains($0) }) else {
        return fail("corrupt PNG: invalid chunk type at byte \(offset + 4)")
      }
      let type = String(decoding: typeBytes, as: UTF8.self)
      guard length <= 0x7FFF_FFFF else {
        return fail("corrupt PNG: chunk '\(type)' at byte \(offset) has an invalid length")
      }
      let remaining = bytes.count - offset - 12
      guard length <= remaining else {
        return fail(
          "truncated PNG: chunk '\(type)' at byte \(offset) declares \(length) data bytes, "
            + "but only \(remaining + 4) bytes follow its header")
      }
      let end = offset + 12 + length
      let crc = be32(bytes, offset + 8 + length)
      let critical = typeBytes.first.map { $0 & 0x20 == 0 } ?? true
      let computed = bytes[(offset + 4)..<(offset + 8 + length)].withUnsafeBytes {
        Compression.crc32($0)
      }
      if computed != crc {
        if critical {
          return fail("corrupt PNG: CRC mismatch in chunk '\(type)' at byte \(offset)")
        }
        offset = end  // libpng discards ancillary chunks with a bad CRC; so do we
        continue
      }
      if header == nil {
        guard type == "IHDR" else {
          return fail("corrupt PNG: the first chunk is '\(type)', expected 'IHDR'")
        }
        switch parseHeader(bytes, at: offset + 8, length: length) {
        case .success(let h): header = h
        case .failure(let problem): return .failure(problem)
        }
      } else if type == "IHDR" {
        return fail("corrupt PNG: a second 'IHDR' chunk at byte \(offset)")
      }
      if type == "IDAT" { sawIDAT = true }
      if !ignoredChunks.contains(type) { out.append(contentsOf: bytes[offset..<end]) }
      offset = end
      if type == "IEND" {
        sawIEND = true
        break
      }
    }
    guard let header else { return fail("truncated PNG: no IHDR chunk") }
    guard sawIDAT else { return fail("corrupt PNG: no image data (IDAT chunk)") }
    guard sawIEND else { return fail("truncated PNG: the file ends before the IEND chunk") }
    return .success(ChunkScan(header: header, sanitized: out))
  }

  private static func parseHeader(_ bytes: [UInt8], at p: Int, length: Int) -> Result<
    Header, Problem
  > {
    func fail(_ message: String) -> Result<Header, Problem> {
      .failure(Problem(message: "invalid PNG header: " + message))
    }
    guard length == 13 else { return fail("IHDR has \(length) bytes, expected 13") }
    let width = Int(be32(bytes, p))
    let height = Int(be32(bytes, p + 4))
    let depth = Int(bytes[p + 8])
    let colorType = Int(bytes[p + 9])
    guard width > 0, height > 0 else { return fail("the image is \(width)×\(height) pixels") }
    guard width <= 0x7FFF_FFFF, height <= 0x7FFF_FFFF else {
      return fail("width or height exceeds 2^31−1")
    }
    let allowed: [Int: [Int]] = [
      0: [1, 2, 4, 8, 16], 2: [8, 16], 3: [1, 2, 4, 8], 4: [8, 16], 6: [8, 16],
    ]
    guard let depths = allowed[colorType] else { return fail("unknown colour type \(colorType)") }
    guard depths.contains(depth) else {
      return fail("bit depth \(depth) is not allowed for colour type \(colorType)")
    }
    guard bytes[p + 10] == 0, bytes[p + 11] == 0 else {
      return fail("unknown compression or filter method")
    }
    guard bytes[p + 12] <= 1 else { return fail("unknown interlace method \(bytes[p + 12])") }
    guard width <= PNG.maxSide, height <= PNG.maxSide, width * height <= PNG.maxPixels else {
      return .failure(
        Problem(
          message: "image of \(width)×\(height) pixels exceeds the limit of \(PNG.maxSide) "
            + "per side and \(PNG.maxPixels) pixels in total"))
    }
    return .success(Header(width: width, height: height, bitDepth: depth, colorType: colorType))
  }

  /// A short guess of what a non-PNG file is, for the error message.
  private static func describeFormat(_ bytes: [UInt8]) -> String {
    if bytes.starts(with: [0xFF, 0xD8, 0xFF]) { return "it looks like a JPEG file" }
    if bytes.starts(with: Array("GIF8".utf8)) { return "it looks like a GIF file" }
    if bytes.starts(with: Array("BM".utf8)) { return "it looks like a BMP file" }
    if bytes.count >= 12, bytes.starts(with: Array("RIFF".utf8)),
      Array(bytes[8..<12]) == Array("WEBP".utf8)
    {
      return "it looks like a WebP file"
    }
    let head = bytes.prefix(8).map { String($0, radix: 16, uppercase: true) }
    return "wrong signature: starts with bytes "
      + head.map { $0.count == 1 ? "0" + $0 : $0 }
      .joined(separator: " ")
  }

  private static func be32(_ b: [UInt8], _ i: Int) -> UInt32 {
    UInt32(b[i]) << 24 | UInt32(b[i + 1]) << 16 | UInt32(b[i + 2]) << 8 | UInt32(b[i + 3])
  }
}
