#!/usr/bin/env python3
"""Write the JPEG/WebP/PNG fixtures of FormatsTests (ImageFileTests) and the pixels PIL decodes.

Valid files: JPEG (RGB 4:2:0 and 4:4:4, gray, progressive, CMYK with an Adobe marker and without
one (PIL takes both as stored inverted), EXIF orientations 1-8 little-endian and one big-endian, restart
markers), PNG (gray, RGB, palette, RGBA, 16-bit gray) and WebP (lossless RGB and RGBA, lossy RGB
and RGBA). For each, image-fixtures.json holds the expected RGB samples row by row as PIL gives
them: `ImageOps.exif_transpose(Image.open(f)).convert("RGB")` (alpha dropped, CMYK converted by
PIL's formula), or for 16-bit gray the stored 16-bit samples (scale 65535). `lossy` marks files
whose decoder output may differ by one step between library versions.

Hostile files (hostile/): truncated, corrupt markers, huge declared dimensions (JPEG, PNG, WebP),
1001 empty progressive scans (a CPU bomb),
zero bytes, random bytes, a text file, bad EXIF offsets; the manifest gives a phrase the error
must contain, or for files that must still decode the word "decodes" (their pixels are then
listed with the valid files: EXIF entries beyond the segment are skipped, as PIL skips them).

Regenerate (deterministic; CI never runs Python):
    /tmp/clipig-oracle/bin/python scripts/gen_image_fixtures.py Tests/FormatsTests/Fixtures
"""
import io
import json
import os
import random
import struct
import sys
import zlib

from PIL import Image, ImageOps

W, H = 13, 9  # odd, non-square: subsampling edges and orientation transposes both show


def pattern(seed, mode="RGB"):
    """A smooth gradient plus deterministic noise, so that lossy codecs have work to do."""
    rng = random.Random(seed)
    im = Image.new("RGB", (W, H))
    px = im.load()
    for y in range(H):
        for x in range(W):
            px[x, y] = (
                (x * 19 + rng.randrange(40)) % 256,
                (y * 27 + rng.randrange(40)) % 256,
                ((x + y) * 11 + rng.randrange(60)) % 256,
            )
    return im if mode == "RGB" else im.convert(mode)


def encoded(im, fmt, **options):
    buffer = io.BytesIO()
    im.save(buffer, fmt, **options)
    return buffer.getvalue()


def jpeg_segments(data):
    """(marker, start, end) of each segment before the first SOS."""
    out, p = [], 2
    while p + 4 <= len(data):
        marker = data[p + 1]
        length = struct.unpack(">H", data[p + 2:p + 4])[0]
        out.append((marker, p, p + 2 + length))
        if marker == 0xDA:
            break
        p += 2 + length
    return out


def strip_marker(data, marker):
    for m, start, end in jpeg_segments(data):
        if m == marker:
            return data[:start] + data[end:]
    raise ValueError("marker not found")


def insert_after_soi(data, segment):
    return data[:2] + segment + data[2:]


def exif_segment(orientation, big_endian, ifd_offset=8, count=None):
    """An APP1 Exif segment whose IFD0 holds only the Orientation tag (0x0112, SHORT)."""
    e = ">" if big_endian else "<"
    tiff = (b"MM" if big_endian else b"II") + struct.pack(e + "HI", 42, ifd_offset)
    n = 1 if count is None else count
    tiff += struct.pack(e + "H", n)
    tiff += struct.pack(e + "HHI", 0x0112, 3, 1) + struct.pack(e + "HH", orientation, 0)
    tiff += struct.pack(e + "I", 0)
    body = b"Exif\x00\x00" + tiff
    return b"\xff\xe1" + struct.pack(">H", len(body) + 2) + body


def png_chunk(kind, data):
    return (struct.pack(">I", len(data)) + kind + data
            + struct.pack(">I", zlib.crc32(kind + data) & 0xFFFFFFFF))


def expected_rgb(data):
    im = Image.open(io.BytesIO(data))
    im = ImageOps.exif_transpose(im).convert("RGB")
    return im.size, list(im.tobytes())


def main(root):
    out = os.path.join(root, "images")
    hostile = os.path.join(out, "hostile")
    os.makedirs(hostile, exist_ok=True)
    files = {}

    base = pattern(1)
    files["rgb420.jpg"] = encoded(base, "JPEG", quality=90, subsampling=2)
    files["rgb444.jpg"] = encoded(base, "JPEG", quality=90, subsampling=0)
    files["gray.jpg"] = encoded(pattern(2, "L"), "JPEG", quality=90)
    files["progressive.jpg"] = encoded(pattern(3), "JPEG", quality=85, progressive=True)
    files["restart.jpg"] = encoded(pattern(4), "JPEG", quality=85, restart_marker_blocks=1)
    cmyk = pattern(5).convert("CMYK")
    files["cmyk-adobe.jpg"] = encoded(cmyk, "JPEG", quality=90)
    files["cmyk-plain.jpg"] = strip_marker(files["cmyk-adobe.jpg"], 0xEE)
    oriented = pattern(6)
    plain = encoded(oriented, "JPEG", quality=92, subsampling=0)
    for n in range(1, 9):
        exif = Image.Exif()
        exif[0x0112] = n
        files[f"exif{n}.jpg"] = encoded(oriented, "JPEG", quality=92, subsampling=0,
                                        exif=exif.tobytes())
    files["exif6-bigendian.jpg"] = insert_after_soi(plain, exif_segment(6, True))

    files["gray.png"] = encoded(pattern(7, "L"), "PNG")
    files["rgb.png"] = encoded(pattern(8), "PNG")
    files["palette.png"] = encoded(pattern(9).quantize(37), "PNG")
    rgba = pattern(10).convert("RGBA")
    rgba.putalpha(pattern(11, "L"))
    files["rgba.png"] = encoded(rgba, "PNG")
    gray16 = Image.new("I;16", (W, H))
    rng = random.Random(12)
    samples16 = [rng.randrange(65536) for _ in range(W * H)]
    gray16.putdata(samples16)
    files["gray16.png"] = encoded(gray16, "PNG")

    files["lossless.webp"] = encoded(pattern(13), "WEBP", lossless=True)
    rgba_opaque_colours = pattern(14).convert("RGBA")
    rgba_opaque_colours.putalpha(pattern(15, "L"))
    files["lossless-alpha.webp"] = encoded(rgba_opaque_colours, "WEBP", lossless=True, exact=True)
    files["lossy.webp"] = encoded(pattern(16), "WEBP", quality=80)
    files["lossy-alpha.webp"] = encoded(rgba_opaque_colours, "WEBP", quality=80)

    manifest = {"valid": {}, "hostile": {}}
    for name, data in sorted(files.items()):
        with open(os.path.join(out, name), "wb") as f:
            f.write(data)
        if name == "gray16.png":
            entry = {"width": W, "height": H, "scale": 65535,
                     "rgb": [v for s in samples16 for v in (s, s, s)]}
        else:
            (w, h), rgb = expected_rgb(data)
            entry = {"width": w, "height": h, "scale": 255, "rgb": rgb}
        entry["lossy"] = name.endswith(".jpg") or name.startswith("lossy")
        manifest["valid"][name] = entry

    # Hostile and broken files, each with a phrase its error must contain.
    rng = random.Random(99)
    jpg = files["rgb420.jpg"]
    bad = {}
    bad["empty.jpg"] = (b"", "empty")
    bad["random.bin"] = (bytes(rng.randrange(256) for _ in range(2000)), "not an image")
    bad["text.png"] = (b"width: 3\nheight: 4\n", "not an image")
    bad["soi-only.jpg"] = (b"\xff\xd8", "truncated")
    bad["truncated-header.jpg"] = (jpg[:40], "truncated")
    sos = [s for s in jpeg_segments(jpg) if s[0] == 0xDA][0]
    bad["truncated-scan.jpg"] = (jpg[:sos[2] + 20], "truncated")
    prog = files["progressive.jpg"]
    first_sos = [seg for seg in jpeg_segments(prog) if seg[0] == 0xDA][0]
    sos_header = prog[first_sos[1]:first_sos[2]]
    bad["many-scans.jpg"] = (prog[:first_sos[1]] + sos_header * 1001 + b"\xff\xd9", "scans")
    bad["no-eoi-progressive.jpg"] = (files["progressive.jpg"][:-300], "truncated")
    sof = [s for s in jpeg_segments(jpg) if s[0] in (0xC0, 0xC2)][0]
    huge = bytearray(jpg)
    huge[sof[1] + 5:sof[1] + 9] = struct.pack(">HH", 60000, 60000)
    bad["huge.jpg"] = (bytes(huge), "exceeds the limit")
    zero = bytearray(jpg)
    zero[sof[1] + 5:sof[1] + 9] = struct.pack(">HH", 0, 0)
    bad["zero-size.jpg"] = (bytes(zero), "jpeg")
    broken = bytearray(jpg)
    broken[sof[1] + 1] = 0xCF  # an undefined SOF-like marker
    bad["bad-marker.jpg"] = (bytes(broken), "jpeg")
    length = bytearray(jpg)
    length[sof[1] + 2:sof[1] + 4] = b"\xff\xf0"
    bad["bad-length.jpg"] = (bytes(length), "jpeg")
    # PNG with a huge declared size (valid CRC) and a truncated PNG.
    png = files["rgb.png"]
    ihdr = struct.pack(">IIBBBBB", 50000, 50000, 8, 2, 0, 0, 0)
    bad["huge.png"] = (png[:8] + png_chunk(b"IHDR", ihdr) + png[33:], "exceeds the limit")
    bad["truncated.png"] = (png[: len(png) // 2], "truncated")
    # WebP: truncated, and a lossless header declaring 16384×16384.
    webp = files["lossless.webp"]
    bad["truncated.webp"] = (webp[: len(webp) // 2], "webp")
    vp8l = bytearray(webp)
    assert vp8l[12:16] == b"VP8L"
    bits = (16383) | (16383 << 14) | (int.from_bytes(vp8l[21:25], "little") & ~((1 << 28) - 1))
    vp8l[21:25] = bits.to_bytes(4, "little")
    bad["huge.webp"] = (bytes(vp8l), "exceeds the limit")
    bad["riff-only.webp"] = (b"RIFF\x04\x00\x00\x00WEBP", "webp")
    # EXIF with offsets beyond its segment and an absurd entry count: ignored, the image decodes.
    bad["exif-bad-offset.jpg"] = (insert_after_soi(plain, exif_segment(6, False, 0xFFFFFF00)),
                                  "decodes")
    bad["exif-bad-count.jpg"] = (insert_after_soi(plain, exif_segment(6, True, 8, 0xFFFF)),
                                 "decodes")
    for name, (data, phrase) in sorted(bad.items()):
        with open(os.path.join(hostile, name), "wb") as f:
            f.write(data)
        manifest["hostile"][name] = phrase
        if phrase == "decodes":
            (w, h), rgb = expected_rgb(data)
            manifest["valid"]["hostile/" + name] = {
                "width": w, "height": h, "scale": 255, "rgb": rgb, "lossy": True}
    with open(os.path.join(out, "image-fixtures.json"), "w") as f:
        json.dump(manifest, f, indent=0, sort_keys=True)
        f.write("\n")


if __name__ == "__main__":
    main(sys.argv[1] if len(sys.argv) > 1 else "Tests/FormatsTests/Fixtures")
