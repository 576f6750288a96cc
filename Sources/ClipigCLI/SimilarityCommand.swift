import ArgumentParser
import CLIP
import Formats
import Foundation
import ModelStore
import PipelineKit
import Runner

/// `clipig similarity IMAGE… --text … --image …`: CLIP similarity × 100 of every image with every
/// prompt and reference image, as CLIPig's `rate.py` (CLIPig's rate.py).
struct SimilarityCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "similarity",
    abstract: "Rate images against prompts and reference images with CLIP (100 × cosine).",
    discussion: """
      Each image is scaled (bicubic) so its shorter side is the model's input size, centre-cropped, \
      CLIP-normalised and encoded; prompts and reference images likewise. The table has one row \
      per rated image (sorted by file name unless --sort is given) and one column per prompt, \
      then per reference image, followed by per-column statistics. Images are PNG, JPEG or WebP \
      files (recognised by content) or http(s) URLs (cached); a directory stands for the .png, \
      .jpg, .jpeg and .webp files in it. Rated files that cannot be read as images are skipped \
      with a message; a reference image that cannot be read is an error.
      """)

  @Argument(help: "Images to rate (PNG, JPEG, WebP, http(s) URLs, or directories of images).")
  var images: [String] = []

  @Option(name: [.customShort("t"), .long], help: "A prompt to compare with (repeatable).")
  var text: [String] = []

  @Option(
    name: [.customShort("i"), .long], help: "A reference image to compare with (repeatable).")
  var image: [String] = []

  @Option(name: .customLong("text-file"), help: "A file with one prompt per line.")
  var textFile: String?

  @Option(name: .customLong("image-file"), help: "A file with one reference image path per line.")
  var imageFile: String?

  @Option(name: [.customShort("o"), .long], help: "Write the table (full names) as CSV.")
  var csv: String?

  @Option(
    name: [.customShort("s"), .long], parsing: .unconditional,
    help: "Sort by column N (1-based): ascending for N > 0, descending for N < 0 (-s -1).")
  var sort: Int?

  @OptionGroup var model: ModelOption

  @OptionGroup var precision: PrecisionOption

  func run() throws {
    let watch = exitingOnSignals()
    defer { withExtendedLifetime(watch) {} }
    try reportingConfigErrors { try rate() }
  }

  func rate() throws {
    let prompts = text + (try textFile.map(Self.lines) ?? [])
    let references = image + (try imageFile.map(Self.lines) ?? [])
    if prompts.isEmpty && references.isEmpty {
      StandardStream.error.write(
        "error: need at least one prompt (-t/--text) or reference image (-i/--image)\n")
      throw ExitCode.failure
    }
    if let csv, FileManager.default.fileExists(atPath: csv) {
      StandardStream.error.write(
        "error: \(csv) exists; clipig never overwrites a file: choose another name\n")
      throw ExitCode.failure
    }
    // A path that names nothing is a typo, not an image to skip: say so before loading CLIP.
    for path in images + references
    where !ImageCache.isURL(path) && !FileManager.default.fileExists(atPath: path) {
      throw ValidationError("\(path): no such file or folder")
    }
    let rater = Rater(
      model: try ModelLoader.load(
        model.model ?? KnownModels.defaultName, precision: precision.precision ?? .fp32))

    let rated = try Self.imageFeatures(try Self.expandingDirectories(images), rater: rater)
    var columns: [(name: String, features: [Float])] = []
    for prompt in prompts {
      columns.append((prompt, try rater.textFeatures(prompt)))
    }
    for (path, f) in try Self.imageFeatures(references, rater: rater, key: "--image") {
      columns.append((path, f))
    }
    var rows = rated.map { row in
      (name: row.path, values: columns.map { Rater.similarity(row.features, $0.features) })
    }
    if let sort {
      // `sort.magnitude`, not abs(sort): -9223372036854775808 has no positive Int.
      guard sort != 0, sort.magnitude <= UInt(columns.count) else {
        throw ValidationError("--sort \(sort): there are \(columns.count) columns")
      }
      let k = Int(sort.magnitude) - 1
      rows.sort { sort > 0 ? $0.values[k] < $1.values[k] : $0.values[k] > $1.values[k] }
    } else {
      rows.sort { $0.name < $1.name }
    }

    let table = SimilarityTable(
      columns: columns.map(\.name), rows: rows.map(\.name), values: rows.map(\.values))
    print(table.render())
    if let csv {
      try FileIO.writeAtomically(Array(table.csv().utf8), to: csv)
    }
  }

  /// Unit features of each image. Without `key` (rated images) unreadable ones are reported
  /// and skipped; with it (reference images) they are an error naming `key`.
  static func imageFeatures(_ paths: [String], rater: Rater, key: String? = nil) throws -> [(
    path: String, features: [Float]
  )] {
    var images: [(String, Tensor)] = []
    for path in paths {
      do {
        images.append((path, try ImageInput.load(path, key: key)))
      } catch {
        if key != nil { throw error }
        StandardStream.error.write(
          "warning: \(path) seems to be no image (\(error.message)); skipped\n")
      }
    }
    let features = try rater.imageFeatures(batch: images.map(\.1))
    return zip(images, features).map { ($0.0, $1) }
  }

  /// `paths` with each directory replaced by its image files (by extension, sorted); a
  /// directory without any is an error.
  static func expandingDirectories(_ paths: [String]) throws -> [String] {
    var out: [String] = []
    for path in paths {
      var isDirectory: ObjCBool = false
      guard !ImageCache.isURL(path),
        FileManager.default.fileExists(atPath: path, isDirectory: &isDirectory),
        isDirectory.boolValue
      else {
        out.append(path)
        continue
      }
      let names = (try? FileManager.default.contentsOfDirectory(atPath: path)) ?? []
      let images = names.filter { ImageFormat.forExtension(of: $0) != nil && !$0.hasPrefix(".") }
      if images.isEmpty {
        throw ValidationError("\(path) is a directory without .png, .jpg, .jpeg or .webp files")
      }
      let prefix = path.hasSuffix("/") ? path : path + "/"
      out += images.sorted().map { prefix + $0 }
    }
    return out
  }

  static func lines(_ path: String) throws -> [String] {
    guard let data = FileManager.default.contents(atPath: path) else {
      throw ValidationError("cannot read \(path)")
    }
    return String(decoding: data, as: UTF8.self).split(whereSeparator: \.isNewline)
      .map { $0.trimmingCharacters(in: .whitespaces) }.filter { !$0.isEmpty }
  }
}

/// The rating table: display with shortened names and per-column statistics, and CSV.
struct SimilarityTable {
  var columns: [String]
  var rows: [String]
  var values: [[Double]]

  /// Text table as rate.py prints it: common directory removed, names shortened, then count,
  /// mean, std, min, quartiles and max of each column.
  func render() -> String {
    var rowNames = rows
    if rows.count > 1 {
      let first = (rows[0] as NSString).deletingLastPathComponent
      if !first.isEmpty && rows.allSatisfy({ ($0 as NSString).deletingLastPathComponent == first })
      {
        rowNames = rows.map { String($0.dropFirst(first.count + 1)) }
      }
    }
    let header = [""] + columns.map { Self.shorten($0, 20) }
    var lines = [header]
    for (name, v) in zip(rowNames, values) {
      lines.append([Self.shorten(name, 30)] + v.map { String(format: "%.6f", $0) })
    }
    var out = Self.align(lines)
    out += "\n\n"
    var stats = [header]
    let columnValues = (0..<columns.count).map { j in values.map { $0[j] } }
    let names = ["count", "mean", "std", "min", "25%", "50%", "75%", "max"]
    for (k, name) in names.enumerated() {
      stats.append([name] + columnValues.map { Self.statistic(k, $0) })
    }
    out += Self.align(stats)
    return out
  }

  /// CSV of the table with full names: header `,column…`, then `file,value…`.
  func csv() -> String {
    var out = CSV.line([""] + columns)
    for (name, v) in zip(rows, values) { out += CSV.line([name] + v.map { "\($0)" }) }
    return out
  }

  /// rate.py's shortening: existing paths keep their end ("..tail"), other text its start.
  static func shorten(_ s: String, _ n: Int) -> String {
    guard s.count > n else { return s }
    if FileManager.default.fileExists(atPath: s) { return ".." + s.suffix(n - 2) }
    return s.prefix(n - 2) + ".."
  }

  /// pandas `describe()`: count, mean, sample std, min, linear-interpolated quartiles, max.
  static func statistic(_ k: Int, _ v: [Double]) -> String {
    let n = Double(v.count)
    if k == 0 { return String(format: "%.6f", n) }
    guard !v.isEmpty else { return "NaN" }
    let sorted = v.sorted()
    let mean = v.reduce(0, +) / n
    func quantile(_ q: Double) -> Double {
      let pos = q * (n - 1)
      let lo = Int(pos.rounded(.down))
      let hi = min(lo + 1, sorted.count - 1)
      return sorted[lo] + (sorted[hi] - sorted[lo]) * (pos - Double(lo))
    }
    let value: Double
    switch k {
    case 1: value = mean
    case 2:
      guard v.count > 1 else { return "NaN" }
      value = (v.map { ($0 - mean) * ($0 - mean) }.reduce(0, +) / (n - 1)).squareRoot()
    case 3: value = sorted[0]
    case 4: value = quantile(0.25)
    case 5: value = quantile(0.5)
    case 6: value = quantile(0.75)
    default: value = sorted[sorted.count - 1]
    }
    return String(format: "%.6f", value)
  }

  /// Right-aligned columns (first column left-aligned), two spaces apart.
  static func align(_ lines: [[String]]) -> String {
    guard let width = lines.map(\.count).max() else { return "" }
    var widths = [Int](repeating: 0, count: width)
    for line in lines {
      for (j, cell) in line.enumerated() { widths[j] = max(widths[j], cell.count) }
    }
    return lines.map { line in
      line.enumerated().map { j, cell in
        let pad = String(repeating: " ", count: widths[j] - cell.count)
        return j == 0 ? cell + pad : pad + cell
      }.joined(separator: "  ")
    }.joined(separator: "\n")
  }
}
