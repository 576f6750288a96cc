internal import CWebP
internal import CWebPMux
import PipelineKit

/// Animated WebP writing with libwebpmux's `WebPAnimEncoder`: frames `[3, H, W]` in [0, 1]
/// (each sample ⌊clamp(v, 0, 1)·255 + 0.5⌋), one size for all, shown at `fps`; lossy at
/// quality 1…99, lossless at 100 (as still WebP). The animation loops forever. Frames are
/// asked for one at a time, so only the encoder's compressed frames stay in memory.
public enum AnimatedWebP {
  /// Encodes `count` frames (`frame(i)` for i in 0..<count) at `fps`; `name` labels errors.
  public static func encode(
    count: Int, fps: Double, quality: Int, name: String, frame: (Int) throws -> Tensor
  ) throws -> [UInt8] {
    guard count >= 1 else {
      throw ImageIOError(file: name, message: "an animated WebP needs at least one frame")
    }
    let first = try frame(0)
    let (h, w) = (first.chw.h, first.chw.w)
    guard w <= ImageFormat.webp.maxSide, h <= ImageFormat.webp.maxSide else {
      throw ImageIOError(
        file: name, message: "WebP holds at most \(ImageFormat.webp.maxSide) pixels per side")
    }
    var options = WebPAnimEncoderOptions()
    guard WebPAnimEncoderOptionsInit(&options) != 0 else {
      throw ImageIOError(file: name, message: "libwebpmux version mismatch")
    }
    options.anim_params.loop_count = 0
    guard let encoder = WebPAnimEncoderNew(Int32(w), Int32(h), &options) else {
      throw ImageIOError(file: name, message: "cannot start the WebP animation encoder")
    }
    defer { WebPAnimEncoderDelete(encoder) }
    var config = WebPConfig()
    guard WebPConfigInit(&config) != 0 else {
      throw ImageIOError(file: name, message: "libwebp version mismatch")
    }
    config.lossless = quality >= 100 ? 1 : 0
    config.quality = quality >= 100 ? 75 : Float(quality)
    func timestamp(_ i: Int) -> Int32 { Int32((Double(i) * 1000 / fps).rounded()) }
    for i in 0..<count {
      let image = i == 0 ? first : try frame(i)
      guard image.chw.h == h, image.chw.w == w else {
        throw ImageIOError(
          file: name,
          message: "frame \(i + 1) is \(image.chw.w)×\(image.chw.h), the first \(w)×\(h)")
      }
      let rgb = Interleaved.bytes(image, channels: 3)  // (H, W, 3)
      var picture = WebPPicture()
      guard WebPPictureInit(&picture) != 0 else {
        throw ImageIOError(file: name, message: "libwebp version mismatch")
      }
      picture.use_argb = 1
      picture.width = Int32(w)
      picture.height = Int32(h)
      defer { WebPPictureFree(&picture) }
      let imported = rgb.withUnsafeBufferPointer {
        WebPPictureImportRGB(&picture, $0.baseAddress, Int32(3 * w))
      }
      guard imported != 0, WebPAnimEncoderAdd(encoder, &picture, timestamp(i), &config) != 0
      else {
        throw ImageIOError(file: name, message: "cannot encode frame \(i + 1) as WebP")
      }
    }
    guard WebPAnimEncoderAdd(encoder, nil, timestamp(count), nil) != 0 else {
      throw ImageIOError(file: name, message: "cannot finish the WebP animation")
    }
    var data = WebPData()
    guard WebPAnimEncoderAssemble(encoder, &data) != 0, let bytes = data.bytes else {
      throw ImageIOError(file: name, message: "cannot assemble the WebP animation")
    }
    defer { WebPFree(UnsafeMutableRawPointer(mutating: bytes)) }
    return Array(UnsafeBufferPointer(start: bytes, count: data.size))
  }
}
