import ArgumentParser
import Runner
import Workflows

/// `clipig gallery DIR… -o page/`: a static, offline HTML page of batch results.
struct GalleryCommand: ParsableCommand {
  static let configuration = CommandConfiguration(
    commandName: "gallery",
    abstract: "Write a static HTML page (works offline) showing batch results.",
    discussion: """
      One DIR per rendering method (keys 1, 2, …); ↑/↓ step through the values of the row \
      variable, ←/→ through the others. Thumbnails are written into the page directory; full \
      images are linked relatively (or copied with --copy).
      """)

  @Argument(help: "Batch output directories (each with manifest.json), one per method.")
  var directories: [String]

  @Option(name: .shortAndLong, help: "Page directory (index.html goes there).")
  var output: String

  @Option(help: "Variable of the rows (default: the last variable of the output names).")
  var rows: String?

  @Option(help: "Longest thumbnail side in pixels.")
  var thumb = 128

  @Option(help: "Page title.")
  var title: String?

  @Flag(help: "Copy full images into the page directory (a self-contained folder).")
  var copy = false

  func run() throws {
    try reportingConfigErrors {
      var options = GalleryOptions()
      options.directories = directories
      options.outputDirectory = output
      options.rowVariable = rows
      options.thumbnailSize = thumb
      options.title = title
      options.copyImages = copy
      let summary = try Gallery.build(options)
      let d = summary.data
      print(
        "wrote \(summary.indexPath): \(d.methods.count) method(s), \(d.rows.count) rows × "
          + "\(d.columns.count) columns")
    }
  }
}
