#!/usr/bin/env python3
"""Reference fixture for clipig's `content` constraint, made with PyTorch.

Writes
  Tests/ConstraintsTests/Fixtures/content.json

Each case holds an image x [3,H,W], a reference image r [3,h,w] of its own size, the loss name
(as clipig reads `loss`), and, computed by torch:

  value = 100 * F.mse_loss(x, resize_crop(r, W, H))   (l2, mse)
          100 * F.l1_loss(x, resize_crop(r, W, H))    (l1, mae)
  grad  = d value / d x (autograd)

resize_crop is the rule clipig documents for init.image and content's reference (CLIPig's, with
its height/width swap fixed): scale factor f = max(W/w, H/h); resize bicubically
(F.interpolate, align_corners=False, no antialiasing) to (max(H, floor(h*f)), max(W, floor(w*f)))
unless that is the size already; cut out the centre, offsets rounded half to even. It is written
here from that description, not from clipig's code.

Run from the repository root (CI never runs Python):
  PY=$(/work/shared/tools/torch-oracle.sh); $PY scripts/content_fixtures.py
"""

import json
import math
import os

import numpy as np
import torch
import torch.nn.functional as F

torch.set_default_dtype(torch.float32)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rounded(a):
    """float32 values rounded to 8 significant digits (so the decimal text is the tensor)."""
    return np.array([float("%.8g" % v) for v in np.asarray(a, dtype=np.float32).ravel()], dtype=np.float32)


def flat(t, digits=8):
    fmt = "%%.%dg" % digits
    return [float(fmt % v) for v in t.detach().numpy().astype(np.float32).ravel()]


def image(seed, shape):
    rs = np.random.RandomState(seed)
    return torch.from_numpy(rounded(rs.uniform(0, 1, size=shape)).reshape(shape))


def resize_crop(r, width, height):
    _, h, w = r.shape
    if h == height and w == width:
        return r
    f = max(width / w, height / h)
    nh = max(height, math.floor(h * f))
    nw = max(width, math.floor(w * f))
    scaled = r
    if nh != h or nw != w:
        scaled = F.interpolate(r[None], size=(nh, nw), mode="bicubic", align_corners=False)[0]
    top = round((nh - height) / 2)
    left = round((nw - width) / 2)
    return scaled[:, top : top + height, left : left + width]


def content_fixtures():
    # (loss name, image shape, reference shape)
    specs = [
        ("l2", (3, 6, 7), (3, 6, 7)),
        ("l1", (3, 6, 7), (3, 6, 7)),
        ("mse", (3, 5, 8), (3, 9, 11)),
        ("mae", (3, 5, 8), (3, 9, 11)),
        ("l2", (3, 8, 6), (3, 4, 5)),
        ("l1", (3, 7, 7), (3, 12, 5)),
        ("L2", (3, 4, 9), (3, 10, 10)),
    ]
    cases = []
    for i, (loss, shape, ref_shape) in enumerate(specs):
        x = image(200 + i, shape).requires_grad_(True)
        r = image(300 + i, ref_shape)
        target = resize_crop(r, shape[2], shape[1])
        fn = F.mse_loss if loss.lower() in ("l2", "mse") else F.l1_loss
        value = 100 * fn(x, target)
        (g,) = torch.autograd.grad(value, x)
        cases.append(
            {
                "loss": loss,
                "shape": list(shape),
                "input": flat(x),
                "referenceShape": list(ref_shape),
                "reference": flat(r),
                "value": float("%.8g" % float(value.detach())),
                "grad": flat(g, 7),
            }
        )
    return {"generator": "scripts/content_fixtures.py", "torch": torch.__version__, "cases": cases}


if __name__ == "__main__":
    path = "Tests/ConstraintsTests/Fixtures/content.json"
    full = os.path.join(ROOT, path)
    with open(full, "w") as f:
        json.dump(content_fixtures(), f, separators=(",", ":"))
        f.write("\n")
    print(path, os.path.getsize(full), "bytes")
