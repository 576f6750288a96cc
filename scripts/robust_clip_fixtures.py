"""A tiny random-init CLIP in the layout of the robust CLIPs on the Hugging Face hub (issue 25:
chs20/FARE4-ViT-B-32-laion2B-s34B-b79K and its siblings, pushed with open_clip's
`push_to_hf_hub`): `open_clip_config.json` as open_clip's `save_config_for_hf` writes it
(`model_cfg` + `preprocess_cfg` with mean and std only) and the weights as the pickled
`open_clip_pytorch_model.bin` (`torch.save` of the state dict, fp32), the file those repositories
hold. The real files cannot be downloaded here; this proves the loading path with the layout.

The model mirrors FARE4-ViT-B-32's recipe at a tiny size: a ViT with patch 32 (64 px input,
2 × 2 patches), LAION's exact GELU (no `quick_gelu` key), CLIP's full vocabulary and context 77
so that `clipig similarity` can tokenize prompts.

Run with the oracle venv (never in CI), from the repository root:
    /tmp/clipig-oracle/bin/python scripts/robust_clip_fixtures.py
Writes Tests/ModelStoreTests/Fixtures/robust/fare-layout/: the two hub files, reference.safetensors
(pixels in [0, 1], open_clip's image features of them, the pixel gradient of
⟨normalize(features), probe⟩, tokens and their text features), image.png and similarity.json
(open_clip's 100·cos(image, prompt) for PROMPTS). Pinned: torch 2.15.0, open_clip_torch 3.3.0.
"""
import json
import pathlib
import warnings

import numpy as np
import open_clip
import torch
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.model import CLIP
from open_clip.push_to_hf_hub import save_config_for_hf
from PIL import Image
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
assert torch.__version__.startswith("2.15."), torch.__version__
assert open_clip.__version__ == "3.3.0", open_clip.__version__
OUT = pathlib.Path("Tests/ModelStoreTests/Fixtures/robust/fare-layout")
PROMPTS = ["a cat made of salami.", "a photo of a red fire truck"]

MODEL_CFG = dict(
    embed_dim=16,
    vision_cfg=dict(image_size=64, layers=2, width=32, head_width=16, patch_size=32),
    text_cfg=dict(context_length=77, vocab_size=49408, width=4, heads=1, layers=1),
)

torch.manual_seed(2500)
model = CLIP(**MODEL_CFG).eval()
with torch.no_grad():
    for n, p in model.named_parameters():
        if n == "logit_scale":
            continue
        if "ln" in n and n.endswith("weight"):
            p.copy_(1 + 0.3 * torch.randn_like(p))
        elif n.endswith("bias"):
            p.copy_(0.2 * torch.randn_like(p))
        elif "embedding" in n:
            p.copy_(0.5 * torch.randn_like(p))
        elif p.dim() >= 2:
            p.copy_(torch.randn_like(p) * 1.5 / p[0].numel() ** 0.5)
        else:
            p.copy_(0.5 * torch.randn_like(p))

# What open_clip's create_model sets for a LAION model (OpenAI's normalisation).
model.visual.image_mean = OPENAI_DATASET_MEAN
model.visual.image_std = OPENAI_DATASET_STD

OUT.mkdir(parents=True, exist_ok=True)
torch.save({k: t.contiguous() for k, t in model.state_dict().items()},
           str(OUT / "open_clip_pytorch_model.bin"))
# What push_to_hf_hub writes beside the weights (the tokenizer files it also writes are not
# read by open_clip for CLIP's own tokenizer, nor by clipig).
save_config_for_hf(model, OUT / "open_clip_config.json", model_config=MODEL_CFG)

# open_clip reads the files back as `create_model_and_transforms('hf-hub:…')` does.
config = json.loads((OUT / "open_clip_config.json").read_text())
check = CLIP(**config["model_cfg"]).eval()
open_clip.load_checkpoint(check, str(OUT / "open_clip_pytorch_model.bin"))
mean = torch.tensor(config["preprocess_cfg"]["mean"]).view(1, 3, 1, 1)
std = torch.tensor(config["preprocess_cfg"]["std"]).view(1, 3, 1, 1)
g = torch.Generator().manual_seed(2600)
pixels = torch.rand(2, 3, 64, 64, generator=g)
probe = torch.randn(2, 16, generator=g)
x = pixels.clone().requires_grad_(True)
features = check.encode_image((x - mean) / std)
(torch.nn.functional.normalize(features, dim=-1) * probe).sum().backward()
tokens = open_clip.tokenize(PROMPTS)
with torch.no_grad():
    text_features = check.encode_text(tokens)
ref = {"pixels": pixels, "probe": probe, "image_features": features.detach(),
       "pixel_grad": x.grad, "tokens": tokens.float(), "text_features": text_features}
save_file({k: t.float().contiguous() for k, t in ref.items()}, str(OUT / "reference.safetensors"))

# An image at the input size, rated against the prompts as `clipig similarity` rates it.
image = (pixels[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
Image.fromarray(image).save(OUT / "image.png")
loaded = torch.from_numpy(np.asarray(Image.open(OUT / "image.png").convert("RGB")))
px = loaded.float().permute(2, 0, 1)[None] / 255
with torch.no_grad():
    fi = check.encode_image((px - mean) / std, normalize=True)
    ft = check.encode_text(tokens, normalize=True)
sims = (100 * fi @ ft.T)[0].tolist()
(OUT / "similarity.json").write_text(
    json.dumps({"prompts": PROMPTS, "similarity": sims}, indent=2) + "\n")
print("similarity", sims)
print({p.name: p.stat().st_size for p in sorted(OUT.iterdir())})
