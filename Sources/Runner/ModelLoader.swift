import CLIP
import Foundation
import PipelineKit

/// Finds and loads the CLIP model an experiment names.
public enum ModelLoader {
  /// A model could not be found or read.
  public struct LoadError: Error, CustomStringConvertible {
    /// One sentence for the user.
    public var description: String
  }

  /// Loads `name`: a Hugging Face model directory (config.json + model.safetensors, optional
  /// merges.txt) or a `.safetensors` file.
  public static func load(_ name: String) throws -> any FeatureModel {
    var isDirectory: ObjCBool = false
    guard FileManager.default.fileExists(atPath: name, isDirectory: &isDirectory) else {
      throw LoadError(
        description:
          "CLIP model '\(name)' not found: give --model a directory with config.json and "
          + "model.safetensors, or a .safetensors file")
    }
    let model: CLIPModel
    var tokenizer: CLIPTokenizer
    if isDirectory.boolValue {
      model = try CLIPModel.load(directory: name)
      let merges = name + "/merges.txt"
      tokenizer =
        try FileManager.default.fileExists(atPath: merges)
        ? CLIPTokenizer(mergesFile: merges) : .bundled()
    } else {
      model = try CLIPModel.load(file: name)
      tokenizer = try .bundled()
    }
    return CLIPFeatureModel(model: model, tokenizer: tokenizer)
  }
}
