import Foundation
import PipelineKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// An image file format clipig reads and writes.
public enum ImageFormat: String, Sendable, CaseIterable {
  /// PNG (libpng).
  case png
  /// JPEG (libjpeg-turbo).
  case jpeg
  /// WebP (libwebp).
  case webp

  /// The format of encoded bytes, recognised by their first bytes (never by a file name), or
  /// nil when they start like none of the three. A prefix of a signature counts as that format,
  /// so that a truncated file is reported as truncated rather than as a non-image.
  public static func sniff(_ bytes: [UInt8]) -> ImageFormat? {
    let png: [UInt8] = [137, 80, 78, 71, 13, 10, 26, 10]
    if bytes.starts(with: png) || (!bytes.isEmpty && png.starts(with: bytes)) { return .png }
    if bytes.count >= 2, bytes[0] == 0xFF, bytes[1] == 0xD8 { return .jpeg }
    let riff = Array("RIFF".utf8)
    let webp = Array("WEBP".utf8)
    if bytes.count >= 12, bytes.starts(with: riff), Array(bytes[8..<12]) == webp { return .webp }
    if bytes.count < 12, bytes.starts(with: riff) { return .webp }
    return nil
  }

  /// The format a file name asks for by its extension (case-insensitive): `.png`, `.jpg` or
  /// `.jpeg`, `.webp`; nil for any other extension.
  public static func forExtension(of path: String) -> ImageFormat? {
    switch (path as NSString).pathExtension.lowercased() {
    case "png": return .png
    case "jpg", "jpeg": return .jpeg
    case "webp": return .webp
    default: return nil
    }
  }

  /// The format to write `path` in, or an error naming the file when its extension is none of
  /// `.png`, `.jpg`, `.jpeg`, `.webp`.
  public static func forOutput(path: String) throws(ImageIOError) -> ImageFormat {
    guard let format = forExtension(of: path) else {
      let ext = (path as NSString).pathExtension
      throw ImageIOError(
        file: path,
        message: "cannot write '.\(ext)' images: the output name must end in .png, .jpg, "
          + ".jpeg or .webp")
    }
    return format
  }

  /// The format's usual name for messages: PNG, JPEG, WebP.
  public var name: String {
    switch self {
    case .png: return "PNG"
    case .jpeg: return "JPEG"
    case .webp: return "WebP"
    }
  }

  /// The longest side a file of this format can have: PNG ``PNG/maxSide`` (what the reader
  /// loads back), JPEG 65500 (libjpeg-turbo's limit), WebP 16383 (the format stores side − 1
  /// in 14 bits).
  public var maxSide: Int {
    switch self {
    case .png: return PNG.maxSide
    case .jpeg: return 65_500
    case .webp: return 16_383
    }
  }
}

/// Reading and writing images in any supported format: the one entry point for image files.
///
/// Reading recognises PNG, JPEG and WebP by content and returns an RGB image `[3,H,W]` with
/// values in [0, 1] (see ``PNG``, and for JPEG and WebP the notes there): gray is copied to all
/// three channels, CMYK is converted as PIL converts it, alpha is dropped (colours as stored,
/// as PIL's `convert("RGB")`, which CLIPig used), a JPEG's EXIF orientation is applied.
/// Only regular files are opened (a FIFO, device or directory is refused without blocking), and
/// a declared size beyond ``maxSide`` per side or ``maxPixels`` in total is refused before any
/// pixel memory is allocated.
///
/// Writing picks the format from the file name's extension and writes atomically.
public enum ImageFile {
  /// Largest accepted width or height, in every format.
  public static let maxSide = PNG.maxSide
  /// Largest accepted number of pixels (width × height), in every format.
  public static let maxPixels = PNG.maxPixels
  /// Largest image file accepted.
  public static let maxFileBytes = PNG.maxFileBytes
  /// JPEG and WebP quality when none is given.
  public static let defaultQuality = 95

  /// Reads the image file at `path` (PNG, JPEG or WebP, by content) as RGB `[3,H,W]` in [0, 1].
  public static func read(path: String) throws(ImageIOError) -> Tensor {
    try decode(try readBytes(path: path), name: path)
  }

  /// The bytes of the image file at `path`: a regular file of at most `maxFileBytes`.
  static func readBytes(path: String) throws(ImageIOError) -> [UInt8] {
    try requireRegularFile(path)
    do {
      return try FileIO.readBytes(path: path, maxBytes: maxFileBytes)
    } catch {
      throw ImageIOError(file: path, message: "cannot read image: \(error.message)")
    }
  }

  /// Decodes PNG, JPEG or WebP bytes (recognised by content) as RGB `[3,H,W]` in [0, 1];
  /// `name` labels errors.
  public static func decode(_ bytes: [UInt8], name: String) throws(ImageIOError) -> Tensor {
    if bytes.isEmpty {
      throw ImageIOError(file: name, message: "empty file (0 bytes), not an image")
    }
    switch ImageFormat.sniff(bytes) {
    case .png: return try PNG.decode(bytes, name: name)
    case .jpeg: return try JPEG.decode(bytes, name: name)
    case .webp: return try WebP.decode(bytes, name: name)
    case nil:
      throw ImageIOError(
        file: name, message: "not an image clipig can read (PNG, JPEG or WebP): \(guess(bytes))")
    }
  }

  /// Encodes an image `[3,H,W]` (RGB) or `[1,H,W]` (gray) in `format`. `quality` (1…100)
  /// applies to JPEG and WebP; WebP at quality 100 is lossless.
  public static func encode(
    _ image: Tensor, format: ImageFormat, quality: Int = defaultQuality, name: String = "<image>"
  ) throws(ImageIOError) -> [UInt8] {
    guard (1...100).contains(quality) else {
      throw ImageIOError(file: name, message: "quality must be between 1 and 100, got \(quality)")
    }
    switch format {
    case .png: return try PNG.encode(image, name: name)
    case .jpeg: return try JPEG.encode(image, quality: quality, name: name)
    case .webp: return try WebP.encode(image, quality: quality, name: name)
    }
  }

  /// Writes an image `[3,H,W]` or `[1,H,W]` to `path` in the format its extension names
  /// (`.png`, `.jpg`/`.jpeg`, `.webp`), atomically (temporary file in the same directory, then
  /// rename); missing parent directories are created.
  public static func write(_ image: Tensor, to path: String, quality: Int = defaultQuality)
    throws(ImageIOError)
  {
    let format = try ImageFormat.forOutput(path: path)
    let bytes = try encode(image, format: format, quality: quality, name: path)
    do {
      try FileIO.writeAtomically(bytes, to: path)
    } catch {
      throw ImageIOError(file: path, message: error.message)
    }
  }

  /// Refuses, without opening it (opening a FIFO blocks), anything at `path` that is not a
  /// regular file.
  static func requireRegularFile(_ path: String) throws(ImageIOError) {
    var info = stat()
    guard stat(path, &info) == 0 else {
      let reason = String(cString: strerror(errno))
      throw ImageIOError(file: path, message: "cannot read image: \(reason)")
    }
    let kind = info.st_mode & S_IFMT
    guard kind == S_IFREG else {
      let what: String
      switch kind {
      case S_IFDIR: what = "a directory"
      case S_IFIFO: what = "a FIFO (named pipe)"
      case S_IFCHR, S_IFBLK: what = "a device"
      case S_IFSOCK: what = "a socket"
      default: what = "not a regular file"
      }
      throw ImageIOError(file: path, message: "cannot read image: it is \(what), not a file")
    }
  }

  /// Checks a declared image size against the limits before any pixel memory is allocated.
  static func checkSize(width: Int, height: Int, format: String, name: String)
    throws(ImageIOError)
  {
    guard width > 0, height > 0 else {
      throw ImageIOError(
        file: name, message: "corrupt \(format): the image is \(width)×\(height) pixels")
    }
    guard width <= maxSide, height <= maxSide, width * height <= maxPixels else {
      throw ImageIOError(
        file: name,
        message: "\(format) image of \(width)×\(height) pixels exceeds the limit of \(maxSide) "
          + "per side and \(maxPixels) pixels in total")
    }
  }

  /// A short guess of what a non-image file is, for the error message.
  private static func guess(_ bytes: [UInt8]) -> String {
    if bytes.starts(with: Array("GIF8".utf8)) { return "it looks like a GIF file" }
    if bytes.starts(with: Array("BM".utf8)) { return "it looks like a BMP file" }
    if bytes.starts(with: [0x49, 0x49, 0x2A, 0]) || bytes.starts(with: [0x4D, 0x4D, 0, 0x2A]) {
      return "it looks like a TIFF file"
    }
    if bytes.count >= 12, Array(bytes[4..<8]) == Array("ftyp".utf8) {
      return "it looks like a HEIF/AVIF or video file"
    }
    let head = bytes.prefix(8).map { b -> String in
      let s = String(b, radix: 16, uppercase: true)
      return s.count == 1 ? "0" + s : s
    }
    return "it starts with bytes " + head.joined(separator: " ")
  }
}

/// Conversions between clipig's planar float images and the interleaved bytes codecs use.
enum Interleaved {
  /// ⌊clamp(v, 0, 1)·255 + 0.5⌋ as a byte; NaN → 0.
  @inline(__always) static func quantize(_ v: Float) -> UInt8 {
    guard v > 0 else { return 0 }  // also NaN
    guard v < 1 else { return 255 }
    return UInt8((v * 255 + 0.5).rounded(.down))
  }

  /// An image `[C,H,W]` as interleaved bytes `[H,W,channels]`; a one-channel image is copied
  /// to every output channel when `channels` is 3.
  static func bytes(_ image: Tensor, channels: Int) -> [UInt8] {
    let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
    let plane = h * w
    var out = [UInt8](repeating: 0, count: channels * plane)  // [H,W,channels]
    image.scalars.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for ch in 0..<channels {
          let from = c == 1 ? 0 : ch
          for i in 0..<plane { dst[i * channels + ch] = quantize(src[from * plane + i]) }
        }
      }
    }
    return out
  }

  /// Interleaved bytes `[H,W,channels]` (1 = gray, copied to R, G, B; 3 = RGB) as `[3,H,W]`/255.
  static func image(_ bytes: [UInt8], width: Int, height: Int, channels: Int) -> Tensor {
    let plane = width * height
    var out = [Float](repeating: 0, count: 3 * plane)  // [3,H,W]
    bytes.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for ch in 0..<3 {
          let from = channels == 1 ? 0 : ch
          for i in 0..<plane { dst[ch * plane + i] = Float(src[i * channels + from]) / 255 }
        }
      }
    }
    return Tensor(shape: [3, height, width], scalars: out)
  }

  /// Checks the shape of an image to encode: `[3,H,W]` or `[1,H,W]`, non-empty, within limits.
  static func checkEncodable(_ image: Tensor, format: String, maxSide: Int, name: String)
    throws(ImageIOError)
  {
    guard image.rank == 3, image.shape[0] == 3 || image.shape[0] == 1 else {
      throw ImageIOError(
        file: name, message: "expected an image of shape [3,H,W] or [1,H,W], got \(image.shape)")
    }
    let (h, w) = (image.shape[1], image.shape[2])
    guard h > 0, w > 0 else {
      throw ImageIOError(file: name, message: "cannot write an empty image of shape \(image.shape)")
    }
    guard w <= maxSide, h <= maxSide, w * h <= ImageFile.maxPixels else {
      throw ImageIOError(
        file: name,
        message: "image of \(w)×\(h) pixels exceeds what \(format) can store here: \(maxSide) "
          + "per side and \(ImageFile.maxPixels) pixels in total")
    }
  }
}
