import Foundation

extension CLIPTokenizer {
  /// The tokenizer with CLIP's own merge ranks (`bpe_simple_vocab_16e6.txt.gz`, © OpenAI, MIT
  /// licence), shipped as a resource of this module.
  public static func bundled() throws -> CLIPTokenizer {
    guard let url = Bundle.module.url(forResource: "bpe_simple_vocab_16e6.txt", withExtension: "gz")
    else {
      throw CLIPError.invalidInput(
        "CLIP's BPE vocabulary is missing from the CLIP module's resources")
    }
    return try CLIPTokenizer(mergesFile: url.path)
  }
}
