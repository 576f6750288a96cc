#!/usr/bin/env python3
"""PyTorch side of `clipig bench clip`: a CLIP vision tower (ViT-B/32 by default, or one of
OpenAI's ResNets through open_clip), forward and forward + backward to the input pixels
(weights frozen, batch norm in inference mode), random-init weights, on this machine's CPU.

Run by a developer (never by CI):
    PY=$(../shared/tools/torch-oracle.sh); $PY scripts/bench_clip_torch.py --batch 10
    $PY scripts/bench_clip_torch.py --batch 10 --model RN50
PyTorch's convolutions (oneDNN) pick the widest vector instructions the CPU has, whatever
OPENBLAS_CORETYPE says; for a comparison at clipig's OpenBLAS kernels' width set
ONEDNN_MAX_CPU_ISA (AVX2 for OpenBLAS's Haswell kernels) and MKL_ENABLE_INSTRUCTIONS alike.
"""
import argparse
import os
import time

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="0: torch default")
    p.add_argument("--model", default="ViT-B/32",
                   choices=["ViT-B/32", "RN50", "RN101", "RN50x4", "RN50x16", "RN50x64"])
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    if a.model.startswith("RN"):
        import open_clip
        visual = open_clip.create_model(a.model, pretrained=None).visual.eval()
        size, embed = visual.image_size, visual.output_dim
        size = size[0] if isinstance(size, (tuple, list)) else size

        def run(pixels):
            return visual(pixels)
        params = visual.parameters()
    else:
        cfg = CLIPVisionConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                               num_attention_heads=12, image_size=224, patch_size=32,
                               projection_dim=512, hidden_act="quick_gelu")
        model = CLIPVisionModelWithProjection(cfg).eval()
        size, embed = 224, 512

        def run(pixels):
            return model(pixel_values=pixels).image_embeds
        params = model.parameters()
    for w in params:
        w.requires_grad_(False)
    x = torch.rand(a.batch, 3, size, size)
    v = torch.randn(a.batch, embed)

    def fwd():
        with torch.no_grad():
            return run(x)

    def fwd_bwd():
        xi = x.clone().requires_grad_(True)
        f = run(xi)
        f = f / f.norm(dim=-1, keepdim=True)
        (f * v).sum().backward()
        return xi.grad

    def timeit(fn):
        fn()  # warm-up
        ts = []
        for _ in range(a.steps):
            t0 = time.perf_counter()
            fn()
            ts.append(time.perf_counter() - t0)
        return min(ts), sum(ts) / len(ts)

    isa = os.environ.get("ONEDNN_MAX_CPU_ISA") or "widest"
    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, {a.model} {size} px, "
          f"batch {a.batch}; CPU capability {torch.backends.cpu.get_cpu_capability()}, "
          f"oneDNN ISA {isa}")
    tf = timeit(fwd)
    tb = timeit(fwd_bwd)
    print(f"forward           min {tf[0]:.3f} s  mean {tf[1]:.3f} s")
    print(f"forward+backward  min {tb[0]:.3f} s  mean {tb[1]:.3f} s")


if __name__ == "__main__":
    main()
