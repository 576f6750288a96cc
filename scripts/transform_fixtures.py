#!/usr/bin/env python3
"""Reference fixtures for clipig's geometric transforms, made with PyTorch/torchvision.

Writes Tests/TransformsTests/Fixtures/geometry.json: for each case an input image, the reference
output, a random cotangent and the input gradient torch autograd gives for it. The Swift tests
(Tests/TransformsTests/GeometryFixtureTests.swift) replay every case through clipig's stages and
primitives. CI never runs this script; rerun it by hand after changing a case:

    PY=$(../shared/tools/torch-oracle.sh)      # or /tmp/clipig-oracle/bin/python
    $PY scripts/transform_fixtures.py

Conventions (spec §5): images are float32 [C,H,W]; bilinear resize without antialiasing
(align_corners=False); nearest affine sampling through torchvision's grid (pixel centres,
round-half-even, zero outside). The script also checks the written-down rotation rule of
spec §5.15 (implemented below in NumPy, float64) against torchvision and stops if they disagree.
"""
import json
import math
import os
import sys

import numpy as np
import torch
import torch.nn.functional as TF
import torchvision
import torchvision.transforms.functional as VF
from torchvision.transforms import InterpolationMode

OUT = os.path.join(os.path.dirname(__file__), "..", "Tests", "TransformsTests", "Fixtures", "geometry.json")
rng = np.random.default_rng(20240607)
cases = []


def rand(shape):
    # 4 decimals keep the JSON small; the values are exactly what both sides read as float32.
    return torch.tensor(rng.uniform(-1, 1, shape).round(4), dtype=torch.float32)


def flat(t):
    return [float("%.7g" % v) for v in t.detach().reshape(-1).tolist()]


def add_case(name, stage, value, x, fn, **extra):
    """Runs fn on x with autograd and stores input, output, cotangent and input gradient.

    stage/value: the clipig stage and its YAML value that must reproduce fn (stage None when only
    a primitive is compared); extra: the fixed parameters of a primitive (scale, translate)."""
    x = x.clone().requires_grad_(True)
    y = fn(x)
    v = rand(tuple(y.shape))
    (g,) = torch.autograd.grad((y * v).sum(), x)
    cases.append({
        "name": name, "stage": stage, "value": value, **extra,
        "input_shape": list(x.shape), "input": flat(x),
        "output_shape": list(y.shape), "output": flat(y),
        "cotangent": flat(v), "grad": flat(g),
    })


def nearest_rule(x, source):
    """Spec §5.15's sampling in float64: out(p) = in(round_half_even(source(p) - 0.5)) or 0,
    where p is an output pixel centre in the edge frame and source(px, py) its source point."""
    c, h, w = x.shape
    out = np.zeros((c, h, w), dtype=np.float32)
    xs = x.detach().numpy()
    for j in range(h):
        for i in range(w):
            sx, sy = source(i + 0.5, j + 0.5)
            si, sj = int(np.rint(sx - 0.5)), int(np.rint(sy - 0.5))
            if 0 <= si < w and 0 <= sj < h:
                out[:, j, i] = xs[:, sj, si]
    return out


def rotation_rule(x, degree, cx, cy):
    """Rotation of the content counter-clockwise about (cx, cy): s = c + R(p - c)."""
    th = math.radians(degree)
    cos, sin = math.cos(th), math.sin(th)
    return nearest_rule(x, lambda px, py: (cx + cos * (px - cx) - sin * (py - cy),
                                           cy + sin * (px - cx) + cos * (py - cy)))


def scale_rule(x, s):
    """Zoom about the image centre: s = centre + (p - centre) / s."""
    _, h, w = x.shape
    return nearest_rule(x, lambda px, py: (w / 2 + (px - w / 2) / s, h / 2 + (py - h / 2) / s))


def check_rule(name, ref, rule):
    """torchvision samples in float32, so at exact ties (a source coordinate exactly between two
    pixels) its rounding decides; fixture parameters are chosen to stay clear of ties."""
    if not np.array_equal(ref.detach().numpy(), rule):
        sys.exit(f"the nearest-sampling rule disagrees with torchvision for {name}")


# resize: bilinear, half-pixel centres, no antialiasing (up, down, mixed, non-square).
for (h, w), (oh, ow) in [((5, 7), (9, 4)), ((6, 6), (3, 3)), ((4, 9), (8, 13)), ((7, 5), (2, 11)),
                         ((3, 8), (3, 5))]:
    add_case(f"resize {h}x{w} -> {oh}x{ow}", "resize", f"{ow} {oh}", rand((3, h, w)),
             lambda x, oh=oh, ow=ow: TF.interpolate(x[None], size=(oh, ow), mode="bilinear",
                                                   align_corners=False, antialias=False)[0])

# pad: edge = replicate, wrap = circular, fill = a constant per channel.
for (h, w), (sx, sy) in [((4, 5), (2, 1)), ((5, 3), (1, 3)), ((3, 4), (0, 2))]:
    add_case(f"pad edge {h}x{w} by {sx},{sy}", "pad", {"size": f"{sx} {sy}", "mode": "edge"},
             rand((3, h, w)), lambda x, sx=sx, sy=sy: TF.pad(x[None], (sx, sx, sy, sy), mode="replicate")[0])
    add_case(f"pad wrap {h}x{w} by {sx},{sy}", "pad", {"size": f"{sx} {sy}", "mode": "wrap"},
             rand((3, h, w)), lambda x, sx=sx, sy=sy: TF.pad(x[None], (sx, sx, sy, sy), mode="circular")[0])
color = [0.25, -0.5, 1.0]
add_case("pad fill 3x4 by 2,1", "pad", {"size": "2 1", "color": "0.25 -0.5 1"}, rand((3, 3, 4)),
         lambda x: torch.stack([TF.pad(x[k], (2, 2, 1, 1), value=color[k]) for k in range(3)]))

# center_crop (width, height) and crop (x, y, w, h) past the border: torchvision zero-pads.
for (h, w), (cw, ch) in [((6, 7), (3, 4)), ((5, 4), (6, 3)), ((4, 5), (7, 8))]:
    add_case(f"center_crop {h}x{w} to {ch}x{cw}", "center_crop", f"{cw} {ch}",
             rand((3, h, w)), lambda x, cw=cw, ch=ch: VF.center_crop(x, [ch, cw]))
add_case("crop 5x6 at x=-2 y=3 w=4 h=4", "crop", "-2 3 4 4", rand((3, 5, 6)),
         lambda x: VF.crop(x, 3, -2, 4, 4))

# rotate: torchvision's nearest rotation about a pixel centre given in the edge frame.
for (h, w), degree, (fx, fy) in [((5, 5), 90, (0.5, 0.5)), ((6, 7), 30, (0.5, 0.5)),
                                 ((7, 6), -45, (0.0, 0.0)), ((6, 6), 135, (1.0, 1.0)),
                                 ((5, 8), 17.5, (1.0, 0.0)), ((8, 5), -200, (0.3, 0.8))]:
    cx, cy = fx * w, fy * h
    x = rand((3, h, w))
    ref = VF.rotate(x, degree, interpolation=InterpolationMode.NEAREST, center=[cx, cy])
    check_rule(f"rotate {h}x{w} {degree} ({fx},{fy})", ref, rotation_rule(x, degree, cx, cy))
    add_case(f"rotate {h}x{w} by {degree} about ({fx},{fy})", "rotate",
             {"degree": degree, "center": [fx, fy]}, x,
             lambda x, d=degree, c=[cx, cy]: VF.rotate(x, d, interpolation=InterpolationMode.NEAREST, center=c))

# random_scale's core: affine zoom about the image centre, nearest, zero fill.
for (h, w), s in [((6, 6), 1.37), ((5, 7), 0.61), ((7, 4), 2.3)]:
    x = rand((3, h, w))
    check_rule(f"scale {h}x{w} {s}", VF.affine(x, angle=0.0, translate=[0, 0], scale=s, shear=[0.0, 0.0],
                                               interpolation=InterpolationMode.NEAREST), scale_rule(x, s))
    add_case(f"scale {h}x{w} by {s}", "random_scale", f"{s} {s}", x,
             lambda x, s=s: VF.affine(x, angle=0.0, translate=[0, 0], scale=s, shear=[0.0, 0.0],
                                      interpolation=InterpolationMode.NEAREST), scale=s)

# random_translate's core: whole-pixel translation, zero fill.
for (h, w), (tx, ty) in [((5, 6), (2, -1)), ((6, 5), (-3, 4))]:
    add_case(f"translate {h}x{w} by {tx},{ty}", None, None, rand((3, h, w)),
             lambda x, tx=tx, ty=ty: VF.affine(x, angle=0.0, translate=[tx, ty], scale=1.0, shear=[0.0, 0.0],
                                              interpolation=InterpolationMode.NEAREST), translate=[tx, ty])

doc = {
    "generator": "scripts/transform_fixtures.py",
    "torch": torch.__version__, "torchvision": torchvision.__version__,
    "cases": cases,
}
with open(OUT, "w") as f:
    json.dump(doc, f, separators=(",", ":"))
    f.write("\n")
print(f"{len(cases)} cases, {os.path.getsize(OUT)} bytes -> {os.path.normpath(OUT)}")
