#!/usr/bin/env python3
"""Loads a clipig gallery page in headless Chromium, presses keys, and prints what it shows.

Usage: gallery_browser_check.py BROWSER PAGE.html KEY [KEY ...]

Talks to the browser over the DevTools pipe with scripts/devtools_pipe.py (no network port,
only Python's standard library). Prints one JSON object: {"states": [state after loading, state after each key], "errors":
[console errors, exceptions, failed loads]}. A state holds the shown image, the selected
method/row/column and whether every image on the page loaded.
"""

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
from devtools_pipe import Browser, errors_in  # noqa: E402

KEYS = {
    "ArrowUp": ("ArrowUp", 38, None),
    "ArrowDown": ("ArrowDown", 40, None),
    "ArrowLeft": ("ArrowLeft", 37, None),
    "ArrowRight": ("ArrowRight", 39, None),
}
for digit in "123456789":
    KEYS[digit] = ("Digit" + digit, ord(digit), digit)

STATE = """JSON.stringify((function () {
  var full = document.getElementById('full');
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img[src]'));
  return {
    src: full.getAttribute('src'),
    method: document.body.dataset.method,
    row: document.body.dataset.row,
    col: document.body.dataset.col,
    prompt: document.getElementById('prompt').textContent,
    loaded: imgs.every(function (i) { return i.complete && i.naturalWidth > 0; }),
    pending: imgs.filter(function (i) { return !i.complete; }).length
  };
})())"""


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, page, keys = sys.argv[1], pathlib.Path(sys.argv[2]).resolve(), sys.argv[3:]
    browser = Browser(binary, window="1000,700", prefix="clipig-gallery-check-")
    try:
        browser.open(page.as_uri())

        def state():
            # Wait (briefly) until the images have loaded or failed.
            for _ in range(100):
                s = json.loads(browser.evaluate(STATE))
                if s["pending"] == 0:
                    return s
                time.sleep(0.02)
            return s

        states = [state()]
        for key in keys:
            code, virtual, text = KEYS[key]
            browser.key(key, code, virtual, text)
            states.append(state())
        # Let late console messages arrive.
        print(json.dumps({"states": states, "errors": errors_in(browser.drain())}))
        return 0
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
