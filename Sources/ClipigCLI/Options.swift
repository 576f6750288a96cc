import ArgumentParser
import CLIP
import Foundation
import Runner
import Workflows

/// `--model`, shared by every command that loads CLIP.
struct ModelOption: ParsableArguments {
  @Option(
    name: [.customShort("m"), .long],
    help: ArgumentHelp(
      "CLIP model: a known name (ViT-B/32, RN50, ViT-B-32/laion2b_s34b_b79k …; see 'clipig model list'), an hf-hub: id, a model directory, or a .safetensors, .pt or .bin file.",
      valueName: "name|path"))
  var model: String?
}

/// `--precision`, shared by every command that runs CLIP.
struct PrecisionOption: ParsableArguments {
  @Option(
    help: ArgumentHelp(
      "CLIP's matrix products: fp32 (the default), bf16 (where the CPU has native bf16 dot products; fp32 with a note elsewhere) or auto (bf16 where it is faster). Replaces the YAML's precision.",
      valueName: "fp32|bf16|auto"))
  var precision: CLIPPrecision?
}

/// The experiment files of a command, merged in order.
struct ExperimentFiles: ParsableArguments {
  @Argument(help: "YAML experiment files, merged in order ('-' reads standard input).")
  var files: [String]
}

extension OptimizerKind: ExpressibleByArgument {
  /// CLIPig's optimizer names, `rmsprob` included.
  public init?(argument: String) { self.init(name: argument) }
  /// The accepted names, for help and errors.
  public static var allValueStrings: [String] { names.map(\.name) }
}

/// `-v` / `-q`, shared by every command that renders.
struct VerbosityOptions: ParsableArguments {
  @Flag(name: .shortAndLong, help: "Print statistics.")
  var verbose = false

  @Flag(name: .shortAndLong, help: "Print nothing but errors.")
  var quiet = false

  /// 0 with `-q`, 2 with `-v`, else `normal`.
  func level(normal: Int) -> Int { quiet ? 0 : verbose ? 2 : normal }

  /// 0 with `-q`, 2 with `-v`, else nil (the YAML's `verbose` decides).
  var override: Int? { quiet ? 0 : verbose ? 2 : nil }
}

/// `-r W [H]` or `-r WxH`, shared by every command that renders.
struct ResolutionOption: ParsableArguments {
  @Option(
    name: .shortAndLong, parsing: .upToNextOption,
    help: ArgumentHelp("Resolution: W [H], or WxH (one value: square).", valueName: "W [H]"))
  var resolution: [String] = []

  func validate() throws { _ = try Self.parse(resolution) }

  /// The sides given, or nil.
  var sides: [Int]? {
    let parsed = (try? Self.parse(resolution)) ?? []
    return parsed.isEmpty ? nil : parsed
  }

  /// The sides of `values`: `64`, `64 48`, `64x48` (also `X` or `×`); at most two, each a whole
  /// number.
  static func parse(_ values: [String]) throws -> [Int] {
    let parts = values.flatMap {
      $0.split(omittingEmptySubsequences: false) { "xX×".contains($0) }.map(String.init)
    }
    var sides: [Int] = []
    for part in parts {
      guard let side = Int(part.trimmingCharacters(in: .whitespaces)) else {
        throw ValidationError(
          "-r \(values.joined(separator: " ")): '\(part)' is no whole number; "
            + "write -r W [H] or -r WxH, e.g. -r 64x64")
      }
      sides.append(side)
    }
    guard sides.count <= 2 else {
      throw ValidationError(
        "-r \(values.joined(separator: " ")): a resolution has at most two sides (W and H)")
    }
    return sides
  }
}

/// `--shard I/N` and `--shard-count N` of the commands a job array shards (batch, rank).
struct ShardOptions: ParsableArguments {
  @Option(
    help: """
      Render only slice I of N (1 ≤ I ≤ N, e.g. 2/10): items I-1, I-1+N, … (from 0). \
      Default: from a Slurm job array (SLURM_ARRAY_TASK_ID) or a Kubernetes Indexed Job \
      (JOB_COMPLETION_INDEX with --shard-count).
      """)
  var shard: String?

  @Option(
    help: """
      Number of shards of a Kubernetes Indexed Job (its completions; the index comes from \
      JOB_COMPLETION_INDEX), or overriding a Slurm array's task count.
      """)
  var shardCount: Int?

  /// Whether a shard was asked for on the command line.
  var given: Bool { shard != nil || shardCount != nil }

  /// The shard of this process (flag, else the scheduler's environment), said on stderr
  /// unless `quiet`.
  func resolve(quiet: Bool) throws -> Shard? {
    let taken = try SchedulerShard.resolve(
      flag: shard, count: shardCount, environment: ProcessInfo.processInfo.environment)
    if let taken, !quiet {
      CLIRunner.standardError("shard \(taken.shard) from \(taken.reason)\n")
    }
    return taken?.shard
  }
}

/// `--plugin PATH`, on every command that reads experiments. The plugins are loaded before the
/// command is parsed (`ClipigMain`); this option only documents and accepts the flag.
struct PluginOptions: ParsableArguments {
  @Option(
    name: .customLong("plugin"),
    help: ArgumentHelp(
      "A plugin package folder (clipig plugin new) or its built clipig-NAME executable; its stages join this run. Loading a plugin runs its code.",
      valueName: "path"))
  var paths: [String] = []
}

extension CLIPPrecision: ExpressibleByArgument {}
