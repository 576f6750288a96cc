import ArgumentParser
import ExprEval
import PipelineKit

/// `clipig expr 'EXPRESSION' [--var name=value …] [--seed N]`: evaluates an expression the way a
/// run would and prints the value as Python's `repr` would (`8`, `0.5`, `[1, 2]`).
struct ExprCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "expr",
    abstract: "Evaluate a CLIPig expression and print its value as Python would.",
    discussion: """
      All variable groups are available. Defaults: epoch=0, epochs=300 (so t = epoch / 299), \
      width=height=224, lr=0.01, lrs=1, sim=0. Setting t (or time) overrides the value derived \
      from epoch and epochs. Values may themselves be constant expressions (--var t=1/3); res \
      takes two numbers: --var res=640,480.

      Example: clipig expr '{0: 8, 1: 8, 2: 16, 3: 32, 4: 64, 5: 128}.get(int(t*16), 224)' \
      --var epoch=57
      """)

  @Argument(
    parsing: .allUnrecognized,
    help: "The expression, e.g. \"1. - .95 * pow(t, 5.)\" (it may start with '-').")
  var expression: [String] = []

  /// The expression: all words joined (so that an unquoted `1 + 2` works too), without the
  /// `--` that ends the options (`clipig expr -- -1` is `-1`; ArgumentParser keeps the `--` in
  /// an `.allUnrecognized` argument).
  private var words: [String] {
    guard let end = expression.firstIndex(of: "--") else { return expression }
    var w = expression
    w.remove(at: end)
    return w
  }

  private var source: String { words.joined(separator: " ") }

  @Option(
    name: .customLong("var"),
    help: ArgumentHelp(
      "A variable value, name=value (epoch, epochs, t, width, height, res, lr, lrs, sim, frame, frames, x, y).",
      valueName: "name=value"))
  var variables: [String] = []

  @Option(help: "Seed of the random source used by random(), uniform(a, b), gauss(m, s), ….")
  var seed: UInt64 = 0

  func validate() throws {
    if words.isEmpty { throw ValidationError("Missing expected argument '<expression>'") }
  }

  func run() throws {
    let context: ExprContext
    let value: ExprValue
    do {
      context = try makeContext()
      let parsed = try Expression(source, groups: .all)
      var random = SeededRandom(seed: seed)
      value = try parsed.evaluate(in: context, random: &random)
    } catch let error as ExprError {
      printError(error.rendered())
      throw ExitCode.failure
    }
    print(value.repr)
  }

  private func printError(_ text: String) {
    printToStandardError("error: " + text)
  }

  /// A number given on the command line (a constant expression such as `1/3` is fine).
  private func number(_ text: String, for name: String) throws -> Double {
    do {
      let e = try Expression(text, groups: .constant)
      var random = SeededRandom(seed: seed)
      return try e.evaluate(in: ExprContext(), random: &random).castToDouble()
    } catch {
      var e = error
      e.message = "--var \(name)=\(text): " + e.message
      throw e
    }
  }

  private func integer(_ text: String, for name: String) throws -> Int {
    let d = try number(text, for: name)
    guard d.isFinite, d == d.rounded(), d.magnitude < 9e15 else {
      throw ExprError("--var \(name)=\(text): expected a whole number")
    }
    return Int(d)
  }

  private func makeContext() throws -> ExprContext {
    var context = ExprContext(
      epoch: 0, epochs: 300, width: 224, height: 224, learnrate: 0.01, learnrateScale: 1,
      similarity: 0)
    var explicitT: Double?
    for assignment in variables {
      guard let eq = assignment.firstIndex(of: "=") else {
        throw ExprError("--var \(assignment): expected name=value")
      }
      let name = assignment[..<eq].trimmingSpaces
      let text = String(assignment[assignment.index(after: eq)...])
      switch name {
      case "epoch": context.epoch = try integer(text, for: name)
      case "epochs": context.epochs = try integer(text, for: name)
      case "t", "time": explicitT = try number(text, for: name)
      case "width": context.width = try number(text, for: name)
      case "height": context.height = try number(text, for: name)
      case "res", "resolution":
        let parts = text.split(whereSeparator: { $0 == "," || $0 == "x" || $0 == " " })
        guard (1...2).contains(parts.count) else {
          throw ExprError("--var \(name)=\(text): expected WIDTH,HEIGHT")
        }
        context.width = try number(String(parts[0]), for: name)
        context.height = try number(String(parts[parts.count - 1]), for: name)
      case "lr", "learnrate": context.learnrate = try number(text, for: name)
      case "lrs", "learnrate_scale": context.learnrateScale = try number(text, for: name)
      case "sim", "similarity": context.similarity = try number(text, for: name)
      case "frame": context.frame = try integer(text, for: name)
      case "frames": context.frames = try integer(text, for: name)
      case "x": context.x = try number(text, for: name)
      case "y": context.y = try number(text, for: name)
      default:
        throw ExprError(
          "--var \(name): unknown variable (use epoch, epochs, t, width, height, res, lr, lrs, "
            + "sim, frame, frames, x or y)")
      }
    }
    context.t = explicitT ?? ExprContext.time(epoch: context.epoch, epochs: context.epochs)
    return context
  }
}

extension Substring {
  fileprivate var trimmingSpaces: String {
    String(drop(while: { $0 == " " }).reversed().drop(while: { $0 == " " }).reversed())
  }
}

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Writes `text` and a newline to standard error.
private func printToStandardError(_ text: String) {
  var line = text + "\n"
  line.withUTF8 { bytes in
    guard let base = bytes.baseAddress else { return }
    var offset = 0
    while offset < bytes.count {
      let n = write(2, base + offset, bytes.count - offset)
      if n <= 0 { return }
      offset += n
    }
  }
}
