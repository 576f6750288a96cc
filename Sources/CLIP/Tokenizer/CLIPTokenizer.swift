import Formats

/// CLIP's byte-level BPE tokenizer, identical in its ids to OpenAI's reference.
///
/// Text is cleaned (`CLIPTextCleaner`), split into words with CLIP's pattern (special tokens,
/// the contractions 's 't 're 've 'm 'll 'd, runs of letters, single digits, runs of other
/// non-space characters), each word's UTF-8 bytes are mapped to base symbols and merged by rank.
/// The merge ranks come from `bpe_simple_vocab_16e6.txt.gz` (OpenAI, MIT licence) or a Hugging
/// Face `merges.txt`; ids are 0–255 for bytes, 256–511 for end-of-word bytes, 512… for merges,
/// then the start and end tokens.
public struct CLIPTokenizer: Sendable {
  /// CLIP's context length: every model in use reads 77 tokens.
  public static let defaultContextLength = 77
  /// Number of merges CLIP uses from the merges file.
  public static let mergeCount = 49152 - 256 - 2

  /// Id of `<|startoftext|>`.
  public let startToken: Int32
  /// Id of `<|endoftext|>`.
  public let endToken: Int32
  /// Size of the vocabulary (49408 for CLIP).
  public var vocabularySize: Int { Int(endToken) + 1 }

  /// Vocabulary index of each byte value.
  private let byteIndex: [Int32]
  /// Merge rank of each pair of symbol ids, keyed `first << 32 | second`.
  private let ranks: [UInt64: Int32]
  /// The symbol string of each id (for decoding), bytes of the byte-level alphabet.
  private let symbols: [[UInt8]]

  /// A tokenizer reading merge ranks from a file: gzip (`bpe_simple_vocab_16e6.txt.gz`) or plain
  /// text (`merges.txt`). The first line is a header and is skipped.
  public init(mergesFile path: String) throws {
    try self.init(mergesText: Self.readMergesText(path: path), source: path)
  }

  /// The text of a merges file, decompressed when it is gzip.
  public static func readMergesText(path: String) throws -> String {
    var bytes: [UInt8]
    do {
      bytes = try FileIO.readBytes(path: path, maxBytes: 64 << 20)
    } catch {
      throw CLIPError.unreadable(path: path, reason: error.message)
    }
    if Compression.isGzip(bytes) {
      do {
        bytes = try Compression.gunzip(bytes)
      } catch {
        throw CLIPError.unreadable(path: path, reason: error.reason)
      }
    }
    return String(decoding: bytes, as: UTF8.self)
  }

  /// A tokenizer from the text of a merges file (header line, then one `a b` pair per line).
  public init(mergesText: String, source: String = "merges") throws {
    // The byte-level alphabet: printable Latin-1 bytes map to themselves, the rest to 256+n.
    var order = Array(33...126) + Array(161...172) + Array(174...255)
    var codes = order
    var n = 0
    for b in 0..<256 where !order.contains(b) {
      order.append(b)
      codes.append(256 + n)
      n += 1
    }
    var byteIndex = [Int32](repeating: 0, count: 256)
    var lookup = [String: Int32]()
    var symbols = [[UInt8]]()
    lookup.reserveCapacity(2 * 256 + Self.mergeCount)
    symbols.reserveCapacity(2 * 256 + Self.mergeCount + 2)
    for (i, b) in order.enumerated() {
      byteIndex[b] = Int32(i)
      symbols.append([UInt8(b)])
    }
    for (i, code) in codes.enumerated() {
      let ch = String(Character(Unicode.Scalar(UInt32(code)).map { $0 } ?? " "))
      lookup[ch] = Int32(i)
      lookup[ch + "</w>"] = Int32(256 + i)
    }
    for i in 0..<256 { symbols.append(symbols[i] + Array("</w>".utf8)) }

    var ranks = [UInt64: Int32]()
    ranks.reserveCapacity(Self.mergeCount)
    var lineNumber = 0
    var rank = 0
    for line in mergesText.split(separator: "\n", omittingEmptySubsequences: false) {
      lineNumber += 1
      if lineNumber == 1 { continue }  // header
      if rank == Self.mergeCount { break }
      let parts = line.split(separator: " ")
      guard parts.count == 2, let a = lookup[String(parts[0])], let b = lookup[String(parts[1])]
      else {
        throw CLIPError.merges(
          path: source, reason: "line \(lineNumber) is not a pair of known symbols")
      }
      let id = Int32(512 + rank)
      ranks[UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))] = Int32(rank)
      lookup[String(parts[0]) + String(parts[1])] = id
      symbols.append(symbols[Int(a)] + symbols[Int(b)])
      rank += 1
    }
    guard rank == Self.mergeCount else {
      throw CLIPError.merges(
        path: source, reason: "\(rank) merges, CLIP needs \(Self.mergeCount)")
    }
    symbols.append(Array("<|startoftext|>".utf8))
    symbols.append(Array("<|endoftext|>".utf8))
    self.byteIndex = byteIndex
    self.ranks = ranks
    self.symbols = symbols
    self.startToken = Int32(512 + Self.mergeCount)
    self.endToken = startToken + 1
  }

  /// The BPE ids of `text`, without start/end tokens and without truncation.
  public func encode(_ text: String) -> [Int32] {
    let cleaned = Array(CLIPTextCleaner.clean(text).unicodeScalars)
    var ids = [Int32]()
    var cache = [ArraySlice<Unicode.Scalar>: [Int32]]()
    for word in Self.words(cleaned) {
      if word.elementsEqual("<|startoftext|>".unicodeScalars) {
        ids.append(startToken)
      } else if word.elementsEqual("<|endoftext|>".unicodeScalars) {
        ids.append(endToken)
      } else if let hit = cache[word] {
        ids += hit
      } else {
        let merged = bpe(word)
        cache[word] = merged
        ids += merged
      }
    }
    return ids
  }

  /// A prompt as the text encoder reads it.
  public struct Tokens: Sendable, Equatable {
    /// Start token, BPE ids, end token, zero padding: exactly `contextLength` ids.
    public var ids: [Int32]
    /// Number of meaningful ids (start … end) before the padding.
    public var count: Int
    /// True when the prompt was longer than the context and was cut (the end token kept).
    public var truncated: Bool
  }

  /// Start token + ids + end token, cut to `contextLength` (keeping the end token) and padded
  /// with zeros. CLIPig raised on long prompts; clipig truncates and sets `truncated`.
  public func tokenize(_ text: String, contextLength: Int = Self.defaultContextLength) -> Tokens {
    precondition(contextLength >= 2, "CLIPTokenizer: context length must hold start and end")
    var ids = [startToken] + encode(text) + [endToken]
    let truncated = ids.count > contextLength
    if truncated {
      ids.removeLast(ids.count - contextLength)
      ids[contextLength - 1] = endToken
    }
    let count = ids.count
    ids += [Int32](repeating: 0, count: contextLength - count)
    return Tokens(ids: ids, count: count, truncated: truncated)
  }

  /// The text of `ids` (end-of-word marks become spaces; start/end tokens are spelled out).
  public func decode(_ ids: [Int32]) -> String {
    var bytes = [UInt8]()
    for id in ids where id >= 0 && Int(id) < symbols.count { bytes += symbols[Int(id)] }
    return String(decoding: bytes, as: UTF8.self).replacingEndOfWord()
  }

  /// Merges the bytes of one word by rank.
  private func bpe(_ word: ArraySlice<Unicode.Scalar>) -> [Int32] {
    var utf8 = [UInt8]()
    for c in word { utf8 += Array(String(Character(c)).utf8) }
    var parts = utf8.map { byteIndex[Int($0)] }
    guard !parts.isEmpty else { return [] }
    parts[parts.count - 1] += 256  // the last symbol ends the word
    while parts.count > 1 {
      var best = Int32.max
      var bestIndex = -1
      for i in 0..<(parts.count - 1) {
        if let r = ranks[Self.key(parts[i], parts[i + 1])], r < best {
          best = r
          bestIndex = i
        }
      }
      if bestIndex < 0 { break }
      let first = parts[bestIndex]
      let second = parts[bestIndex + 1]
      let merged = 512 + best
      var next = [Int32]()
      next.reserveCapacity(parts.count)
      var i = 0
      while i < parts.count {
        if i + 1 < parts.count, parts[i] == first, parts[i + 1] == second {
          next.append(merged)
          i += 2
        } else {
          next.append(parts[i])
          i += 1
        }
      }
      parts = next
    }
    return parts
  }

  private static func key(_ a: Int32, _ b: Int32) -> UInt64 {
    UInt64(UInt32(a)) << 32 | UInt64(UInt32(b))
  }

  /// Splits cleaned text as CLIP's pattern does (case-insensitive, on code points):
  /// `<|startoftext|>|<|endoftext|>|'s|'t|'re|'ve|'m|'ll|'d|\p{L}+|\p{N}|[^\s\p{L}\p{N}]+`.
  static func words(_ s: [Unicode.Scalar]) -> [ArraySlice<Unicode.Scalar>] {
    var out = [ArraySlice<Unicode.Scalar>]()
    var i = 0
    func matches(_ literal: String, at i: Int) -> Bool {
      var j = i
      for c in literal.unicodeScalars {
        guard j < s.count, caselessEqual(s[j], c) else { return false }
        j += 1
      }
      return true
    }
    while i < s.count {
      let c = s[i]
      if c == "<",
        let special = ["<|startoftext|>", "<|endoftext|>"].first(where: { matches($0, at: i) })
      {
        let n = special.unicodeScalars.count
        out.append(s[i..<(i + n)])
        i += n
      } else if c == "'",
        let suffix = ["s", "t", "re", "ve", "m", "ll", "d"].first(where: { matches($0, at: i + 1) })
      {
        let n = 1 + suffix.count
        out.append(s[i..<(i + n)])
        i += n
      } else if isLetter(c) {
        var j = i + 1
        while j < s.count, isLetter(s[j]) { j += 1 }
        out.append(s[i..<j])
        i = j
      } else if isNumber(c) {
        out.append(s[i..<(i + 1)])
        i += 1
      } else if !c.properties.isWhitespace {
        var j = i + 1
        while j < s.count, !s[j].properties.isWhitespace, !isLetter(s[j]), !isNumber(s[j]) {
          j += 1
        }
        out.append(s[i..<j])
        i = j
      } else {
        i += 1
      }
    }
    return out
  }

  /// Case-insensitive equality with an ASCII pattern character (simple case folding: ſ is s).
  private static func caselessEqual(_ c: Unicode.Scalar, _ p: Unicode.Scalar) -> Bool {
    if c == p { return true }
    if c.value < 0x80 { return c.value | 0x20 == p.value | 0x20 && ("a"..."z").contains(p) }
    return (c == "\u{17F}" && p == "s") || (c == "\u{212A}" && p == "k")
  }

  /// `\p{L}` of the split pattern: any letter category.
  public static func isLetter(_ c: Unicode.Scalar) -> Bool {
    switch c.properties.generalCategory {
    case .uppercaseLetter, .lowercaseLetter, .titlecaseLetter, .modifierLetter, .otherLetter:
      return true
    default: return false
    }
  }

  /// `\p{N}` of the split pattern: any number category.
  public static func isNumber(_ c: Unicode.Scalar) -> Bool {
    switch c.properties.generalCategory {
    case .decimalNumber, .letterNumber, .otherNumber: return true
    default: return false
    }
  }
}

extension String {
  fileprivate func replacingEndOfWord() -> String {
    split(separator: "</w>", omittingEmptySubsequences: false).joined(separator: " ")
  }
}
