import Foundation
import ModelStore
import PipelineKit

/// An image a configuration names (`init.image`, a feature's `image`), read as `ImageInput`
/// reads it; a failure is a `ConfigError` at the place the image was written, naming the key and,
/// for a relative path, the folder it resolved against.
enum ConfiguredImage {
  /// The image `reference` (a path or URL) written at `location` under `key`, relative paths
  /// resolved against `baseDirectory`.
  static func load(
    _ reference: String, baseDirectory: String, key: String, location: SourceLocation
  ) throws(ConfigError) -> Tensor {
    do {
      return try ImageInput.load(reference, baseDirectory: baseDirectory)
    } catch {
      var message = "\(error.file): \(error.message)"
      if !ImageCache.isURL(reference) && !reference.hasPrefix("/") {
        let folder = URL(fileURLWithPath: baseDirectory).standardizedFileURL.path
        message += " (relative image paths resolve against \(folder), the last YAML file's folder)"
      }
      throw ConfigError(message, at: location, path: key)
    }
  }
}
