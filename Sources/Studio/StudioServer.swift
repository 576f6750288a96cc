import Formats
import Foundation
import Hummingbird
import HummingbirdCore
import HummingbirdWebSocket
import Logging
import NIOCore
import PipelineKit
import Synchronization

/// `clipig studio`: a local web server with a page to edit experiments while they train.
///
/// Listens on `configuration.hosts` (loopback by default); every request needs the token of
/// `url`, and a Host and Origin of this server.
public final class StudioServer: Sendable {
  /// The settings.
  public let configuration: StudioConfiguration
  let session: StudioSession
  private let boundPort = Mutex<Int?>(nil)

  /// A server for `configuration`; opens its files as tabs (a file that cannot be read is an
  /// error naming it).
  public init(configuration: StudioConfiguration) throws {
    self.configuration = configuration
    session = StudioSession(configuration: configuration)
    for file in configuration.files {
      let text: String
      do {
        text = String(
          decoding: try FileIO.readBytes(path: file, maxBytes: configuration.maxYAMLBytes),
          as: UTF8.self)
      } catch {
        throw StudioError("cannot open \(file) as a tab: \(error.message)")
      }
      let directory = (file as NSString).deletingLastPathComponent
      session.addTab(
        name: (file as NSString).lastPathComponent, yaml: text,
        baseDirectory: directory.isEmpty ? "." : directory)
    }
    if configuration.files.isEmpty {
      session.addTab(name: "experiment.yaml", yaml: Self.template, baseDirectory: ".")
    }
  }

  /// A first experiment for an empty studio.
  static let template = """
    epochs: 300
    resolution: 224
    learnrate: 1
    init:
      mean: 0.5
      std: 0.1
    targets:
      - name: main
        batch_size: 4
        features:
          - text: a watercolor painting of a lighthouse
        transforms:
          - random_shift: 0 1
          - noise: 0.1*(1-t)
    """

  /// The port once listening (waits for it without blocking a thread).
  public func port() async -> Int {
    while true {
      if let p = boundPort.withLock({ $0 }) { return p }
      if startFailure.withLock({ $0 }) != nil { return configuration.port }
      try? await Task.sleep(for: .milliseconds(10))
    }
  }

  /// The URL to open, with the token (once listening).
  public func url() async -> String {
    let host = configuration.hosts.first ?? "127.0.0.1"
    let shown = host.contains(":") ? "[\(host)]" : host
    return "http://\(shown):\(await port())/?token=\(configuration.token)"
  }

  /// Serves until cancelled. The first host decides the port; the others listen on the same.
  public func run() async throws {
    session.startWorker()
    let cap = configuration.connectionLimits.connectionCap(
      openFiles: FileDescriptorLimit.raiseToHard())
    var logger = Logger(label: "clipig-studio")
    logger.logLevel = .error
    let first = configuration.hosts.first ?? "127.0.0.1"
    let portBox = Mutex<Int?>(nil)
    let firstApp = makeApplication(host: first, port: configuration.port, cap: cap, logger: logger)
    {
      port in portBox.withLock { $0 = port }
    }
    try await withThrowingTaskGroup(of: Void.self) { group in
      group.addTask {
        do {
          try await firstApp.run()
        } catch {
          self.startFailure.withLock { $0 = "\(error)" }
          throw error
        }
      }
      // Wait for the first listener's port, then start the others on it.
      var port: Int?
      for _ in 0..<6000 {
        port = portBox.withLock { $0 }
        if port != nil { break }
        if let reason = startFailure.withLock({ $0 }) {
          if reason.contains("Address already in use") || reason.contains("EADDRINUSE") {
            throw StudioError(
              "port \(configuration.port) on \(first) is in use (another studio, perhaps); "
                + "choose another with --port N, or --port 0 for any free port")
          }
          throw StudioError("cannot listen on \(first) port \(configuration.port): \(reason)")
        }
        try await Task.sleep(for: .milliseconds(5))
      }
      guard let port else { throw StudioError("the server did not start on \(first)") }
      let authorities = AccessGuard<BasicWebSocketRequestContext>.authorities(
        hosts: configuration.hosts, port: port)
      self.guardAuthorities.withLock { $0 = authorities }
      for host in configuration.hosts.dropFirst() {
        let app = makeApplication(host: host, port: port, cap: cap, logger: logger) { _ in }
        group.addTask {
          do {
            try await app.run()
          } catch {
            // No IPv6 on this machine, for instance: the first address still serves.
            StandardStream.error.write("clipig studio: cannot listen on \(host): \(error)\n")
          }
        }
      }
      boundPort.withLock { $0 = port }
      try await group.next()
      group.cancelAll()
    }
  }

  private let guardAuthorities = Mutex<Set<String>>([])
  private let startFailure = Mutex<String?>(nil)

  /// Stops training; a running experiment is saved (image + YAML) first. Returns saved paths.
  public func shutdown() -> [String] { session.shutdown() }

  /// The server of one address: HTTP/1.1 with the WebSocket upgrade behind a
  /// `ConnectionWatchdog`, at most `cap` connections at once.
  func makeApplication(
    host: String, port: Int, cap: Int, logger: Logger,
    onPort: @escaping @Sendable (Int) -> Void
  ) -> some ApplicationProtocol {
    let router = Router(context: BasicWebSocketRequestContext.self)
    router.add(middleware: DynamicGuard(server: self))
    StudioRoutes(session: session, token: configuration.token).add(to: router)
    let webSocketResponder = router.buildResponder()
    let limits = configuration.connectionLimits
    let channel = HTTP1WebSocketUpgradeChannel.Configuration(
      http1: .init(idleTimeout: limits.idleTimeout), ws: .init(maxFrameSize: 1 << 16))
    let server = HTTPServerBuilder { responder in
      GuardedChildChannel(
        inner: HTTP1WebSocketUpgradeChannel(
          responder: responder, webSocketResponder: webSocketResponder, configuration: channel),
        limits: limits)
    }
    return Application(
      router: router,
      server: server,
      configuration: .init(
        address: .hostname(host, port: port), serverName: nil,
        availableConnectionsDelegate: MaximumAvailableConnections(cap)),
      onServerRunning: { channel in onPort(channel.localAddress?.port ?? port) },
      logger: logger)
  }

  /// The access guard, built once the port is known.
  struct DynamicGuard: RouterMiddleware {
    typealias Context = BasicWebSocketRequestContext
    let server: StudioServer
    func handle(
      _ request: Request, context: Context, next: (Request, Context) async throws -> Response
    ) async throws -> Response {
      let access = AccessGuard<Context>(
        token: server.configuration.token,
        allowedAuthorities: server.guardAuthorities.withLock { $0 })
      return try await access.handle(request, context: context, next: next)
    }
  }
}

/// A studio start-up failure.
public struct StudioError: Error, CustomStringConvertible {
  /// What went wrong.
  public var description: String
  init(_ description: String) { self.description = description }
}
