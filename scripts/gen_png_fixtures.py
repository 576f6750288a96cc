#!/usr/bin/env python3
"""Write the PNG test fixtures of PipelineKitTests with nothing but Python's standard library.

Every PNG is assembled by hand (zlib + struct): each colour type and bit depth, palette with
tRNS, colour-key tRNS, an alpha channel, Adam7 interlacing, all five row filters, colour-space
chunks that must be ignored, plus malformed files. The expected samples go to png-fixtures.json
next to them: for every valid file its size, the scale of its samples (255 or 65535) and the
expected RGB samples row by row (gray copied to R, G, B; palette entries looked up; 1/2/4-bit
gray scaled to 0...255), and for 16-bit files with an alpha channel the alpha samples.

Regenerate (deterministic; CI never runs Python):
    python3 scripts/gen_png_fixtures.py Tests/FormatsTests/Fixtures
"""
import json
import os
import struct
import sys
import zlib

SIGNATURE = b"\x89PNG\r\n\x1a\n"
CHANNELS = {0: 1, 2: 3, 3: 1, 4: 2, 6: 4}
ADAM7 = [(0, 0, 8, 8), (4, 0, 8, 8), (0, 4, 4, 8), (2, 0, 4, 4), (0, 2, 2, 4), (1, 0, 2, 2),
         (0, 1, 1, 2)]


class Lcg:
    """A tiny deterministic generator so that the fixtures never change by accident."""

    def __init__(self, seed):
        self.state = seed

    def below(self, n):
        self.state = (self.state * 6364136223846793005 + 1442695040888963407) % (1 << 64)
        return (self.state >> 33) % n


def chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def pack_row(samples, depth):
    """Samples of one row → bytes (MSB-first packing below 8 bits, big-endian at 16)."""
    if depth == 16:
        return b"".join(struct.pack(">H", s) for s in samples)
    if depth == 8:
        return bytes(samples)
    out, acc, bits = bytearray(), 0, 0
    for s in samples:
        acc = (acc << depth) | s
        bits += depth
        if bits == 8:
            out.append(acc)
            acc, bits = 0, 0
    if bits:
        out.append(acc << (8 - bits))
    return bytes(out)


def paeth(a, b, c):
    p = a + b - c
    pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
    if pa <= pb and pa <= pc:
        return a
    return b if pb <= pc else c


def filter_rows(rows, bpp):
    """Filter each row with type (row index mod 5), so every filter is exercised."""
    out, prev = bytearray(), bytes(len(rows[0])) if rows else b""
    for i, row in enumerate(rows):
        kind = i % 5
        out.append(kind)
        for x, v in enumerate(row):
            a = row[x - bpp] if x >= bpp else 0
            b = prev[x]
            c = prev[x - bpp] if x >= bpp else 0
            pred = [0, a, b, (a + b) // 2, paeth(a, b, c)][kind]
            out.append((v - pred) & 0xFF)
        prev = row
    return bytes(out)


def image_data(pixels, width, height, depth, ctype, interlace):
    """pixels[y][x] is a tuple of samples; returns the filtered, uncompressed stream."""
    bpp = max(1, CHANNELS[ctype] * depth // 8)
    if not interlace:
        rows = [pack_row([s for p in pixels[y] for s in p], depth) for y in range(height)]
        return filter_rows(rows, bpp)
    stream = b""
    for x0, y0, dx, dy in ADAM7:
        xs, ys = range(x0, width, dx), range(y0, height, dy)
        if len(xs) == 0 or len(ys) == 0:
            continue
        rows = [pack_row([s for x in xs for s in pixels[y][x]], depth) for y in ys]
        stream += filter_rows(rows, bpp)
    return stream


def make_png(width, height, depth, ctype, pixels, interlace=0, before_idat=(), plte=None):
    ihdr = struct.pack(">IIBBBBB", width, height, depth, ctype, 0, 0, interlace)
    body = chunk(b"IHDR", ihdr)
    for kind, data in before_idat:
        if kind == b"tRNS" and plte is not None:
            continue
        body += chunk(kind, data)
    if plte is not None:
        body += chunk(b"PLTE", b"".join(bytes(c) for c in plte))
        for kind, data in before_idat:
            if kind == b"tRNS":
                body += chunk(kind, data)
    raw = image_data(pixels, width, height, depth, ctype, interlace)
    return SIGNATURE + body + chunk(b"IDAT", zlib.compress(raw, 9)) + chunk(b"IEND", b"")


def make_case(name, width, height, depth, ctype, seed, interlace=0, extra=(), palette_size=0):
    rng = Lcg(seed)
    top = (1 << depth) - 1
    plte = None
    if ctype == 3:
        plte = [(rng.below(256), rng.below(256), rng.below(256)) for _ in range(palette_size)]
        pixels = [[(rng.below(palette_size),) for _ in range(width)] for _ in range(height)]
    else:
        pixels = [[tuple(rng.below(top + 1) for _ in range(CHANNELS[ctype]))
                   for _ in range(width)] for _ in range(height)]
        # make sure the extremes occur
        pixels[0][0] = tuple(0 for _ in range(CHANNELS[ctype]))
        pixels[-1][-1] = tuple(top for _ in range(CHANNELS[ctype]))
        if ctype in (4, 6) and depth == 16 and width * height > 3:
            # opaque, transparent and two partial alphas
            for i, a in enumerate([65535, 0, 32768, 1000]):
                y, x = divmod(i + 1, width)
                pixels[y][x] = pixels[y][x][:-1] + (a,)
    data = make_png(width, height, depth, ctype, pixels, interlace, extra, plte)

    scale = 65535 if depth == 16 else 255
    rgb, alpha = [], []
    for row in pixels:
        for p in row:
            if ctype == 3:
                rgb.extend(plte[p[0]])
                continue
            color = p[:3] if ctype in (2, 6) else (p[0],) * 3
            if depth < 8:
                color = tuple(c * 255 // top for c in color)
            rgb.extend(color)
            if ctype in (4, 6):
                alpha.append(p[-1])
    expected = {"width": width, "height": height, "scale": scale, "rgb": rgb}
    if depth == 16 and ctype in (4, 6):
        expected["alpha"] = alpha
    return name, data, expected


def valid_cases():
    gamma_1 = (b"gAMA", struct.pack(">I", 100000))
    srgb = (b"sRGB", b"\x00")
    chrm = (b"cHRM", struct.pack(">8I", 31270, 32900, 64000, 33000, 30000, 60000, 15000, 6000))
    text = (b"tEXt", b"Comment\x00clipig fixture")
    return [
        make_case("gray1.png", 13, 3, 1, 0, 1),
        make_case("gray2.png", 7, 3, 2, 0, 2),
        make_case("gray4.png", 5, 3, 4, 0, 3),
        make_case("gray8.png", 5, 4, 8, 0, 4, extra=[text]),
        make_case("gray16.png", 4, 3, 16, 0, 5),
        make_case("gray8-trns.png", 4, 3, 8, 0, 6, extra=[(b"tRNS", struct.pack(">H", 7))]),
        make_case("graya8.png", 4, 3, 8, 4, 7),
        make_case("graya16.png", 4, 3, 16, 4, 8),
        make_case("rgb8.png", 5, 4, 8, 2, 9),
        make_case("rgb16.png", 4, 3, 16, 2, 10),
        make_case("rgb8-trns.png", 4, 3, 8, 2, 11, extra=[(b"tRNS", struct.pack(">3H", 1, 2, 3))]),
        make_case("rgb16-trns.png", 3, 3, 16, 2, 12,
                  extra=[(b"tRNS", struct.pack(">3H", 0, 0, 0))]),
        make_case("rgba8.png", 5, 3, 8, 6, 13),
        make_case("rgba16.png", 4, 3, 16, 6, 14),
        make_case("palette1.png", 11, 2, 1, 3, 15, palette_size=2),
        make_case("palette2.png", 6, 3, 2, 3, 16, palette_size=4),
        make_case("palette4.png", 5, 3, 4, 3, 17, palette_size=16),
        make_case("palette8.png", 4, 3, 8, 3, 18, palette_size=40),
        make_case("palette8-trns.png", 4, 3, 8, 3, 19, palette_size=5,
                  extra=[(b"tRNS", bytes([0, 128, 255]))]),
        make_case("rgb8-interlaced.png", 9, 7, 8, 2, 20, interlace=1),
        make_case("gray2-interlaced.png", 10, 9, 2, 0, 21, interlace=1),
        make_case("rgba16-interlaced.png", 5, 6, 16, 6, 22, interlace=1),
        make_case("palette4-interlaced.png", 3, 2, 4, 3, 23, interlace=1, palette_size=9),
        make_case("rgb8-gamma.png", 4, 3, 8, 2, 24, extra=[gamma_1, chrm]),
        make_case("rgb16-srgb.png", 3, 3, 16, 2, 25, extra=[srgb]),
        make_case("gray16-gamma.png", 3, 2, 16, 0, 26, extra=[gamma_1]),
    ]


def malformed_cases(good):
    """(name, bytes, substring the error message must contain)."""
    idat = good.index(b"IDAT") - 4
    idat_len = struct.unpack(">I", good[idat:idat + 4])[0]
    bad_crc = bytearray(good)
    bad_crc[idat + 8 + idat_len // 2] ^= 0x55
    huge = (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 100000, 100000, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    zero = (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 0, 4, 8, 2, 0, 0, 0))
            + chunk(b"IDAT", zlib.compress(b"")) + chunk(b"IEND", b""))
    ihdr = good[8:8 + 25]
    bad_zlib = SIGNATURE + ihdr + chunk(b"IDAT", b"\x78\x9c\xff\xff\xff\xff") + chunk(b"IEND", b"")
    short_data = SIGNATURE + ihdr + chunk(b"IDAT", zlib.compress(b"\x00\x01\x02")) + chunk(
        b"IEND", b"")
    no_iend = good[:good.index(b"IEND") - 4]
    bad_depth = (SIGNATURE + chunk(b"IHDR", struct.pack(">IIBBBBB", 2, 2, 3, 2, 0, 0, 0))
                 + chunk(b"IDAT", zlib.compress(b"\x00" * 16)) + chunk(b"IEND", b""))
    return [
        ("bad-truncated.png", good[:len(good) * 2 // 3], "truncated"),
        ("bad-crc.png", bytes(bad_crc), "CRC"),
        ("bad-signature.png", b"\x89PNX\r\n\x1a\n" + good[8:], "not a PNG"),
        ("bad-empty.png", b"", "empty file"),
        ("bad-huge.png", huge, "exceeds the limit"),
        ("bad-zero-width.png", zero, "0×4"),
        ("bad-not-png.png", b"This is a text file, not an image.\n", "not a PNG"),
        ("bad-jpeg.png", b"\xff\xd8\xff\xe0\x00\x10JFIF\x00", "JPEG"),
        ("bad-zlib.png", bad_zlib, "corrupt PNG"),
        ("bad-short-data.png", short_data, "corrupt PNG"),
        ("bad-no-iend.png", no_iend, "IEND"),
        ("bad-depth.png", bad_depth, "bit depth 3"),
        ("bad-signature-only.png", SIGNATURE[:5], "truncated"),
    ]


def main():
    out_dir = sys.argv[1] if len(sys.argv) > 1 else "Tests/FormatsTests/Fixtures"
    png_dir = os.path.join(out_dir, "png")
    os.makedirs(png_dir, exist_ok=True)
    manifest = {"generator": "scripts/gen_png_fixtures.py", "valid": {}, "malformed": {}}
    valid = valid_cases()
    for name, data, expected in valid:
        with open(os.path.join(png_dir, name), "wb") as f:
            f.write(data)
        manifest["valid"][name] = expected
    rgb8 = next(data for name, data, _ in valid if name == "rgb8.png")
    for name, data, message in malformed_cases(rgb8):
        with open(os.path.join(png_dir, name), "wb") as f:
            f.write(data)
        manifest["malformed"][name] = message
    with open(os.path.join(out_dir, "png-fixtures.json"), "w") as f:
        json.dump(manifest, f, separators=(",", ":"), sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main()
