import ArgumentParser
import CLIP
import Foundation
import ModelStore

/// `clipig model list | download NAME | path NAME | verify NAME`: the CLIP models clipig knows,
/// where they are cached and whether the cached files are intact.
struct ModelCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "model",
    abstract: "List, download, locate and verify CLIP models.",
    discussion: """
      Models are cached in $CLIPIG_CACHE, else $XDG_CACHE_HOME/clipig, else ~/.cache/clipig. \
      An existing ~/.cache/clip/ViT-B-32.pt (CLIPig's cache) is verified and reused.
      """,
    subcommands: [ModelList.self, ModelDownload.self, ModelPath.self, ModelVerify.self])
}

/// The `--source` option shared by the model subcommands.
struct ModelSourceOption: ParsableArguments {
  @Option(help: "Where to download from: openai (original .pt, default) or huggingface.")
  var source: String?

  /// The chosen source kind, nil for the model's default.
  func kind() throws -> ModelSource.Kind? {
    guard let source else { return nil }
    guard let kind = ModelSource.Kind(rawValue: source.lowercased()) else {
      throw ValidationError("--source must be openai or huggingface, not '\(source)'")
    }
    return kind
  }
}

/// The known model `name`, or a clear error.
private func knownModel(_ name: String) throws -> KnownModel {
  guard let model = KnownModels.named(name) else {
    throw ModelStoreError.unknownModel(name, known: KnownModels.all.map(\.name))
  }
  return model
}

/// `clipig model list`.
struct ModelList: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "list", abstract: "List the known models, their sizes and what is cached.")

  func run() throws {
    let cache = ModelCache.standard()
    var rows = [["MODEL", "SOURCE", "SIZE", "SHA-256", "CACHED"]]
    for model in KnownModels.all {
      for (i, source) in model.sources.enumerated() {
        let name = i == 0 ? model.name + (model.name == KnownModels.defaultName ? " *" : "") : ""
        let size = source.files.compactMap(\.size).reduce(0, +)
        let sizeText = source.files.allSatisfy { $0.size != nil } ? ProgressBar.bytes(size) : "?"
        let documented = source.files.allSatisfy { $0.sha256 != nil }
        let weightsPath = source.weights.map { cache.path($0, in: source) }
        let cached = weightsPath.flatMap { FileManager.default.fileExists(atPath: $0) ? $0 : nil }
        rows.append([
          name, source.kind.rawValue, sizeText, documented ? "official" : "first download",
          cached ?? "-",
        ])
      }
    }
    let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    for row in rows {
      let cells = row.enumerated().map { c, text in
        c == row.count - 1 ? text : text.padding(toLength: widths[c], withPad: " ", startingAt: 0)
      }
      print(cells.joined(separator: "  "))
    }
    print("* default model. Cache: \(cache.directory)")
  }
}

/// `clipig model download NAME`.
struct ModelDownload: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "download", abstract: "Download a model's files into the cache and verify them.")

  @Argument(help: "Model name, e.g. ViT-B/32.")
  var name: String = KnownModels.defaultName

  @OptionGroup var source: ModelSourceOption

  @Option(help: "Seconds without data after which the download stops (it resumes next time).")
  var timeout: Double = 60

  @Flag(name: .shortAndLong, help: "Print nothing but errors.")
  var quiet = false

  func run() throws {
    let watch = exitingOnSignals()
    defer { withExtendedLifetime(watch) {} }
    try reportingConfigErrors {
      let model = try knownModel(name)
      let progress = quiet ? nil : ProgressBar().handler
      let files = try ModelStore.download(
        model, source: try source.kind(), cache: .standard(),
        options: DownloadOptions(idleTimeout: timeout, progress: progress))
      if !quiet { print(files.weights) }
    }
  }
}

/// `clipig model path NAME`.
struct ModelPath: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "path",
    abstract: "Print where a model's weights are (never downloads).",
    discussion: "Exits with status 1 if the model is not downloaded. NAME may also be a path.")

  @Argument(help: "Model name or path.")
  var name: String = KnownModels.defaultName

  @Flag(help: "Also print the format and the tokenizer and config files.")
  var all = false

  func run() throws {
    try reportingConfigErrors {
      let files = try ModelStore.locate(name, download: false)
      guard all else {
        print(files.weights)
        return
      }
      print("format: \(files.format.rawValue)")
      print("weights: \(files.weights)")
      for (label, path) in [
        ("config", files.config), ("merges", files.merges), ("vocabulary", files.vocabulary),
      ] {
        if let path { print("\(label): \(path)") }
      }
      if let sha = files.sha256 { print("sha256: \(sha)") }
    }
  }
}

/// `clipig model verify NAME`.
struct ModelVerify: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "verify",
    abstract: "Check the SHA-256 of a model's cached files.",
    discussion: """
      Official checksums are used where they are published (OpenAI's files); otherwise the hash \
      recorded at the first download. Exits with status 1 if a file differs or none is cached.
      """)

  @Argument(help: "Model name, e.g. ViT-B/32.")
  var name: String = KnownModels.defaultName

  func run() throws {
    let watch = exitingOnSignals()
    defer { withExtendedLifetime(watch) {} }
    try reportingConfigErrors {
      let model = try knownModel(name)
      let results = try ModelStore.verify(model)
      guard !results.isEmpty else { throw ModelStoreError.notDownloaded(model.name) }
      for r in results {
        switch (r.isValid, r.expectation) {
        case (true, .none): print("unchecked  \(r.path)  sha256 \(r.actual)")
        case (true, _): print("ok  \(r.path)  (\(r.expectation.rawValue) SHA-256)")
        case (false, _):
          print("DAMAGED  \(r.path)  sha256 \(r.actual), expected \(r.expected ?? "?")")
        }
      }
      if results.contains(where: { !$0.isValid }) {
        throw ModelStoreError.io(
          path: model.name,
          reason: "damaged files; delete them and run `clipig model download \(model.name)`")
      }
    }
  }
}
