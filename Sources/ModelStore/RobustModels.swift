/// The adversarially robust CLIPs of "Robust CLIP" (Schlarmann, Singh, Croce, Hein, ICML 2024;
/// arXiv 2402.12336) on the Hugging Face hub, by short names: image towers fine-tuned against
/// ℓ∞ perturbations of radius 2/255 or 4/255, unsupervised (FARE: the features stay those of
/// the original model) or supervised on ImageNet (TeCoA, Mao et al. 2023). Their gradients look
/// more like image content, which is why CLIPig 2 optimises through FARE⁴ ViT-B/32 by default.
///
/// All are open_clip hub repositories (`open_clip_config.json` with `open_clip_model.safetensors`
/// or `open_clip_pytorch_model.bin`; open_clip tries them in that order, and so do the
/// sources): the ViT-B models pushed with open_clip's `push_to_hf_hub` from LAION-2B
/// checkpoints, the ViT-L/14 ones fine-tuned from OpenAI's. No commit is pinned and no hash is
/// in the table: nothing could be downloaded where this table was written, so the hub's stated
/// SHA-256 is the check (recorded as `server`). Repository ids, licences and sizes are those
/// the model cards and file pages show; which of them could be read is said in docs/models.md.
enum RobustModels {
  /// One robust model: its short name, other spellings, hub repository and rounded size.
  private static func model(
    _ name: String, _ aliases: [String], _ repo: String, approximateBytes: Int64
  ) -> KnownModel {
    KnownModel(
      name: name, aliases: aliases + ["hf-hub:" + repo],
      sources: KnownModels.hubSources(repo), licence: "MIT", approximateBytes: approximateBytes)
  }

  /// FARE⁴ ViT-B/32 and ViT-B/16 (LAION-2B), FARE²/FARE⁴/TeCoA²/TeCoA⁴ ViT-L/14 (OpenAI).
  static let all: [KnownModel] = [
    model(
      "FARE4-ViT-B-32", ["FARE4-ViT-B/32", "ViT-B-32/fare4_laion2b_s34b_b79k"],
      "chs20/FARE4-ViT-B-32-laion2B-s34B-b79K", approximateBytes: 605_000_000),
    model(
      "FARE4-ViT-B-16", ["FARE4-ViT-B/16", "ViT-B-16/fare4_laion2b_s34b_b88k"],
      "chs20/FARE4-ViT-B-16-laion2B-s34B-b88K", approximateBytes: 599_000_000),
    model(
      "FARE2-ViT-L-14", ["FARE2-ViT-L/14", "ViT-L-14/fare2"], "chs20/fare2-clip",
      approximateBytes: 1_710_000_000),
    model(
      "FARE4-ViT-L-14", ["FARE4-ViT-L/14", "ViT-L-14/fare4"], "chs20/fare4-clip",
      approximateBytes: 1_710_000_000),
    model(
      "TeCoA2-ViT-L-14", ["TeCoA2-ViT-L/14", "ViT-L-14/tecoa2"], "chs20/tecoa2-clip",
      approximateBytes: 1_710_000_000),
    model(
      "TeCoA4-ViT-L-14", ["TeCoA4-ViT-L/14", "ViT-L-14/tecoa4"], "chs20/tecoa4-clip",
      approximateBytes: 1_710_000_000),
  ]
}
