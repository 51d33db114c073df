#!/usr/bin/python3
"""Renders a p2pfaas-bench dashboard.html in headless Chromium and checks that it was drawn.

usage: render_check.py DASHBOARD.html

1. --dump-dom: <body> must carry data-rendered="N" with N >= 1 (the page's script sets it once
   every chart is drawn) and no data-error (set when anything threw).
2. --screenshot at 1280x2000: the PNG must not be blank: at least 5% of the pixels not white,
   at least 20 distinct colours, and at least 0.5% strongly coloured pixels (chart marks; the
   page's text and background are greys).

Exit status: 0 pass, 1 failure (the reason on stderr), 2 bad usage, 77 skipped (no Chromium:
`apt-get install chromium`; this script installs nothing). Standard library only. Each Chromium
run is limited to TIMEOUT seconds; its profile lives in a temp dir that is removed afterwards.
CHROMIUM=NAME picks another browser binary; RENDER_CHECK_KEEP=FILE.png keeps the screenshot.
"""

import html
import os
import pathlib
import re
import shutil
import signal
import struct
import subprocess
import sys
import tempfile
import zlib

TIMEOUT = 60  # seconds per Chromium run
MIN_NON_WHITE = 0.05
MIN_COLOURS = 20
MIN_CHROMATIC = 0.005
SKIP = 77


class CheckFailed(Exception):
    pass


def find_chromium():
    override = os.environ.get("CHROMIUM")
    if override:
        return shutil.which(override)
    for name in ("chromium", "chromium-browser"):
        path = shutil.which(name)
        if path:
            return path
    return None


def run_chromium(chromium, profile, extra, url):
    """Runs one headless Chromium; returns its stdout. Kills its whole process group on timeout."""
    args = [
        chromium,
        "--headless",
        "--no-sandbox",  # needed as root (CI containers)
        "--disable-gpu",
        "--virtual-time-budget=10000",
        "--user-data-dir=" + str(profile / "user-data"),
        "--no-first-run",
        "--no-default-browser-check",
        "--disable-extensions",
        "--disable-sync",
        "--disable-background-networking",  # offline: no update, safe-browsing or metrics calls
        "--disable-component-update",
        "--disable-default-apps",
        "--disable-breakpad",
        "--disable-crash-reporter",
        "--disable-dev-shm-usage",
        "--mute-audio",
        "--hide-scrollbars",
        "--force-device-scale-factor=1",
    ] + extra + [url]
    env = dict(os.environ)
    # Keep everything Chromium writes (config, cache, crash dumps) inside the temp dir.
    env["HOME"] = str(profile)
    env["XDG_CONFIG_HOME"] = str(profile / "config")
    env["XDG_CACHE_HOME"] = str(profile / "cache")
    proc = subprocess.Popen(args, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                            cwd=str(profile), start_new_session=True)
    try:
        out, err = proc.communicate(timeout=TIMEOUT)
    except subprocess.TimeoutExpired:
        os.killpg(proc.pid, signal.SIGKILL)
        proc.communicate()
        raise CheckFailed("chromium %s did not finish within %d s" % (" ".join(extra), TIMEOUT))
    finally:
        try:  # helpers Chromium left behind in its process group
            os.killpg(proc.pid, signal.SIGKILL)
        except ProcessLookupError:
            pass
    if proc.returncode != 0:
        tail = err.decode("utf-8", "replace").strip().splitlines()[-5:]
        raise CheckFailed("chromium %s exited with %d: %s" %
                          (" ".join(extra), proc.returncode, " | ".join(tail)))
    return out.decode("utf-8", "replace")


def check_dom(dom):
    body = re.search(r"<body\b[^>]*>", dom, re.IGNORECASE)
    if not body:
        raise CheckFailed("the dumped DOM has no <body> (%d bytes)" % len(dom))
    attributes = dict((name.lower(), html.unescape(value)) for name, value in
                      re.findall(r'([\w-]+)="([^"]*)"', body.group(0)))
    if "data-error" in attributes:
        raise CheckFailed("the page reported an error: " + attributes["data-error"])
    rendered = attributes.get("data-rendered")
    if rendered is None:
        raise CheckFailed("the page's script never finished (no data-rendered on <body>)")
    if not rendered.isdigit() or int(rendered) < 1:
        raise CheckFailed("data-rendered=%r: no chart was drawn" % rendered)
    return int(rendered)


def decode_png(data):
    """(width, height, channels, pixel bytes) of an 8-bit RGB or RGBA, non-interlaced PNG."""
    if data[:8] != b"\x89PNG\r\n\x1a\n":
        raise CheckFailed("the screenshot is not a PNG")
    pos, header, idat = 8, None, []
    while pos + 8 <= len(data):
        length, kind = struct.unpack(">I4s", data[pos:pos + 8])
        chunk = data[pos + 8:pos + 8 + length]
        pos += 12 + length
        if kind == b"IHDR":
            header = struct.unpack(">IIBBBBB", chunk)
        elif kind == b"IDAT":
            idat.append(chunk)
        elif kind == b"IEND":
            break
    if header is None:
        raise CheckFailed("the PNG has no IHDR")
    width, height, depth, colour_type, _, _, interlace = header
    if depth != 8 or colour_type not in (2, 6) or interlace != 0:
        raise CheckFailed("unsupported PNG: bit depth %d, colour type %d, interlace %d" %
                          (depth, colour_type, interlace))
    bpp = 3 if colour_type == 2 else 4
    raw = zlib.decompress(b"".join(idat))
    stride = width * bpp
    if len(raw) != height * (stride + 1):
        raise CheckFailed("the PNG's image data has %d bytes, expected %d" %
                          (len(raw), height * (stride + 1)))
    out = bytearray(height * stride)
    prev = bytearray(stride)
    for y in range(height):
        start = y * (stride + 1)
        kind = raw[start]
        row = bytearray(raw[start + 1:start + 1 + stride])
        if kind == 0:
            pass
        elif kind == 1:  # Sub
            for i in range(bpp, stride):
                row[i] = (row[i] + row[i - bpp]) & 0xFF
        elif kind == 2:  # Up
            row = bytearray((a + b) & 0xFF for a, b in zip(row, prev))
        elif kind == 3:  # Average
            for i in range(stride):
                left = row[i - bpp] if i >= bpp else 0
                row[i] = (row[i] + ((left + prev[i]) >> 1)) & 0xFF
        elif kind == 4:  # Paeth
            for i in range(stride):
                if i >= bpp:
                    a, c = row[i - bpp], prev[i - bpp]
                else:
                    a = c = 0
                b = prev[i]
                p = a + b - c
                pa, pb, pc = abs(p - a), abs(p - b), abs(p - c)
                if pa <= pb and pa <= pc:
                    predictor = a
                elif pb <= pc:
                    predictor = b
                else:
                    predictor = c
                row[i] = (row[i] + predictor) & 0xFF
        else:
            raise CheckFailed("the PNG has filter type %d on row %d" % (kind, y))
        out[y * stride:(y + 1) * stride] = row
        prev = row
    return width, height, bpp, bytes(out)


def check_png(path):
    width, height, bpp, pixels = decode_png(path.read_bytes())
    total = width * height
    colours = {}
    for i in range(0, len(pixels), bpp):
        rgb = pixels[i:i + 3]
        colours[rgb] = colours.get(rgb, 0) + 1
    non_white = total - colours.get(b"\xff\xff\xff", 0)
    chromatic = sum(n for rgb, n in colours.items() if max(rgb) - min(rgb) >= 48)
    stats = "%dx%d, %.1f%% not white, %d colours, %.1f%% strongly coloured" % (
        width, height, 100.0 * non_white / total, len(colours), 100.0 * chromatic / total)
    if non_white < MIN_NON_WHITE * total:
        raise CheckFailed("the screenshot is blank (%s)" % stats)
    if len(colours) < MIN_COLOURS:
        raise CheckFailed("the screenshot has too few colours (%s)" % stats)
    if chromatic < MIN_CHROMATIC * total:
        raise CheckFailed("the screenshot shows no chart marks (%s)" % stats)
    return stats


def main(argv):
    if len(argv) != 2:
        print("usage: render_check.py DASHBOARD.html", file=sys.stderr)
        return 2
    page = pathlib.Path(argv[1])
    if not page.is_file():
        print("render_check: %s: no such file" % page, file=sys.stderr)
        return 2
    chromium = find_chromium()
    if chromium is None:
        print("render_check: skipped: chromium not installed (apt-get install chromium)")
        return SKIP
    url = page.resolve().as_uri()
    with tempfile.TemporaryDirectory(prefix="render-check-") as temp:
        profile = pathlib.Path(temp)
        try:
            charts = check_dom(run_chromium(chromium, profile, ["--dump-dom"], url))
            shot = profile / "screenshot.png"
            run_chromium(chromium, profile,
                         ["--screenshot=" + str(shot), "--window-size=1280,2000"], url)
            if not shot.is_file():
                raise CheckFailed("chromium wrote no screenshot")
            stats = check_png(shot)
            if os.environ.get("RENDER_CHECK_KEEP"):
                shutil.copyfile(shot, os.environ["RENDER_CHECK_KEEP"])
        except CheckFailed as failure:
            print("render_check: FAIL: %s: %s" % (page, failure), file=sys.stderr)
            return 1
    print("render_check: ok: %s: %d charts drawn; screenshot %s" % (page, charts, stats))
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv))
