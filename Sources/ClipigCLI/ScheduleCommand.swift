import ArgumentParser
import Runner

/// `clipig schedule CONFIG.yaml`: prints every expression-valued parameter per epoch.
struct ScheduleCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "schedule",
    abstract:
      "Print the value of every expression-valued parameter at each epoch (resolution, lr, noise …).",
    discussion: """
      One row per epoch shown: its number (from 1, as every message counts epochs; the \
      expressions' variable 'epoch' is one less), t, the resolution, the learning rate and every \
      parameter the YAML writes as an expression of run-time variables. Without --epoch it \
      samples the first and the last epoch, every tenth of the run and every epoch where the \
      resolution changes. Random functions are drawn from one fixed stream (seed 0), so they \
      show one possible draw, not the render's; 'sim' is 0 (it needs training).
      """
  )

  @Argument(help: "YAML experiment files, merged in order.")
  var files: [String]

  @Option(
    parsing: .upToNextOption,
    help: "Epochs to show, from 1 (default: a sample of the run, as described above).")
  var epoch: [Int] = []

  @Option(name: .shortAndLong, help: "Override the number of epochs.")
  var epochs: Int?

  @OptionGroup var plugins: PluginOptions

  func validate() throws {
    if let bad = epoch.first(where: { $0 < 1 }) {
      throw ValidationError("--epoch \(bad): epochs count from 1")
    }
    if let epochs, epochs < 1 {
      throw ValidationError("--epochs must be at least 1, got \(epochs)")
    }
  }

  func run() throws {
    try reportingConfigErrors {
      var overrides = RunOverrides()
      overrides.epochs = epochs
      let experiment = try RunPlan(
        files: files, overrides: overrides, registries: PluginContext.registries
      ).experiment
      if let bad = epoch.first(where: { $0 > experiment.epochs }) {
        throw ValidationError(
          "--epoch \(bad) is past the last epoch (\(experiment.epochs)) of this experiment")
      }
      var shown = epoch.map { $0 - 1 }
      if shown.isEmpty {
        // The first and last epoch, every tenth of the run, and every resolution change.
        let n = experiment.epochs
        var set = Set([0, n - 1])
        for k in stride(from: 0, to: n, by: max(1, n / 10)) { set.insert(k) }
        var previous: String?
        for e in 0..<n {
          let row = Schedule.table(experiment, epochs: [e]).split(separator: "\n").last.map {
            $0.split(separator: " ", omittingEmptySubsequences: true).dropFirst(2).prefix(2).joined(
              separator: " ")
          }
          if row != previous { set.insert(e) }
          previous = row
        }
        shown = set.sorted()
      }
      print(Schedule.table(experiment, epochs: shown), terminator: "")
    }
  }
}
