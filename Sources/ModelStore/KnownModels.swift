/// One downloadable file: where it lives and how to check it.
public struct RemoteFile: Sendable, Equatable {
  /// What the file is for.
  public enum Role: String, Sendable {
    /// The weights (`.pt`, `model.safetensors`, `open_clip_model.safetensors`, …).
    case weights
    /// Hugging Face `config.json`.
    case config
    /// BPE merges (`merges.txt` or OpenAI's `bpe_simple_vocab_16e6.txt.gz`).
    case merges
    /// Hugging Face `vocab.json`.
    case vocabulary
    /// open_clip's `open_clip_config.json`.
    case openCLIPConfig
  }

  /// File name in the cache folder.
  public var name: String
  /// Official download URL.
  public var url: String
  /// Documented SHA-256 (lowercase hex); nil where no official checksum is known, in which case
  /// the hash of the first download is recorded and checked from then on.
  public var sha256: String?
  /// Documented size in bytes, shown before downloading; the checksum is what is verified.
  public var size: Int64?
  /// What the file is for.
  public var role: Role

  /// A file at `url`, cached as `name`.
  public init(name: String, url: String, sha256: String?, size: Int64?, role: Role) {
    self.name = name
    self.url = url
    self.sha256 = sha256
    self.size = size
    self.role = role
  }
}

/// A place a model can be downloaded from, with the files it needs.
public struct ModelSource: Sendable, Equatable {
  /// Who publishes the files.
  public enum Kind: String, Sendable, CaseIterable {
    /// open_clip's repository on the Hugging Face hub (`open_clip_model.safetensors` or
    /// `open_clip_pytorch_model.bin`, with `open_clip_config.json`), as open_clip downloads it.
    case hub
    /// OpenAI's original TorchScript checkpoint (what CLIPig used); the BPE merges are bundled.
    case openAI = "openai"
    /// The `openai/clip-vit-*` repositories on Hugging Face (safetensors, config, tokenizer).
    case huggingFace = "huggingface"
  }

  /// Who publishes the files.
  public var kind: Kind
  /// Folder inside the cache, e.g. `openai` or `hub/timm--vit_base_patch32_clip_224.openai/main`.
  public var folder: String
  /// The files, weights first.
  public var files: [RemoteFile]
  /// The hub repository (`ORG/NAME`) for hub-hosted sources.
  public var repo: String?
  /// The hub revision: a commit id (immutable) or `main`.
  public var revision: String?

  /// A source of `kind` cached in `folder` (relative to the cache).
  public init(
    kind: Kind, folder: String, files: [RemoteFile], repo: String? = nil, revision: String? = nil
  ) {
    self.kind = kind
    self.folder = folder
    self.files = files
    self.repo = repo
    self.revision = revision
  }

  /// The weights file.
  public var weights: RemoteFile? { files.first { $0.role == .weights } }

  /// Whether the revision is a commit id (the files cannot change).
  public var isPinned: Bool {
    guard let revision else { return kind == .openAI }
    return revision.count == 40
      && revision.utf8.allSatisfy { ($0 >= 0x30 && $0 <= 0x39) || ($0 >= 0x61 && $0 <= 0x66) }
  }

  /// The URL of `file` with the hub at `endpoint` (`HF_ENDPOINT`) for hub-hosted sources:
  /// `ENDPOINT/ORG/NAME/resolve/REV/FILE`.
  public func url(of file: RemoteFile, endpoint: String) -> String {
    guard let repo, let revision else { return file.url }
    let base = endpoint.hasSuffix("/") ? String(endpoint.dropLast()) : endpoint
    return "\(base)/\(repo)/resolve/\(revision)/\(file.name)"
  }

  /// A short description for messages and `model list`: `hub timm/…@a6f597a`, with `(.bin)`
  /// for the pickled weights.
  public var label: String {
    guard let repo, let revision else { return kind.rawValue }
    let pickled = weights?.name.hasSuffix(".bin") == true ? " (.bin)" : ""
    return "\(kind.rawValue) \(repo)@\(isPinned ? String(revision.prefix(7)) : revision)\(pickled)"
  }

  /// An open_clip hub repository at `revision` with its weights file `weights` (hash and size
  /// where known) and `open_clip_config.json`.
  public static func hub(
    _ repo: String, revision: String = "main", weights: String = "open_clip_model.safetensors",
    sha256: String? = nil, size: Int64? = nil
  ) -> ModelSource {
    let base = "https://huggingface.co/\(repo)/resolve/\(revision)/"
    return ModelSource(
      kind: .hub, folder: "hub/\(repo.replacingOccurrences(of: "/", with: "--"))/\(revision)",
      files: [
        RemoteFile(name: weights, url: base + weights, sha256: sha256, size: size, role: .weights),
        RemoteFile(
          name: "open_clip_config.json", url: base + "open_clip_config.json", sha256: nil,
          size: nil, role: .openCLIPConfig),
      ], repo: repo, revision: revision)
  }
}

/// A CLIP model clipig knows by name.
public struct KnownModel: Sendable, Equatable {
  /// Canonical name: as OpenAI's `clip.load` spells it (`ViT-B/32`) for OpenAI's models, as
  /// open_clip names them (`ViT-B-32/laion2b_s34b_b79k`) for the others.
  public var name: String
  /// Other accepted spellings (compared case-insensitively).
  public var aliases: [String]
  /// Where to get it; the first source is the default.
  public var sources: [ModelSource]
  /// The weights' licence as the model card states it (`MIT` …); nil where the table has none.
  public var licence: String?
  /// The weights' size as the hub's pages show it, rounded (bytes), for models whose exact
  /// size is not in the table: shown by `model list`, never checked against a download.
  public var approximateBytes: Int64?

  /// A model called `name` (or any of `aliases`) available from `sources`.
  public init(
    name: String, aliases: [String], sources: [ModelSource], licence: String? = nil,
    approximateBytes: Int64? = nil
  ) {
    self.name = name
    self.aliases = aliases
    self.sources = sources
    self.licence = licence
    self.approximateBytes = approximateBytes
  }

  /// The source of `kind`, if the model has one.
  public func source(_ kind: ModelSource.Kind) -> ModelSource? {
    sources.first { $0.kind == kind }
  }
}

/// The CLIP models clipig knows by name and where their files live, sources in the order they
/// are tried.
///
/// The first source of each is open_clip's repository on the Hugging Face hub: pinned to a
/// commit where the file's SHA-256 is known, then its `main` branch (checked against the
/// SHA-256 the hub states for the file when the table has none). OpenAI's own URLs (whose path
/// embeds the file's SHA-256, which `clip.py` checks) come next; they answer 404 since late
/// 2025 but are kept for mirrors and for `~/.cache/clip` reuse. Repository ids are those of
/// open_clip's `pretrained.py`.
public enum KnownModels {
  /// The model used when an experiment names none.
  public static let defaultName = "ViT-B/32"

  /// OpenAI's BPE merges. The CLIP module ships them as a resource, so they are not downloaded;
  /// an existing copy in the cache is still used. SHA-256 and size as published by projects that
  /// pin this URL; the same bytes ship inside open_clip's package.
  static let openAIMerges = RemoteFile(
    name: "bpe_simple_vocab_16e6.txt.gz",
    url: "https://github.com/openai/CLIP/raw/main/clip/bpe_simple_vocab_16e6.txt.gz",
    sha256: "924691ac288e54409236115652ad4aa250f48203de50a9e4722a6ecd48d6804a",
    size: 1_356_917, role: .merges)

  /// OpenAI's original checkpoint `file` whose URL embeds `sha256`.
  private static func openAI(_ file: String, _ sha256: String, _ size: Int64?) -> ModelSource {
    ModelSource(
      kind: .openAI, folder: "openai",
      files: [
        RemoteFile(
          name: file,
          url: "https://openaipublic.azureedge.net/clip/models/\(sha256)/\(file)",
          sha256: sha256, size: size, role: .weights)
      ])
  }

  /// The Hugging Face repository `openai/<repo>` (main branch).
  private static func huggingFace(_ repo: String, weightsSHA256: String? = nil) -> ModelSource {
    let base = "https://huggingface.co/openai/\(repo)/resolve/main/"
    func file(_ name: String, _ role: RemoteFile.Role, _ sha: String? = nil) -> RemoteFile {
      RemoteFile(name: name, url: base + name, sha256: sha, size: nil, role: role)
    }
    return ModelSource(
      kind: .huggingFace, folder: "huggingface/openai--\(repo)",
      files: [
        file("model.safetensors", .weights, weightsSHA256), file("config.json", .config),
        file("merges.txt", .merges), file("vocab.json", .vocabulary),
      ], repo: "openai/\(repo)", revision: "main")
  }

  /// open_clip's hub repository `repo`: pinned where a commit and hash are known, then `main`
  /// with the safetensors file, then `main` with the pickled `.bin` open_clip falls back to.
  static func hubSources(
    _ repo: String, pin: String? = nil, sha256: String? = nil, size: Int64? = nil
  ) -> [ModelSource] {
    var sources = [ModelSource]()
    if let pin { sources.append(.hub(repo, revision: pin, sha256: sha256, size: size)) }
    sources.append(.hub(repo, sha256: sha256, size: size))
    sources.append(.hub(repo, weights: "open_clip_pytorch_model.bin"))
    return sources
  }

  /// A model trained by others than OpenAI, by its open_clip name `ARCH/TAG`, from the hub.
  private static func zoo(
    _ name: String, _ repo: String, pin: String? = nil, sha256: String? = nil, size: Int64? = nil
  ) -> KnownModel {
    KnownModel(
      name: name, aliases: [name.replacingOccurrences(of: "/", with: ":"), "hf-hub:" + repo],
      sources: hubSources(repo, pin: pin, sha256: sha256, size: size))
  }

  /// Every known model: OpenAI's, the open_clip zoo's, then the robust CLIPs (`RobustModels`).
  public static let all: [KnownModel] = openAIAndZoo + RobustModels.all

  /// OpenAI's models and the open_clip zoo. Sizes of OpenAI's files are the byte counts
  /// published alongside these URLs; hashes and pins of hub files are the published ones, nil
  /// where none is known (then the hub's stated SHA-256 is checked).
  private static let openAIAndZoo: [KnownModel] = [
    KnownModel(
      name: "ViT-B/32",
      aliases: ["ViT-B-32", "ViTB32", "clip-vit-base-patch32", "ViT-B-32/openai"],
      sources: hubSources(
        "timm/vit_base_patch32_clip_224.openai", pin: "a6f597a30f7b82c51704746581f9a4e41421e878",
        sha256: "e6d1bd7789aa45192b3bf90570a789b478bae1b74ebcce7eddd908e83a2b7c31",
        size: 605_143_284) + [
          openAI(
            "ViT-B-32.pt", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
            353_976_522),
          huggingFace("clip-vit-base-patch32"),
        ]),
    KnownModel(
      name: "ViT-B/16",
      aliases: ["ViT-B-16", "ViTB16", "clip-vit-base-patch16", "ViT-B-16/openai"],
      sources: hubSources(
        "timm/vit_base_patch16_clip_224.openai",
        sha256: "4b8699299b1e8997753c64b052ba32031449d5d853f55a039148560ee02b820f") + [
          openAI(
            "ViT-B-16.pt", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
            350_837_078),
          huggingFace("clip-vit-base-patch16"),
        ]),
    KnownModel(
      name: "ViT-L/14",
      aliases: ["ViT-L-14", "ViTL14", "clip-vit-large-patch14", "ViT-L-14/openai"],
      sources: hubSources("timm/vit_large_patch14_clip_224.openai") + [
        openAI(
          "ViT-L-14.pt", "b8cca3fd41ae0c99ba7e8951adf17d267cdb84cd88be6f7c2e0eca1737a03836",
          932_768_134),
        // The Git LFS SHA-256 of model.safetensors as Hugging Face's file pages show it for
        // byte-identical copies of this repository.
        huggingFace(
          "clip-vit-large-patch14",
          weightsSHA256: "a2bf730a0c7debf160f7a6b50b3aaf3703e7e88ac73de7a314903141db026dcb"),
      ]),
    KnownModel(
      name: "ViT-L/14@336px",
      aliases: [
        "ViT-L-14-336px", "ViTL14_336px", "clip-vit-large-patch14-336", "ViT-L-14-336/openai",
      ],
      sources: hubSources("timm/vit_large_patch14_clip_336.openai") + [
        openAI(
          "ViT-L-14-336px.pt", "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
          934_088_680),
        huggingFace("clip-vit-large-patch14-336"),
      ]),
    // OpenAI's ResNet CLIPs (modified ResNets with an attention pool), as open_clip names them.
    KnownModel(
      name: "RN50", aliases: ["RN50/openai"],
      sources: hubSources(
        "timm/resnet50_clip.openai",
        sha256: "da0baa37fb2211eee5729ab69ed587eb10d48f5b7076ceeed01552fc3d4cb4ee",
        size: 408_291_932) + [
          openAI("RN50.pt", "afeb0e10f9e5a86da6080e35cf09123aca3b358a0c3e3b6c78a7b63bc04b6762", nil)
        ]),
    KnownModel(
      name: "RN101", aliases: ["RN101/openai"],
      sources: hubSources("timm/resnet101_clip.openai") + [
        openAI("RN101.pt", "8fa8567bab74a42d41c5915025a8e4538c3bdbe8804a470a72f30b0d94fab599", nil)
      ]),
    KnownModel(
      name: "RN50x4", aliases: ["RN50x4/openai"],
      sources: hubSources("timm/resnet50x4_clip.openai") + [
        openAI("RN50x4.pt", "7e526bd135e493cef0776de27d5f42653e6b4c8bf9e0f653bb11773263205fdd", nil)
      ]),
    KnownModel(
      name: "RN50x16", aliases: ["RN50x16/openai"],
      sources: hubSources("timm/resnet50x16_clip.openai") + [
        openAI(
          "RN50x16.pt", "52378b407f34354e150460fe41077663dd5b39c54cd0bfd2b27167a4a06ec9aa", nil)
      ]),
    KnownModel(
      name: "RN50x64", aliases: ["RN50x64/openai"],
      sources: hubSources("timm/resnet50x64_clip.openai") + [
        openAI(
          "RN50x64.pt", "be1cfb55d75a9666199fb2206c106743da0f6468c9d327f3e0d0a543a9919d9c", nil)
      ]),
    // The open_clip zoo: LAION-2B and DataComp-XL.
    zoo(
      "ViT-B-32/laion2b_s34b_b79k", "laion/CLIP-ViT-B-32-laion2B-s34B-b79K",
      pin: "1a25a446712ba5ee05982a381eed697ef9b435cf",
      sha256: "ac4f8c4b88af6d963118cbf40ad93176d092abbedfcb752601ae1866352656e6",
      size: 605_143_316),
    zoo("ViT-B-16/laion2b_s34b_b88k", "laion/CLIP-ViT-B-16-laion2B-s34B-b88K"),
    zoo("ViT-L-14/laion2b_s32b_b82k", "laion/CLIP-ViT-L-14-laion2B-s32B-b82K"),
    zoo("ViT-H-14/laion2b_s32b_b79k", "laion/CLIP-ViT-H-14-laion2B-s32B-b79K"),
    zoo("ViT-B-32/datacomp_xl_s13b_b90k", "laion/CLIP-ViT-B-32-DataComp.XL-s13B-b90K"),
    zoo("ViT-B-16/datacomp_xl_s13b_b90k", "laion/CLIP-ViT-B-16-DataComp.XL-s13B-b90K"),
    zoo("ViT-L-14/datacomp_xl_s13b_b90k", "laion/CLIP-ViT-L-14-DataComp.XL-s13B-b90K"),
  ]

  /// The known model called `name` (canonical name or alias, any case; an `openai/` prefix, a
  /// `hf-hub:` id of a known repository, and open_clip's `ARCH:TAG` spelling are allowed).
  public static func named(_ name: String) -> KnownModel? {
    var key = name.lowercased()
    if key.hasPrefix("openai/") { key.removeFirst(7) }
    if let model = all.first(where: { model in
      model.name.lowercased() == key || model.aliases.contains { $0.lowercased() == key }
    }) {
      return model
    }
    guard key.hasPrefix("hf-hub:") else { return nil }
    let repo = String(key.dropFirst(7))
    return all.first { $0.sources.contains { $0.repo?.lowercased() == repo } }
  }

  /// A model for `hf-hub:ORG/NAME` (optionally `@REV`) not in the table: open_clip's layout
  /// from that repository, hashes as the hub states them.
  public static func hubModel(_ id: String) -> KnownModel? {
    guard id.lowercased().hasPrefix("hf-hub:") else { return nil }
    var repo = String(id.dropFirst(7))
    var revision = "main"
    if let at = repo.firstIndex(of: "@") {
      revision = String(repo[repo.index(after: at)...])
      repo = String(repo[..<at])
    }
    let parts = repo.split(separator: "/", omittingEmptySubsequences: false)
    let allowed = { (c: Character) in c.isLetter || c.isNumber || "-_.".contains(c) }
    guard parts.count == 2, parts.allSatisfy({ !$0.isEmpty && $0.allSatisfy(allowed) }),
      !parts.contains(where: { $0 == "." || $0 == ".." }), !revision.isEmpty,
      revision.allSatisfy(allowed), revision != ".", revision != ".."
    else { return nil }
    var sources = [ModelSource.hub(repo, revision: revision)]
    sources.append(.hub(repo, revision: revision, weights: "open_clip_pytorch_model.bin"))
    return KnownModel(name: "hf-hub:" + repo, aliases: [], sources: sources)
  }
}
