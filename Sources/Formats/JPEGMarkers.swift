/// The marker structure of a JPEG file, walked before libjpeg-turbo sees it: clear errors for
/// truncated and corrupt files, the frame size (checked against the pixel limit before any
/// decoding), the first Exif APP1 payload, and
/// the number of scans (bounded: thousands of tiny progressive scans are a CPU bomb).
struct JPEGMarkers {
  /// Largest number of scans accepted (a progressive JPEG has about ten).
  static let maxScans = 1000

  /// Width and height from the first start-of-frame marker.
  var width = 0
  var height = 0
  /// Number of colour components of the frame (1 gray, 3 YCbCr/RGB, 4 CMYK/YCCK).
  var components = 0
  /// The bytes of the first APP1 segment starting with `Exif\0\0`, after that prefix.
  var exif: ArraySlice<UInt8>?
  /// Start-of-scan markers seen.
  var scans = 0

  /// Walks the markers of `b`; the error message says what is wrong (without the file name).
  static func scan(_ b: [UInt8]) -> Result<JPEGMarkers, ImageIOError> {
    func fail(_ message: String) -> Result<JPEGMarkers, ImageIOError> {
      .failure(ImageIOError(file: "", message: message))
    }
    var m = JPEGMarkers()
    guard b.count >= 2, b[0] == 0xFF, b[1] == 0xD8 else { return fail("not a JPEG file") }
    var p = 2
    var sawFrame = false
    while true {
      // A marker: 0xFF, optional fill 0xFF bytes, then the code.
      guard p < b.count else {
        return fail(
          sawFrame && m.scans > 0
            ? "truncated JPEG: the file ends before the end-of-image marker"
            : "truncated JPEG: the file ends after \(b.count) bytes, before the image data")
      }
      guard b[p] == 0xFF else {
        return fail("corrupt JPEG: expected a marker at byte \(p), found 0x\(hex(b[p]))")
      }
      while p < b.count && b[p] == 0xFF { p += 1 }
      guard p < b.count else { return fail("truncated JPEG: the file ends inside a marker") }
      let code = b[p]
      p += 1
      if code == 0xD9 {
        guard sawFrame, m.scans > 0 else {
          return fail("corrupt JPEG: end-of-image marker before any image data")
        }
        return .success(m)
      }
      if code == 0x01 || (0xD0...0xD7).contains(code) { continue }  // no length
      if code == 0x00 || code == 0xD8 {
        return fail("corrupt JPEG: unexpected marker 0xFF\(hex(code)) at byte \(p - 2)")
      }
      guard p + 2 <= b.count else {
        return fail("truncated JPEG: the file ends inside the header of marker 0xFF\(hex(code))")
      }
      let length = Int(b[p]) << 8 | Int(b[p + 1])
      guard length >= 2 else {
        return fail("corrupt JPEG: marker 0xFF\(hex(code)) at byte \(p - 2) has length \(length)")
      }
      let end = p + length
      guard end <= b.count else {
        return fail(
          "truncated JPEG: marker 0xFF\(hex(code)) at byte \(p - 2) declares \(length) bytes, "
            + "but the file ends after \(b.count - p)")
      }
      let body = b[(p + 2)..<end]
      switch code {
      case 0xC0...0xCF where code != 0xC4 && code != 0xC8 && code != 0xCC:
        guard !sawFrame else { break }  // a second frame header: libjpeg rejects it itself
        guard body.count >= 6 else {
          return fail("corrupt JPEG: the frame header is \(body.count) bytes long")
        }
        let s = body.startIndex
        m.height = Int(body[s + 1]) << 8 | Int(body[s + 2])
        m.width = Int(body[s + 3]) << 8 | Int(body[s + 4])
        m.components = Int(body[s + 5])
        sawFrame = true
      case 0xE1 where m.exif == nil && body.starts(with: Array("Exif\0\0".utf8)):
        m.exif = body.dropFirst(6)
      case 0xDA:
        guard sawFrame else { return fail("corrupt JPEG: image data before the frame header") }
        m.scans += 1
        guard m.scans <= maxScans else {
          return fail("JPEG has more than \(maxScans) scans, refused as a decompression bomb")
        }
        p = skipEntropyCoded(b, from: end)
        continue
      default:
        break
      }
      p = end
    }
  }

  /// The offset of the first marker after entropy-coded data starting at `p` (stuffed 0xFF00
  /// and restart markers are data), or `b.count` when the data runs to the end of the file.
  private static func skipEntropyCoded(_ b: [UInt8], from start: Int) -> Int {
    var p = start
    while p + 1 < b.count {
      if b[p] == 0xFF {
        let next = b[p + 1]
        if next != 0x00 && next != 0xFF && !(0xD0...0xD7).contains(next) { return p }
        p += next == 0xFF ? 1 : 2
      } else {
        p += 1
      }
    }
    return b.count
  }

  private static func hex(_ v: UInt8) -> String {
    let s = String(v, radix: 16, uppercase: true)
    return s.count == 1 ? "0" + s : s
  }
}
