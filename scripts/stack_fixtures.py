"""Reference values for clipig's stack parametrization (Sources/Parametrizations).

Run with the oracle venv (never in CI):
    PY=$(/work/shared/tools/torch-oracle.sh); $PY scripts/stack_fixtures.py
Writes Tests/ParametrizationsTests/Fixtures/stack.json. Each case builds the image the way
docs/parametrizations.md describes it, with PyTorch (float64, autograd):

    levels   (min(2^k, H), min(2^k, W)) for k = 0, 1, ... up to and ending with (H, W)
    planes   = sum_k F.interpolate(P_k, size=(H, W), mode="bilinear", align_corners=False)
    rgb      = M @ planes per pixel             (colors: decorrelated)
    image    = clamp(rgb, 0, 1) or sigmoid(rgb)

and stores the parameters (the levels' planes concatenated, coarsest first), a random
cotangent v, the image and d<image, v>/dp. M is the colour matrix of scripts/fft_fixtures.py.
"""
import json
import pathlib

import numpy as np
import torch
import torch.nn.functional as F

torch.manual_seed(27)

LUCID = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64
)
MIXING = LUCID / np.max(np.linalg.norm(LUCID, axis=0))


def levels(h, w):
    out, side = [], 1
    while True:
        level = (min(side, h), min(side, w))
        if not out or out[-1] != level:
            out.append(level)
        if level == (h, w):
            return out
        side *= 2


def image(planes, h, w, colors, mapping):
    total = torch.zeros(1, 3, h, w, dtype=torch.float64)
    for p in planes:
        total = total + F.interpolate(p[None], size=(h, w), mode="bilinear", align_corners=False)
    x = total[0]
    if colors == "decorrelated":
        x = torch.einsum("cd,dhw->chw", torch.from_numpy(MIXING), x)
    if mapping == "clamp":
        return x.clamp(0, 1)
    return torch.sigmoid(x)


cases = []
for name, h, w, colors, mapping, offset, amplitude in [
    ("square 8x8 rgb sigmoid", 8, 8, "rgb", "sigmoid", 0.0, 1.0),
    ("odd 5x7 decorrelated sigmoid", 5, 7, "decorrelated", "sigmoid", 0.0, 1.0),
    ("wide 6x13 rgb clamp", 6, 13, "rgb", "clamp", 0.5, 0.2),
    ("tall 12x3 decorrelated clamp", 12, 3, "decorrelated", "clamp", 0.5, 0.15),
]:
    sizes = levels(h, w)
    p32 = [(torch.randn(3, lh, lw) * amplitude).float() for lh, lw in sizes]
    p32[0] += offset  # the 1x1 level lifts clamped images into [0, 1]
    ps = [p.double().requires_grad_(True) for p in p32]
    y = image(ps, h, w, colors, mapping)
    v = torch.randn(y.shape).float().double()
    (y * v).sum().backward()
    cases.append(
        {
            "name": name,
            "height": h,
            "width": w,
            "colors": colors,
            "mapping": mapping,
            "levels": [list(s) for s in sizes],
            "parameters": torch.cat([p.flatten() for p in p32]).tolist(),
            "cotangent": v.flatten().tolist(),
            "image": y.detach().flatten().tolist(),
            "gradient": torch.cat([p.grad.flatten() for p in ps]).tolist(),
        }
    )

path = pathlib.Path(__file__).resolve().parent.parent / "Tests/ParametrizationsTests/Fixtures/stack.json"
path.write_text(json.dumps({"cases": cases}) + "\n")
print(f"wrote {path} ({path.stat().st_size} bytes, {len(cases)} cases)")
