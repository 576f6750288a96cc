"""The toy world (issue 27): two small CLIPs trained from scratch on generated pictures of
coloured shapes on coloured backgrounds, so that clipig's tests can check that a rendered image
*means* its prompt (Tests/RunnerTests/ToyWorldTests.swift).

The world: a 32 × 32 picture holds one shape (circle, square, triangle) of one colour on a
background of another colour (red, green, blue, yellow, white, black), at a random place and
size, with the colours jittered and a little pixel noise. A caption says all of it ("a red
circle on a blue background"), or the shape and its colour ("a red circle"), or the shape and
the background ("a circle on a blue background"). Training is CLIP's contrastive loss with every
true caption in the batch counted as a positive (a batch often holds several pictures a caption
describes).

Three models, different seeds and widths, all open_clip ViTs (patch 8, so 4 × 4 patches, exact
GELU, OpenAI's normalisation) with CLIP's BPE tokenizer, its full vocabulary (49408) and a
context of 16 tokens:

    toy-clip-a: image width 64, 3 layers; text width 32, 2 layers; embedding 32; seed 1
    toy-clip-b: image width 48, 2 layers; text width 24, 2 layers; embedding 24; seed 2
    toy-clip-c: image width 56, 2 layers; text width 28, 2 layers; embedding 28; seed 3
                (a third judge for ensembles of A and B; not used by the CI tests)

Training (1200 steps of 96 pictures, AdamW, one thread) runs on a compact vocabulary — the
token ids that occur in the world's captions — written back into CLIP's full 49408-row table for
the stored model; the rows of every other token are zero (never trained; the file then
compresses to a fraction in git), which changes nothing for the captions of this world.

Each model is written in open_clip's layout — `open_clip_config.json` (open_clip's
`save_config_for_hf`) and `open_clip_model.safetensors` in float16 — into
Tests/Fixtures/toy-world/<name>/, with `training.json`: the settings, the final loss and the
accuracy on 3000 held-out pictures of open_clip's model loaded back from the stored files.

Run with the oracle venv (never in CI), from the repository root, a few minutes per model on one
core:
    PY=$(/work/shared/tools/torch-oracle.sh); nice -n 10 $PY scripts/toy_world.py [a|b ...]
Pinned: torch 2.15.0, open_clip_torch 3.3.0.
"""
import json
import math
import pathlib
import sys
import time
import warnings

import open_clip
import torch
import torch.nn.functional as F
from open_clip.constants import OPENAI_DATASET_MEAN, OPENAI_DATASET_STD
from open_clip.model import CLIP
from open_clip.push_to_hf_hub import save_config_for_hf
from safetensors.torch import save_file

warnings.filterwarnings("ignore")
assert torch.__version__.startswith("2.15."), torch.__version__
assert open_clip.__version__ == "3.3.0", open_clip.__version__
torch.set_num_threads(1)

OUT = pathlib.Path("Tests/Fixtures/toy-world")
SIZE = 32
CONTEXT = 16
COLOURS = {
    "red": (0.90, 0.12, 0.10),
    "green": (0.12, 0.75, 0.15),
    "blue": (0.10, 0.20, 0.90),
    "yellow": (0.95, 0.88, 0.10),
    "white": (0.95, 0.95, 0.95),
    "black": (0.05, 0.05, 0.05),
}
NAMES = list(COLOURS)
PALETTE = torch.tensor([COLOURS[n] for n in NAMES])
SHAPES = ["circle", "square", "triangle"]

MODELS = {
    "a": dict(
        name="toy-clip-a", seed=1, steps=1200, batch=96,
        cfg=dict(
            embed_dim=32,
            vision_cfg=dict(image_size=SIZE, layers=3, width=64, head_width=32, patch_size=8),
            text_cfg=dict(context_length=CONTEXT, vocab_size=49408, width=32, heads=2, layers=2),
        )),
    "b": dict(
        name="toy-clip-b", seed=2, steps=1200, batch=96,
        cfg=dict(
            embed_dim=24,
            vision_cfg=dict(image_size=SIZE, layers=2, width=48, head_width=24, patch_size=8),
            text_cfg=dict(context_length=CONTEXT, vocab_size=49408, width=24, heads=2, layers=2),
        )),
    # A third judge, so that an ensemble of A and B can be judged by a model in neither
    # (docs/eval.md, "Findings").
    "c": dict(
        name="toy-clip-c", seed=3, steps=1200, batch=96,
        cfg=dict(
            embed_dim=28,
            vision_cfg=dict(image_size=SIZE, layers=2, width=56, head_width=28, patch_size=8),
            text_cfg=dict(context_length=CONTEXT, vocab_size=49408, width=28, heads=2, layers=2),
        )),
}


def scenes(n, g):
    """n random scenes: shape index, shape colour index, background colour index (≠ shape's)."""
    shape = torch.randint(0, len(SHAPES), (n,), generator=g)
    fg = torch.randint(0, len(NAMES), (n,), generator=g)
    bg = (fg + torch.randint(1, len(NAMES), (n,), generator=g)) % len(NAMES)
    return shape, fg, bg


def draw(shape, fg, bg, g):
    """Pictures [n, 3, SIZE, SIZE] in [0, 1] of the scenes: a soft-edged shape at a random
    centre and size, colours jittered by ±0.08, Gaussian pixel noise of 0.03."""
    n = shape.shape[0]
    ys, xs = torch.meshgrid(
        torch.arange(SIZE) + 0.5, torch.arange(SIZE) + 0.5, indexing="ij")
    r = 5 + 7 * torch.rand(n, 1, 1, generator=g)  # half the shape's extent, 5…12 px
    cx = r + (SIZE - 2 * r) * torch.rand(n, 1, 1, generator=g)
    cy = r + (SIZE - 2 * r) * torch.rand(n, 1, 1, generator=g)
    dx, dy = xs - cx, ys - cy
    # Signed distances (negative inside) of each shape kind.
    circle = torch.sqrt(dx**2 + dy**2) - r
    square = torch.maximum(dx.abs(), dy.abs()) - 0.85 * r
    # An upward triangle: base at cy + r·0.7, apex at cy - r.
    base = dy - 0.7 * r
    left = (-(dx) * 1.7 - (dy + r) * 1.0) / math.hypot(1.7, 1.0)
    right = ((dx) * 1.7 - (dy + r) * 1.0) / math.hypot(1.7, 1.0)
    triangle = torch.maximum(base, torch.maximum(left, right))
    sdf = torch.stack([circle, square, triangle], 1)[torch.arange(n), shape]
    inside = torch.clamp(0.5 - sdf, 0, 1)[:, None]  # one pixel of anti-aliasing
    fc = (PALETTE[fg] + 0.08 * (2 * torch.rand(n, 3, generator=g) - 1))[:, :, None, None]
    bc = (PALETTE[bg] + 0.08 * (2 * torch.rand(n, 3, generator=g) - 1))[:, :, None, None]
    img = inside * fc + (1 - inside) * bc
    img = img + 0.03 * torch.randn(img.shape, generator=g)
    return img.clamp(0, 1)


def caption(kind, s, f, b):
    """Caption kind 0: everything; 1: shape and colour; 2: shape and background."""
    if kind == 0:
        return f"a {NAMES[f]} {SHAPES[s]} on a {NAMES[b]} background"
    if kind == 1:
        return f"a {NAMES[f]} {SHAPES[s]}"
    return f"a {SHAPES[s]} on a {NAMES[b]} background"


def truth(kind, cs, cf, cb, shape, fg, bg):
    """[images, captions]: whether each caption is true of each picture."""
    ok = shape[:, None] == cs[None]
    ok = ok & ((fg[:, None] == cf[None]) | (kind[None] == 2))
    ok = ok & ((bg[:, None] == cb[None]) | (kind[None] == 1))
    return ok


MEAN = torch.tensor(OPENAI_DATASET_MEAN).view(1, 3, 1, 1)
STD = torch.tensor(OPENAI_DATASET_STD).view(1, 3, 1, 1)


def multi_positive(logits, ok):
    """−log of the softmax mass on the true entries of each row, averaged."""
    return -(torch.logsumexp(logits.masked_fill(~ok, -1e9), 1) - torch.logsumexp(logits, 1)).mean()


def evaluate(model, tokens_of, g, n=3000):
    """Held-out accuracy: top-1 among all 90 full captions, among the 18 'a COLOUR SHAPE'
    captions and among the 15 'a SHAPE on a COLOUR background' captions."""
    shape, fg, bg = scenes(n, g)
    with torch.no_grad():
        img = model.encode_image((draw(shape, fg, bg, g) - MEAN) / STD, normalize=True)
        out = {}
        for kind, label in [(0, "full"), (1, "shape_colour"), (2, "shape_background")]:
            combos = [(s, f, b) for s in range(len(SHAPES)) for f in range(len(NAMES))
                      for b in range(len(NAMES)) if f != b]
            caps = sorted({caption(kind, *c) for c in combos})
            txt = model.encode_text(tokens_of(caps), normalize=True)
            pred = (img @ txt.T).argmax(1)
            truth_caps = [caption(kind, s, f, b) for s, f, b in
                          zip(shape.tolist(), fg.tolist(), bg.tolist())]
            out[label] = {"classes": len(caps), "top1": sum(
                caps[p] == t for p, t in zip(pred.tolist(), truth_caps)) / n}
    return out


def all_captions():
    return [caption(k, s, f, b) for k in range(3) for s in range(len(SHAPES))
            for f in range(len(NAMES)) for b in range(len(NAMES)) if f != b]


def train(key):
    spec = MODELS[key]
    torch.manual_seed(spec["seed"])
    g = torch.Generator().manual_seed(1000 + spec["seed"])
    # Training runs on a compact vocabulary — the token ids that occur in the world's captions
    # (and the padding id 0), renumbered in order, so the end-of-text token stays the largest
    # and open_clip's argmax pooling finds it — and is written back into CLIP's full table.
    used = torch.unique(open_clip.tokenize(all_captions(), context_length=CONTEXT))
    remap = torch.full((spec["cfg"]["text_cfg"]["vocab_size"],), -1, dtype=torch.long)
    remap[used] = torch.arange(len(used))
    compact = json.loads(json.dumps(spec["cfg"]))
    compact["text_cfg"]["vocab_size"] = len(used)
    model = CLIP(**compact)
    cache = {}

    def tokens_of(caps, full=False):
        missing = [c for c in caps if c not in cache]
        if missing:
            for c, t in zip(missing, open_clip.tokenize(missing, context_length=CONTEXT)):
                cache[c] = t
        ids = torch.stack([cache[c] for c in caps])
        return ids if full else remap[ids]

    steps, batch = spec["steps"], spec["batch"]
    opt = torch.optim.AdamW(model.parameters(), lr=2e-3, weight_decay=0.05)
    warm = 50
    sched = torch.optim.lr_scheduler.LambdaLR(
        opt, lambda s: min(1, (s + 1) / warm) * 0.5 * (1 + math.cos(math.pi * min(1, s / steps))))
    t0 = time.process_time()
    losses = []
    model.train()
    for step in range(steps):
        shape, fg, bg = scenes(batch, g)
        kind = torch.randint(0, 3, (batch,), generator=g)
        caps = [caption(k, s, f, b) for k, s, f, b in
                zip(kind.tolist(), shape.tolist(), fg.tolist(), bg.tolist())]
        ok = truth(kind, shape, fg, bg, shape, fg, bg)
        img = model.encode_image((draw(shape, fg, bg, g) - MEAN) / STD, normalize=True)
        txt = model.encode_text(tokens_of(caps), normalize=True)
        logits = model.logit_scale.exp().clamp(max=100) * img @ txt.T
        loss = 0.5 * (multi_positive(logits, ok) + multi_positive(logits.T, ok.T))
        opt.zero_grad()
        loss.backward()
        opt.step()
        sched.step()
        losses.append(loss.item())
        if step % 250 == 0 or step == steps - 1:
            print(f"{spec['name']} step {step} loss {sum(losses[-50:]) / len(losses[-50:]):.4f} "
                  f"scale {model.logit_scale.exp().item():.1f} cpu {time.process_time() - t0:.0f}s",
                  flush=True)
    seconds = time.process_time() - t0

    # The full model: CLIP's vocabulary, the rows of tokens that never occur in a caption zero
    # (never trained; the file then compresses to a fraction in git).
    state = model.state_dict()
    table = torch.zeros(spec["cfg"]["text_cfg"]["vocab_size"], state["token_embedding.weight"].shape[1])
    table[used] = state["token_embedding.weight"]
    state["token_embedding.weight"] = table
    full = CLIP(**spec["cfg"]).eval()
    full.load_state_dict(state)
    full.visual.image_mean = OPENAI_DATASET_MEAN
    full.visual.image_std = OPENAI_DATASET_STD

    out = OUT / spec["name"]
    out.mkdir(parents=True, exist_ok=True)
    save_file({k: t.half().contiguous() for k, t in full.state_dict().items()},
              str(out / "open_clip_model.safetensors"))
    save_config_for_hf(full, out / "open_clip_config.json", model_config=spec["cfg"])

    # open_clip reads the files back as create_model_and_transforms would; the accuracy is that
    # of the stored (float16) weights.
    config = json.loads((out / "open_clip_config.json").read_text())
    check = CLIP(**config["model_cfg"]).eval()
    open_clip.load_checkpoint(check, str(out / "open_clip_model.safetensors"))
    accuracy = evaluate(check, lambda caps: tokens_of(caps, full=True),
                        torch.Generator().manual_seed(9000 + spec["seed"]))
    print(spec["name"], "held-out accuracy", accuracy, flush=True)

    record = {
        "model": spec["name"],
        "config": spec["cfg"],
        "seed": spec["seed"],
        "image_size": SIZE,
        "colours": COLOURS,
        "shapes": SHAPES,
        "caption_kinds": ["a COLOUR SHAPE on a COLOUR background", "a COLOUR SHAPE",
                          "a SHAPE on a COLOUR background"],
        "training": {"steps": steps, "batch": batch, "optimizer": "AdamW lr 2e-3 wd 0.05, "
                     "50 warm-up steps, cosine", "final_loss_mean_of_last_100":
                     round(sum(losses[-100:]) / 100, 4), "cpu_seconds": round(seconds),
                     "logit_scale": round(model.logit_scale.exp().item(), 2),
                     "vocabulary_trained": len(used)},
        "held_out_accuracy_fp16": {"pictures": 3000, **accuracy},
        "torch": torch.__version__, "open_clip": open_clip.__version__,
    }
    (out / "training.json").write_text(json.dumps(record, indent=2) + "\n")
    print({p.name: p.stat().st_size for p in sorted(out.iterdir())})


if __name__ == "__main__":
    for key in sys.argv[1:] or list(MODELS):
        train(key)
