internal import CWebP
import PipelineKit

/// WebP reading and writing with libwebp (errors by return value; no `longjmp`).
///
/// Reading: still lossy (VP8) and lossless (VP8L) images, with or without alpha; alpha is
/// dropped and colours returned as stored (libwebp's RGB output, as PIL's `convert("RGB")`).
/// The declared size is checked against the pixel limit before decoding. Animated WebP is
/// refused (PIL would return the first frame).
///
/// Writing: lossy at quality 1…99, lossless at quality 100 (each sample
/// ⌊clamp(v, 0, 1)·255 + 0.5⌋; gray is stored as RGB); at most 16383 pixels per side.
enum WebP {
  /// Decodes WebP bytes as RGB `[3,H,W]` in [0, 1]; `name` labels errors.
  static func decode(_ bytes: [UInt8], name: String) throws(ImageIOError) -> Tensor {
    var features = WebPBitstreamFeatures()
    let status = bytes.withUnsafeBufferPointer { src in
      WebPGetFeatures(src.baseAddress, src.count, &features)
    }
    switch status {
    case VP8_STATUS_OK: break
    case VP8_STATUS_NOT_ENOUGH_DATA:
      throw ImageIOError(file: name, message: "truncated WebP: the file ends inside its header")
    case VP8_STATUS_UNSUPPORTED_FEATURE:
      throw ImageIOError(file: name, message: "WebP uses a feature libwebp does not support")
    default:
      throw ImageIOError(file: name, message: "corrupt WebP: invalid header")
    }
    let (w, h) = (Int(features.width), Int(features.height))
    try ImageFile.checkSize(width: w, height: h, format: "WebP", name: name)
    if features.has_animation != 0 {
      throw ImageIOError(
        file: name, message: "animated WebP is not supported: save one frame as an image")
    }
    var pixels = [UInt8](repeating: 0, count: 3 * w * h)  // [H,W,3]
    let decoded = bytes.withUnsafeBufferPointer { src in
      pixels.withUnsafeMutableBufferPointer { dst in
        WebPDecodeRGBInto(src.baseAddress, src.count, dst.baseAddress, dst.count, Int32(3 * w))
      }
    }
    guard decoded != nil else {
      throw ImageIOError(
        file: name, message: "corrupt or truncated WebP: libwebp cannot decode the image data")
    }
    return Interleaved.image(pixels, width: w, height: h, channels: 3)
  }

  /// Encodes `[3,H,W]` or `[1,H,W]`: lossy at quality 1…99, lossless at 100.
  static func encode(_ image: Tensor, quality: Int, name: String) throws(ImageIOError) -> [UInt8] {
    try Interleaved.checkEncodable(
      image, format: "WebP", maxSide: ImageFormat.webp.maxSide, name: name)
    let (h, w) = (image.shape[1], image.shape[2])
    let pixels = Interleaved.bytes(image, channels: 3)  // [H,W,3]
    var output: UnsafeMutablePointer<UInt8>?
    let size = pixels.withUnsafeBufferPointer { src in
      quality >= 100
        ? WebPEncodeLosslessRGB(src.baseAddress, Int32(w), Int32(h), Int32(3 * w), &output)
        : WebPEncodeRGB(src.baseAddress, Int32(w), Int32(h), Int32(3 * w), Float(quality), &output)
    }
    defer { if let output { WebPFree(output) } }
    guard size > 0, let output else {
      throw ImageIOError(file: name, message: "cannot encode WebP (libwebp failed)")
    }
    return Array(UnsafeBufferPointer(start: output, count: size))
  }
}
