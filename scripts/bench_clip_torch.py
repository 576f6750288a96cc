#!/usr/bin/env python3
"""PyTorch side of `clipig bench clip`: ViT-B/32 vision tower, forward and forward +
backward to the input pixels (weights frozen), random-init weights, on this machine's CPU.

Run by a developer (never by CI):
    PY=$(../shared/tools/torch-oracle.sh); $PY scripts/bench_clip_torch.py --batch 10
"""
import argparse
import time

import torch
from transformers import CLIPVisionConfig, CLIPVisionModelWithProjection


def main():
    p = argparse.ArgumentParser()
    p.add_argument("--batch", type=int, default=10)
    p.add_argument("--steps", type=int, default=5)
    p.add_argument("--threads", type=int, default=0, help="0: torch default")
    a = p.parse_args()
    if a.threads:
        torch.set_num_threads(a.threads)
    torch.manual_seed(0)
    cfg = CLIPVisionConfig(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=32,
                           projection_dim=512, hidden_act="quick_gelu")
    model = CLIPVisionModelWithProjection(cfg).eval()
    for w in model.parameters():
        w.requires_grad_(False)
    x = torch.rand(a.batch, 3, 224, 224)
    v = torch.randn(a.batch, 512)

    def fwd():
        with torch.no_grad():
            return model(pixel_values=x).image_embeds

    def fwd_bwd():
        xi = x.clone().requires_grad_(True)
        f = model(pixel_values=xi).image_embeds
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

    print(f"torch {torch.__version__}, threads {torch.get_num_threads()}, batch {a.batch}")
    tf = timeit(fwd)
    tb = timeit(fwd_bwd)
    print(f"forward           min {tf[0]:.3f} s  mean {tf[1]:.3f} s")
    print(f"forward+backward  min {tb[0]:.3f} s  mean {tb[1]:.3f} s")


if __name__ == "__main__":
    main()
