/// A first-order optimizer over one flat parameter vector, with PyTorch's update rules
/// (CLIPig's optimizers) in Float32 and PyTorch's order of operations.
public struct Optimizer: Sendable {
  /// The algorithm.
  public let kind: OptimizerKind
  /// Steps taken since the last reset.
  public private(set) var step = 0
  private var a: [Float] = []  // adam: m; rmsprop: square_avg; adadelta: square_avg
  private var b: [Float] = []  // adam: v; rmsprop centered: grad_avg; adadelta: acc_delta
  private var c: [Float] = []  // rmsprop: momentum buffer

  /// A fresh optimizer (all state zero).
  public init(kind: OptimizerKind) { self.kind = kind }

  /// Everything an optimizer remembers between steps, for checkpoints: restoring it makes the
  /// following steps bit-identical to those of the optimizer it was taken from.
  public struct State: Sendable, Equatable {
    /// The algorithm.
    public var kind: OptimizerKind
    /// Steps taken since the last reset.
    public var step: Int
    /// The per-parameter buffers (empty before the first step), in the order the update uses.
    public var buffers: [[Float]]

    /// A state from its parts.
    public init(kind: OptimizerKind, step: Int, buffers: [[Float]]) {
      self.kind = kind
      self.step = step
      self.buffers = buffers
    }
  }

  /// The current state.
  public var state: State { State(kind: kind, step: step, buffers: [a, b, c]) }

  /// An optimizer continuing from `state`; nil when the state is inconsistent (not three
  /// buffers of one length, or a negative step).
  public init?(state: State) {
    guard state.buffers.count == 3, state.step >= 0,
      state.buffers.allSatisfy({ $0.count == state.buffers[0].count })
    else { return nil }
    kind = state.kind
    step = state.step
    a = state.buffers[0]
    b = state.buffers[1]
    c = state.buffers[2]
  }

  /// Forgets all state (CLIPig does this whenever the resolution changes).
  public mutating func reset() {
    step = 0
    a = []
    b = []
    c = []
  }

  /// Moves the state to a resized parameter vector of `count` values: the state of parameter
  /// `old[k]` becomes that of `new[k]`, every other starts at zero, the step count goes on.
  /// With nothing kept this is `reset()` (CLIPig's behaviour on a change of resolution).
  public mutating func carry(old: [Int], new: [Int], count: Int) {
    precondition(old.count == new.count, "Optimizer.carry: index lists differ in length")
    guard !old.isEmpty, !a.isEmpty else { return reset() }
    func moved(_ state: [Float]) -> [Float] {
      var out = [Float](repeating: 0, count: count)
      for k in old.indices { out[new[k]] = state[old[k]] }
      return out
    }
    a = moved(a)
    b = moved(b)
    c = moved(c)
  }

  /// Updates `parameters` in place from `gradient` with learning rate `lr`.
  public mutating func update(_ parameters: inout [Float], gradient g: [Float], lr: Double) {
    precondition(parameters.count == g.count, "Optimizer: gradient size differs from parameters")
    let n = g.count
    if a.count != n {
      a = [Float](repeating: 0, count: n)
      b = [Float](repeating: 0, count: n)
      c = [Float](repeating: 0, count: n)
      step = 0
    }
    step += 1
    let lr = Float(lr)
    switch kind {
    case .sgd:
      for i in 0..<n { parameters[i] -= lr * g[i] }
    case .adam:
      let beta1: Float = 0.9
      let beta2: Float = 0.999
      let eps: Float = 1e-8
      let bias1 = 1 - Float(pow(Double(beta1), Double(step)))
      let bias2 = 1 - Float(pow(Double(beta2), Double(step)))
      let stepSize = lr / bias1
      let bias2Sqrt = bias2.squareRoot()
      for i in 0..<n {
        a[i] = a[i] * beta1 + (1 - beta1) * g[i]
        b[i] = b[i] * beta2 + (1 - beta2) * g[i] * g[i]
        let denom = b[i].squareRoot() / bias2Sqrt + eps
        parameters[i] -= stepSize * a[i] / denom
      }
    case .adadelta:
      let rho: Float = 0.9
      let eps: Float = 1e-6
      for i in 0..<n {
        a[i] = a[i] * rho + (1 - rho) * g[i] * g[i]
        let std = (a[i] + eps).squareRoot()
        let delta = (b[i] + eps).squareRoot() / std * g[i]
        b[i] = b[i] * rho + (1 - rho) * delta * delta
        parameters[i] -= lr * delta
      }
    case .rmsprop:
      // Centered, momentum 0.1 (CLIPig's `rmsprob`).
      let alpha: Float = 0.99
      let eps: Float = 1e-8
      let momentum: Float = 0.1
      for i in 0..<n {
        a[i] = a[i] * alpha + (1 - alpha) * g[i] * g[i]
        b[i] = b[i] * alpha + (1 - alpha) * g[i]
        let avg = (a[i] - b[i] * b[i]).squareRoot() + eps
        c[i] = c[i] * momentum + g[i] / avg
        parameters[i] -= lr * c[i]
      }
    case .sparseAdam:
      // What CLIPig builds for `sparse_adam`: plain RMSprop.
      let alpha: Float = 0.99
      let eps: Float = 1e-8
      for i in 0..<n {
        a[i] = a[i] * alpha + (1 - alpha) * g[i] * g[i]
        parameters[i] -= lr * g[i] / (a[i].squareRoot() + eps)
      }
    }
  }
}

#if canImport(Glibc)
  import Glibc
#else
  import Foundation
#endif
