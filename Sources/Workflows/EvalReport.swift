import Formats
import Foundation

/// The offline pages of `clipig eval`: `eval.html` (the summary table and every image with its
/// prompt and the judges' verdicts) and the `--compare` page (several evals side by side). Plain
/// HTML with inline style in the gallery's look; no script, no network.
enum EvalReport {
  /// The page of one eval directory (image paths relative to it).
  static func page(
    summary: EvalSummary, set: PromptSet, manifest: Manifest, grid: Grid,
    scores: [String: [String: EvalScore]]
  ) -> String {
    let index = Dictionary(uniqueKeysWithValues: grid.items.map { ($0.name, $0.index) })
    var body = "<h1>clipig eval: \(e(summary.label))</h1>\n"
    body +=
      "<p class=\"meta\">\(summary.done) of \(summary.prompts) prompts rendered · loss: "
      + e(summary.lossModels.joined(separator: ", ")) + " · judges: "
      + e(summary.judges.joined(separator: ", ")) + "</p>\n"
    body += summaryTable(summary.rows)
    body += "<section id=\"images\">\n"
    for item in manifest.items {
      guard let i = index[item.name] else { continue }
      let entry = set.entries[i]
      body += "<figure data-name=\"\(e(item.name))\">"
      body += "<img src=\"\(e(item.image))\" alt=\"\(e(entry.prompt))\" loading=\"lazy\">"
      body += "<figcaption><p class=\"prompt\">\(e(entry.prompt))</p>"
      body += "<p class=\"meta\">\(e(entry.category)) · \(e(item.name))</p>"
      for judge in summary.judges {
        guard let s = scores[judge]?[item.name] else { continue }
        let verdict =
          s.rank == 1
          ? "<b class=\"hit\">top-1</b>"
          : "rank \(s.rank); read as “\(e(set.entries[s.best].prompt))”"
        body += "<p class=\"judge\" title=\"\(e(judge))\">"
        body += String(format: "%.2f", s.similarity) + " · \(verdict)</p>"
      }
      body += "</figcaption></figure>\n"
    }
    body += "</section>\n"
    return document(title: "clipig eval: " + summary.label, body: body)
  }

  /// The page comparing eval directories: for every judge and category the evals' figures
  /// side by side (mean ± standard error).
  static func comparison(_ evals: [(directory: String, summary: EvalSummary)]) -> String {
    var body = "<h1>clipig eval: comparison</h1>\n<ol class=\"meta\">"
    for (d, s) in evals {
      body +=
        "<li>\(e(s.label)) — \(e(d)): \(s.done)/\(s.prompts) images, loss "
        + e(s.lossModels.joined(separator: ", ")) + "</li>"
    }
    body += "</ol>\n"
    body += "<table id=\"compare\"><thead><tr><th>judge</th><th>category</th><th>figure</th>"
    for (_, s) in evals { body += "<th>\(e(s.label))</th>" }
    body += "</tr></thead><tbody>\n"
    for key in comparisonKeys(evals.map(\.summary)) {
      for (figure, pick) in figures {
        body += "<tr><td>\(e(key.judge))</td><td>\(e(key.category))</td><td>\(figure)</td>"
        for (_, s) in evals {
          let row = s.rows.first { $0.judge == key.judge && $0.category == key.category }
          body += "<td>" + (row.map { cell(pick($0)) } ?? "–") + "</td>"
        }
        body += "</tr>\n"
      }
    }
    body += "</tbody></table>\n"
    return document(title: "clipig eval: comparison", body: body)
  }

  /// The comparison as CSV: one line per judge, category and figure, one column per eval.
  static func comparisonTable(_ evals: [(directory: String, summary: EvalSummary)]) -> String {
    func f(_ x: Double?) -> String { x.map { String(format: "%.4f", $0) } ?? "" }
    var out = CSV.line(
      ["judge", "category", "figure"] + evals.flatMap { [$0.directory, $0.directory + " se"] })
    for key in comparisonKeys(evals.map(\.summary)) {
      for (figure, pick) in figures {
        var fields = [key.judge, key.category, figure]
        for (_, s) in evals {
          let stat = s.rows.first { $0.judge == key.judge && $0.category == key.category }.map(pick)
          fields += [f(stat?.mean), f(stat?.standardError)]
        }
        out += CSV.line(fields)
      }
    }
    return out
  }

  /// The figures of a summary row, named.
  static let figures: [(String, @Sendable (EvalSummaryRow) -> EvalStatistic)] = [
    ("similarity", { $0.similarity }), ("R@1", { $0.top1 }), ("R@5", { $0.top5 }),
  ]

  /// Every (judge, category) of the summaries, in first-seen order.
  static func comparisonKeys(_ summaries: [EvalSummary]) -> [(judge: String, category: String)] {
    var keys: [(judge: String, category: String)] = []
    for s in summaries {
      for r in s.rows
      where !keys.contains(where: { $0.judge == r.judge && $0.category == r.category }) {
        keys.append((r.judge, r.category))
      }
    }
    return keys
  }

  /// The summary table: one row per judge and category.
  static func summaryTable(_ rows: [EvalSummaryRow]) -> String {
    var out = "<table id=\"summary\"><thead><tr><th>judge</th><th>category</th><th>images</th>"
    out += "<th>similarity</th><th>R@1</th><th>R@5</th></tr></thead><tbody>\n"
    for r in rows {
      out +=
        "<tr><td>\(e(r.judge))</td><td>\(e(r.category))</td><td>\(r.count)</td>"
        + "<td>\(cell(r.similarity))</td><td>\(cell(r.top1))</td><td>\(cell(r.top5))</td></tr>\n"
    }
    return out + "</tbody></table>\n"
  }

  /// `mean ± se` with two decimals (`mean` alone below two values).
  static func cell(_ s: EvalStatistic) -> String {
    String(format: "%.2f", s.mean) + (s.standardError.map { String(format: " ± %.2f", $0) } ?? "")
  }

  /// A self-contained page around `body`.
  static func document(title: String, body: String) -> String {
    """
    <!doctype html>
    <html lang="en">
    <head>
    <meta charset="utf-8">
    <meta name="viewport" content="width=device-width, initial-scale=1">
    <title>\(e(title))</title>
    <style>
    :root { color-scheme: dark; --bg: #15171a; --fg: #e6e6e6; --dim: #9aa0a6; --hi: #f0b429; }
    body { margin: 0; padding: .6em 1em; background: var(--bg); color: var(--fg);
      font: 15px/1.4 system-ui, -apple-system, "Segoe UI", sans-serif; }
    h1 { font-size: 1.1em; font-weight: 600; }
    .meta { color: var(--dim); font-size: .9em; margin: .2em 0; }
    table { border-collapse: collapse; margin: .8em 0; font-variant-numeric: tabular-nums; }
    th, td { padding: .2em .7em; border-bottom: 1px solid #2a2d31; text-align: left; }
    th { color: var(--dim); font-weight: 600; }
    #images { display: flex; flex-wrap: wrap; gap: 1em; }
    figure { margin: 0; width: 224px; }
    figure img { display: block; width: 224px; height: 224px; object-fit: contain;
      background: #000; image-rendering: pixelated; }
    figcaption p { margin: .2em 0; }
    .prompt { font-size: .95em; }
    .judge { color: var(--dim); font-size: .85em; }
    .hit { color: var(--hi); font-weight: 600; }
    </style>
    </head>
    <body>
    \(body)</body>
    </html>

    """
  }

  /// `s` escaped for HTML text and attribute values.
  static func e(_ s: String) -> String { Gallery.escapeHTML(s) }
}
