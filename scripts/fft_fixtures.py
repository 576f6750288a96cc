"""Reference values for clipig's Fourier image parametrization (Sources/Parametrizations).

Run with the oracle venv (never in CI):
    /tmp/clipig-oracle/bin/python scripts/fft_fixtures.py
Writes Tests/ParametrizationsTests/Fixtures/fft.json. Each case builds the image the way
docs/parametrizations.md describes it, with PyTorch (float64, autograd):

    spectrum = scale * (p_re + i p_im)          scale ~ 1 / max(f, 1/max(W, H)) ** decay,
                                                normalised to unit RMS over the full spectrum
    first (and for even W last) column made Hermitian: X[ky] <- (X[ky] + conj X[-ky]) / 2
    planes   = torch.fft.irfft2(spectrum, s=(H, W), norm="ortho")
    rgb      = M @ planes per pixel             (colors: decorrelated)
    image    = clamp(rgb, 0, 1) or sigmoid(rgb)

and stores the parameters, a random cotangent v, the image and d<image, v>/dp. The colour
matrix M is Lucid's color_correlation_svd_sqrt (tensorflow/lucid, lucid/optvis/param/color.py)
divided by its largest column norm.
"""
import json
import pathlib

import numpy as np
import torch

torch.manual_seed(16)

LUCID = np.array(
    [[0.26, 0.09, 0.02], [0.27, 0.00, -0.05], [0.27, -0.09, 0.03]], dtype=np.float64
)
MIXING = LUCID / np.max(np.linalg.norm(LUCID, axis=0))


def scale(h, w, decay):
    """Lucid's scale, normalised to unit root mean square over the full (H, W) spectrum."""
    fy = np.fft.fftfreq(h)[:, None]
    fx_full = np.fft.fftfreq(w)[None, :]
    full = 1.0 / np.maximum(np.sqrt(fx_full * fx_full + fy * fy), 1.0 / max(w, h)) ** decay
    rms = np.sqrt(np.mean(full * full))
    fx = np.fft.rfftfreq(w)[None, :]  # non-negative: 0 .. 1/2
    f = np.sqrt(fx * fx + fy * fy)
    return 1.0 / np.maximum(f, 1.0 / max(w, h)) ** decay / rms


def hermitian_column(x, col):
    """x: complex (3, H, Wf); returns the column made Hermitian along H."""
    h = x.shape[1]
    partner = (-torch.arange(h)) % h
    c = x[:, :, col]
    return (c + c[:, partner].conj()) / 2


def image(p, h, w, decay, colors, mapping):
    wf = w // 2 + 1
    s = torch.from_numpy(scale(h, w, decay))
    x = torch.view_as_complex(p) * s  # (3, H, Wf)
    cols = [x[:, :, k] for k in range(wf)]
    cols[0] = hermitian_column(x, 0)
    if w % 2 == 0 and wf > 1:
        cols[wf - 1] = hermitian_column(x, wf - 1)
    x = torch.stack(cols, dim=2)
    planes = torch.fft.irfft2(x, s=(h, w), norm="ortho")  # (3, H, W)
    if colors == "decorrelated":
        planes = torch.einsum("cd,dhw->chw", torch.from_numpy(MIXING), planes)
    if mapping == "clamp":
        return planes.clamp(0, 1)
    return torch.sigmoid(planes)


cases = []
for name, h, w, decay, colors, mapping, offset, amplitude in [
    ("even 6x8 rgb sigmoid", 6, 8, 1.0, "rgb", "sigmoid", 0.0, 1.0),
    ("odd 5x7 decorrelated sigmoid", 5, 7, 1.5, "decorrelated", "sigmoid", 0.0, 1.0),
    ("mixed 8x5 decorrelated clamp", 8, 5, 0.5, "decorrelated", "clamp", 0.5, 0.15),
    ("mixed 7x6 rgb clamp decay 0", 7, 6, 0.0, "rgb", "clamp", 0.5, 0.3),
    ("16x12 decorrelated sigmoid", 16, 12, 1.0, "decorrelated", "sigmoid", 0.0, 0.3),
]:
    wf = w // 2 + 1
    p32 = (torch.randn(3, h, wf, 2) * amplitude).float()
    # A DC offset so that clamped images sit mostly inside [0, 1].
    p32[:, 0, 0, 0] += offset * (h * w) ** 0.5 / scale(h, w, decay)[0, 0]
    p = p32.double().requires_grad_(True)
    y = image(p, h, w, decay, colors, mapping)
    v = torch.randn(y.shape).float().double()
    (y * v).sum().backward()
    cases.append(
        {
            "name": name,
            "height": h,
            "width": w,
            "decay": decay,
            "colors": colors,
            "mapping": mapping,
            "parameters": p32.flatten().tolist(),
            "cotangent": v.flatten().tolist(),
            "image": y.detach().flatten().tolist(),
            "gradient": p.grad.flatten().tolist(),
        }
    )

out = {"mixing": MIXING.flatten().tolist(), "cases": cases}
path = pathlib.Path(__file__).resolve().parent.parent / "Tests/ParametrizationsTests/Fixtures/fft.json"
path.write_text(json.dumps(out) + "\n")
print(f"wrote {path} ({path.stat().st_size} bytes, {len(cases)} cases)")
