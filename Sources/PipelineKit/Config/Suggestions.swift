/// Finds the valid names closest to a misspelled one, for "did you mean" messages.
public enum Suggestions {
  /// The names from `candidates` closest to `name` (all that tie, at most `limit`), or none
  /// when nothing is within a small edit distance or contains it.
  public static func closest(
    to name: String, among candidates: some Sequence<String>, limit: Int = 3
  )
    -> [String]
  {
    let lower = name.lowercased()
    let maxDistance = max(2, lower.count / 3)
    var scored: [(Int, String)] = []
    for candidate in candidates {
      let d = editDistance(lower, candidate.lowercased())
      let containment =
        !lower.isEmpty
        && (candidate.lowercased().contains(lower) || lower.contains(candidate.lowercased()))
      if d <= maxDistance || containment {
        scored.append((containment ? min(d, maxDistance) : d, candidate))
      }
    }
    scored.sort { $0.0 != $1.0 ? $0.0 < $1.0 : $0.1 < $1.1 }
    guard let best = scored.first?.0 else { return [] }
    return Array(scored.filter { $0.0 == best }.prefix(limit).map(\.1))
  }

  /// " (did you mean 'a' or 'b'?)" or an empty string when nothing is close.
  public static func didYouMean(_ name: String, among candidates: some Sequence<String>) -> String {
    let names = closest(to: name, among: candidates)
    guard !names.isEmpty else { return "" }
    let quoted = names.map { "'\($0)'" }
    let list =
      quoted.count == 1
      ? quoted[0] : quoted.dropLast().joined(separator: ", ") + " or " + quoted.last!
    return " (did you mean \(list)?)"
  }

  /// Levenshtein distance with adjacent transpositions counted as one edit.
  public static func editDistance(_ a: String, _ b: String) -> Int {
    let a = Array(a.unicodeScalars)
    let b = Array(b.unicodeScalars)
    if a.isEmpty { return b.count }
    if b.isEmpty { return a.count }
    var previous2 = [Int](repeating: 0, count: b.count + 1)
    var previous = Array(0...b.count)
    var current = [Int](repeating: 0, count: b.count + 1)
    for i in 1...a.count {
      current[0] = i
      for j in 1...b.count {
        let cost = a[i - 1] == b[j - 1] ? 0 : 1
        var d = min(previous[j] + 1, current[j - 1] + 1, previous[j - 1] + cost)
        if i > 1 && j > 1 && a[i - 1] == b[j - 2] && a[i - 2] == b[j - 1] {
          d = min(d, previous2[j - 2] + 1)
        }
        current[j] = d
      }
      (previous2, previous, current) = (previous, current, previous2)
    }
    return previous[b.count]
  }
}
