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
      Files already in the Hugging Face cache ($HF_HUB_CACHE, else $HF_HOME/hub, else \
      ~/.cache/huggingface/hub, where open_clip downloads) and CLIPig's ~/.cache/clip/*.pt are \
      verified and used in place. Sources are tried in order: open_clip's repository on the \
      Hugging Face hub ($HF_ENDPOINT for a mirror, $HF_TOKEN for access), pinned to a commit \
      where the hash is known, then its main branch, then OpenAI's URLs.
      """,
    subcommands: [ModelList.self, ModelDownload.self, ModelPath.self, ModelVerify.self])
}

/// The `--source` option shared by the model subcommands.
struct ModelSourceOption: ParsableArguments {
  @Option(
    help: """
      Only this source: hub (open_clip's hub repository), openai (original .pt) or huggingface \
      (openai/clip-* repositories). Default: each in the order of `clipig model list`.
      """)
  var source: String?

  /// The chosen source kind, nil for all in order.
  func kind() throws -> ModelSource.Kind? {
    guard let source else { return nil }
    guard let kind = ModelSource.Kind(rawValue: source.lowercased()) else {
      throw ValidationError("--source must be hub, openai or huggingface, not '\(source)'")
    }
    return kind
  }
}

/// The known model `name`, or a clear error.
private func knownModel(_ name: String) throws -> KnownModel {
  guard let model = KnownModels.named(name) ?? KnownModels.hubModel(name) else {
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
    var rows = [["MODEL", "SOURCE", "SIZE", "SHA-256", "LICENCE", "CACHED"]]
    for model in KnownModels.all {
      for (i, source) in model.sources.enumerated() {
        let name = i == 0 ? model.name + (model.name == KnownModels.defaultName ? " *" : "") : ""
        let weights = source.weights
        let sizeText =
          weights?.size.map(ProgressBar.bytes)
          ?? model.approximateBytes.map { "≈" + ProgressBar.bytes($0) } ?? "?"
        let hash = weights?.sha256 != nil ? (source.isPinned ? "pinned" : "table") : "server"
        let licence = i == 0 ? model.licence ?? "-" : ""
        let here = ModelStore.cachedPath(model, source, cache: cache)
        rows.append([name, source.label, sizeText, hash, licence, here ?? "-"])
      }
    }
    let widths = (0..<rows[0].count).map { c in rows.map { $0[c].count }.max() ?? 0 }
    for row in rows {
      let cells = row.enumerated().map { c, text in
        c == row.count - 1 ? text : text.padding(toLength: widths[c], withPad: " ", startingAt: 0)
      }
      print(cells.joined(separator: "  "))
    }
    print("* default model. Sources are tried top to bottom. SHA-256: pinned/table = known hash,")
    print(
      "  server = the hub's stated hash is checked. Also: any hf-hub:ORG/NAME[@REV] in open_clip's layout."
    )
    print(
      "≈ size as the hub's pages show it (not checked). LICENCE as the model card states it"
        + " (- where the table has none). FARE/TeCoA: robust CLIPs (docs/models.md).")
    print(
      "Cache: \(cache.directory); Hugging Face cache: \(cache.hubCache ?? "-"); hub: \(cache.hubEndpoint)"
    )
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

  @Option(help: "Seconds the whole download may take (default: no limit).")
  var deadline: Double?

  @Option(help: "Bytes per second a transfer must average over each minute (0: no minimum).")
  var minSpeed: Double = 1024

  func validate() throws {
    do {
      try DownloadOptions(idleTimeout: timeout, deadline: deadline, minimumSpeed: minSpeed)
        .validate()
    } catch {
      throw ValidationError(
        error.description.replacingOccurrences(of: "the idle timeout", with: "--timeout")
          .replacingOccurrences(of: "the deadline", with: "--deadline")
          .replacingOccurrences(of: "the minimum speed", with: "--min-speed"))
    }
  }

  @Flag(name: .shortAndLong, help: "Print nothing but errors.")
  var quiet = false

  func run() throws {
    // The downloader watches SIGINT, SIGTERM and SIGHUP itself: it stops the transfer, keeps the
    // resumable part and says so.
    try reportingConfigErrors {
      let model = try knownModel(name)
      let progress = quiet ? nil : ProgressBar().handler
      // Ctrl-C, SIGTERM and SIGHUP stop the transfer (the downloader watches them), keeping
      // the part received; the process then exits with an error instead of dying mid-write.
      for sig in [SIGINT, SIGTERM, SIGHUP] { signal(sig, SIG_IGN) }
      let files = try ModelStore.download(
        model, source: try source.kind(), cache: .standard(),
        options: DownloadOptions(
          idleTimeout: timeout, deadline: deadline, minimumSpeed: minSpeed, progress: progress))
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

  @Argument(help: "Model name, e.g. ViT-B/32, or the path of a local model (its hashes).")
  var name: String = KnownModels.defaultName

  func run() throws {
    let watch = exitingOnSignals()
    defer { withExtendedLifetime(watch) {} }
    try reportingConfigErrors {
      if KnownModels.named(name) == nil && KnownModels.hubModel(name) == nil,
        FileManager.default.fileExists(atPath: (name as NSString).expandingTildeInPath)
      {
        // A model folder or file of the user's: nothing recorded to compare with.
        let files = try ModelStore.locate(name, download: false)
        for path in [files.weights, files.config, files.merges, files.vocabulary].compactMap({ $0 })
        {
          let sha = try ModelCache.hashFile(path)
          print(
            "unverified  \(path)  sha256 \(sha) (a local model: clipig has no hash to compare "
              + "it with; verify checks the models it downloads)")
        }
        return
      }
      let model = try knownModel(name)
      let results = try ModelStore.verify(model)
      guard !results.isEmpty else { throw ModelStoreError.notDownloaded(model.name) }
      for r in results {
        switch (r.isValid, r.expectation) {
        case (true, .none), (true, .recorded):
          print("unverified  \(r.path)  sha256 \(r.actual) (no published or server-stated hash)")
        case (true, .recordedWithoutLength):
          print(
            "unverified  \(r.path)  sha256 \(r.actual) (downloaded without a length or a hash: "
              + "a cut-off transfer cannot be told from the whole file; compare the hash with "
              + "the publisher's, or delete the file and download it again)")
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
