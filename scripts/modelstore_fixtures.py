"""Tiny PyTorch checkpoints for clipig's model store tests (Tests/ModelStoreTests/ModelStore*Tests.swift).

Run with the oracle venv (never in CI), from the repository root:
    /tmp/clipig-oracle/bin/python scripts/modelstore_fixtures.py
Pinned: torch 2.15.0, open_clip_torch 3.3.0 (the versions that made the committed files).

Writes Tests/ModelStoreTests/Fixtures/modelstore/:
- tiny-openai-jit.pt: a random-init CLIP with OpenAI's architecture (open_clip's CLIP with
  QuickGELU, which has OpenAI's state-dict names) and tiny sizes, converted to fp16 and saved the
  way OpenAI distributes CLIP: a traced TorchScript module (torch.jit.trace_module with
  encode_image and encode_text), written by torch.jit.save.
- tiny-state-dict.pt: the same model's fp32 state dict written by torch.save, plus a few extra
  tensors that exercise the reader: a transposed (non-contiguous) view, a slice with a storage
  offset that shares its storage with another tensor, int64, bfloat16 and a 0-d tensor.
- tiny-state-dict-deflated.pt: tiny-state-dict.pt with every zip entry deflated.
- reference.json: for each file, every tensor PyTorch reports (torch.jit.load(...).state_dict()
  for the TorchScript file, torch.load for the others) with its dtype, shape, the SHA-256 of its
  values as contiguous little-endian float32, the SHA-256 of its raw contiguous bytes in the
  stored dtype, and its first two values (as Python's repr, so that -inf survives JSON). The deflated file's tensors are those
  of tiny-state-dict.pt (checked here).
"""
import hashlib
import json
import pathlib
import warnings
import zipfile

import open_clip
import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

warnings.filterwarnings("ignore")
OUT = pathlib.Path("Tests/ModelStoreTests/Fixtures/modelstore")
OUT.mkdir(parents=True, exist_ok=True)
assert torch.__version__.startswith("2.15."), torch.__version__
assert open_clip.__version__ == "3.3.0", open_clip.__version__

torch.manual_seed(1234)
model = CLIP(
    embed_dim=16,
    vision_cfg=CLIPVisionCfg(layers=2, width=16, head_width=8, image_size=32, patch_size=8),
    text_cfg=CLIPTextCfg(context_length=8, vocab_size=48, width=16, heads=2, layers=2),
    quick_gelu=True,
).eval()
# Non-trivial values everywhere (open_clip initialises some tensors to constants).
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.randn_like(p) * 0.5)

# TorchScript, as OpenAI's files: traced, fp16 weights.
image = torch.randn(1, 3, 32, 32)
text = torch.randint(0, 48, (1, 8))
traced = torch.jit.trace_module(
    model, {"encode_image": (image,), "encode_text": (text,)}, check_trace=False
)
traced = traced.half()
jit_path = OUT / "tiny-openai-jit.pt"
torch.jit.save(traced, str(jit_path))

# A plain state dict with extras.
state = model.state_dict()
base = torch.arange(24, dtype=torch.float32).reshape(4, 6) / 7
state["extra.transposed"] = base.t()  # strides (1, 6)
state["extra.base"] = base
state["extra.slice"] = base[1:3, 2:5]  # offset 8, strides (6, 1), shares base's storage
state["extra.int64"] = torch.tensor([-3, 0, 5, 1 << 40], dtype=torch.int64)
state["extra.bfloat16"] = torch.tensor([1.5, -2.25, 3e-3, 65504], dtype=torch.bfloat16)
state["extra.scalar"] = torch.tensor(2.5)
sd_path = OUT / "tiny-state-dict.pt"
torch.save(state, str(sd_path))

# The same archive with every entry deflated.
deflated_path = OUT / "tiny-state-dict-deflated.pt"
with zipfile.ZipFile(sd_path) as src, zipfile.ZipFile(
    deflated_path, "w", compression=zipfile.ZIP_DEFLATED
) as dst:
    for info in src.infolist():
        fixed = zipfile.ZipInfo(info.filename, date_time=(1980, 1, 1, 0, 0, 0))
        fixed.compress_type = zipfile.ZIP_DEFLATED
        dst.writestr(fixed, src.read(info.filename))


def describe(tensors):
    out = []
    for name, t in tensors.items():
        values = t.detach().float().contiguous().numpy().astype("<f4").tobytes()
        raw = t.detach().contiguous()
        raw_bytes = (
            raw.view(torch.int16).numpy().astype("<i2").tobytes()
            if raw.dtype == torch.bfloat16
            else raw.numpy().tobytes()
        )
        out.append(
            {
                "name": name,
                "dtype": str(t.dtype).replace("torch.", ""),
                "shape": list(t.shape),
                "sha256_f32": hashlib.sha256(values).hexdigest(),
                "sha256_raw": hashlib.sha256(raw_bytes).hexdigest(),
                "first": [repr(float(v)) for v in t.detach().float().flatten()[:2]],
            }
        )
    return out


reference = {
    "tiny-openai-jit.pt": {
        "format": "torchScript",
        "tensors": describe(torch.jit.load(str(jit_path)).state_dict()),
    },
    "tiny-state-dict.pt": {
        "format": "stateDict",
        "tensors": describe(torch.load(str(sd_path), weights_only=True)),
    },
    "tiny-state-dict-deflated.pt": {"format": "stateDict", "tensors_as": "tiny-state-dict.pt"},
}
# The deflated file must hold exactly the same tensors.
assert describe(torch.load(str(deflated_path), weights_only=True)) == reference[
    "tiny-state-dict.pt"
]["tensors"]
for f in reference:
    reference[f]["sha256"] = hashlib.sha256((OUT / f).read_bytes()).hexdigest()
    reference[f]["size"] = (OUT / f).stat().st_size
(OUT / "reference.json").write_text(json.dumps(reference, separators=(",", ":")) + "\n")
for f in sorted(OUT.iterdir()):
    print(f.name, f.stat().st_size)
