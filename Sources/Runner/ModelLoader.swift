import CLIP
import Foundation
import ModelStore
import PipelineKit

/// Finds and loads the CLIP model an experiment names.
public enum ModelLoader {
  /// A model could not be found or read.
  public struct LoadError: Error, CustomStringConvertible {
    /// One sentence for the user.
    public var description: String
  }

  /// Loads `name`: a known model (`ViT-B/32` …, downloaded into the cache on first use, with a
  /// progress bar on stderr), a Hugging Face model directory, a `.safetensors` file, or a PyTorch
  /// checkpoint such as CLIPig's `~/.cache/clip/ViT-B-32.pt`.
  ///
  /// `quiet` hides the download progress and warnings. `precision` sets the towers' GEMM
  /// precision for this CPU; when bf16 was asked for and cannot run, the note goes to the
  /// model's `warn` (and stays readable as `CLIPFeatureModel.model.precision.note`).
  public static func load(
    _ name: String, download: Bool = true, quiet: Bool = false,
    precision: CLIPPrecision = .fp32
  ) throws -> any FeatureModel {
    let files = try ModelStore.locate(
      name, download: download, progress: quiet ? nil : ProgressBar().handler)
    var model = try CLIPModel.load(files: files)
    if precision != .fp32 { model = model.converted(to: precision) }
    let tokenizer: CLIPTokenizer
    if let merges = files.merges, FileManager.default.fileExists(atPath: merges) {
      tokenizer = try CLIPTokenizer(mergesFile: merges)
    } else {
      tokenizer = try .bundled()
    }
    let featureModel = CLIPFeatureModel(model: model, tokenizer: tokenizer)
    if quiet { featureModel.warn = { _ in } }
    if let note = model.precision.note { featureModel.warn(note) }
    return featureModel
  }
}
