import HummingbirdCore
import Logging
import NIOCore
import NIOHTTP1
import NIOWebSocket

/// A server child channel (here HTTP/1.1 with the WebSocket upgrade) whose connections are
/// watched by a `ConnectionWatchdog` in front of the HTTP parser, and whose parser and upgrade
/// failures are answered with an HTTP status (`ParseFailureReply`) instead of a dropped
/// connection.
struct GuardedChildChannel<Inner: ServerChildChannel>: ServerChildChannel {
  typealias Value = Inner.Value
  let inner: Inner
  let limits: StudioConfiguration.ConnectionLimits

  func setup(channel: any Channel, logger: Logger) -> EventLoopFuture<Value> {
    let limits = limits
    return inner.setup(channel: channel, logger: logger).flatMapThrowing { value in
      let watchdog = ConnectionWatchdog(limits: limits)
      try channel.pipeline.syncOperations.addHandler(watchdog, position: .first)
      try channel.pipeline.syncOperations.addHandler(ParseFailureReply(watchdog: watchdog))
      return value
    }
  }

  func handle(value: Value, logger: Logger) async {
    await inner.handle(value: value, logger: logger)
  }
}

/// Sits after the HTTP parser and the upgrade handler: a request the parser refuses (a request
/// line or headers over the limit, malformed syntax) or a WebSocket upgrade that cannot be
/// performed is answered with 431 or 400 through the watchdog, and a completed upgrade switches
/// the watchdog to WebSocket frames.
final class ParseFailureReply: ChannelInboundHandler, RemovableChannelHandler {
  typealias InboundIn = NIOAny
  let watchdog: ConnectionWatchdog

  init(watchdog: ConnectionWatchdog) { self.watchdog = watchdog }

  func errorCaught(context: ChannelHandlerContext, error: any Error) {
    if let parse = error as? HTTPParserError {
      if parse == .headerOverflow {
        watchdog.reply(status: 431, reason: "Request Header Fields Too Large")
      } else {
        watchdog.reply(status: 400, reason: "Bad Request")
      }
    } else if error is NIOWebSocketUpgradeError {
      watchdog.reply(status: 400, reason: "Bad Request")
    }
    context.fireErrorCaught(error)
  }

  func userInboundEventTriggered(context: ChannelHandlerContext, event: Any) {
    if case .upgradeComplete = event as? HTTPServerUpgradeEvents { watchdog.didUpgrade() }
    context.fireUserInboundEventTriggered(event)
  }
}
