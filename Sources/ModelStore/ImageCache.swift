import Formats
import Foundation
import PipelineKit

#if canImport(Glibc)
  import Glibc
#elseif canImport(Musl)
  import Musl
#elseif canImport(Darwin)
  import Darwin
#endif

/// Images from http(s) URLs, downloaded once into `<cache>/images/` (the model cache's folder:
/// `$CLIPIG_CACHE`, else `$XDG_CACHE_HOME/clipig`, else `~/.cache/clipig`), one file per URL
/// named by the SHA-256 of the URL.
///
/// A cached image is revalidated with the server on each use (ETag / Last-Modified; kept on
/// HTTP 304) and used as it is when the server cannot be reached. Downloads go through the
/// project's ``Downloader``: at most ``maxBytes``, abandoned after ``idleTimeout`` seconds
/// without data or ``deadline`` seconds in all, written to a temporary name and renamed into
/// place, so the cache never holds a partial image under its real name.
public struct ImageCache: Sendable {
  /// The folder holding the cached images.
  public var directory: String
  /// Largest image accepted from a server, in bytes.
  public var maxBytes: Int64 = 64 << 20
  /// Seconds without data after which a download is abandoned.
  public var idleTimeout: Double = 30
  /// Seconds a download may take in all.
  public var deadline: Double = 120
  /// Receives one-line notes (a cached copy used offline); standard error by default.
  public var notice: @Sendable (String) -> Void = { line in
    StandardStream.error.write(line + "\n")
  }

  /// A cache in `directory`.
  public init(directory: String) {
    self.directory = directory
  }

  /// The cache the environment selects: `images/` in the model cache's folder.
  public static func standard(
    environment: [String: String] = ProcessInfo.processInfo.environment
  ) -> ImageCache {
    ImageCache(directory: ModelCache.standard(environment: environment).directory + "/images")
  }

  /// Whether `reference` is an http(s) URL rather than a file path.
  public static func isURL(_ reference: String) -> Bool {
    let lower = reference.prefix(8).lowercased()
    return lower.hasPrefix("http://") || lower.hasPrefix("https://")
  }

  /// The cache path of `url`: the SHA-256 of the URL's text (the format is read from content).
  public func path(for url: String) -> String {
    var hasher = SHA256()
    hasher.update(Array(url.utf8))
    return directory + "/" + hasher.hexDigest()
  }

  /// The local path holding the current image at `url`, downloading or revalidating it; a
  /// cached copy is used as it is when the server cannot be reached.
  public func fetch(_ url: String) throws(ImageIOError) -> String {
    let path = path(for: url)
    let cached = FileManager.default.fileExists(atPath: path)
    do {
      try refresh(url: url, path: path)
    } catch {
      // Whatever failed, the real name holds no partial data; drop the resumable rest too.
      unlink(path + ".partial")
      if cached && FileManager.default.fileExists(atPath: path) {
        notice("note: \(url): \(error); using the cached copy")
        return path
      }
      throw ImageIOError(file: url, message: "cannot download image: \(error)")
    }
    return path
  }

  /// Downloads `url` to `path`, or revalidates the copy there (conditional request, kept on 304).
  func refresh(url: String, path: String) throws(ModelStoreError) {
    var options = DownloadOptions(
      idleTimeout: idleTimeout, attempts: 2, lockTimeout: deadline, deadline: deadline,
      maximumBytes: maxBytes)
    options.notice = notice
    _ = try Downloader.revalidate(url: url, to: path, options: options)
  }
}

/// Reads the image a configuration or command line names: a file path (relative paths
/// resolved against a base directory) or an http(s) URL (through ``ImageCache``). Errors name
/// the file or URL and, when given, the key that named it.
public enum ImageInput {
  /// The image at `reference` as RGB `[3,H,W]` in [0, 1].
  ///
  /// - Parameters:
  ///   - reference: a path or an http(s) URL.
  ///   - baseDirectory: the folder relative paths are resolved against.
  ///   - key: the configuration key or option that named the image, for error messages.
  ///   - cache: where URLs are cached.
  public static func load(
    _ reference: String, baseDirectory: String = ".", key: String? = nil,
    cache: ImageCache = .standard()
  ) throws(ImageIOError) -> Tensor {
    do throws(ImageIOError) {
      if ImageCache.isURL(reference) {
        let path = try cache.fetch(reference)
        do {
          return try ImageFile.read(path: path)
        } catch {
          throw ImageIOError(file: reference, message: error.message)
        }
      }
      let path =
        reference.hasPrefix("/") || baseDirectory.isEmpty || baseDirectory == "."
        ? reference : baseDirectory + "/" + reference
      return try ImageFile.read(path: path)
    } catch {
      guard let key else { throw error }
      throw error.named(by: key)
    }
  }
}
