import Foundation
import Synchronization

/// Fans pushed messages out to every open WebSocket. Each subscriber has a bounded buffer
/// (the newest messages win), so a slow or vanished page never holds up training.
final class Broadcaster: Sendable {
  private let subscribers = Mutex<[UUID: AsyncStream<String>.Continuation]>([:])

  /// A new subscription; it ends when the stream is dropped.
  func subscribe() -> AsyncStream<String> {
    let id = UUID()
    let (stream, continuation) = AsyncStream<String>.makeStream(
      bufferingPolicy: .bufferingNewest(512))
    continuation.onTermination = { [weak self] _ in
      _ = self?.subscribers.withLock { $0.removeValue(forKey: id) }
    }
    subscribers.withLock { $0[id] = continuation }
    return stream
  }

  /// Sends `push` to all subscribers.
  func send(_ push: Push) {
    guard let data = try? JSONEncoder().encode(push) else { return }
    let text = String(decoding: data, as: UTF8.self)
    for continuation in subscribers.withLock({ Array($0.values) }) { continuation.yield(text) }
  }

  /// Number of open pages.
  var count: Int { subscribers.withLock { $0.count } }
}
