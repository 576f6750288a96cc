"""Tiny random-init open_clip models in open_clip's hub layout, with features and pixel
gradients computed by open_clip in PyTorch: proves that clipig reads `open_clip_config.json`
(QuickGELU and exact GELU, mlp_ratio, head_width) with `open_clip_model.safetensors` and with
the pickled `open_clip_pytorch_model.bin`, and computes what open_clip computes.

Run with the oracle venv (never in CI), from the repository root:
    /tmp/clipig-oracle/bin/python scripts/open_clip_fixtures.py
Writes Tests/ModelStoreTests/Fixtures/openclip/{quickgelu-safetensors,gelu-bin}/ and features.json
(the loading path's fixtures), and the shapes of SHAPES below (ResNets, an odd-width ViT) with a
reference.safetensors each into Tests/CLIPTests/Fixtures/openclip/ (the towers' fidelity).
Pinned: torch 2.15.0, open_clip_torch 3.3.0.
"""
import json
import pathlib
import warnings

import numpy as np

import open_clip
import torch
from open_clip.model import CLIP
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
OUT = pathlib.Path("Tests/ModelStoreTests/Fixtures/openclip")
SHAPES_OUT = pathlib.Path("Tests/CLIPTests/Fixtures/openclip")
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


# ---------------------------------------------------------------------------------------------
# Shapes beyond OpenAI's recipe, each with reference.safetensors in its folder (pixels in [0, 1],
# CLIP-normalised inside the model as clipig's encoder does; features, the pixel gradient of
# ⟨normalize(features), probe⟩, text features of `tokens`). Issue 23: open_clip builds ResNet
# heads as 32·width // head_width, ViT heads as width // head_width, and the text tower from
# text_cfg (heads not width/64).
#   resnet-quickgelu: the 64 px, layers [1, 1, 1, 1], width 8 with random batch-norm
#     statistics; CLIP's full vocabulary and context so that `clipig similarity` can tokenize
#     prompts (text width 8, 2 heads); fp16 weights; similarity.json holds open_clip's
#     100·cos(image, prompt) for image.png against PROMPTS.
#   resnet-gelu-bin: 32 px (the last stages' maps 2×2 and 1×1), layers [2, 1, 1, 2], width 6,
#     head_width 48 (4 heads), exact GELU, text width 16 with 4 heads, the pickled .bin.
#   vit-odd-width: a ViT of width 96 with head_width 64 (open_clip: 1 head of 96).
PROMPTS = ["a cat made of salami.", "red"]
SHAPES = {
    "resnet-quickgelu": dict(
        quick_gelu=True, embed_dim=32, size=64, fp16=True,
        vision_cfg=dict(image_size=64, layers=[1, 1, 1, 1], width=8),
        text_cfg=dict(context_length=77, vocab_size=49408, width=8, heads=2, layers=1),
        weights="open_clip_model.safetensors"),
    "resnet-gelu-bin": dict(
        quick_gelu=False, embed_dim=12, size=32, fp16=False,
        vision_cfg=dict(image_size=32, layers=[2, 1, 1, 2], width=6, head_width=48),
        text_cfg=dict(context_length=8, vocab_size=48, width=16, heads=4, layers=1,
                      mlp_ratio=3.0),
        weights="open_clip_pytorch_model.bin"),
    "vit-odd-width": dict(
        quick_gelu=True, embed_dim=16, size=16, fp16=False,
        vision_cfg=dict(image_size=16, layers=1, width=96, head_width=64, patch_size=8),
        text_cfg=dict(context_length=8, vocab_size=48, width=32, heads=2, layers=1),
        weights="open_clip_model.safetensors"),
}


def randomize(model):
    """O(1) random weights; batch norms with random affine parameters and statistics."""
    with torch.no_grad():
        for n, p in model.named_parameters():
            if n == "logit_scale":
                continue
            if ("bn" in n or "downsample.1" in n or "ln" in n) and n.endswith("weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif n.endswith("bias"):
                p.copy_(0.2 * torch.randn_like(p))
            elif "embedding" in n:
                p.copy_(0.5 * torch.randn_like(p))
            elif p.dim() >= 2:
                p.copy_(torch.randn_like(p) * 1.5 / p[0].numel() ** 0.5)
            else:
                p.copy_(0.5 * torch.randn_like(p))
        for n, b in model.named_buffers():
            if n.endswith("running_mean"):
                b.copy_(0.3 * torch.randn_like(b))
            elif n.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))


def make_shape(name, v, seed):
    from PIL import Image
    torch.manual_seed(2000 + seed)
    model = CLIP(embed_dim=v["embed_dim"], vision_cfg=v["vision_cfg"], text_cfg=v["text_cfg"],
                 quick_gelu=v["quick_gelu"]).eval()
    randomize(model)
    folder = SHAPES_OUT / name
    folder.mkdir(parents=True, exist_ok=True)
    state = {k: (t.half() if v["fp16"] and t.is_floating_point() else t).contiguous()
             for k, t in model.state_dict().items()}
    if v["weights"].endswith(".safetensors"):
        save_file(state, str(folder / v["weights"]))
    else:
        torch.save(state, str(folder / v["weights"]))
    s = v["size"]
    config = {
        "model_cfg": {"embed_dim": v["embed_dim"], "quick_gelu": v["quick_gelu"],
                      "vision_cfg": v["vision_cfg"], "text_cfg": v["text_cfg"]},
        "preprocess_cfg": {"mean": MEAN, "std": STD, "interpolation": "bicubic",
                           "resize_mode": "shortest", "size": s},
    }
    (folder / "open_clip_config.json").write_text(json.dumps(config, indent=2) + "\n")

    # Reference: open_clip loads the files back (fp16 weights become fp32 parameters).
    check = CLIP(embed_dim=v["embed_dim"], vision_cfg=v["vision_cfg"], text_cfg=v["text_cfg"],
                 quick_gelu=v["quick_gelu"]).eval()
    open_clip.load_checkpoint(check, str(folder / v["weights"]))
    g = torch.Generator().manual_seed(3000 + seed)
    pixels = torch.rand(2, 3, s, s, generator=g)
    probe = torch.randn(2, v["embed_dim"], generator=g)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    x = pixels.clone().requires_grad_(True)
    features = check.encode_image((x - mean) / std)
    (torch.nn.functional.normalize(features, dim=-1) * probe).sum().backward()
    vocab = v["text_cfg"]["vocab_size"]
    ctx = v["text_cfg"]["context_length"]
    tokens = torch.zeros(2, ctx, dtype=torch.long)
    tokens[0, :5] = torch.tensor([vocab - 2, 3, 17, 5, vocab - 1])
    tokens[1, :3] = torch.tensor([vocab - 2, 9, vocab - 1])
    with torch.no_grad():
        text_features = check.encode_text(tokens)
    ref = {"pixels": pixels, "probe": probe, "image_features": features.detach(),
           "pixel_grad": x.grad, "tokens": tokens.float(), "text_features": text_features}
    save_file({k: t.float().contiguous() for k, t in ref.items()},
              str(folder / "reference.safetensors"))
    if vocab == 49408:
        # The measurement: an image already at the input size, rated against prompts.
        image = (pixels[0].permute(1, 2, 0) * 255).round().to(torch.uint8).numpy()
        Image.fromarray(image).save(folder / "image.png")
        loaded = torch.from_numpy(np.asarray(Image.open(folder / "image.png").convert("RGB")))
        px = loaded.float().permute(2, 0, 1)[None] / 255
        with torch.no_grad():
            fi = check.encode_image((px - mean) / std, normalize=True)
            ft = check.encode_text(open_clip.tokenize(PROMPTS), normalize=True)
        sims = (100 * fi @ ft.T)[0].tolist()
        (folder / "similarity.json").write_text(
            json.dumps({"prompts": PROMPTS, "similarity": sims}, indent=2) + "\n")
        print(name, "similarity", sims)
    print(name, {p.name: p.stat().st_size for p in folder.iterdir()})


for seed, (name, v) in enumerate(SHAPES.items()):
    make_shape(name, v, seed)
