import Foundation

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// The Hugging Face cache (where open_clip and `huggingface_hub` download), read in place:
/// `HUB/models--ORG--NAME/snapshots/REV/FILE`, with `refs/main` naming the commit of `main`.
/// Nothing is written there and no request is made.
///
/// A weights file is used after its SHA-256 is checked against the table's hash, else against
/// the hash the cache's blob is named by (a Git LFS file's SHA-256, as the hub stated it). The
/// verdict is remembered in clipig's cache by the file's size and time, so the check runs once.
enum HubCache {
  /// The snapshot folder of `s` in the Hugging Face cache, if there is one.
  static func snapshot(of s: ModelSource, cache: ModelCache) -> String? {
    guard let hub = cache.hubCache, let repo = s.repo, var revision = s.revision else {
      return nil
    }
    let folder = hub + "/models--" + repo.replacingOccurrences(of: "/", with: "--")
    if !s.isPinned {
      let ref = folder + "/refs/" + revision
      guard ModelCache.fileSize(ref).map({ $0 < 256 }) == true,
        let data = FileManager.default.contents(atPath: ref)
      else { return nil }
      revision = String(decoding: data, as: UTF8.self).trimmingCharacters(
        in: .whitespacesAndNewlines)
      guard !revision.isEmpty, !revision.contains("/"), revision != ".." else { return nil }
    }
    let snapshot = folder + "/snapshots/" + revision
    return ModelCache.isDirectory(snapshot) ? snapshot : nil
  }

  /// The files of `s` found in the Hugging Face cache and verified, nil if they are not there
  /// (or a file is damaged, which is said once).
  static func files(
    of s: ModelSource, model: KnownModel, cache: ModelCache, options: DownloadOptions
  ) throws(ModelStoreError) -> ModelFiles? {
    guard let snapshot = snapshot(of: s, cache: cache), let weights = s.weights else {
      return nil
    }
    let path = snapshot + "/" + weights.name
    guard ModelCache.fileSize(path) != nil else { return nil }
    let others = s.files.filter { $0.role != .weights }
    guard others.allSatisfy({ ModelCache.fileSize(snapshot + "/" + $0.name) != nil }) else {
      return nil
    }
    // The verdict, remembered next to where clipig would cache the file.
    let mark = cache.path(weights, in: s)
    if AdoptionRecord.read(recordAt: mark + ".hfcache-rejected") == path { return nil }
    if AdoptionRecord.read(recordAt: mark + ".hfcache") != path {
      let blob = blobHash(path)
      guard let expected = weights.sha256 ?? blob else { return nil }
      if let size = weights.size, ModelCache.fileSize(path) != size {
        try reject(path, mark: mark, reason: "it has the wrong size", options: options)
        return nil
      }
      let actual = try ModelCache.hashFile(path)
      guard actual == expected else {
        try reject(
          path, mark: mark, reason: "its SHA-256 is \(actual), not \(expected)", options: options)
        return nil
      }
      try ModelCache.makeDirectory(cache.folder(s))
      try AdoptionRecord.write(path, recordAt: mark + ".hfcache")
    }
    func file(_ role: RemoteFile.Role) -> String? {
      s.files.first { $0.role == role }.map { snapshot + "/" + $0.name }
    }
    return ModelFiles(
      format: ModelStore.format(of: s), weights: path,
      config: file(s.kind == .hub ? .openCLIPConfig : .config), merges: file(.merges),
      vocabulary: file(.vocabulary), model: model.name, sha256: weights.sha256 ?? blobHash(path))
  }

  private static func reject(
    _ path: String, mark: String, reason: String, options: DownloadOptions
  ) throws(ModelStoreError) {
    let folder = mark.split(separator: "/", omittingEmptySubsequences: false).dropLast()
      .joined(separator: "/")
    try ModelCache.makeDirectory(folder)
    try AdoptionRecord.write(path, recordAt: mark + ".hfcache-rejected")
    options.notice?("note: \(path) in the Hugging Face cache is not used: \(reason)")
  }

  /// The SHA-256 a cache blob is named by: snapshots hold links to `../../blobs/<hash>`.
  static func blobHash(_ path: String) -> String? {
    guard let target = try? FileManager.default.destinationOfSymbolicLink(atPath: path) else {
      return nil
    }
    let name = target.split(separator: "/").last.map(String.init) ?? ""
    return ModelCache.isHexDigest(name) ? name : nil
  }
}
