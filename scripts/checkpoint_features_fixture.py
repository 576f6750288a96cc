"""A tiny OpenAI-style TorchScript CLIP with head width 64 (so its shapes imply its head count,
as OpenAI's loader and clipig assume) plus its image and text features computed by PyTorch:
proves that a `.pt` checkpoint loads into clipig's CLIP and computes the same features.

Run with the oracle venv (never in CI), from the repository root:
    $(../shared/tools/torch-oracle.sh) scripts/checkpoint_features_fixture.py
Writes Tests/ModelStoreTests/Fixtures/modelstore/tiny-openai-jit-h64.pt and jit-features.json.
Pinned: torch 2.15.0, open_clip_torch 3.3.0.
"""
import json
import pathlib
import warnings

import open_clip
import torch
from open_clip.model import CLIP, CLIPTextCfg, CLIPVisionCfg

warnings.filterwarnings("ignore")
OUT = pathlib.Path("Tests/ModelStoreTests/Fixtures/modelstore")
assert torch.__version__.startswith("2.15."), torch.__version__
assert open_clip.__version__ == "3.3.0", open_clip.__version__

torch.manual_seed(4321)
model = CLIP(
    embed_dim=32,
    vision_cfg=CLIPVisionCfg(layers=1, width=64, head_width=64, image_size=16, patch_size=8),
    text_cfg=CLIPTextCfg(context_length=8, vocab_size=48, width=64, heads=1, layers=1),
    quick_gelu=True,
).eval()
with torch.no_grad():
    for p in model.parameters():
        p.copy_(torch.randn_like(p) * 0.2)

image = torch.rand(2, 3, 16, 16)
text = torch.tensor([[46, 3, 17, 5, 47, 0, 0, 0], [46, 9, 47, 0, 0, 0, 0, 0]])
traced = torch.jit.trace_module(
    model, {"encode_image": (image,), "encode_text": (text,)}, check_trace=False
).half()
path = OUT / "tiny-openai-jit-h64.pt"
torch.jit.save(traced, str(path))

# Reference features from the saved file's (fp16) weights, computed in float32.
loaded = torch.jit.load(str(path)).float()
with torch.no_grad():
    image_features = loaded.encode_image(image)
    text_features = loaded.encode_text(text)
reference = {
    "image": [float(v) for v in image.flatten()],
    "image_shape": list(image.shape),
    "tokens": text.tolist(),
    "image_features": [[float(v) for v in row] for row in image_features],
    "text_features": [[float(v) for v in row] for row in text_features],
}
(OUT / "jit-features.json").write_text(json.dumps(reference) + "\n")
print(path, path.stat().st_size)
