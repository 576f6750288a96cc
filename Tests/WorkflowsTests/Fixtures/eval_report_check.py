#!/usr/bin/env python3
"""Loads a clipig eval page in headless Chromium and prints what it shows.

Usage: eval_report_check.py BROWSER PAGE.html

Prints one JSON object: the number of image figures and summary-table rows, whether every
image loaded, the prompts in page order, and the page's console errors and failed loads.
"""

import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
from devtools_pipe import Browser, errors_in  # noqa: E402

STATE = """JSON.stringify((function () {
  var imgs = Array.prototype.slice.call(document.querySelectorAll('img[src]'));
  imgs.forEach(function (i) { i.loading = 'eager'; });
  return {
    figures: document.querySelectorAll('#images figure').length,
    summaryRows: document.querySelectorAll('#summary tbody tr').length,
    loaded: imgs.length > 0 && imgs.every(function (i) { return i.complete && i.naturalWidth > 0; }),
    pending: imgs.filter(function (i) { return !i.complete; }).length,
    prompts: Array.prototype.map.call(document.querySelectorAll('#images .prompt'),
      function (p) { return p.textContent; })
  };
})())"""


def main():
    if len(sys.argv) != 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, page = sys.argv[1], pathlib.Path(sys.argv[2]).resolve()
    browser = Browser(binary, window="1000,700", prefix="clipig-eval-check-")
    try:
        browser.open(page.as_uri())
        for _ in range(200):
            s = json.loads(browser.evaluate(STATE))
            if s["pending"] == 0:
                break
            time.sleep(0.02)
        s.pop("pending")
        s["errors"] = errors_in(browser.drain())
        print(json.dumps(s))
        return 0
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
