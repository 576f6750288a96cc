import PipelineKit

/// The EXIF orientation of a JPEG and its application to the pixels.
///
/// The payload of the Exif APP1 segment (after `Exif\0\0`) is a TIFF structure: byte order
/// (`II` little-endian or `MM` big-endian), the number 42, the offset of IFD0, then IFD0's
/// entry count and 12-byte entries (tag, type, count, value). Every read is bounds-checked:
/// an offset outside the payload, a wrong magic number or an orientation outside 1…8 yields no
/// orientation, and entries beyond the payload's end are skipped (as PIL skips them).
enum EXIF {
  /// The Orientation tag (0x0112) of IFD0, 1…8, or nil when absent or unreadable.
  static func orientation(_ payload: ArraySlice<UInt8>) -> Int? {
    let b = Array(payload)
    guard b.count >= 8 else { return nil }
    let little: Bool
    switch (b[0], b[1]) {
    case (0x49, 0x49): little = true
    case (0x4D, 0x4D): little = false
    default: return nil
    }
    func u16(_ p: Int) -> Int? {
      guard p >= 0, p + 2 <= b.count else { return nil }
      return little ? Int(b[p]) | Int(b[p + 1]) << 8 : Int(b[p]) << 8 | Int(b[p + 1])
    }
    func u32(_ p: Int) -> Int? {
      guard let a = u16(p), let c = u16(p + 2) else { return nil }
      return little ? a | c << 16 : a << 16 | c
    }
    guard u16(2) == 42, let ifd = u32(4), let count = u16(ifd) else { return nil }
    let available = max(0, (b.count - ifd - 2) / 12)
    for k in 0..<min(count, available) {
      let entry = ifd + 2 + 12 * k
      guard let tag = u16(entry), tag == 0x0112, let type = u16(entry + 2) else { continue }
      let value: Int?
      switch type {
      case 3: value = u16(entry + 8)  // SHORT, stored in the first two value bytes
      case 4: value = u32(entry + 8)  // LONG
      default: value = nil
      }
      guard let value, (1...8).contains(value) else { return nil }
      return value
    }
    return nil
  }

  /// `image` `[C,H,W]` turned upright for EXIF orientation 1…8 (as PIL's `exif_transpose`):
  /// 2 mirror, 3 rotate 180°, 4 flip, 5 transpose, 6 rotate 90° clockwise, 7 transverse,
  /// 8 rotate 90° counter-clockwise. Orientations 5–8 swap width and height.
  static func apply(orientation: Int, to image: Tensor) -> Tensor {
    guard (2...8).contains(orientation) else { return image }
    let (c, h, w) = (image.shape[0], image.shape[1], image.shape[2])
    let swaps = orientation >= 5
    let (oh, ow) = swaps ? (w, h) : (h, w)
    var out = [Float](repeating: 0, count: c * h * w)  // [C,oh,ow]
    image.scalars.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for y in 0..<oh {
          for x in 0..<ow {
            // The source pixel (sx, sy) shown at (x, y) of the upright image.
            let (sx, sy): (Int, Int)
            switch orientation {
            case 2: (sx, sy) = (w - 1 - x, y)
            case 3: (sx, sy) = (w - 1 - x, h - 1 - y)
            case 4: (sx, sy) = (x, h - 1 - y)
            case 5: (sx, sy) = (y, x)
            case 6: (sx, sy) = (y, h - 1 - x)
            case 7: (sx, sy) = (w - 1 - y, h - 1 - x)
            default: (sx, sy) = (w - 1 - y, x)
            }
            for ch in 0..<c {
              dst[(ch * oh + y) * ow + x] = src[(ch * h + sy) * w + sx]
            }
          }
        }
      }
    }
    return Tensor(shape: [c, oh, ow], scalars: out)
  }
}
