#!/usr/bin/env python3
"""Reference fixtures for clipig's CLIP module (Tests/CLIPTests/Fixtures).

Run by a developer, never by CI:
    PY=$(../shared/tools/torch-oracle.sh)
    $PY scripts/clip_fixtures.py tokenizer   # tokenizer.json: ids for >1000 strings
    $PY scripts/clip_fixtures.py unicode     # unicode.json: \\p{L}, \\p{N}, \\s, lower() tables
    $PY scripts/clip_fixtures.py tiny        # tiny random-init CLIP + reference activations
    $PY scripts/clip_fixtures.py b32         # ViT-B/32 shapes with generated weights (outputs only)

Pinned versions used for the committed files: torch 2.15.0, transformers 5.24.0,
open_clip 3.3.0, ftfy 6.3.1, regex 2026.11.19, Python 3.11 (unicodedata 14.0.0).
"""
import gzip
import html
import json
import os
import random
import sys

import regex

ROOT = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
FIXTURES = os.path.join(ROOT, "Tests", "CLIPTests", "Fixtures")
SHARED = os.path.join(os.path.dirname(ROOT), "shared", "data")
if not os.path.isdir(SHARED):
    SHARED = "/work/shared/data"
BPE = os.path.join(SHARED, "bpe_simple_vocab_16e6.txt.gz")
PROMPTS = os.path.join(SHARED, "animal-transfer-prompts.json")


# ----------------------------------------------------------------------------------------------
# Tokenizer


def openai_tokenizer(use_ftfy=True, **ftfy_options):
    """OpenAI's CLIP tokenizer (clip/simple_tokenizer.py), rebuilt on open_clip's copy of it:
    same BPE, but OpenAI's special-token spelling in the split pattern and its
    `re.sub(r'\\s+', ' ', …)` whitespace clean-up (open_clip uses str.split())."""
    import ftfy
    from open_clip.tokenizer import SimpleTokenizer

    tok = SimpleTokenizer(bpe_path=BPE)
    sot, eot = tok.sot_token_id, tok.eot_token_id
    for name, i in (("<|startoftext|>", sot), ("<|endoftext|>", eot)):
        tok.encoder[name] = i
        tok.cache[name] = name
    tok.pat = regex.compile(
        r"""<\|startoftext\|>|<\|endoftext\|>|'s|'t|'re|'ve|'m|'ll|'d|[\p{L}]+|[\p{N}]|[^\s\p{L}\p{N}]+""",
        regex.IGNORECASE)

    def clean(text):
        if use_ftfy:
            text = ftfy.fix_text(text, **ftfy_options)
        text = html.unescape(html.unescape(text)).strip()
        text = regex.sub(r"\s+", " ", text).strip()
        return text.lower()

    tok.clean_fn = clean
    return tok


def context_ids(encode, sot, eot, text, context=77):
    ids = [sot] + encode(text) + [eot]
    if len(ids) > context:
        ids = ids[:context]
        ids[-1] = eot
    return ids


def tokenizer_strings():
    with open(PROMPTS) as f:
        prompts = [p["prompt"] for p in json.load(f)["prompts"]]
    s = []
    # ASCII, punctuation runs, contractions, digits
    s += [
        "a photo of a cat", "A Photo Of A CAT", "hello world", "", " ", "   leading and trailing   ",
        "a", "I", "the quick brown fox jumps over the lazy dog",
        "Hello, World!", "wait...what?!", "!!!???...", "--==**~~", "(parenthesised) [bracketed] {braced}",
        "a/b\\c|d", "foo_bar-baz.qux", "e-mail: someone@example.com", "http://example.com/a?b=c&d=e",
        "#hashtag @mention $100 50% ^caret", "¯\\_(ツ)_/¯", ":-) ;-) :D <3", "..", "a.b.c", "'", "''", "\"quoted\"",
        "it's", "IT'S", "don't", "DON'T", "we're", "they've", "I'm", "you'll", "he'd", "it'ſ a test",
        "rock'n'roll", "'s 't 're 've 'm 'll 'd", "o'clock", "''s", "'S'T'RE", "can't won't shan't",
        "123", "3.14159", "1,000,000", "2021-01-04", "0x1F600", "abc123def", "1st 2nd 3rd 4th",
        "007", "9 animals x 90 things", "½ ¼ ¾", "x² + y³ = z⁴", "Ⅻ roman Ⅳ", "٣ arabic-indic digits ٤٥",
        "１２３ fullwidth digits",
    ]
    # accents, scripts, emoji
    s += [
        "café", "cafe\u0301", "naïve résumé", "Ångström", "über straße", "STRASSE ß ẞ", "ñandú", "Ωμέγα",
        "ΟΔΥΣΣΕΥΣ", "σοφία ΣΟΦΙΑΣ", "İstanbul", "ıi İI", "Ǆemal ǅ ǆ", "ﬁnancial ﬂoor ﬀ ﬃ ﬄ ﬅ ﬆ",
        "Ĳssel", "ŉ", "東京タワー", "猫の写真", "一只猫的照片", "고양이 사진", "кошка из яблока", "Кошка",
        "חתול עשוי מתפוח", "قطة مصنوعة من التفاح", "बिल्ली", "แมว", "ქართული", "Ἀθῆναι",
        "🐱", "a cat 🐱 made of 🍎", "👍🏽", "👨‍👩‍👧‍👦", "🇩🇪🇫🇷", "❤️", "☃", "✓✔✗", "🤖🎨🖼️",
        "ｆｕｌｌｗｉｄｔｈ　ｔｅｘｔ", "ＬＯＵＤ　ＮＯＩＳＥＳ", "ﾊﾝｶｸｶﾀｶﾅ", "“curly” ‘quotes’ ‚low‘ „low“ ʼmodifier",
        "don’t it’s", "zero\u200bwidth", "soft\u00adhyphen", "non\u00a0breaking", "tab\tseparated",
        "line\nbreak", "crlf\r\nline", "cr\ronly", "para\u2029sep", "line\u2028sep", "nel\u0085x",
        "ideographic\u3000space", "em\u2003space", "bell\u0007char", "esc \u001b[36;44mcolored\u001b[0m text",
        "bom\ufeffinside", "c1 \u0080 \u0093quoted\u0094 \u0085", "nul\u0000char", "del\u007fchar",
        "\u206aformat\u206f", "replacement \ufffd char", "\ufff9anchor\ufffb", "combining a\u0308\u0301",
        "𝐌𝐚𝐭𝐡 𝑏𝑜𝑙𝑑", "ℌ𝔢𝔩𝔩𝔬", "Kelvin \u212a", "ﬀ", "µ micro", "ªº ordinals",
    ]
    # HTML entities
    s += [
        "&amp;", "&amp", "&lt;b&gt;bold&lt;/b&gt;", "&amp;amp;", "&amp;amp;amp;", "&amp;amp;amp;amp;",
        "fish &amp; chips", "fish &amp chips", "&quot;quoted&quot;", "&#39;apostrophe&#39;", "&#x27;hex&#x27;",
        "&#128512; emoji", "&#x1F600;", "&#X1f600;", "&eacute;t&eacute;", "&EACUTE;T&EACUTE;", "&Eacute;",
        "BUNDESSTRA&SZLIG;E", "&ntilde; &Ntilde; &NTILDE; &nTILDE;", "&copy 2021", "&copy; 2021",
        "&notit;", "&notin;", "this&not that", "&nbsp;non-breaking&nbsp;", "&hellip;", "&mdash;&ndash;",
        "&frac12;", "&checkmark;", "&Jscr;ohn &HilbertSpace;ancock", "&unknown;", "&;", "&#;", "&#x;",
        "&#0;", "&#128;", "&#150;", "&#x80;", "&#1;", "&#xD800;", "&#1114112;", "&#65535;", "&#13;",
        "<b>bold &amp; tags</b>", "a < b &amp; c > d", "a < b &amp; c", "1 &lt; 2", "&lt;&gt;",
        "&amp;lt;", "&AMP;", "&Amp;", "&acE;", "&NotEqualTilde;", "&ThickSpace;",
        "&#x1F431;&#x1F34E;", "&#97;&#98;&#99;", "&#0097;", "&#x00061;", "&#12345678901;",
        "line one &amp;\nline <two> &amp;", "&lt;\n&amp;", "R&amp;D", "AT&T", "AT&amp;T",
    ]
    # mojibake (ftfy repairs these; see the Swift tokenizer's notes)
    s += [
        "âœ” No problems", "sÃ³", "voilÃ le travail", "cafÃ©", "The Mona Lisa doesnâ€™t have eyebrows.",
        "&macr;\\_(ã\x83\x84)_/&macr;", "Ã¼ber",
    ]
    # special tokens and long prompts
    s += [
        "<|startoftext|>", "<|endoftext|>", "a <|endoftext|> b", "!<|endoftext|>", "<|ENDOFTEXT|>",
        "<start_of_text>", "<end_of_text>", "<|endoftext", "|endoftext|>",
        "word " * 80, "a cat " * 40, "supercalifragilisticexpialidocious " * 10, ("x" * 300),
        ", ".join(prompts[:6]), "-".join(["ab"] * 60), "🐱" * 50, "1" * 100,
        " ".join(prompts[100:103]) + " and then some more words to be sure",
    ]
    s += [
        "a cat made of salami. a cat with the texture of a salami.", "rubik’s cube", "h.p. lovecraft",
        "macgyver made of bits and bytes. macgyver with the texture of bits and bytes",
        "a snail made of harp. a snail with the texture of a harp.",
    ]
    # random strings from a pool of interesting characters (seeded)
    rng = random.Random(1234)
    pool = list("abcdefghijklmnopqrstuvwxyzABCDEFGHIJKLMNOPQRSTUVWXYZ0123456789      ....,,!!??''\"-_/&;#<>()")
    pool += list("éèêëàâäöüßçñøåæœÉÀÖÜΣσςαβγδ東京猫の写真кошка😀🐱🍎👍🏽‍️½²³٣１ａＡ　ﬁ“”‘’\u00a0\u200b\u0301\u2028")
    pool += ["&amp;", "&lt;", "&#39;", "&eacute;", "&copy", "'s", "'t", "'ll", "<|endoftext|>"]
    for _ in range(300):
        n = rng.randint(1, 40)
        s.append("".join(rng.choice(pool) for _ in range(n)))
    s += prompts
    return s


def make_tokenizer():
    from open_clip.tokenizer import SimpleTokenizer
    from transformers import CLIPTokenizer

    strings = tokenizer_strings()
    oa = openai_tokenizer(True)
    nf = openai_tokenizer(False)
    oc = SimpleTokenizer(bpe_path=BPE)
    sot, eot = oa.sot_token_id, oa.eot_token_id

    with gzip.open(BPE) as f:
        lines = f.read().decode("utf-8").split("\n")[1:49152 - 256 - 2 + 1]
    vocab = {k: v for k, v in oa.encoder.items() if k not in ("<start_of_text>", "<end_of_text>")}
    hf = CLIPTokenizer(vocab=vocab, merges=[tuple(m.split()) for m in lines])

    ref = [context_ids(oa.encode, sot, eot, t) for t in strings]
    # Strings that ftfy's mojibake repair (fix_encoding) changes, with their ids without it.
    import ftfy
    nm = openai_tokenizer(True, fix_encoding=False)
    mojibake = {}
    for i, t in enumerate(strings):
        if ftfy.fix_text(t) != ftfy.fix_text(t, fix_encoding=False):
            mojibake[str(i)] = context_ids(nm.encode, sot, eot, t)
    print(f"ftfy's mojibake repair changes {len(mojibake)} strings")
    other = {}
    for name, fn in (("no_ftfy", nf.encode), ("open_clip", oc.encode),
                     ("hf", lambda t: hf(t, add_special_tokens=False)["input_ids"])):
        diffs = {}
        for i, t in enumerate(strings):
            ids = context_ids(fn, sot, eot, t)
            if ids != ref[i]:
                diffs[str(i)] = ids
        other[name] = diffs
        print(f"{name}: differs from OpenAI's tokenizer on {len(diffs)} of {len(strings)} strings")
    out = {
        "about": "CLIP BPE ids (context 77, start/end tokens, truncated like open_clip) for each string. "
                 "'ids' is OpenAI's tokenizer (with ftfy); the other keys list only the strings where "
                 "that tokenizer differs; 'mojibake' lists the strings ftfy's fix_encoding changes, with "
                 "the ids OpenAI's tokenizer gives when that one ftfy step is disabled. Made by scripts/clip_fixtures.py tokenizer.",
        "strings": strings,
        "ids": ref,
        "differences": other,
        "mojibake": mojibake,
    }
    path = os.path.join(FIXTURES, "tokenizer.json")
    with open(path, "w") as f:
        json.dump(out, f, ensure_ascii=True, separators=(",", ":"))
    print(f"wrote {path}: {len(strings)} strings, {os.path.getsize(path)} bytes")


def make_unicode():
    """Code-point classes as the `regex` module sees them (ranges), and Python's lower()."""
    def ranges(pred):
        out, start = [], None
        for c in range(0x110000):
            if pred(c):
                if start is None:
                    start = c
            elif start is not None:
                out.append([start, c - 1])
                start = None
        if start is not None:
            out.append([start, 0x10FFFF])
        return out
    L = regex.compile(r"\p{L}")
    N = regex.compile(r"\p{N}")
    S = regex.compile(r"\s")
    lower = {}
    for c in range(0x110000):
        if 0xD800 <= c <= 0xDFFF:
            continue
        lo = chr(c).lower()
        if lo != chr(c):
            lower[str(c)] = [ord(x) for x in lo]
    out = {
        "about": "Unicode tables of the reference tokenizer: regex module " + regex.__version__ +
                 " (\\p{L}, \\p{N}, \\s) and Python's str.lower() (unicodedata "
                 + __import__("unicodedata").unidata_version + ").",
        "letter": ranges(lambda c: L.match(chr(c)) is not None),
        "number": ranges(lambda c: N.match(chr(c)) is not None),
        "space": ranges(lambda c: S.match(chr(c)) is not None),
        "lower": lower,
    }
    path = os.path.join(FIXTURES, "unicode.json")
    with open(path, "w") as f:
        json.dump(out, f, separators=(",", ":"))
    print(f"wrote {path}: {os.path.getsize(path)} bytes")



# ----------------------------------------------------------------------------------------------
# Models

MEAN = (0.48145466, 0.4578275, 0.40821073)
STD = (0.26862954, 0.26130258, 0.27577711)


def hf_to_openai(sd):
    """Hugging Face CLIPModel state dict -> OpenAI/open_clip names (q, k, v stacked,
    projections transposed)."""
    import torch
    out = {}
    for tower, hf, oa in (("vision", "vision_model.", "visual."), ("text", "text_model.", "")):
        n = 0
        while f"{hf}encoder.layers.{n}.layer_norm1.weight" in sd:
            n += 1
        for i in range(n):
            h = f"{hf}encoder.layers.{i}."
            o = f"{oa}transformer.resblocks.{i}."
            out[o + "ln_1.weight"] = sd[h + "layer_norm1.weight"]
            out[o + "ln_1.bias"] = sd[h + "layer_norm1.bias"]
            out[o + "attn.in_proj_weight"] = torch.cat([sd[h + f"self_attn.{x}_proj.weight"] for x in "qkv"])
            out[o + "attn.in_proj_bias"] = torch.cat([sd[h + f"self_attn.{x}_proj.bias"] for x in "qkv"])
            out[o + "attn.out_proj.weight"] = sd[h + "self_attn.out_proj.weight"]
            out[o + "attn.out_proj.bias"] = sd[h + "self_attn.out_proj.bias"]
            out[o + "ln_2.weight"] = sd[h + "layer_norm2.weight"]
            out[o + "ln_2.bias"] = sd[h + "layer_norm2.bias"]
            out[o + "mlp.c_fc.weight"] = sd[h + "mlp.fc1.weight"]
            out[o + "mlp.c_fc.bias"] = sd[h + "mlp.fc1.bias"]
            out[o + "mlp.c_proj.weight"] = sd[h + "mlp.fc2.weight"]
            out[o + "mlp.c_proj.bias"] = sd[h + "mlp.fc2.bias"]
    out["visual.conv1.weight"] = sd["vision_model.embeddings.patch_embedding.weight"]
    out["visual.class_embedding"] = sd["vision_model.embeddings.class_embedding"]
    out["visual.positional_embedding"] = sd["vision_model.embeddings.position_embedding.weight"]
    out["visual.ln_pre.weight"] = sd["vision_model.pre_layrnorm.weight"]
    out["visual.ln_pre.bias"] = sd["vision_model.pre_layrnorm.bias"]
    out["visual.ln_post.weight"] = sd["vision_model.post_layernorm.weight"]
    out["visual.ln_post.bias"] = sd["vision_model.post_layernorm.bias"]
    out["visual.proj"] = sd["visual_projection.weight"].t()
    out["token_embedding.weight"] = sd["text_model.embeddings.token_embedding.weight"]
    out["positional_embedding"] = sd["text_model.embeddings.position_embedding.weight"]
    out["ln_final.weight"] = sd["text_model.final_layer_norm.weight"]
    out["ln_final.bias"] = sd["text_model.final_layer_norm.bias"]
    out["text_projection"] = sd["text_projection.weight"].t()
    out["logit_scale"] = sd["logit_scale"]
    return {k: v.contiguous() for k, v in out.items()}


def run_reference(model, pixels, tokens, weights, hooks=True):
    """Image/text features, intermediates, loss Σ w·f/|f| and d loss / d pixels (raw [0,1])."""
    import torch
    vm = model.vision_model
    acts = {}
    handles = []
    if hooks:
        def keep(name):
            def f(_m, _i, out):
                acts[name] = (out[0] if isinstance(out, tuple) else out).detach().clone()
            return f
        handles = [vm.embeddings.register_forward_hook(keep("embeddings")),
                   vm.pre_layrnorm.register_forward_hook(keep("after_pre_norm")),
                   vm.encoder.layers[0].register_forward_hook(keep("block0")),
                   vm.post_layernorm.register_forward_hook(keep("pooled"))]
    x = pixels.clone().requires_grad_(True)
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    pooled = vm(pixel_values=(x - mean) / std).pooler_output
    feats = model.visual_projection(pooled)
    unit = feats / feats.norm(dim=-1, keepdim=True)
    loss = (unit * weights).sum()
    loss.backward()
    for h in handles:
        h.remove()
    with torch.no_grad():
        tpooled = model.text_model(input_ids=tokens).pooler_output
        tfeats = model.text_projection(tpooled)
    out = {"image_features": feats.detach(), "loss": loss.detach().reshape(1),
           "pixel_grad": x.grad.detach(), "text_features": tfeats}
    out.update(acts)
    return out


def tiny_config():
    from transformers import CLIPConfig
    return CLIPConfig(
        text_config=dict(vocab_size=1000, hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                         num_attention_heads=2, max_position_embeddings=16, hidden_act="quick_gelu",
                         bos_token_id=998, eos_token_id=999, pad_token_id=0),
        vision_config=dict(hidden_size=64, intermediate_size=256, num_hidden_layers=2,
                           num_attention_heads=2, image_size=32, patch_size=8, hidden_act="quick_gelu"),
        projection_dim=48)


def make_tiny():
    """Tiny random-init CLIP (image 32, patch 8, width 64, 2 layers, 2 heads, context 16,
    vocabulary 1000): HF-named fp32 checkpoint, the same weights with OpenAI names in fp16, and
    reference activations for both."""
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPModel
    torch.manual_seed(1234)
    model = CLIPModel(tiny_config()).eval()
    # Re-draw every parameter at O(1) scale so attention is peaked and no path is negligible.
    with torch.no_grad():
        for name, p in model.named_parameters():
            if "norm" in name and name.endswith("weight"):
                p.copy_(1 + 0.2 * torch.randn_like(p))
            elif name.endswith("bias") or "norm" in name:
                p.copy_(0.2 * torch.randn_like(p))
            elif "embedding" in name:
                p.copy_(0.5 * torch.randn_like(p))
            elif name == "logit_scale":
                continue
            else:
                p.copy_(torch.randn_like(p) * 1.5 / p.shape[-1] ** 0.5 if p.dim() == 2
                        else torch.randn_like(p) / (p[0].numel() ** 0.5))
    d = os.path.join(FIXTURES, "tiny-hf")
    model.save_pretrained(d, safe_serialization=True)
    for extra in os.listdir(d):
        if extra not in ("config.json", "model.safetensors"):
            os.remove(os.path.join(d, extra))

    g = torch.Generator().manual_seed(99)
    pixels = torch.rand(2, 3, 32, 32, generator=g)
    weights = torch.randn(2, 48, generator=g)
    tokens = torch.zeros(2, 16, dtype=torch.long)
    for b, n in enumerate((7, 16)):
        tokens[b, 0] = 998
        tokens[b, 1:n - 1] = torch.randint(1, 998, (n - 2,), generator=g)
        tokens[b, n - 1] = 999
    ref = run_reference(model, pixels, tokens, weights)

    # The same weights with OpenAI/open_clip names, stored as fp16; references from the
    # fp16-rounded weights (in fp32 arithmetic).
    sd = {k: v.detach() for k, v in model.state_dict().items()}
    oa = {k: v.half() for k, v in hf_to_openai(sd).items()}
    save_file(oa, os.path.join(FIXTURES, "tiny-openai-fp16.safetensors"))
    rounded = CLIPModel(tiny_config()).eval()
    rounded.load_state_dict({k: v.half().float() for k, v in sd.items()}, strict=False)
    ref16 = run_reference(rounded, pixels, tokens, weights, hooks=False)
    check_open_clip(oa, pixels, tokens, ref16)

    out = {"pixels": pixels, "loss_weights": weights, "text_tokens": tokens.float()}
    out.update(ref)
    out.update({k + "_fp16": v for k, v in ref16.items()})
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, "tiny-reference.safetensors"))
    for k, v in sorted(out.items()):
        print(f"  {k:24s} {tuple(v.shape)}")
    print("wrote tiny-hf/, tiny-openai-fp16.safetensors, tiny-reference.safetensors")


def check_open_clip(oa_fp16, pixels, tokens, ref16):
    """Loads the OpenAI-named weights into open_clip's own model and checks it agrees."""
    import torch
    from open_clip.model import CLIP
    model = CLIP(embed_dim=48,
                 vision_cfg=dict(layers=2, width=64, head_width=32, image_size=32, patch_size=8),
                 text_cfg=dict(context_length=16, vocab_size=1000, width=64, heads=2, layers=2),
                 quick_gelu=True).eval()
    missing, unexpected = model.load_state_dict({k: v.float() for k, v in oa_fp16.items()}, strict=False)
    assert not unexpected, unexpected
    assert all("attn_mask" in m for m in missing), missing
    mean = torch.tensor(MEAN).view(1, 3, 1, 1)
    std = torch.tensor(STD).view(1, 3, 1, 1)
    with torch.no_grad():
        img = model.encode_image((pixels - mean) / std)
        txt = model.encode_text(tokens)
    di = (img - ref16["image_features"]).abs().max().item()
    dt = (txt - ref16["text_features"]).abs().max().item()
    print(f"open_clip with the OpenAI-named weights vs HF: image max|d| {di:.2e}, text {dt:.2e}")
    assert di < 1e-4 and dt < 1e-4


def det_uniform(seed, tensor, count):
    """DeterministicWeights.uniform of Sources/CLIP/Model/DeterministicWeights.swift."""
    import numpy as np
    i = np.arange(count, dtype=np.uint64)
    with np.errstate(over="ignore"):
        z = (np.uint64(seed) + np.uint64(tensor) * np.uint64(0x9E3779B97F4A7C15)
             + i * np.uint64(0xD1B54A32D192ED03))
        z = (z ^ (z >> np.uint64(30))) * np.uint64(0xBF58476D1CE4E5B9)
        z = (z ^ (z >> np.uint64(27))) * np.uint64(0x94D049BB133111EB)
        z = z ^ (z >> np.uint64(31))
    return (z >> np.uint64(40)).astype(np.float32) * np.float32(2.0 ** -23) - np.float32(1)


def det_values(seed, tensor, shape, kind):
    import math
    import numpy as np
    u = det_uniform(seed, tensor, int(np.prod(shape)))
    if kind == "norm_weight":
        v = u * np.float32(0.125) + np.float32(1)
    elif kind == "norm_bias":
        v = u * np.float32(0.0625)
    elif kind == "bias":
        v = u * np.float32(0.03125)
    elif kind[0] == "weight":
        v = u * np.float32(1.0 / math.sqrt(kind[1]))
    else:
        v = u * np.float32(kind[1])
    return v.reshape(shape)


def fill_deterministic(model, cfg, seed=0):
    """Fills a HF CLIPModel with clipig's deterministic weights (canonical order of
    Sources/CLIP/Model/Towers.swift: tensor ids 0… for vision, 10000… for text)."""
    import torch
    sd = {}

    def blocks(prefix, n, c, m, nxt):
        for i in range(n):
            h = f"{prefix}encoder.layers.{i}."
            specs = [("layer_norm1.weight", [c], "norm_weight"), ("layer_norm1.bias", [c], "norm_bias"),
                     ("qkv.weight", [3 * c, c], ("weight", c)), ("qkv.bias", [3 * c], "bias"),
                     ("self_attn.out_proj.weight", [c, c], ("weight", c)), ("self_attn.out_proj.bias", [c], "bias"),
                     ("layer_norm2.weight", [c], "norm_weight"), ("layer_norm2.bias", [c], "norm_bias"),
                     ("mlp.fc1.weight", [m, c], ("weight", c)), ("mlp.fc1.bias", [m], "bias"),
                     ("mlp.fc2.weight", [c, m], ("weight", m)), ("mlp.fc2.bias", [c], "bias")]
            for name, shape, kind in specs:
                v = det_values(seed, nxt(), shape, kind)
                if name.startswith("qkv"):
                    suffix = name.split(".")[1]
                    for j, x in enumerate("qkv"):
                        sd[h + f"self_attn.{x}_proj.{suffix}"] = v[j * c:(j + 1) * c]
                else:
                    sd[h + name] = v

    vc, tc = cfg.vision_config, cfg.text_config
    c, p, e = vc.hidden_size, vc.patch_size, cfg.projection_dim
    t = (vc.image_size // p) ** 2 + 1
    counter = [0]

    def nxt():
        counter[0] += 1
        return counter[0] - 1
    sd["vision_model.embeddings.patch_embedding.weight"] = det_values(seed, nxt(), [c, 3, p, p], ("weight", 3 * p * p))
    sd["vision_model.embeddings.class_embedding"] = det_values(seed, nxt(), [c], ("embedding", 0.5))
    sd["vision_model.embeddings.position_embedding.weight"] = det_values(seed, nxt(), [t, c], ("embedding", 0.25))
    sd["vision_model.pre_layrnorm.weight"] = det_values(seed, nxt(), [c], "norm_weight")
    sd["vision_model.pre_layrnorm.bias"] = det_values(seed, nxt(), [c], "norm_bias")
    blocks("vision_model.", vc.num_hidden_layers, c, vc.intermediate_size, nxt)
    sd["vision_model.post_layernorm.weight"] = det_values(seed, nxt(), [c], "norm_weight")
    sd["vision_model.post_layernorm.bias"] = det_values(seed, nxt(), [c], "norm_bias")
    sd["visual_projection.weight"] = det_values(seed, nxt(), [e, c], ("weight", c))
    counter[0] = 10000
    ct = tc.hidden_size
    sd["text_model.embeddings.token_embedding.weight"] = det_values(seed, nxt(), [tc.vocab_size, ct], ("embedding", 0.5))
    sd["text_model.embeddings.position_embedding.weight"] = det_values(
        seed, nxt(), [tc.max_position_embeddings, ct], ("embedding", 0.25))
    blocks("text_model.", tc.num_hidden_layers, ct, tc.intermediate_size, nxt)
    sd["text_model.final_layer_norm.weight"] = det_values(seed, nxt(), [ct], "norm_weight")
    sd["text_model.final_layer_norm.bias"] = det_values(seed, nxt(), [ct], "norm_bias")
    sd["text_projection.weight"] = det_values(seed, nxt(), [e, ct], ("weight", ct))
    tensors = {k: torch.from_numpy(v.copy()) for k, v in sd.items()}
    missing, unexpected = model.load_state_dict(tensors, strict=False)
    assert not unexpected, unexpected
    assert set(missing) <= {"logit_scale", "text_model.embeddings.position_ids",
                            "vision_model.embeddings.position_ids"}, missing


def make_b32():
    """ViT-B/32 shapes with clipig's deterministic weights: only inputs' recipe and outputs are
    committed (features, pooled output, loss, a strided sample of the pixel gradient and its
    full-size statistics)."""
    import numpy as np
    import torch
    from safetensors.torch import save_file
    from transformers import CLIPConfig, CLIPModel
    from open_clip.tokenizer import SimpleTokenizer
    torch.set_num_threads(os.cpu_count() or 1)
    cfg = CLIPConfig(
        text_config=dict(hidden_size=512, intermediate_size=2048, num_hidden_layers=12,
                         num_attention_heads=8, hidden_act="quick_gelu"),
        vision_config=dict(hidden_size=768, intermediate_size=3072, num_hidden_layers=12,
                           num_attention_heads=12, image_size=224, patch_size=32, hidden_act="quick_gelu"),
        projection_dim=512)
    model = CLIPModel(cfg).eval()
    fill_deterministic(model, cfg, seed=0)
    n = 2
    pixels = torch.from_numpy(det_uniform(0, 20000, n * 3 * 224 * 224) * np.float32(0.5) + np.float32(0.5)).reshape(n, 3, 224, 224)
    weights = torch.from_numpy(det_uniform(0, 20001, n * 512)).reshape(n, 512)
    tok = SimpleTokenizer(bpe_path=BPE)
    prompts = ["a cat made of salami. a cat with the texture of a salami.", "a snail made of harp."]
    tokens = tok(prompts)
    ref = run_reference(model, pixels, tokens, weights, hooks=True)
    g = ref["pixel_grad"].reshape(-1).double()
    probe = torch.from_numpy(det_uniform(0, 20002, g.numel())).double()
    out = {
        "image_features": ref["image_features"], "pooled": ref["pooled"][:, 0, :] if ref["pooled"].dim() == 3 else ref["pooled"],
        "text_features": ref["text_features"], "loss": ref["loss"], "text_tokens": tokens.float(),
        "pixel_grad_every_17th": ref["pixel_grad"].reshape(-1)[::17],
        "pixel_grad_norm": g.norm().reshape(1), "pixel_grad_dot_probe": (g * probe).sum().reshape(1),
        "block0_every_101st": ref["block0"].reshape(-1)[::101],
    }
    out = {k: v.float().contiguous() for k, v in out.items()}
    save_file(out, os.path.join(FIXTURES, "b32-reference.safetensors"))
    for k, v in sorted(out.items()):
        print(f"  {k:24s} {tuple(v.shape)}")
    print("wrote b32-reference.safetensors")


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    what = sys.argv[1:] or ["tokenizer", "unicode", "tiny", "b32"]
    for w in what:
        {"tokenizer": make_tokenizer, "unicode": make_unicode,
         "tiny": lambda: make_tiny(), "b32": lambda: make_b32()}[w]()


if __name__ == "__main__":
    main()
