import Formats
import Foundation
import PipelineKit

/// The 2 × 2 copy a tiled render writes beside its image (`x.png` → `x-tiled.png`, same
/// format), so a seam, if there were one, shows as a cross in the middle.
public enum TiledOutput {
  /// `image` `[C,H,W]` repeated twice across and twice down, `[C,2H,2W]`.
  public static func image(_ image: Tensor) -> Tensor {
    let (_, h, w) = image.chw
    let map = IndexMap(
      rows: AxisIndex.tile(count: 2, length: h), columns: AxisIndex.tile(count: 2, length: w),
      inputHeight: h, inputWidth: w)
    return map.gather(image)
  }

  /// The path of the tiled copy of the image at `path`: `-tiled` before the extension
  /// (`out/cat.png` → `out/cat-tiled.png`; a name without one gets `-tiled` at the end).
  public static func path(for path: String) -> String {
    let url = URL(fileURLWithPath: path)
    let ext = url.pathExtension
    guard !ext.isEmpty else { return path + "-tiled" }
    let stem = String(path.dropLast(ext.count + 1))
    return stem + "-tiled." + ext
  }

  /// Writes the tiled copy of `image` for the image at `path` atomically, in its format.
  public static func write(_ image: Tensor, forImageAt path: String, quality: Int) throws {
    try ImageFile.write(Self.image(image), to: Self.path(for: path), quality: quality)
  }
}
