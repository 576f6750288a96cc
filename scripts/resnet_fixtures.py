#!/usr/bin/env python3
"""Reference fixtures for clipig's ResNet CLIP image tower (Tests/CLIPTests/Fixtures).

Run by a developer, never by CI:
    /tmp/clipig-oracle/bin/python scripts/resnet_fixtures.py small  # small random ResNet CLIP
    /tmp/clipig-oracle/bin/python scripts/resnet_fixtures.py rn50   # RN50 shapes, generated weights
    /tmp/clipig-oracle/bin/python scripts/resnet_fixtures.py rn101 rn50x4 rn50x16 rn50x64
    /tmp/clipig-oracle/bin/python scripts/resnet_fixtures.py deep-x16 deep-x64 rn50x16-float64 rn50x64-float64

small: open_clip's CLIP with a ModifiedResNet of layers (2, 2, 1, 1), width 4, 96 px (2 heads,
embed 24) and a one-layer text tower, random weights at O(1) scale with non-trivial batch-norm
statistics. Writes resnet-small.safetensors (fp32, open_clip names), resnet-small-fp16.pt (the
same state dict as fp16, torch.save) and resnet-small-reference.safetensors (features, pixel
gradients, text features; the *_fp16 entries come from the fp16-rounded weights).

rn50, rn101, rn50x4, rn50x16, rn50x64: OpenAI's ResNet image towers (layer counts, widths,
input sizes, heads = 32·width/64) with clipig's deterministic weights (DeterministicWeights.swift,
the canonical order of ResNetTower.swift); only outputs are committed
(resnet-<name>-reference.safetensors; RN50 with two images, the others with one).

deep-x16, deep-x64: RN50x16's and RN50x64's layer counts at width 16 and 64 px (embed 64) with
the same deterministic weights, one image, computed in float64 (the reference) and in float32
(PyTorch's own rounding error): features, loss and the whole pixel gradient of both. With these
weights the activations grow with depth (|f| ~ 4e2 for deep-x16, ~ 3e4 for deep-x64) and
PyTorch's float32 gradient drifts from float64 by a relative norm of 1e-3–3e-3 (deep-x16) and
50–130 (deep-x64), varying with the thread count (clipig's float32 stays within 1e-5).
rn50x16-float64, rn50x64-float64: the full-size shapes in float64
(resnet-<name>-float64-reference.safetensors, the sampled gradient etc. as for rn50x16), to judge
the float32 gradients against.

Pinned versions used for the committed files: torch 2.15.0, open_clip 3.3.0, Python 3.11.
"""
import math
import os
import sys

import numpy as np
import torch

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "CLIPTests", "Fixtures")
MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)

sys.path.insert(0, os.path.dirname(os.path.abspath(__file__)))
from clip_fixtures import det_uniform, det_values  # noqa: E402  (the shared generator)


def normalize(x):
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    return (x - mean) / std


def image_reference(visual, pixels, weights):
    """Features, loss ⟨normalize(f), w⟩ and its pixel gradient; the last stage's output."""
    maps = {}
    h = visual.layer4.register_forward_hook(lambda m, i, o: maps.__setitem__("map", o.detach()))
    x = pixels.clone().requires_grad_(True)
    feats = visual(normalize(x))
    unit = feats / feats.norm(dim=-1, keepdim=True)
    loss = (unit * weights).sum()
    loss.backward()
    h.remove()
    return {"image_features": feats.detach(), "loss": loss.detach().reshape(1),
            "pixel_grad": x.grad.detach(), "feature_map": maps["map"]}


def small_model():
    from open_clip.model import CLIP
    return CLIP(embed_dim=24,
                vision_cfg=dict(layers=[2, 2, 1, 1], width=4, image_size=96, head_width=64),
                text_cfg=dict(context_length=8, vocab_size=100, width=32, heads=1, layers=1),
                quick_gelu=True).eval()


def make_small():
    from safetensors.torch import save_file
    torch.manual_seed(4321)
    model = small_model()
    with torch.no_grad():
        for name, p in model.named_parameters():
            if name == "logit_scale":
                continue
            if ("bn" in name or "downsample.1" in name or "ln" in name) and name.endswith("weight"):
                p.copy_(1 + 0.3 * torch.randn_like(p))
            elif name.endswith("bias") or "ln" in name:
                p.copy_(0.2 * torch.randn_like(p))
            elif "embedding" in name:
                p.copy_(0.5 * torch.randn_like(p))
            elif p.dim() >= 2:
                p.copy_(torch.randn_like(p) * 1.5 / p[0].numel() ** 0.5)
            else:
                p.copy_(0.5 * torch.randn_like(p))
        for name, b in model.named_buffers():
            if name.endswith("running_mean"):
                b.copy_(0.3 * torch.randn_like(b))
            elif name.endswith("running_var"):
                b.copy_(0.5 + torch.rand_like(b))
    sd = {k: v.detach().clone().contiguous() for k, v in model.state_dict().items()
          if "num_batches_tracked" not in k and k != "attn_mask" and not k.endswith("attn_mask")}
    save_file(sd, os.path.join(FIXTURES, "resnet-small.safetensors"))
    torch.save({k: v.half() for k, v in model.state_dict().items()},
               os.path.join(FIXTURES, "resnet-small-fp16.pt"))

    g = torch.Generator().manual_seed(77)
    pixels = torch.rand(2, 3, 96, 96, generator=g)
    weights = torch.randn(2, 24, generator=g)
    tokens = torch.zeros(2, 8, dtype=torch.long)
    tokens[0, :5] = torch.tensor([98, 5, 17, 42, 99])
    tokens[1, :8] = torch.tensor([98, 3, 1, 4, 1, 5, 9, 99])
    out = {"pixels": pixels, "loss_weights": weights, "text_tokens": tokens.float()}
    out.update(image_reference(model.visual, pixels, weights))
    with torch.no_grad():
        out["text_features"] = model.encode_text(tokens)
    rounded = small_model()
    rounded.load_state_dict({k: v.half().float() if v.is_floating_point() else v
                             for k, v in model.state_dict().items()})
    for k, v in image_reference(rounded.visual, pixels, weights).items():
        out[k + "_fp16"] = v
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, "resnet-small-reference.safetensors"))
    for k, v in sorted(out.items()):
        print(f"  {k:24s} {tuple(v.shape)}")
    print("wrote resnet-small.safetensors, resnet-small-fp16.pt, resnet-small-reference.safetensors")


def resnet_specs(layers, width, image_size, embed):
    """(state-dict name, shape, kind) in the canonical order of ResNetTower.plan; the stacked
    attention-pool q/k/v weight and bias appear as 'attnpool.qkv.*'."""
    specs = []

    def conv_bn(conv, bn, cin, cout, k):
        specs.append((conv + ".weight", [cout, cin, k, k], ("weight", max(1, cin * k * k // 4))))
        specs.append((bn + ".weight", [cout], "norm_weight"))
        specs.append((bn + ".bias", [cout], "norm_bias"))
        specs.append((bn + ".running_mean", [cout], ("embedding", 0.125)))
        specs.append((bn + ".running_var", [cout], "variance"))

    w = width
    conv_bn("conv1", "bn1", 3, w // 2, 3)
    conv_bn("conv2", "bn2", w // 2, w // 2, 3)
    conv_bn("conv3", "bn3", w // 2, w, 3)
    inplanes = w
    for stage, count in enumerate(layers):
        planes = w << stage
        for j in range(count):
            p = f"layer{stage + 1}.{j}."
            stride = 2 if stage > 0 and j == 0 else 1
            conv_bn(p + "conv1", p + "bn1", inplanes, planes, 1)
            conv_bn(p + "conv2", p + "bn2", planes, planes, 3)
            conv_bn(p + "conv3", p + "bn3", planes, 4 * planes, 1)
            if stride > 1 or inplanes != 4 * planes:
                conv_bn(p + "downsample.0", p + "downsample.1", inplanes, 4 * planes, 1)
            inplanes = 4 * planes
    c = 32 * w
    g = image_size // 32
    specs.append(("attnpool.positional_embedding", [g * g + 1, c], ("embedding", 0.25)))
    specs.append(("attnpool.qkv.weight", [3 * c, c], ("weight", c)))
    specs.append(("attnpool.qkv.bias", [3 * c], "bias"))
    specs.append(("attnpool.c_proj.weight", [embed, c], ("weight", c)))
    specs.append(("attnpool.c_proj.bias", [embed], "bias"))
    return specs


def det_values_ext(seed, tensor, shape, kind):
    if kind == "variance":
        u = det_uniform(seed, tensor, int(np.prod(shape)))
        return (u * np.float32(0.25) + np.float32(1)).reshape(shape)
    return det_values(seed, tensor, shape, kind)


def fill_resnet(visual, layers, width, image_size, embed, seed=0):
    sd = {}
    for tensor, (name, shape, kind) in enumerate(resnet_specs(layers, width, image_size, embed)):
        v = det_values_ext(seed, tensor, shape, kind)
        if name.startswith("attnpool.qkv."):
            suffix = name.split(".")[-1]
            n = shape[0] // 3
            for j, x in enumerate("qkv"):
                sd[f"attnpool.{x}_proj.{suffix}"] = v[j * n:(j + 1) * n]
        else:
            sd[name] = v
    tensors = {k: torch.from_numpy(np.ascontiguousarray(v)) for k, v in sd.items()}
    missing, unexpected = visual.load_state_dict(tensors, strict=False)
    assert not unexpected, unexpected
    assert all(m.endswith("num_batches_tracked") for m in missing), missing


# OpenAI's ResNet image towers: (layers, width, input size, embed dimension, images).
OPENAI = {
    "rn50": ([3, 4, 6, 3], 64, 224, 1024, 2),
    "rn101": ([3, 4, 23, 3], 64, 224, 512, 1),
    "rn50x4": ([4, 6, 10, 6], 80, 288, 640, 1),
    "rn50x16": ([6, 8, 18, 8], 96, 384, 768, 1),
    "rn50x64": ([3, 15, 36, 10], 128, 448, 1024, 1),
}


def make_openai(name):
    """One OpenAI shape with clipig's deterministic weights: only outputs are committed."""
    from safetensors.torch import save_file
    from open_clip.modified_resnet import ModifiedResNet
    torch.set_num_threads(os.cpu_count() or 1)
    layers, width, size, embed, n = OPENAI[name]
    visual = ModifiedResNet(layers=layers, output_dim=embed, heads=width * 32 // 64,
                            image_size=size, width=width).eval()
    fill_resnet(visual, layers, width, size, embed)
    pixels = torch.from_numpy(det_uniform(0, 20000, n * 3 * size * size) * np.float32(0.5)
                              + np.float32(0.5)).reshape(n, 3, size, size)
    weights = torch.from_numpy(det_uniform(0, 20001, n * embed)).reshape(n, embed)
    ref = image_reference(visual, pixels, weights)
    g = ref["pixel_grad"].reshape(-1).double()
    probe = torch.from_numpy(det_uniform(0, 20002, g.numel())).double()
    # RN50's fixture (the first) samples densely; the others keep a few hundred KB.
    every = (7, 17) if name == "rn50" else (97, 97)
    out = {
        "image_features": ref["image_features"], "loss": ref["loss"],
        f"feature_map_every_{every[0]}th": ref["feature_map"].reshape(-1)[::every[0]],
        f"pixel_grad_every_{every[1]}th": ref["pixel_grad"].reshape(-1)[::every[1]],
        "pixel_grad_norm": g.norm().reshape(1), "pixel_grad_dot_probe": (g * probe).sum().reshape(1),
    }
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, f"resnet-{name}-reference.safetensors"))
    for k, v in sorted(out.items()):
        print(f"  {k:24s} {tuple(v.shape)}")
    print("feature norm", ref["image_features"].norm(dim=-1).tolist())
    print(f"wrote resnet-{name}-reference.safetensors")


# Small deep analogs of RN50x16 and RN50x64 (their layer counts at width 16, 64 px, embed 64):
# (layers, width, input size, embed dimension).
DEEP = {
    "deep-x16": ([6, 8, 18, 8], 16, 64, 64),
    "deep-x64": ([3, 15, 36, 10], 16, 64, 64),
}


def run_dtype(layers, width, size, embed, dtype):
    """One image through the tower with the deterministic weights, computed in `dtype`."""
    from open_clip.modified_resnet import ModifiedResNet
    visual = ModifiedResNet(layers=layers, output_dim=embed, heads=width * 32 // 64,
                            image_size=size, width=width).eval()
    fill_resnet(visual, layers, width, size, embed)
    visual = visual.to(dtype)
    pixels = torch.from_numpy(det_uniform(0, 20000, 3 * size * size) * np.float32(0.5)
                              + np.float32(0.5)).reshape(1, 3, size, size).to(dtype)
    weights = torch.from_numpy(det_uniform(0, 20001, embed)).reshape(1, embed).to(dtype)
    mean = torch.tensor(MEAN, dtype=dtype).view(1, 3, 1, 1)
    std = torch.tensor(STD, dtype=dtype).view(1, 3, 1, 1)
    x = pixels.clone().requires_grad_(True)
    feats = visual((x - mean) / std)
    loss = (feats / feats.norm(dim=-1, keepdim=True) * weights).sum()
    loss.backward()
    return feats.detach().double(), loss.detach().double(), x.grad.detach().double()


def make_deep(name):
    """A deep analog in float64 (the reference) and in float32 (PyTorch's own rounding error):
    features, loss and the whole pixel gradient of both, stored as float32."""
    from safetensors.torch import save_file
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    layers, width, size, embed = DEEP[name]
    f64, l64, g64 = run_dtype(layers, width, size, embed, torch.float64)
    f32, l32, g32 = run_dtype(layers, width, size, embed, torch.float32)
    rel = ((g32 - g64).norm() / g64.norm()).item()
    cos = (g32.reshape(-1) @ g64.reshape(-1) / g32.norm() / g64.norm()).item()
    print(f"{name}: |f| {f64.norm().item():.6g}, loss fp64 {l64.item():.9g} fp32 {l32.item():.9g}")
    print(f"  |grad| fp64 {g64.norm().item():.6g} fp32 {g32.norm().item():.6g};"
          f" fp32 vs fp64: relative norm {rel:.4g}, cosine {cos:.9f}")
    out = {"image_features": f64, "loss": l64.reshape(1), "pixel_grad": g64.reshape(-1),
           "image_features_fp32": f32, "loss_fp32": l32.reshape(1),
           "pixel_grad_fp32": g32.reshape(-1)}
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, f"resnet-{name}-reference.safetensors"))
    print(f"wrote resnet-{name}-reference.safetensors")


def make_openai_float64(name):
    """One OpenAI shape in float64 (one image, two threads): the sampled pixel gradient, its
    norm and probe product, features and loss, to judge float32 gradients against."""
    from safetensors.torch import save_file
    torch.set_num_threads(min(2, os.cpu_count() or 1))
    layers, width, size, embed, _ = OPENAI[name]
    feats, loss, g = run_dtype(layers, width, size, embed, torch.float64)
    g = g.reshape(-1)
    probe = torch.from_numpy(det_uniform(0, 20002, g.numel())).double()
    out = {"image_features": feats, "loss": loss.reshape(1), "pixel_grad_every_97th": g[::97],
           "pixel_grad_norm": g.norm().reshape(1), "pixel_grad_dot_probe": (g * probe).sum().reshape(1)}
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, f"resnet-{name}-float64-reference.safetensors"))
    print(f"{name} float64: |grad| {g.norm().item():.6g}, loss {loss.item():.9g}")
    print(f"wrote resnet-{name}-float64-reference.safetensors")


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    for w in sys.argv[1:] or ["small", *OPENAI, *DEEP]:
        if w == "small":
            make_small()
        elif w in DEEP:
            make_deep(w)
        elif w.endswith("-float64"):
            make_openai_float64(w[:-len("-float64")])
        else:
            make_openai(w)


if __name__ == "__main__":
    main()
