#!/usr/bin/env python3
"""Reference fixtures for clipig's pixel transforms and constraints, made with PyTorch.

Writes
  Tests/TransformsTests/Fixtures/pixel.json        blur, edge, rnoise, saturation, contrast
  Tests/ConstraintsTests/Fixtures/constraints.json every constraint's value and input gradient

Each case holds the stage's YAML parameters (as clipig reads them), a fixed input image [C,H,W]
(flat, row-major), the output, a cotangent `v` and the input gradient of <v, output> computed by
torch autograd. Constraints store their scalar value and the gradient of the value itself.

torch/torchvision serve as behaviour references only (torchvision's gaussian_blur,
adjust_saturation, adjust_contrast; F.interpolate bilinear with align_corners=False and no
antialiasing). The constraint losses are written out here as clipig defines them: CLIPig's
formulas (spec section 6) with `above`/`below` as one-sided hinges (spec section 16.2).

Run from the repository root (CI never runs Python):
  /tmp/clipig-oracle/bin/python scripts/pixel_fixtures.py
Made with torch 2.15 / torchvision 0.29 / numpy 2.4.
"""

import json
import os

import numpy as np
import torch
import torch.nn.functional as F
import torchvision.transforms.functional as TF

torch.set_default_dtype(torch.float32)
ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))


def rounded(a):
    """float32 values rounded to 8 significant digits (so the decimal text is the tensor)."""
    return np.array([float("%.8g" % v) for v in np.asarray(a, dtype=np.float32).ravel()], dtype=np.float32)


def flat(t, digits=7):
    """Values as short decimals (7 significant digits; inputs use 8 so they parse back exactly)."""
    fmt = "%%.%dg" % digits
    return [float(fmt % v) for v in t.detach().numpy().astype(np.float32).ravel()]


def image(seed, shape, lo=0.0, hi=1.0):
    rs = np.random.RandomState(seed)
    return torch.from_numpy(rounded(rs.uniform(lo, hi, size=shape)).reshape(shape))


def cotangent(seed, shape):
    rs = np.random.RandomState(seed + 1000)
    return torch.from_numpy(rounded(rs.normal(size=shape)).reshape(shape))


def sanitize_kernel(k):
    k = [int(v) for v in k]
    return [max(1, v + 1 if v % 2 == 0 else v) for v in k]


def default_sigma(k):
    return [0.15 * v + 0.35 for v in k]


def blur(x, kernel_size, sigma=None):
    k = sanitize_kernel(kernel_size)
    s = default_sigma(k) if sigma is None else [max(0.0001, float(v)) for v in sigma]
    return TF.gaussian_blur(x, kernel_size=k, sigma=s)


def transform_case(name, params, shape, seed, fn, lo=0.0, hi=1.0, extra=None):
    x = image(seed, shape, lo, hi).requires_grad_(True)
    y = fn(x)
    v = cotangent(seed, tuple(y.shape))
    (g,) = torch.autograd.grad((y * v).sum(), x, allow_unused=True)
    if g is None:
        g = torch.zeros_like(x)
    case = {
        "name": name,
        "params": params,
        "shape": list(shape),
        "input": flat(x, 8),
        "output": flat(y),
        "v": flat(v, 8),
        "grad": flat(g),
    }
    if extra:
        case.update(extra)
    return case


def pixel_fixtures():
    cases = []

    # blur: torchvision gaussian_blur semantics (reflect padding, outer-product kernel).
    for i, (params, shape) in enumerate(
        [
            ({"kernel_size": 3}, (3, 6, 7)),
            ({"kernel_size": [5, 3], "sigma": [1.5, 0.7]}, (3, 5, 8)),
            ({"kernel_size": [11, 11]}, (3, 7, 8)),
            ({"kernel_size": [1, 3]}, (3, 4, 6)),
            ({"kernel_size": 4}, (3, 7, 6)),
            ({"kernel_size": [3, 7], "sigma": [0.5, 3.0]}, (3, 9, 5)),
        ]
    ):
        ks = params["kernel_size"]
        ks = [ks, ks] if isinstance(ks, int) else ks
        cases.append(
            transform_case("blur", params, shape, 10 + i, lambda x, ks=ks, p=params: blur(x, ks, p.get("sigma")))
        )

    # edge: clamp((x - blur(x)) * amount_c, 0, 1), amount per channel, kernel sanitised.
    for i, (params, shape) in enumerate(
        [
            ({"kernel_size": 3, "amount": [1, 2, 3]}, (3, 6, 7)),
            ({"kernel_size": [5, 3], "sigma": [1.2, 0.9], "amount": [4, 4, 4]}, (3, 8, 6)),
            ({"kernel_size": 4, "amount": [2, 1, 5]}, (3, 7, 9)),
        ]
    ):
        ks = params["kernel_size"]
        ks = [ks, ks] if isinstance(ks, int) else ks
        amount = torch.tensor(params["amount"], dtype=torch.float32).view(3, 1, 1)

        def edge(x, ks=ks, p=params, amount=amount):
            return ((x - blur(x, ks, p.get("sigma"))) * amount).clamp(0, 1)

        cases.append(transform_case("edge", params, shape, 20 + i, edge))

    # rnoise with a fixed noise image: x + std_c * bilinear(noise) (align_corners False, no antialias).
    for i, (std, res, shape) in enumerate(
        [
            ([0.1, 0.2, 0.3], (3, 2), (3, 6, 7)),
            ([0.5, 0.5, 0.5], (10, 9), (3, 6, 7)),
            ([1.0, 0.25, 0.5], (4, 4), (3, 5, 11)),
        ]
    ):
        w, h = res
        rs = np.random.RandomState(30 + i)
        noise = torch.from_numpy(rounded(rs.normal(size=(3, h, w))).reshape(3, h, w))
        std_t = torch.tensor(std, dtype=torch.float32).view(3, 1, 1)

        def rnoise(x, noise=noise, std_t=std_t):
            up = F.interpolate(noise[None], size=x.shape[-2:], mode="bilinear", align_corners=False, antialias=False)[0]
            return x + up * std_t

        cases.append(
            transform_case(
                "rnoise",
                {"std": std, "resolution": [w, h]},
                shape,
                30 + i,
                rnoise,
                extra={"noise": flat(noise, 8), "noiseShape": [3, h, w]},
            )
        )

    # saturation / contrast: torchvision's blend with the gray image / gray mean, then clamp [0, 1].
    for i, factor in enumerate([0.0, 0.5, 2.0, 1.3]):
        shape = (3, 4, 5)
        cases.append(
            transform_case(
                "saturation",
                factor,
                shape,
                40 + i,
                lambda x, f=factor: TF.adjust_saturation(x, f),
                extra={"unclamped": flat(blend_saturation(image(40 + i, shape), factor))},
            )
        )
    for i, factor in enumerate([0.0, 0.3, 1.7, 3.0]):
        shape = (3, 5, 4)
        cases.append(
            transform_case(
                "contrast",
                factor,
                shape,
                50 + i,
                lambda x, f=factor: TF.adjust_contrast(x, f),
                extra={"unclamped": flat(blend_contrast(image(50 + i, shape), factor))},
            )
        )
    return {"generator": "scripts/pixel_fixtures.py", "torch": torch.__version__, "cases": cases}


def gray(x):
    return 0.2989 * x[0] + 0.587 * x[1] + 0.114 * x[2]


def blend_saturation(x, f):
    return f * x + (1 - f) * gray(x)[None]


def blend_contrast(x, f):
    return f * x + (1 - f) * gray(x).mean()


# --- constraints -------------------------------------------------------------------------------


def loss_fn(name, diff):
    return diff.pow(2).mean() if name in ("l2", "mse") else diff.abs().mean()


def family(v, params, factor):
    """Sum over the given bounds of L(relu(above - v)) and L(relu(v - below)), times factor."""
    name = params.get("loss", "l2").lower()
    total = torch.zeros(())
    if "above" in params:
        a = torch.tensor(broadcast3(params["above"]), dtype=torch.float32)
        total = total + loss_fn(name, torch.relu(a - v))
    if "below" in params:
        b = torch.tensor(broadcast3(params["below"]), dtype=torch.float32)
        total = total + loss_fn(name, torch.relu(v - b))
    return factor * total


def broadcast3(value):
    return value if isinstance(value, list) else [value] * 3


def contrast_value(x):
    m = x.mean(dim=(1, 2))
    out = []
    for c in range(3):
        xc = x[c]
        lo = xc[xc < m[c]]
        hi = xc[xc > m[c]]
        fill = m.mean()
        low = lo.mean() if lo.numel() else fill
        high = hi.mean() if hi.numel() else fill
        out.append(high - low)
    return torch.stack(out)


def kernel_params(params):
    ks = params.get("kernel_size", 3)
    ks = [ks, ks] if isinstance(ks, int) else ks
    return ks, params.get("sigma")


def border_painted(x, size, color):
    sw, sh = size
    c, h, w = x.shape
    p = x.clone()
    col = torch.tensor(color, dtype=torch.float32).view(3, 1, 1)
    sy, sx = min(sh, h), min(sw, w)
    if sy > 0:
        p[:, :sy, :] = col.expand(3, sy, w)
        p[:, h - sy :, :] = col.expand(3, sy, w)
    if sx > 0:
        p[:, :, :sx] = col.expand(3, h, sx)
        p[:, :, w - sx :] = col.expand(3, h, sx)
    return p


def normalize_target(x, lo_t, hi_t):
    lo_t = torch.tensor(lo_t, dtype=torch.float32)
    hi_t = torch.tensor(hi_t, dtype=torch.float32)
    out = []
    for c in range(3):
        xc = x[c]
        lo, hi = xc.min(), xc.max()
        d = hi - lo
        if float(d.detach()) == 0:
            d = torch.ones(())
        out.append(lo_t[c] + (xc - lo) / d * (hi_t[c] - lo_t[c]))
    return torch.stack(out)


def constraint_value(name, params, x):
    if name == "mean":
        return family(x.mean(dim=(1, 2)), params, 100)
    if name == "std":
        return family(x.std(dim=(1, 2)), params, 100)
    if name == "saturation":
        g = x.mean(dim=0, keepdim=True)
        return family((x - g).abs().mean(dim=(1, 2)), params, 100)
    if name == "contrast":
        return family(contrast_value(x), params, 1)
    if name == "edge_mean":
        ks, sigma = kernel_params(params)
        return family((blur(x, ks, sigma) - x).abs().mean(dim=(1, 2)), params, 100)
    lossname = params.get("loss", "l2").lower()
    if name == "blur":
        ks, sigma = kernel_params(params)
        return 100 * loss_fn(lossname, x - blur(x, ks, sigma))
    if name == "border":
        size = params.get("size", [1, 1])
        size = [size, size] if isinstance(size, int) else size
        color = broadcast3(params.get("color", [0, 0, 0]))
        return 100 * loss_fn(lossname, x - border_painted(x, size, color))
    if name == "normalize":
        lo = broadcast3(params.get("min", [0, 0, 0]))
        hi = broadcast3(params.get("max", [1, 1, 1]))
        return 10 * loss_fn(lossname, x - normalize_target(x, lo, hi))
    raise ValueError(name)


def constraint_fixtures():
    specs = [
        ("mean", {"above": 0.7}, (3, 6, 7), 0, 1),
        ("mean", {"below": [0.2, 0.4, 0.3], "loss": "L1"}, (3, 5, 4), 0, 1),
        ("mean", {"above": 0.6, "below": 0.55, "loss": "mse"}, (3, 4, 4), 0.2, 1),
        ("std", {"above": [0.5, 0.6, 0.7]}, (3, 6, 5), 0, 1),
        ("std", {"below": 0.1, "loss": "mae"}, (3, 7, 6), 0, 1),
        ("saturation", {"below": 0.05}, (3, 6, 7), 0, 1),
        ("saturation", {"above": 0.5, "loss": "l1"}, (3, 5, 5), 0, 1),
        ("contrast", {"above": 0.9}, (3, 6, 7), 0, 1),
        ("contrast", {"below": [0.1, 0.2, 0.3], "loss": "l1"}, (3, 5, 8), 0, 1),
        ("edge_mean", {"above": 0.5}, (3, 6, 7), 0, 1),
        ("edge_mean", {"below": 0.01, "kernel_size": [5, 3], "sigma": [1.3, 0.6], "loss": "l1"}, (3, 7, 8), 0, 1),
        ("blur", {}, (3, 6, 7), 0, 1),
        ("blur", {"kernel_size": 11}, (3, 12, 13), 0, 1),
        ("blur", {"kernel_size": [4, 1], "loss": "l1"}, (3, 5, 9), 0, 1),
        ("border", {}, (3, 6, 7), 0, 1),
        ("border", {"size": [2, 1], "color": [1, 0.5, 0], "loss": "l1"}, (3, 5, 6), 0, 1),
        ("border", {"size": [9, 1]}, (3, 4, 5), 0, 1),
        ("normalize", {}, (3, 6, 7), 0.2, 0.7),
        ("normalize", {"min": [0.1, 0.2, 0.3], "max": 0.9, "loss": "l1"}, (3, 5, 6), -0.5, 1.5),
        ("edge_mean", {"above": 0.3, "kernel_size": 11}, (3, 6, 7), 0, 1),
        ("saturation", {"above": 0.3, "below": 0.1, "loss": "l2"}, (3, 4, 5), 0, 1),
    ]
    cases = []
    for i, (name, params, shape, lo, hi) in enumerate(specs):
        x = image(60 + i, shape, lo, hi).requires_grad_(True)
        value = constraint_value(name, params, x)
        (g,) = torch.autograd.grad(value, x, allow_unused=True)
        if g is None:
            g = torch.zeros_like(x)
        cases.append(
            {
                "name": name,
                "params": params,
                "shape": list(shape),
                "input": flat(x, 8),
                "value": float("%.8g" % float(value.detach())),
                "grad": flat(g),
            }
        )
    return {"generator": "scripts/pixel_fixtures.py", "torch": torch.__version__, "cases": cases}


def write(path, data):
    full = os.path.join(ROOT, path)
    os.makedirs(os.path.dirname(full), exist_ok=True)
    with open(full, "w") as f:
        json.dump(data, f, separators=(",", ":"))
        f.write("\n")
    print(path, os.path.getsize(full), "bytes")


if __name__ == "__main__":
    write("Tests/TransformsTests/Fixtures/pixel.json", pixel_fixtures())
    write("Tests/ConstraintsTests/Fixtures/constraints.json", constraint_fixtures())
