import Formats
import Foundation
import PipelineKit
import Runner

/// A `clipig rank` directory as a gallery method: its `rank.json` read as a manifest whose
/// rows are the passes (`short`, `continued`) and whose columns are the runs, best first (by
/// the judge's score where a judge rated them, else by similarity), each image with its
/// similarity and the judge's score.
extension Manifest {
  /// The manifest of a batch directory (`manifest.json`), or of a rank directory (`rank.json`,
  /// when it has no `manifest.json`).
  static func read(galleryDirectory directory: String) throws -> Manifest {
    let fm = FileManager.default
    if !fm.fileExists(atPath: directory + "/manifest.json")
      && fm.fileExists(atPath: directory + "/rank.json")
    {
      return try ranking(directory: directory)
    }
    return try read(directory: directory)
  }

  /// The gallery's view of the rank directory `directory`.
  static func ranking(directory: String) throws -> Manifest {
    let path = directory + "/rank.json"
    let state: RankState
    do {
      state = try JSONDecoder().decode(RankState.self, from: Data(try FileIO.readBytes(path: path)))
    } catch {
      throw WorkflowError("\(path) is not a clipig rank state file (\(error))")
    }
    guard state.format == RankState.currentFormat else {
      throw WorkflowError(
        "\(path): format '\(state.format)', expected '\(RankState.currentFormat)'")
    }
    var options = RankOptions()
    options.runs = Int.max
    options.keep = 0
    options.judge = state.judge
    let rows = Ranking.rows(state, options: options)
    let rated = rows.first.map { Self.prompts(ofSidecar: directory + "/" + $0.shortImage) } ?? []
    var items: [ManifestItem] = []
    for row in rows {
      let run = "\(row.rank). run \(row.id)"
      items.append(
        ManifestItem(
          name: "short-" + Ranking.runName(row.id), image: row.shortImage,
          variables: ["run": run, "pass": "short"], prompts: rated, seed: row.seed,
          similarity: row.shortSimilarity, judge: row.shortJudge,
          seconds: state.runs.first { $0.id == row.id }?.seconds, epochs: state.epochs))
      if let image = row.continuedImage {
        let continuation = state.continued.first { $0.id == row.id }
        items.append(
          ManifestItem(
            name: "continued-" + Ranking.runName(row.id), image: image,
            variables: ["run": run, "pass": "continued"], prompts: rated, seed: row.seed,
            similarity: row.continuedSimilarity, judge: row.continuedJudge,
            seconds: continuation?.seconds, epochs: continuation?.epochs))
      }
    }
    let label = URL(fileURLWithPath: directory).standardizedFileURL.lastPathComponent
    return Manifest(
      format: Manifest.currentFormat, grid: state.experiment.joined(separator: " "),
      label: "rank " + label, variables: ["run", "pass"], key: ["run", "pass"],
      total: state.runs.count, done: state.runs.count, missing: [], items: items)
  }

  /// The prompts a run was rated against, from the sidecar beside `image` (`.yaml`): the text
  /// features without a constant weight ≤ 0; none when it cannot be read.
  static func prompts(ofSidecar image: String) -> [String] {
    let sidecar = String(image.dropLast((image as NSString).pathExtension.count)) + "yaml"
    guard let root = try? YAML.load(path: sidecar) else { return [] }
    var prompts: [String] = []
    for target in root["targets"]?.elements ?? [] {
      for feature in target["features"]?.elements ?? [] {
        guard case .string(let text)? = feature["text"]?.value else { continue }
        switch feature["weight"]?.value {
        case .int(let w)? where w <= 0: continue
        case .float(let w)? where w <= 0: continue
        default: prompts.append(text)
        }
      }
    }
    return prompts
  }
}
