import Foundation
import Hummingbird
import HummingbirdWebSocket
import NIOCore
import Runner

/// The studio's HTTP and WebSocket endpoints (all behind the access guard).
///
/// `GET /` the page, `GET /studio.js`, `GET /studio.css`, `GET /api/state`,
/// `POST /api/{tabs,check,start,update,stop,save,views}` with a JSON body, `GET /ws` the
/// WebSocket that pushes state, progress, snapshots, logs and errors.
struct StudioRoutes {
  let session: StudioSession
  let token: String

  /// A POST body: which tab, and the YAML for check/start/update or the name for a new tab.
  struct Action: Decodable {
    var tab: Int?
    var yaml: String?
    var name: String?
  }

  func add(to router: Router<BasicWebSocketRequestContext>) {
    router.get("/") { _, _ in
      Self.text(StudioPage.html(token: token), type: "text/html; charset=utf-8", csp: true)
    }
    router.get("/studio.js") { _, _ in
      Self.text(StudioPage.script, type: "text/javascript; charset=utf-8")
    }
    router.get("/studio.css") { _, _ in
      Self.text(StudioPage.style, type: "text/css; charset=utf-8")
    }
    router.get("/api/state") { _, _ in
      Self.json(["tabs": session.allTabs()])
    }
    router.post("/api/:action") { request, context -> Response in
      let action = context.parameters.get("action") ?? ""
      let body: Action
      let limit = session.configuration.maxYAMLBytes
      do {
        // JSON writes a byte of YAML as at most 6 (\u00XX); more is refused unread (413).
        let bytes = try await request.body.collect(upTo: 6 * limit + 4096)
        body = try JSONDecoder().decode(Action.self, from: Data(bytes.readableBytesView))
      } catch is NIOTooManyBytesError {
        return Self.failure(
          ActionError(
            status: 413,
            info: ErrorInfo(
              message: "the request is larger than any YAML of at most \(limit) bytes needs")))
      } catch let error as HTTPError {
        return Self.failure(
          ActionError(status: Int(error.status.code), info: ErrorInfo(message: "\(error)")))
      } catch {
        return Self.failure(
          ActionError(status: 400, info: ErrorInfo(message: "bad request body: \(error)")))
      }
      do {
        return try perform(action, body)
      } catch let error as ActionError {
        return Self.failure(error)
      } catch {
        return Self.failure(ActionError(status: 500, info: ErrorInfo(message: "\(error)")))
      }
    }
    router.ws("/ws") { inbound, outbound, _ in
      let stream = session.broadcaster.subscribe()
      var hello = Push(type: "tabs")
      hello.tabs = session.allTabs()
      if let data = try? JSONEncoder().encode(hello) {
        try await outbound.write(.text(String(decoding: data, as: UTF8.self)))
      }
      try await withThrowingTaskGroup(of: Void.self) { group in
        group.addTask {
          // The page sends nothing we need; reading notices the close.
          for try await _ in inbound.messages(maxSize: 1 << 16) {}
        }
        group.addTask {
          for await text in stream { try await outbound.write(.text(text)) }
        }
        try await group.next()
        group.cancelAll()
      }
    }
  }

  /// The answer of `check`.
  struct CheckAnswer: Encodable {
    var ok: Bool
    var error: ErrorInfo?
  }

  func perform(_ action: String, _ body: Action) throws(ActionError) -> Response {
    func tab() throws(ActionError) -> Int {
      guard let t = body.tab else {
        throw ActionError(status: 400, info: ErrorInfo(message: "missing 'tab'"))
      }
      return t
    }
    func yaml() throws(ActionError) -> String {
      guard let y = body.yaml else {
        throw ActionError(status: 400, info: ErrorInfo(message: "missing 'yaml'"))
      }
      return y
    }
    switch action {
    case "tabs":
      let limit = session.configuration.maxYAMLBytes
      if let text = body.yaml, text.utf8.count > limit {
        throw ActionError(
          status: 413,
          info: ErrorInfo(
            message: "the YAML is \(text.utf8.count) bytes; the studio accepts at most \(limit)"))
      }
      if let name = body.name, name.utf8.count > 255 {
        throw ActionError(
          status: 400, info: ErrorInfo(message: "a tab name has at most 255 bytes"))
      }
      let id = session.addTab(
        name: body.name ?? "experiment.yaml", yaml: body.yaml ?? StudioServer.template,
        baseDirectory: session.configuration.outputDirectory)
      return Self.json(["tab": id])
    case "check":
      let t = try tab()
      // A problem found by the check is an answer, not a failed request.
      do {
        _ = try session.check(t, yaml: try yaml())
        return Self.json(CheckAnswer(ok: true, error: nil))
      } catch  where error.status == 422 {
        return Self.json(CheckAnswer(ok: false, error: error.info))
      }
    case "start":
      try session.start(try tab(), yaml: try yaml())
      return Self.json(["ok": true])
    case "update":
      try session.update(try tab(), yaml: try yaml())
      return Self.json(["ok": true])
    case "stop":
      try session.stop(try tab())
      return Self.json(["ok": true])
    case "save":
      let path = try session.save(try tab())
      return Self.json(["image": path, "yaml": OutputNaming.sidecar(path)])
    case "views":
      return Self.json(try session.views(try tab()))
    default:
      throw ActionError(status: 404, info: ErrorInfo(message: "no action '\(action)'"))
    }
  }

  static func text(_ body: String, type: String, csp: Bool = false) -> Response {
    var headers: HTTPFields = [.contentType: type]
    if csp {
      headers[.contentSecurityPolicy] =
        "default-src 'none'; script-src 'self'; style-src 'self'; img-src 'self' data:; "
        + "connect-src 'self'; base-uri 'none'; form-action 'none'; frame-ancestors 'none'"
    }
    return Response(
      status: .ok, headers: headers, body: .init(byteBuffer: ByteBuffer(string: body)))
  }

  static func json<T: Encodable>(_ value: T, status: HTTPResponse.Status = .ok) -> Response {
    let data = (try? JSONEncoder().encode(value)) ?? Data("{}".utf8)
    return Response(
      status: status, headers: [.contentType: "application/json"],
      body: .init(byteBuffer: ByteBuffer(bytes: data)))
  }

  static func failure(_ error: ActionError) -> Response {
    json(["error": error.info], status: HTTPResponse.Status(code: error.status))
  }
}

extension OutputNaming {
  /// The sidecar path of an image (for JSON answers).
  static func sidecar(_ path: String) -> String { sidecarPath(path) }
}
