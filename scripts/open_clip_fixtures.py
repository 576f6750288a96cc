"""Tiny random-init open_clip models in open_clip's hub layout, with features and pixel
gradients computed by open_clip in PyTorch: proves that clipig reads `open_clip_config.json`
(QuickGELU and exact GELU, mlp_ratio, head_width) with `open_clip_model.safetensors` and with
the pickled `open_clip_pytorch_model.bin`, and computes what open_clip computes.

Run with the oracle venv (never in CI), from the repository root:
    /tmp/clipig-oracle/bin/python scripts/open_clip_fixtures.py
Writes Tests/ModelStoreTests/Fixtures/openclip/{quickgelu-safetensors,gelu-bin}/ and features.json.
Pinned: torch 2.15.0, open_clip_torch 3.3.0.
"""
import json
import pathlib
import warnings

import open_clip
import torch
from open_clip.model import CLIP
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
OUT = pathlib.Path("Tests/ModelStoreTests/Fixtures/openclip")
assert torch.__version__.startswith("2.15."), torch.__version__
assert open_clip.__version__ == "3.3.0", open_clip.__version__

MEAN = [0.48145466, 0.4578275, 0.40821073]
STD = [0.26862954, 0.26130258, 0.27577711]

VARIANTS = {
    # OpenAI's recipe: QuickGELU, safetensors (what timm/*.openai hold).
    "quickgelu-safetensors": dict(
        quick_gelu=True,
        vision_cfg=dict(image_size=16, layers=2, width=32, head_width=16, patch_size=8),
        text_cfg=dict(context_length=8, vocab_size=48, width=32, heads=2, layers=2),
        weights="open_clip_model.safetensors",
    ),
    # LAION's recipe: exact GELU, another MLP ratio, the pickled .bin.
    "gelu-bin": dict(
        quick_gelu=False,
        vision_cfg=dict(image_size=16, layers=2, width=32, head_width=8, patch_size=4,
                        mlp_ratio=2.0),
        text_cfg=dict(context_length=8, vocab_size=48, width=16, heads=2, layers=1,
                      mlp_ratio=3.0),
        weights="open_clip_pytorch_model.bin",
    ),
}

reference = {}
for seed, (name, v) in enumerate(VARIANTS.items()):
    torch.manual_seed(1000 + seed)
    model = CLIP(embed_dim=16, vision_cfg=v["vision_cfg"], text_cfg=v["text_cfg"],
                 quick_gelu=v["quick_gelu"]).eval()
    with torch.no_grad():
        for p in model.parameters():
            p.copy_(torch.randn_like(p) * 0.2)
    folder = OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: t.contiguous() for k, t in model.state_dict().items()}
    if v["weights"].endswith(".safetensors"):
        save_file(state, str(folder / v["weights"]))
    else:
        torch.save(state, str(folder / v["weights"]))
    config = {
        "model_cfg": {"embed_dim": 16, "quick_gelu": v["quick_gelu"],
                      "vision_cfg": v["vision_cfg"], "text_cfg": v["text_cfg"]},
        "preprocess_cfg": {"mean": MEAN, "std": STD, "interpolation": "bicubic",
                           "resize_mode": "shortest", "size": 16},
    }
    if not v["quick_gelu"]:
        del config["model_cfg"]["quick_gelu"]  # open_clip's default: exact GELU
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")

    # Reference: load the files back the way open_clip does, then features and gradients.
    check = CLIP(
        embed_dim=16, vision_cfg=v["vision_cfg"], text_cfg=v["text_cfg"],
        quick_gelu=v["quick_gelu"]).eval()
    open_clip.load_checkpoint(check, str(folder / v["weights"]))
    image = torch.randn(2, 3, 16, 16)  # already normalised
    probe = torch.randn(2, 16)
    x = image.clone().requires_grad_(True)
    features = check.encode_image(x)
    (features * probe).sum().backward()
    text = torch.tensor([[46, 3, 17, 5, 47, 0, 0, 0], [46, 9, 47, 0, 0, 0, 0, 0]])
    with torch.no_grad():
        text_features = check.encode_text(text)
    reference[name] = {
        "weights": v["weights"],
        "image": [float(t) for t in image.flatten()],
        "image_shape": list(image.shape),
        "probe": [float(t) for t in probe.flatten()],
        "image_features": [float(t) for t in features.detach().flatten()],
        "pixel_grad": [float(t) for t in x.grad.flatten()],
        "tokens": text.tolist(),
        "text_features": [[float(t) for t in row] for row in text_features],
    }
    print(name, (folder / v["weights"]).stat().st_size)
(OUT / "features.json").write_text(json.dumps(reference) + "\n")
