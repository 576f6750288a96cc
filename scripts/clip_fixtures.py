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


def main():
    os.makedirs(FIXTURES, exist_ok=True)
    what = sys.argv[1:] or ["tokenizer", "unicode", "tiny", "b32"]
    for w in what:
        {"tokenizer": make_tokenizer, "unicode": make_unicode,
         "tiny": lambda: make_tiny(), "b32": lambda: make_b32()}[w]()


if __name__ == "__main__":
    main()
