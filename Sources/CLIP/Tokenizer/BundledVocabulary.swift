import Foundation

extension CLIPTokenizer {
  /// The tokenizer with CLIP's own merge ranks (`bpe_simple_vocab_16e6.txt.gz`, © OpenAI, MIT
  /// licence), shipped as a resource of this module.
  public static func bundled() throws -> CLIPTokenizer {
    guard let path = bundledMergesPath else {
      throw CLIPError.invalidInput(
        "CLIP's BPE vocabulary is missing from the CLIP module's resources")
    }
    return try CLIPTokenizer(mergesFile: path)
  }

  /// Path of the bundled `bpe_simple_vocab_16e6.txt.gz`, if the resource bundle is present.
  public static var bundledMergesPath: String? {
    Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz")?.path
  }
}
