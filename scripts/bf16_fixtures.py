#!/usr/bin/env python3
"""bf16 accuracy fixtures for clipig (Tests/CLIPTests/Fixtures/bf16-reference.safetensors).

Run by a developer, never by CI:
    PY=$(../shared/tools/torch-oracle.sh); $PY scripts/bf16_fixtures.py

ViT-B/32 (Hugging Face CLIPModel) and RN50 (open_clip ModifiedResNet) with clipig's
deterministic weights (the same models as clip_fixtures.py b32 and resnet_fixtures.py rn50;
no weights stored), two images, the loss Σ w·f/‖f‖: image features and every 17th element of
the pixel gradient, once in fp32 and once under torch.autocast("cpu", dtype=torch.bfloat16)
(PyTorch's bf16: GEMMs and convolutions in bf16, its own choice of what else). The loss and
the feature normalisation run in fp32 in both, as in clipig. clipig's bf16 test holds its
features' error against fp32 to 1.5× autocast's own error against fp32.

Pinned versions used for the committed file: torch 2.15.0, transformers 5.24.0,
open_clip 3.3.0, Python 3.11.
"""
import os
import sys

import numpy as np
import torch

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_fixtures import FIXTURES, MEAN, STD, det_uniform, fill_deterministic  # noqa: E402
from resnet_fixtures import fill_resnet  # noqa: E402


def step(forward, pixels, weights, autocast):
    """Features and d loss / d pixels of ⟨f/‖f‖, w⟩ (features computed under autocast or not)."""
    x = pixels.clone().requires_grad_(True)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    with torch.autocast("cpu", dtype=torch.bfloat16, enabled=autocast):
        feats = forward((x - mean) / std)
    feats = feats.float()
    unit = feats / feats.norm(dim=-1, keepdim=True)
    (unit * weights).sum().backward()
    return feats.detach(), x.grad.detach()


def compare(name, ours, ref):
    d = (ours.double() - ref.double()).norm() / ref.double().norm()
    cos = torch.nn.functional.cosine_similarity(ours.double().reshape(1, -1),
                                                ref.double().reshape(1, -1)).item()
    print(f"  {name:40s} relative error {d.item():.3e}  cosine {cos:.6f}")


def run(name, forward, size, embed, out):
    n = 2
    pixels = torch.from_numpy(det_uniform(0, 20000, n * 3 * size * size) * np.float32(0.5)
                              + np.float32(0.5)).reshape(n, 3, size, size)
    weights = torch.from_numpy(det_uniform(0, 20001, n * embed)).reshape(n, embed)
    f32, g32 = step(forward, pixels, weights, autocast=False)
    f16, g16 = step(forward, pixels, weights, autocast=True)
    compare(f"{name} autocast features vs fp32", f16, f32)
    compare(f"{name} autocast pixel gradient vs fp32", g16, g32)
    out[f"{name}_features_fp32"] = f32
    out[f"{name}_features_autocast"] = f16
    out[f"{name}_pixel_grad_every_17th_fp32"] = g32.reshape(-1)[::17]
    out[f"{name}_pixel_grad_every_17th_autocast"] = g16.reshape(-1)[::17]


def main():
    from safetensors.torch import save_file
    from transformers import CLIPConfig, CLIPModel
    from open_clip.modified_resnet import ModifiedResNet
    torch.set_num_threads(os.cpu_count() or 1)
    out = {}
    cfg = CLIPConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=8, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=32,
                           hidden_act="quick_gelu"),
        projection_dim=512)
    model = CLIPModel(cfg).eval()
    fill_deterministic(model, cfg, seed=0)
    vit = lambda x: model.visual_projection(model.vision_model(pixel_values=x).pooler_output)
    run("b32", vit, 224, 512, out)
    layers, width, size, embed = [3, 4, 6, 3], 64, 224, 1024
    visual = ModifiedResNet(layers=layers, output_dim=embed, heads=32, image_size=size,
                            width=width).eval()
    fill_resnet(visual, layers, width, size, embed)
    run("rn50", visual, size, embed, out)
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, "bf16-reference.safetensors"))
    for k, v in sorted(out.items()):
        print(f"  {k:40s} {tuple(v.shape)}")
    print("wrote bf16-reference.safetensors")


if __name__ == "__main__":
    main()
