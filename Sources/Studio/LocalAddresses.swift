import Foundation

#if canImport(Glibc)
  import Glibc
#endif

/// The names a browser may use to reach this machine: every interface address and the host
/// name. A server bound to a wildcard address (`0.0.0.0`, `::`) accepts them as Host.
enum LocalAddresses {
  /// Whether `host` is a wildcard bind address.
  static func isWildcard(_ host: String) -> Bool {
    ["0.0.0.0", "::", "[::]", "*"].contains(host)
  }

  /// Numeric addresses of the up interfaces (IPv4 dotted, IPv6 without zone), and the host name.
  static func all() -> [String] {
    var names: [String] = []
    var list: UnsafeMutablePointer<ifaddrs>?
    if getifaddrs(&list) == 0, let first = list {
      defer { freeifaddrs(list) }
      var entry: UnsafeMutablePointer<ifaddrs>? = first
      while let e = entry {
        defer { entry = e.pointee.ifa_next }
        guard let address = e.pointee.ifa_addr else { continue }
        let family = Int32(address.pointee.sa_family)
        guard family == AF_INET || family == AF_INET6 else { continue }
        let length =
          family == AF_INET
          ? socklen_t(MemoryLayout<sockaddr_in>.size) : socklen_t(MemoryLayout<sockaddr_in6>.size)
        var text = [CChar](repeating: 0, count: Int(NI_MAXHOST))
        guard
          getnameinfo(address, length, &text, socklen_t(text.count), nil, 0, NI_NUMERICHOST) == 0
        else { continue }
        let name = String(
          decoding: text.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
        // Link-local IPv6 carries a zone ("fe80::1%eth0"); browsers send it without.
        names.append(String(name.split(separator: "%").first ?? ""))
      }
    }
    var host = [CChar](repeating: 0, count: 256)
    if gethostname(&host, host.count) == 0 {
      let name = String(
        decoding: host.prefix { $0 != 0 }.map { UInt8(bitPattern: $0) }, as: UTF8.self)
      if !name.isEmpty { names.append(name) }
    }
    return names.filter { !$0.isEmpty }
  }
}
