import Testing

@testable import CLIP
@testable import ModelStore

@Suite struct ModelStoreSHA256Tests {
  /// FIPS 180-4 / NIST example vectors.
  @Test func standardVectors() {
    #expect(
      SHA256.hex(of: [UInt8]())
        == "e3b0c44298fc1c149afbf4c8996fb92427ae41e4649b934ca495991b7852b855")
    #expect(
      SHA256.hex(of: Array("abc".utf8))
        == "ba7816bf8f01cfea414140de5dae2223b00361a396177a9cb410ff61f20015ad")
    #expect(
      SHA256.hex(of: Array("abcdbcdecdefdefgefghfghighijhijkijkljklmklmnlmnomnopnopq".utf8))
        == "248d6a61d20638b8e5c026930c3e6039a33ce45964ff2167f6ecedd419db06c1")
    #expect(
      SHA256.hex(
        of: Array(
          ("abcdefghbcdefghicdefghijdefghijkefghijklfghijklmghijklmnhijklmnoijklmnopjklmnopqklmnopqr"
            + "lmnopqrsmnopqrstnopqrstu").utf8))
        == "cf5b16a778af8380036ce59e7b0492370b249b11e8f07a51afac45037afee9d1")
    #expect(
      SHA256.hex(of: [UInt8](repeating: 0x61, count: 1_000_000))
        == "cdc76e5c9914fb9281a1c7e284d73e67f1809a48a497200e046d39ccc7112cd0")
  }

  /// Feeding in pieces of every size gives the digest of the whole, across block boundaries.
  @Test func incrementalUpdatesMatchOneShot() {
    var bytes = [UInt8]()
    var x: UInt32 = 12345
    for _ in 0..<1000 {
      x = x &* 1_103_515_245 &+ 12345
      bytes.append(UInt8(truncatingIfNeeded: x >> 16))
    }
    let whole = SHA256.hex(of: bytes)
    for piece in [1, 3, 55, 56, 63, 64, 65, 127, 500] {
      var h = SHA256()
      var i = 0
      while i < bytes.count {
        let j = min(bytes.count, i + piece)
        h.update(bytes[i..<j])
        i = j
      }
      #expect(h.hexDigest() == whole, "piece \(piece)")
    }
    // Lengths around the padding boundary.
    for n in 54...66 {
      let message = [UInt8](repeating: 0x61, count: n)
      var h = SHA256()
      h.update(message)
      #expect(h.hexDigest() == SHA256.hex(of: message))
    }
    #expect(
      SHA256.hex(of: [UInt8](repeating: 0x61, count: 55))
        == "9f4390f8d30c2dd92ec9f095b65e2b9ae9b0a925a5258e241c9f1e910f734318")
  }
}
