import PipelineKit

/// Finds and loads the CLIP model an experiment names.
public enum ModelLoader {
  /// A model could not be found or read.
  public struct LoadError: Error, CustomStringConvertible {
    /// One sentence for the user.
    public var description: String
  }

  /// Loads `name`: a directory or file path, or a known model name.
  public static func load(_ name: String) throws -> any FeatureModel {
    throw LoadError(
      description: "CLIP model '\(name)' cannot be loaded: the CLIP module is not wired in yet")
  }
}
