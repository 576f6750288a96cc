import Formats
import Foundation
import PipelineKit
import Runner

/// Settings of `clipig gallery`.
public struct GalleryOptions: Sendable {
  /// Batch directories, one per rendering method (key 1, 2, … on the page).
  public var directories: [String] = []
  /// The page directory (`index.html`, `thumbs/`, with `copyImages` also `images/`).
  public var outputDirectory = ""
  /// The variable whose values ↑/↓ step through; nil: the last variable of the output names.
  public var rowVariable: String?
  /// Copy the full images into the page directory instead of linking them relatively.
  public var copyImages = false
  /// Longest side of a thumbnail in pixels (also its size on the page).
  public var thumbnailSize = 128
  /// Page title; nil: derived from the labels.
  public var title: String?

  /// Default settings.
  public init() {}
}

/// What `clipig gallery` wrote.
public struct GallerySummary: Sendable {
  /// `index.html`.
  public var indexPath: String
  /// The page's data, as embedded.
  public var data: GalleryData
}

/// The data the page embeds (as JSON in a script element).
public struct GalleryData: Codable, Sendable, Equatable {
  /// One rendering method (one batch directory).
  public struct Method: Codable, Sendable, Equatable {
    /// Its label (the manifest's).
    public var label: String
    /// The batch directory as given.
    public var directory: String
  }

  /// One image.
  public struct Cell: Codable, Sendable, Equatable {
    /// Output name.
    public var name: String
    /// Full image, relative to the page.
    public var image: String
    /// Thumbnail, relative to the page.
    public var thumb: String
    /// The prompts joined by " | ".
    public var prompt: String
    /// Similarity to the prompt.
    public var similarity: Double?
    /// A held-out judge's score (a `rank --judge` directory), nil where none rated.
    public var judge: Double? = nil
    /// Seed, as text (JavaScript numbers cannot hold every 64-bit seed).
    public var seed: String?
    /// Render time.
    public var seconds: Double?
  }

  /// The page title.
  public var title: String
  /// The variable of the rows (↑/↓).
  public var rowVariable: String
  /// The variables of the columns (←/→), joined with " / " in the column labels.
  public var columnVariables: [String]
  /// The methods (keys 1…n).
  public var methods: [Method]
  /// Row values in first-appearance order.
  public var rows: [String]
  /// Column labels in first-appearance order.
  public var columns: [String]
  /// `cells[method][row][column]`, null where a method has no image.
  public var cells: [[[Cell?]]]
  /// Displayed thumbnail size in CSS pixels.
  public var thumbSize: Int
}

/// `clipig gallery`: a static page for one or more batch directories that works from the file
/// system (no server, no network): the data is embedded as JavaScript, the script and styles
/// are inline, thumbnails are written beside the page and full images linked or copied.
public enum Gallery {
  /// The marker the page's generator meta tag carries; an `index.html` without it is not
  /// overwritten.
  public static let generator = "clipig gallery"
  /// Text right before the embedded JSON.
  public static let dataBegin = "/*clipig-gallery-data*/"
  /// Text right after the embedded JSON.
  public static let dataEnd = "/*end-clipig-gallery-data*/"

  /// Reads the manifests, writes thumbnails (and copies) and `index.html`.
  public static func build(
    _ options: GalleryOptions, log: @escaping @Sendable (String) -> Void = CLIRunner.standardError
  ) throws -> GallerySummary {
    guard !options.directories.isEmpty else {
      throw WorkflowError("gallery needs at least one batch directory")
    }
    guard !options.outputDirectory.isEmpty else {
      throw WorkflowError("gallery needs a page directory (-o)")
    }
    guard (8...2048).contains(options.thumbnailSize) else {
      throw WorkflowError("--thumb must be between 8 and 2048 pixels")
    }
    let page = FileIO.folder(options.outputDirectory)
    let index = page + "/index.html"
    if FileManager.default.fileExists(atPath: index) {
      let existing = (try? FileIO.readBytes(path: index)).map {
        String(decoding: $0, as: UTF8.self)
      }
      if existing?.contains("<meta name=\"generator\" content=\"\(generator)\">") != true {
        throw WorkflowError("\(index) exists and was not made by clipig gallery; choose another -o")
      }
    }
    let manifests = try options.directories.map { try Manifest.read(galleryDirectory: $0) }
    let key = manifests[0].key.isEmpty ? manifests[0].variables : manifests[0].key
    let rowVariable = options.rowVariable ?? key.last ?? ""
    let allVariables = Set(manifests.flatMap(\.variables))
    guard allVariables.contains(rowVariable) else {
      throw WorkflowError(
        "no variable '\(rowVariable)' in the manifests"
          + Suggestions.didYouMean(rowVariable, among: allVariables) + " (they have "
          + allVariables.sorted().joined(separator: ", ") + ")")
    }
    let columnVariables = key.filter { $0 != rowVariable }

    var rows: [String] = []
    var columns: [String] = []
    var rowIndex: [String: Int] = [:]
    var columnIndex: [String: Int] = [:]
    func columnLabel(_ item: ManifestItem) -> String {
      columnVariables.map { item.variables[$0] ?? "" }.joined(separator: " / ")
    }
    for m in manifests {
      for item in m.items {
        let r = item.variables[rowVariable] ?? ""
        if rowIndex[r] == nil {
          rowIndex[r] = rows.count
          rows.append(r)
        }
        let c = columnLabel(item)
        if columnIndex[c] == nil {
          columnIndex[c] = columns.count
          columns.append(c)
        }
      }
    }

    var cells: [[[GalleryData.Cell?]]] = []
    var methods: [GalleryData.Method] = []
    var usedLabels: [String: Int] = [:]
    for (mi, (m, dir)) in zip(manifests, options.directories).enumerated() {
      usedLabels[m.label, default: 0] += 1
      let n = usedLabels[m.label] ?? 1
      methods.append(
        GalleryData.Method(label: n == 1 ? m.label : "\(m.label) (\(n))", directory: dir))
      var grid = [[GalleryData.Cell?]](
        repeating: [GalleryData.Cell?](repeating: nil, count: columns.count), count: rows.count)
      for item in m.items {
        guard let r = rowIndex[item.variables[rowVariable] ?? ""],
          let c = columnIndex[columnLabel(item)]
        else { continue }
        let source = dir + "/" + item.image
        let thumb = "thumbs/\(mi + 1)/\(item.name).png"
        try writeThumbnail(of: source, to: page + "/" + thumb, maxSide: options.thumbnailSize)
        var image: String
        if options.copyImages {
          image = "images/\(mi + 1)/\(item.name).png"
          try copyIfNewer(source, to: page + "/" + image)
        } else {
          image = relativePath(from: page, to: source)
        }
        image = image.split(separator: "/").map { percentEncoded(String($0)) }.joined(
          separator: "/")
        grid[r][c] = GalleryData.Cell(
          name: item.name, image: image, thumb: percentEncodedPath(thumb),
          prompt: item.prompts.joined(separator: " | "), similarity: item.similarity,
          judge: item.judge, seed: item.seed.map { String($0) }, seconds: item.seconds)
      }
      cells.append(grid)
    }
    let title =
      options.title
      ?? (columnVariables.isEmpty
        ? rowVariable : columnVariables.joined(separator: " / ") + " × " + rowVariable)
      + " — " + methods.map(\.label).joined(separator: ", ")
    let data = GalleryData(
      title: title, rowVariable: rowVariable, columnVariables: columnVariables, methods: methods,
      rows: rows, columns: columns, cells: cells, thumbSize: options.thumbnailSize)
    try OutputFiles.write(try html(data), to: index)
    return GallerySummary(indexPath: index, data: data)
  }

  /// Reads the data back from a page written by `build`.
  public static func embeddedData(html: String) throws -> GalleryData {
    guard let begin = html.range(of: dataBegin),
      let end = html.range(of: dataEnd, range: begin.upperBound..<html.endIndex)
    else { throw WorkflowError("no clipig gallery data in the page") }
    let json = html[begin.upperBound..<end.lowerBound].replacingOccurrences(of: "<\\/", with: "</")
    return try JSONDecoder().decode(GalleryData.self, from: Data(json.utf8))
  }

  /// A downscaled copy of `image` whose longest side is at most `maxSide`: 2×2 box averages
  /// while the image is at least twice too large, then one bilinear resampling step.
  public static func thumbnail(_ image: Tensor, maxSide: Int) -> Tensor {
    var x = image
    while max(x.chw.h, x.chw.w) >= 2 * maxSide && min(x.chw.h, x.chw.w) >= 2 {
      x = halved(x)
    }
    let (_, h, w) = x.chw
    let longest = max(h, w)
    guard longest > maxSide else { return x }
    let scale = Double(maxSide) / Double(longest)
    let nh = max(1, Int((Double(h) * scale).rounded()))
    let nw = max(1, Int((Double(w) * scale).rounded()))
    return ImageOps.clamp(Resampler(from: h, w, to: nh, nw, filter: .linear).apply(x), 0, 1)
  }

  static func halved(_ x: Tensor) -> Tensor {
    let (c, h, w) = x.chw
    let (nh, nw) = (h / 2, w / 2)
    var out = Tensor(shape: [c, nh, nw])
    for ch in 0..<c {
      for y in 0..<nh {
        for xx in 0..<nw {
          let i = ch * h * w + 2 * y * w + 2 * xx
          out.scalars[ch * nh * nw + y * nw + xx] =
            (x.scalars[i] + x.scalars[i + 1] + x.scalars[i + w] + x.scalars[i + w + 1]) / 4
        }
      }
    }
    return out
  }

  /// The path of `file` relative to the directory `from` (both may be relative to the current
  /// directory).
  public static func relativePath(from directory: String, to file: String) -> String {
    let a = URL(fileURLWithPath: directory).standardizedFileURL.resolvingSymlinksInPath()
      .pathComponents
    let b = URL(fileURLWithPath: file).standardizedFileURL.resolvingSymlinksInPath()
      .pathComponents
    var common = 0
    while common < a.count && common < b.count && a[common] == b[common] { common += 1 }
    let up = [String](repeating: "..", count: a.count - common)
    return (up + b[common...]).joined(separator: "/")
  }

  static func writeThumbnail(of source: String, to path: String, maxSide: Int) throws {
    if isUpToDate(path, comparedTo: source) { return }
    let image = try ImageFile.read(path: source)
    try ImageFile.write(thumbnail(image, maxSide: maxSide), to: path)
  }

  static func copyIfNewer(_ source: String, to path: String) throws {
    if isUpToDate(path, comparedTo: source) { return }
    try FileIO.writeAtomically(try FileIO.readBytes(path: source), to: path)
  }

  static func isUpToDate(_ path: String, comparedTo source: String) -> Bool {
    let fm = FileManager.default
    guard let made = (try? fm.attributesOfItem(atPath: path))?[.modificationDate] as? Date,
      let changed = (try? fm.attributesOfItem(atPath: source))?[.modificationDate] as? Date
    else { return false }
    return made >= changed
  }

  static func percentEncoded(_ component: String) -> String {
    if component == ".." { return component }
    var allowed = CharacterSet.alphanumerics
    allowed.insert(charactersIn: "-._~")
    return component.addingPercentEncoding(withAllowedCharacters: allowed) ?? component
  }

  static func percentEncodedPath(_ path: String) -> String {
    path.split(separator: "/").map { percentEncoded(String($0)) }.joined(separator: "/")
  }

  /// The page: inline style and script, the data as a JavaScript object literal.
  public static func html(_ data: GalleryData) throws -> String {
    let encoder = JSONEncoder()
    encoder.outputFormatting = [.sortedKeys, .withoutEscapingSlashes]
    let json = String(decoding: try encoder.encode(data), as: UTF8.self)
      .replacingOccurrences(of: "</", with: "<\\/")
    // The data goes in last and untouched, so no text in it is ever taken for a marker.
    let parts = GalleryPage.template.components(separatedBy: "@DATA@")
    let head = parts[0].replacingOccurrences(of: "@GENERATOR@", with: generator)
      .replacingOccurrences(of: "@TITLE@", with: escapeHTML(data.title))
    return head + dataBegin + json + dataEnd + parts.dropFirst().joined()
  }

  static func escapeHTML(_ s: String) -> String {
    s.replacingOccurrences(of: "&", with: "&amp;").replacingOccurrences(of: "<", with: "&lt;")
      .replacingOccurrences(of: ">", with: "&gt;").replacingOccurrences(of: "\"", with: "&quot;")
  }
}
