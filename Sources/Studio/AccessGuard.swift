import Foundation
import HTTPTypes
import Hummingbird

/// Refuses (403) every request without the token, or whose Host or Origin is not this server:
/// a page on another site can neither read the studio (DNS rebinding) nor drive it
/// (cross-site requests), and another local user cannot without the printed URL.
struct AccessGuard<Context: RequestContext>: RouterMiddleware {
  /// The required token.
  let token: String
  /// Accepted `host:port` values, lower-cased.
  let allowedAuthorities: Set<String>

  func handle(
    _ request: Request, context: Context, next: (Request, Context) async throws -> Response
  ) async throws -> Response {
    // The first Host is the request's authority; another one may be what a proxy or cache in
    // between reads instead (request smuggling): such a request is malformed (RFC 9112 §3.2).
    if !request.headers[values: Self.host].isEmpty {
      return Response(
        status: .badRequest, headers: [.contentType: "text/plain; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: "bad request: more than one Host header\n")))
    }
    if let reason = refusal(request) {
      return Response(
        status: .forbidden, headers: [.contentType: "text/plain; charset=utf-8"],
        body: .init(byteBuffer: ByteBuffer(string: "forbidden: \(reason)\n")))
    }
    var response = try await next(request, context)
    response.headers[.cacheControl] = "no-store"
    response.headers[.init("X-Content-Type-Options")!] = "nosniff"
    response.headers[.init("Referrer-Policy")!] = "no-referrer"
    return response
  }

  /// A Host header left among the fields: the first one became the request's authority.
  static var host: HTTPField.Name { HTTPField.Name("Host")! }

  /// Why `request` is refused, or nil.
  func refusal(_ request: Request) -> String? {
    guard let authority = request.head.authority?.lowercased(),
      allowedAuthorities.contains(authority)
    else { return "unknown Host" }
    // Every Origin given must be this server: a page's (http://host:port), or a non-browser
    // WebSocket client's (ws://host[:port]; no page has a ws: origin).
    for origin in request.headers[values: .origin].map({ $0.lowercased() }) {
      let allowed: Bool
      if origin.hasPrefix("http://") {
        allowed = allowedAuthorities.contains(String(origin.dropFirst(7)))
      } else if origin.hasPrefix("ws://") {
        let rest = String(origin.dropFirst(5))
        allowed =
          allowedAuthorities.contains(rest)
          || allowedAuthorities.contains { $0.hasPrefix(rest + ":") && !rest.isEmpty }
      } else {
        allowed = false
      }
      guard allowed else { return "foreign Origin" }
    }
    let given =
      request.uri.queryParameters["token"].map(String.init)
      ?? request.headers[.init("X-Clipig-Token")!]
    guard AccessToken.matches(given, token) else { return "missing or wrong token" }
    return nil
  }

  /// The `host:port` spellings a browser uses for this server. A wildcard host (`0.0.0.0`,
  /// `::`) stands for every address of this machine and its host name.
  static func authorities(hosts: [String], port: Int) -> Set<String> {
    var names: Set<String> = []
    let expanded = hosts.flatMap { host in
      LocalAddresses.isWildcard(host) ? [host] + LocalAddresses.all() + ["localhost"] : [host]
    }
    for host in expanded {
      let h = host.lowercased().trimmingCharacters(in: CharacterSet(charactersIn: "[]"))
      names.insert(h.contains(":") ? "[\(h)]:\(port)" : "\(h):\(port)")
      if h == "127.0.0.1" || h == "::1" || h == "localhost" { names.insert("localhost:\(port)") }
    }
    return names
  }
}
