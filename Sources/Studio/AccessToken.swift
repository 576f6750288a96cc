/// The secret in the printed URL: 32 bytes from the system's random source, as hex.
public enum AccessToken {
  /// A new random token (SystemRandomNumberGenerator reads getrandom/arc4random).
  public static func random() -> String {
    var generator = SystemRandomNumberGenerator()
    var text = ""
    for _ in 0..<32 {
      let byte = UInt8.random(in: 0...255, using: &generator)
      text +=
        String(byte, radix: 16).count == 1
        ? "0" + String(byte, radix: 16)
        : String(byte, radix: 16)
    }
    return text
  }

  /// Compares in time independent of where the strings differ.
  public static func matches(_ given: String?, _ expected: String) -> Bool {
    guard let given else { return false }
    let a = Array(given.utf8)
    let b = Array(expected.utf8)
    var difference = UInt8(a.count == b.count ? 0 : 1)
    for i in 0..<b.count { difference |= (i < a.count ? a[i] : 0) ^ b[i] }
    return difference == 0
  }
}
