/// One downloadable file: where it lives and how to check it.
public struct RemoteFile: Sendable, Equatable {
  /// What the file is for.
  public enum Role: String, Sendable {
    /// The weights (`.pt` or `model.safetensors`).
    case weights
    /// Hugging Face `config.json`.
    case config
    /// BPE merges (`merges.txt` or OpenAI's `bpe_simple_vocab_16e6.txt.gz`).
    case merges
    /// Hugging Face `vocab.json`.
    case vocabulary
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
    /// OpenAI's original TorchScript checkpoint (what CLIPig used); the BPE merges are bundled.
    case openAI = "openai"
    /// The `openai/clip-vit-*` repositories on Hugging Face (safetensors, config, tokenizer).
    case huggingFace = "huggingface"
  }

  /// Who publishes the files.
  public var kind: Kind
  /// Folder inside the cache, e.g. `openai` or `huggingface/openai--clip-vit-base-patch32`.
  public var folder: String
  /// The files, weights first.
  public var files: [RemoteFile]

  /// A source of `kind` cached in `folder` (relative to the cache).
  public init(kind: Kind, folder: String, files: [RemoteFile]) {
    self.kind = kind
    self.folder = folder
    self.files = files
  }

  /// The weights file.
  public var weights: RemoteFile? { files.first { $0.role == .weights } }
}

/// A CLIP model clipig knows by name.
public struct KnownModel: Sendable, Equatable {
  /// Canonical name, as OpenAI's `clip.load` spells it (`ViT-B/32`).
  public var name: String
  /// Other accepted spellings (compared case-insensitively).
  public var aliases: [String]
  /// Where to get it; the first source is the default.
  public var sources: [ModelSource]

  /// A model called `name` (or any of `aliases`) available from `sources`.
  public init(name: String, aliases: [String], sources: [ModelSource]) {
    self.name = name
    self.aliases = aliases
    self.sources = sources
  }

  /// The source of `kind`, if the model has one.
  public func source(_ kind: ModelSource.Kind) -> ModelSource? {
    sources.first { $0.kind == kind }
  }
}

/// The official CLIP models and where their files live.
///
/// OpenAI's checksums are part of their download URLs (OpenAI's `clip.py` checks the SHA-256 in
/// the path); clipig verifies them before using a file. Hugging Face's files have no published
/// checksum in the table unless one was found documented; those are checked against the
/// `X-Linked-Etag` SHA-256 Hugging Face sends for large files when present, and the hash of the
/// first download is recorded next to the file and checked by `clipig model verify`.
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
  private static func openAI(_ file: String, _ sha256: String, _ size: Int64) -> ModelSource {
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
      ])
  }

  /// Every known model. Sizes of OpenAI's files are the byte counts published alongside these
  /// URLs (they are shown before a download; the SHA-256 is what is checked).
  public static let all: [KnownModel] = [
    KnownModel(
      name: "ViT-B/32", aliases: ["ViT-B-32", "ViTB32", "clip-vit-base-patch32"],
      sources: [
        openAI(
          "ViT-B-32.pt", "40d365715913c9da98579312b702a82c18be219cc2a73407c4526f58eba950af",
          353_976_522),
        huggingFace("clip-vit-base-patch32"),
      ]),
    KnownModel(
      name: "ViT-B/16", aliases: ["ViT-B-16", "ViTB16", "clip-vit-base-patch16"],
      sources: [
        openAI(
          "ViT-B-16.pt", "5806e77cd80f8b59890b7e101eabd078d9fb84e6937f9e85e4ecb61988df416f",
          350_837_078),
        huggingFace("clip-vit-base-patch16"),
      ]),
    KnownModel(
      name: "ViT-L/14", aliases: ["ViT-L-14", "ViTL14", "clip-vit-large-patch14"],
      sources: [
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
      aliases: ["ViT-L-14-336px", "ViTL14_336px", "clip-vit-large-patch14-336"],
      sources: [
        openAI(
          "ViT-L-14-336px.pt", "3035c92b350959924f9f00213499208652fc7ea050643e8b385c2dac08641f02",
          934_088_680),
        huggingFace("clip-vit-large-patch14-336"),
      ]),
  ]

  /// OpenAI's ResNet CLIPs: known, but clipig implements only the vision transformer.
  static let unsupported = ["RN50", "RN101", "RN50x4", "RN50x16", "RN50x64"]

  /// The known model called `name` (canonical name or alias, any case; `openai/` prefix allowed).
  public static func named(_ name: String) -> KnownModel? {
    var key = name.lowercased()
    if key.hasPrefix("openai/") { key.removeFirst(7) }
    return all.first { model in
      model.name.lowercased() == key || model.aliases.contains { $0.lowercased() == key }
    }
  }

  /// Throws a clear error for OpenAI's ResNet names; does nothing for other names.
  static func rejectUnsupported(_ name: String) throws(ModelStoreError) {
    if unsupported.contains(where: { $0.lowercased() == name.lowercased() }) {
      throw .unsupportedModel(
        name,
        reason: "it is a ResNet CLIP and clipig implements only the vision-transformer models "
          + "(\(all.map(\.name).joined(separator: ", ")))")
    }
  }
}
