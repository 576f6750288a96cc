/// SHA-256 (FIPS 180-4), streaming: feed bytes with `update`, read the digest with `finalize`.
///
/// Written here so that verifying a downloaded model needs no dependency; checked against the
/// standard test vectors.
public struct SHA256: Sendable {
  private static let k: [UInt32] = [
    0x428a_2f98, 0x7137_4491, 0xb5c0_fbcf, 0xe9b5_dba5, 0x3956_c25b, 0x59f1_11f1, 0x923f_82a4,
    0xab1c_5ed5, 0xd807_aa98, 0x1283_5b01, 0x2431_85be, 0x550c_7dc3, 0x72be_5d74, 0x80de_b1fe,
    0x9bdc_06a7, 0xc19b_f174, 0xe49b_69c1, 0xefbe_4786, 0x0fc1_9dc6, 0x240c_a1cc, 0x2de9_2c6f,
    0x4a74_84aa, 0x5cb0_a9dc, 0x76f9_88da, 0x983e_5152, 0xa831_c66d, 0xb003_27c8, 0xbf59_7fc7,
    0xc6e0_0bf3, 0xd5a7_9147, 0x06ca_6351, 0x1429_2967, 0x27b7_0a85, 0x2e1b_2138, 0x4d2c_6dfc,
    0x5338_0d13, 0x650a_7354, 0x766a_0abb, 0x81c2_c92e, 0x9272_2c85, 0xa2bf_e8a1, 0xa81a_664b,
    0xc24b_8b70, 0xc76c_51a3, 0xd192_e819, 0xd699_0624, 0xf40e_3585, 0x106a_a070, 0x19a4_c116,
    0x1e37_6c08, 0x2748_774c, 0x34b0_bcb5, 0x391c_0cb3, 0x4ed8_aa4a, 0x5b9c_ca4f, 0x682e_6ff3,
    0x748f_82ee, 0x78a5_636f, 0x84c8_7814, 0x8cc7_0208, 0x90be_fffa, 0xa450_6ceb, 0xbef9_a3f7,
    0xc671_78f2,
  ]

  private var h: (UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32, UInt32) = (
    0x6a09_e667, 0xbb67_ae85, 0x3c6e_f372, 0xa54f_f53a, 0x510e_527f, 0x9b05_688c, 0x1f83_d9ab,
    0x5be0_cd19
  )
  /// Bytes of an incomplete block.
  private var buffer = [UInt8](repeating: 0, count: 64)
  private var buffered = 0
  /// Total message length in bytes.
  private var length: UInt64 = 0

  /// A hasher with nothing fed yet.
  public init() {}

  /// Feeds `bytes`.
  public mutating func update(_ bytes: UnsafeRawBufferPointer) {
    guard let base = bytes.baseAddress, bytes.count > 0 else { return }
    length &+= UInt64(bytes.count)
    var offset = 0
    let count = bytes.count
    if buffered > 0 {
      let take = min(64 - buffered, count)
      for i in 0..<take { buffer[buffered + i] = base.load(fromByteOffset: i, as: UInt8.self) }
      buffered += take
      offset = take
      guard buffered == 64 else { return }
      buffer.withUnsafeBytes { compress($0.baseAddress.unsafelyUnwrapped) }
      buffered = 0
    }
    let whole = (count - offset) / 64
    if whole > 0 {
      compress(base + offset, blocks: whole)
      offset += 64 * whole
    }
    let rest = count - offset
    for i in 0..<rest { buffer[i] = base.load(fromByteOffset: offset + i, as: UInt8.self) }
    buffered = rest
  }

  /// Feeds `bytes`.
  public mutating func update<Bytes: Sequence>(_ bytes: Bytes) where Bytes.Element == UInt8 {
    let done: Void? = bytes.withContiguousStorageIfAvailable { update(UnsafeRawBufferPointer($0)) }
    if done == nil {
      let array = Array(bytes)
      array.withUnsafeBytes { update($0) }
    }
  }

  /// The 32-byte digest of everything fed so far (the hasher itself is left unchanged).
  public func finalize() -> [UInt8] {
    var copy = self
    let bitLength = length &* 8
    var padding: [UInt8] = [0x80]
    let afterOne = (buffered + 1) % 64
    let zeros = afterOne <= 56 ? 56 - afterOne : 120 - afterOne
    padding += [UInt8](repeating: 0, count: zeros)
    for i in (0..<8).reversed() { padding.append(UInt8(truncatingIfNeeded: bitLength >> (8 * i))) }
    let savedLength = copy.length
    padding.withUnsafeBytes { copy.update($0) }
    copy.length = savedLength
    let words = [copy.h.0, copy.h.1, copy.h.2, copy.h.3, copy.h.4, copy.h.5, copy.h.6, copy.h.7]
    var digest = [UInt8]()
    digest.reserveCapacity(32)
    for w in words {
      digest += [
        UInt8(w >> 24), UInt8(truncatingIfNeeded: w >> 16),
        UInt8(truncatingIfNeeded: w >> 8), UInt8(truncatingIfNeeded: w),
      ]
    }
    return digest
  }

  /// The digest as 64 lowercase hexadecimal digits.
  public func hexDigest() -> String { Self.hex(finalize()) }

  /// The SHA-256 of `bytes` as lowercase hexadecimal.
  public static func hex<Bytes: Sequence>(of bytes: Bytes) -> String where Bytes.Element == UInt8 {
    var hasher = SHA256()
    hasher.update(bytes)
    return hasher.hexDigest()
  }

  /// Lowercase hexadecimal of `bytes`.
  static func hex(_ bytes: [UInt8]) -> String {
    let digits = Array("0123456789abcdef".utf8)
    var out = [UInt8]()
    out.reserveCapacity(bytes.count * 2)
    for b in bytes {
      out.append(digits[Int(b >> 4)])
      out.append(digits[Int(b & 15)])
    }
    return String(decoding: out, as: UTF8.self)
  }

  /// Processes one 64-byte block.
  private mutating func compress(_ block: UnsafeRawPointer) { compress(block, blocks: 1) }

  /// Processes `blocks` consecutive 64-byte blocks.
  private mutating func compress(_ data: UnsafeRawPointer, blocks: Int) {
    var (h0, h1, h2, h3, h4, h5, h6, h7) = h
    withUnsafeTemporaryAllocation(of: UInt32.self, capacity: 64) { w in
      Self.k.withUnsafeBufferPointer { k in
        for block in 0..<blocks {
          let p = data + 64 * block
          for i in 0..<16 {
            w[i] = UInt32(bigEndian: p.loadUnaligned(fromByteOffset: 4 * i, as: UInt32.self))
          }
          for i in 16..<64 {
            let w15 = w[i - 15]
            let w2 = w[i - 2]
            let s0 = rotr(w15, 7) ^ rotr(w15, 18) ^ (w15 >> 3)
            let s1 = rotr(w2, 17) ^ rotr(w2, 19) ^ (w2 >> 10)
            w[i] = w[i - 16] &+ s0 &+ w[i - 7] &+ s1
          }
          var (a, b, c, d, e, f, g, hh) = (h0, h1, h2, h3, h4, h5, h6, h7)
          for i in 0..<64 {
            let s1 = rotr(e, 6) ^ rotr(e, 11) ^ rotr(e, 25)
            let ch = (e & f) ^ (~e & g)
            let t1 = hh &+ s1 &+ ch &+ k[i] &+ w[i]
            let s0 = rotr(a, 2) ^ rotr(a, 13) ^ rotr(a, 22)
            let maj = (a & b) ^ (a & c) ^ (b & c)
            hh = g
            g = f
            f = e
            e = d &+ t1
            d = c
            c = b
            b = a
            a = t1 &+ s0 &+ maj
          }
          h0 = h0 &+ a
          h1 = h1 &+ b
          h2 = h2 &+ c
          h3 = h3 &+ d
          h4 = h4 &+ e
          h5 = h5 &+ f
          h6 = h6 &+ g
          h7 = h7 &+ hh
        }
      }
    }
    h = (h0, h1, h2, h3, h4, h5, h6, h7)
  }
}

@inline(__always) private func rotr(_ x: UInt32, _ n: UInt32) -> UInt32 {
  (x &>> n) | (x &<< (32 &- n))
}
