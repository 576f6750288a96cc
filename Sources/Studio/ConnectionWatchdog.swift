import NIOCore

/// Time limits of one studio connection, and the WebSocket masking rule, enforced on the raw
/// bytes before any HTTP parsing: the first handler of every connection's pipeline.
///
/// A request head (request line and headers) must arrive within `headerTimeout` of its first
/// byte (of the connection's opening for the first request), a request's body and answer within
/// `requestTimeout` of its head, and a connection with nothing read or written for `idleTimeout`
/// is closed: idle or half-sent requests cannot hold connections (and file descriptors) open.
/// After a WebSocket upgrade every client frame must be masked (RFC 6455 §5.1): an unmasked
/// frame gets a close frame with status 1002 and the connection ends. `reply(status:)` answers a
/// request the HTTP parser refused with a status instead of a dropped connection.
final class ConnectionWatchdog: ChannelDuplexHandler, RemovableChannelHandler {
  typealias InboundIn = ByteBuffer
  typealias InboundOut = ByteBuffer
  typealias OutboundIn = IOData
  typealias OutboundOut = IOData

  /// Where the connection is in its exchange.
  enum Phase {
    /// Reading a request head; `sawBytes` once any of it arrived.
    case awaitingHead(since: NIODeadline, sawBytes: Bool)
    /// Head complete; the body and the answer are due.
    case inRequest(since: NIODeadline)
    /// The answer started; the connection waits for its next request.
    case answered
    /// A WebSocket connection.
    case upgraded
    /// Closing.
    case closed
  }

  let limits: StudioConfiguration.ConnectionLimits
  private var phase: Phase
  private var lastActivity: NIODeadline
  /// The last bytes of the head being read (to find CR LF CR LF across reads).
  private var headTail: [UInt8] = []
  /// WebSocket frame-header bytes collected so far, and payload bytes still to skip.
  private var frameHeader: [UInt8] = []
  private var payloadLeft: UInt64 = 0
  private var context: ChannelHandlerContext?
  private var timer: Scheduled<Void>?

  init(limits: StudioConfiguration.ConnectionLimits) {
    self.limits = limits
    let now = NIODeadline.now()
    phase = .awaitingHead(since: now, sawBytes: false)
    lastActivity = now
  }

  func handlerAdded(context: ChannelHandlerContext) {
    self.context = context
    scheduleCheck(context)
  }

  func handlerRemoved(context: ChannelHandlerContext) {
    timer?.cancel()
    timer = nil
    self.context = nil
  }

  func channelInactive(context: ChannelHandlerContext) {
    phase = .closed
    timer?.cancel()
    timer = nil
    context.fireChannelInactive()
  }

  func channelRead(context: ChannelHandlerContext, data: NIOAny) {
    let buffer = unwrapInboundIn(data)
    let now = NIODeadline.now()
    lastActivity = now
    switch phase {
    case .answered:
      phase = .awaitingHead(since: now, sawBytes: true)
      headTail = []
      scanHead(buffer, now: now)
    case .awaitingHead(let since, _):
      phase = .awaitingHead(since: since, sawBytes: true)
      scanHead(buffer, now: now)
    case .upgraded:
      guard framesAreMasked(buffer) else {
        // RFC 6455 §5.1: a server closes the connection on an unmasked client frame.
        refuse(context, bytes: [0x88, 0x02, 0x03, 0xEA])  // close, 1002 protocol error
        return
      }
    case .inRequest, .closed:
      break
    }
    context.fireChannelRead(data)
  }

  func write(context: ChannelHandlerContext, data: NIOAny, promise: EventLoopPromise<Void>?) {
    lastActivity = .now()
    if case .inRequest = phase { phase = .answered }
    context.write(data, promise: promise)
  }

  /// The connection became a WebSocket (told by the handler after the HTTP upgrade).
  func didUpgrade() {
    phase = .upgraded
    frameHeader = []
    payloadLeft = 0
  }

  /// Answers the request being read with `status` (the parser refused it) and closes, unless
  /// an answer started already.
  func reply(status: Int, reason: String) {
    guard let context else { return }
    switch phase {
    case .awaitingHead, .inRequest:
      let message = "\(reason)\n"
      let head =
        "HTTP/1.1 \(status) \(reason)\r\nContent-Type: text/plain; charset=utf-8\r\n"
        + "Content-Length: \(message.utf8.count)\r\nConnection: close\r\n\r\n" + message
      refuse(context, bytes: Array(head.utf8))
    case .answered, .upgraded, .closed:
      phase = .closed
      context.close(promise: nil)
    }
  }

  /// Writes `bytes` straight to the socket (no handler after this one sees them) and closes.
  private func refuse(_ context: ChannelHandlerContext, bytes: [UInt8]) {
    guard !isClosed else { return }
    phase = .closed
    let buffer = context.channel.allocator.buffer(bytes: bytes)
    context.writeAndFlush(wrapOutboundOut(.byteBuffer(buffer)), promise: nil)
    context.close(promise: nil)
  }

  private var isClosed: Bool {
    if case .closed = phase { return true }
    return false
  }

  /// Looks for the end of the head (CR LF CR LF) in `buffer`; a head longer than the parser
  /// accepts is the parser's to refuse.
  private func scanHead(_ buffer: ByteBuffer, now: NIODeadline) {
    let bytes = headTail + buffer.readableBytesView
    let end: [UInt8] = [13, 10, 13, 10]
    if bytes.count >= 4 {
      for i in 0...(bytes.count - 4) where bytes[i] == 13 && Array(bytes[i..<(i + 4)]) == end {
        phase = .inRequest(since: now)
        headTail = []
        return
      }
    }
    headTail = Array(bytes.suffix(3))
  }

  /// Follows the WebSocket frames in `buffer` (headers parsed, payloads skipped); false at the
  /// first frame without the mask bit.
  private func framesAreMasked(_ buffer: ByteBuffer) -> Bool {
    var view = buffer.readableBytesView[...]
    while !view.isEmpty {
      if payloadLeft > 0 {
        let skip = Int(min(payloadLeft, UInt64(view.count)))
        view = view.dropFirst(skip)
        payloadLeft -= UInt64(skip)
        continue
      }
      frameHeader.append(view.removeFirst())
      guard frameHeader.count >= 2 else { continue }
      guard frameHeader[1] & 0x80 != 0 else { return false }
      let code = frameHeader[1] & 0x7F
      let lengthBytes = code == 127 ? 8 : code == 126 ? 2 : 0
      guard frameHeader.count == 2 + lengthBytes + 4 else { continue }
      payloadLeft =
        lengthBytes == 0
        ? UInt64(code) : frameHeader[2..<(2 + lengthBytes)].reduce(0) { $0 << 8 | UInt64($1) }
      frameHeader = []
    }
    return true
  }

  /// The moment the current phase runs out, nil when only `idleTimeout` applies.
  private func deadline() -> NIODeadline? {
    switch phase {
    case .awaitingHead(let since, _): return since + limits.headerTimeout
    case .inRequest(let since): return since + limits.requestTimeout
    case .answered, .upgraded, .closed: return nil
    }
  }

  /// Checks the limits every `tick`, closing a connection past one of them.
  private func scheduleCheck(_ context: ChannelHandlerContext) {
    timer = context.eventLoop.assumeIsolated().scheduleTask(in: limits.tick) { [self] in
      timer = nil
      guard !isClosed, self.context != nil else { return }
      let now = NIODeadline.now()
      if let deadline = deadline(), now >= deadline {
        if case .awaitingHead(_, false) = phase {
          // Nothing was asked: nothing to answer.
          phase = .closed
          context.close(promise: nil)
        } else {
          reply(status: 408, reason: "Request Timeout")
        }
        return
      }
      if now >= lastActivity + limits.idleTimeout {
        phase = .closed
        context.close(promise: nil)
        return
      }
      scheduleCheck(context)
    }
  }
}
