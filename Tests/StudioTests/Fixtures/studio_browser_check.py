#!/usr/bin/env python3
"""Drives the clipig studio page in headless Chromium the way a user does, and reports.

Usage: studio_browser_check.py BROWSER URL PLAN.json [SCREENSHOT.png]

PLAN.json holds {"bad": YAML with an error, "good": YAML, "edited": YAML for Update} and, for
the screenshot, optionally "zoom" (percent) and "repeat" (tiles) to set before taking it. The
script types each into the editor with real keyboard input, clicks Start, Update and Stop with
real mouse events, and prints one JSON object: the page states it saw at each step and the
console errors. Talks to the browser over the DevTools pipe with scripts/devtools_pipe.py (no
network port, only Python's standard library).
"""

import base64
import json
import pathlib
import sys
import time

sys.path.insert(0, str(pathlib.Path(__file__).resolve().parents[3] / "scripts"))
import devtools_pipe  # noqa: E402
from devtools_pipe import errors_in  # noqa: E402

STATE = """JSON.stringify((function () {
  var live = document.getElementById('live');
  var tabs = document.querySelectorAll('#tabs button');
  return {
    connection: document.getElementById('connection').textContent,
    tabs: tabs.length,
    status: document.body.dataset.status,
    epoch: document.body.dataset.epoch,
    snapshots: +document.body.dataset.snapshots,
    src: live.getAttribute('src') || '',
    imageWidth: live.naturalWidth,
    error: document.getElementById('error-line').textContent,
    errorLine: document.getElementById('error-line').dataset.line || '',
    gutterError: (document.querySelector('#gutter .error') || {}).textContent || '',
    log: document.getElementById('log').textContent,
    seed: document.getElementById('seed').textContent,
    parameters: document.querySelectorAll('#parameters tbody tr').length,
    editor: document.getElementById('yaml').value
  };
})())"""


class Browser(devtools_pipe.Browser):
    """The shared DevTools client with the studio page's state and editor."""

    def state(self):
        return json.loads(self.evaluate(STATE))

    def until(self, predicate, what, timeout=60):
        deadline = time.monotonic() + timeout
        while True:
            s = self.state()
            if predicate(s):
                return s
            if time.monotonic() > deadline:
                raise TimeoutError("%s; last state: %s" % (what, json.dumps(
                    {k: v for k, v in s.items() if k not in ("src", "editor")})))
            time.sleep(0.05)

    def type_into_editor(self, text):
        self.click("#yaml")
        # Select everything with the keyboard, then type the new text over it.
        self.key("a", "KeyA", 65, modifiers=2, commands=["selectAll"])
        self.send("Input.insertText", {"text": text})


def main():
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    binary, url, plan = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
    screenshot = sys.argv[4] if len(sys.argv) > 4 else None
    browser = Browser(binary, prefix="clipig-studio-check-")
    steps = {}
    try:
        browser.open(url)
        steps["loaded"] = browser.until(
            lambda s: s["connection"] == "connected" and s["tabs"] >= 1 and s["editor"],
            "the page did not connect")

        browser.type_into_editor(plan["bad"])
        steps["bad"] = browser.until(lambda s: s["errorLine"] != "", "no error shown")
        browser.type_into_editor(plan["good"])
        steps["good"] = browser.until(
            lambda s: s["error"] == "" and s["editor"] == plan["good"], "the error stayed")

        browser.click("#start")
        first = browser.until(lambda s: s["snapshots"] >= 1 and s["src"], "no snapshot")
        steps["started"] = first
        steps["later"] = browser.until(
            lambda s: s["snapshots"] >= first["snapshots"] + 3 and s["src"] != first["src"],
            "the image did not change")

        browser.type_into_editor(plan["edited"])
        browser.click("#update")
        steps["updated"] = browser.until(
            lambda s: "updated at epoch" in s["log"], "Update did not apply")
        if screenshot:
            # Zoom and tile as a user would, for the picture.
            for selector, key in (("#zoom-number", "zoom"), ("#repeat", "repeat")):
                if key in plan:
                    browser.click(selector)
                    browser.evaluate("document.querySelector(%s).select()" % json.dumps(selector))
                    browser.send("Input.insertText", {"text": str(plan[key])})
            time.sleep(0.6)
            shot = browser.send("Page.captureScreenshot", {"format": "png"})
            with open(screenshot, "wb") as f:
                f.write(base64.b64decode(shot["result"]["data"]))
        browser.click("#stop")
        steps["stopped"] = browser.until(lambda s: s["status"] == "stopped", "Stop did not stop")
        for s in steps.values():
            s.pop("src", None)
            s.pop("editor", None)
        print(json.dumps({"steps": steps, "errors": errors_in(browser.drain())}))
        return 0
    except Exception as e:
        print(json.dumps({"steps": steps, "errors": errors_in(browser.events),
                          "failure": str(e)}))
        return 1
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
