internal import CTurboJPEG
import PipelineKit

/// JPEG reading and writing with libjpeg-turbo's TurboJPEG API, which reports errors by return
/// value (its `longjmp` stays inside the C library and never crosses a Swift frame).
///
/// Reading: baseline, progressive and arithmetic-coded JPEGs in gray, YCbCr/RGB, CMYK or YCCK,
/// with libjpeg's default (accurate integer) IDCT and smooth chroma upsampling, as PIL decodes
/// them. Gray is copied to R, G and B. CMYK (and YCCK, which libjpeg turns into CMYK) is taken
/// as stored inverted — Adobe's convention, which PIL assumes for every CMYK JPEG, with or
/// without an Adobe APP14 marker — then converted with PIL's formula
/// R = (255 − K) − C·(255 − K)/255 (rounded as PIL rounds). The EXIF orientation (APP1, IFD0
/// tag 0x0112) is applied, as PIL's `ImageOps.exif_transpose`. A file that ends early is an
/// error (PIL: "image file is truncated"); libjpeg's other warnings (extraneous bytes, a bad
/// Huffman code) are tolerated as PIL tolerates them.
///
/// Writing: 8-bit baseline JPEG with the given quality; 4:4:4 chroma at quality ≥ 90, 4:2:0
/// below (each sample ⌊clamp(v, 0, 1)·255 + 0.5⌋); gray images stay gray.
enum JPEG {
  /// Decodes JPEG bytes as RGB `[3,H,W]` in [0, 1]; `name` labels errors.
  static func decode(_ bytes: [UInt8], name: String) throws(ImageIOError) -> Tensor {
    let markers: JPEGMarkers
    switch JPEGMarkers.scan(bytes) {
    case .success(let m): markers = m
    case .failure(let problem): throw ImageIOError(file: name, message: problem.message)
    }
    try ImageFile.checkSize(
      width: markers.width, height: markers.height, format: "JPEG", name: name)
    guard let handle = tjInitDecompress() else {
      throw ImageIOError(file: name, message: "cannot start the JPEG decoder")
    }
    defer { tjDestroy(handle) }
    var width: Int32 = 0
    var height: Int32 = 0
    var subsampling: Int32 = 0
    var colorspace: Int32 = 0
    let header = bytes.withUnsafeBufferPointer { src in
      tjDecompressHeader3(
        handle, src.baseAddress, UInt(src.count), &width, &height, &subsampling, &colorspace)
    }
    guard header == 0 else {
      throw ImageIOError(file: name, message: "corrupt JPEG: \(errorText(handle))")
    }
    let (w, h) = (Int(width), Int(height))
    try ImageFile.checkSize(width: w, height: h, format: "JPEG", name: name)
    let cmyk = colorspace == Int32(TJCS_CMYK.rawValue) || colorspace == Int32(TJCS_YCCK.rawValue)
    let gray = colorspace == Int32(TJCS_GRAY.rawValue)
    let channels = cmyk ? 4 : gray ? 1 : 3
    let format = cmyk ? TJPF_CMYK : gray ? TJPF_GRAY : TJPF_RGB
    var pixels = [UInt8](repeating: 0, count: channels * w * h)  // [H,W,channels]
    let status = bytes.withUnsafeBufferPointer { src in
      pixels.withUnsafeMutableBufferPointer { dst in
        tjDecompress2(
          handle, src.baseAddress, UInt(src.count), dst.baseAddress, width, 0, height,
          Int32(format.rawValue), 0)
      }
    }
    if status != 0 {
      let text = errorText(handle)
      let warning = tjGetErrorCode(handle) == Int32(TJERR_WARNING.rawValue)
      if !warning {
        throw ImageIOError(file: name, message: "corrupt JPEG: \(text)")
      }
      if text.lowercased().contains("premature end") {
        throw ImageIOError(file: name, message: "truncated JPEG: \(text)")
      }
    }
    var image: Tensor
    if cmyk {
      image = rgb(fromInvertedCMYK: pixels, width: w, height: h)
    } else {
      image = Interleaved.image(pixels, width: w, height: h, channels: channels)
    }
    if let exif = markers.exif, let orientation = EXIF.orientation(exif) {
      image = EXIF.apply(orientation: orientation, to: image)
    }
    return image
  }

  /// Encodes `[3,H,W]` or `[1,H,W]` as a baseline JPEG of the given quality (1…100).
  static func encode(_ image: Tensor, quality: Int, name: String) throws(ImageIOError) -> [UInt8] {
    try Interleaved.checkEncodable(
      image, format: "JPEG", maxSide: ImageFormat.jpeg.maxSide, name: name)
    let gray = image.shape[0] == 1
    let (h, w) = (image.shape[1], image.shape[2])
    let pixels = Interleaved.bytes(image, channels: gray ? 1 : 3)  // [H,W,c]
    guard let handle = tjInitCompress() else {
      throw ImageIOError(file: name, message: "cannot start the JPEG encoder")
    }
    defer { tjDestroy(handle) }
    var output: UnsafeMutablePointer<UInt8>?
    var size: UInt = 0
    let sampling = gray ? TJSAMP_GRAY : quality >= 90 ? TJSAMP_444 : TJSAMP_420
    let status = pixels.withUnsafeBufferPointer { src in
      tjCompress2(
        handle, src.baseAddress, Int32(w), 0, Int32(h),
        Int32((gray ? TJPF_GRAY : TJPF_RGB).rawValue), &output, &size,
        Int32(sampling.rawValue), Int32(quality), 0)
    }
    defer { if let output { tjFree(output) } }
    guard status == 0, let output, size > 0 else {
      throw ImageIOError(file: name, message: "cannot encode JPEG: \(errorText(handle))")
    }
    return Array(UnsafeBufferPointer(start: output, count: Int(size)))
  }

  /// Inverted CMYK bytes `[H,W,4]` as RGB `[3,H,W]`: inverted back, then PIL's `cmyk2rgb`.
  static func rgb(fromInvertedCMYK cmyk: [UInt8], width: Int, height: Int) -> Tensor {
    let plane = width * height
    var out = [Float](repeating: 0, count: 3 * plane)  // [3,H,W]
    cmyk.withUnsafeBufferPointer { src in
      out.withUnsafeMutableBufferPointer { dst in
        for i in 0..<plane {
          func sample(_ k: Int) -> Int { 255 - Int(src[i * 4 + k]) }
          let nk = 255 - sample(3)
          for ch in 0..<3 {
            let t = sample(ch) * nk + 128
            let product = ((t >> 8) + t) >> 8  // a·b/255, rounded as PIL's MULDIV255
            dst[ch * plane + i] = Float(min(255, max(0, nk - product))) / 255
          }
        }
      }
    }
    return Tensor(shape: [3, height, width], scalars: out)
  }

  /// TurboJPEG's message for the last error on `handle`.
  private static func errorText(_ handle: tjhandle) -> String {
    guard let text = tjGetErrorStr2(handle) else { return "libjpeg-turbo reported an error" }
    return String(cString: text)
  }
}
