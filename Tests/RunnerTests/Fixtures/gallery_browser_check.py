#!/usr/bin/env python3
"""Loads a clipig gallery page in headless Chromium, presses keys, and prints what it shows.

Usage: gallery_browser_check.py BROWSER PAGE.html KEY [KEY ...]

Talks to the browser over the DevTools pipe (--remote-debugging-pipe: NUL-separated JSON on
file descriptors 3 and 4), so it needs no network port and only Python's standard library.
Prints one JSON object: {"states": [state after loading, state after each key], "errors":
[console errors, exceptions, failed loads]}. A state holds the shown image, the selected
method/row/column and whether every image on the page loaded.
"""

import json
import os
import pathlib
import select
import shutil
import subprocess
import sys
import tempfile
import time

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


class Browser:
    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="clipig-gallery-check-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "--window-size=1000,700", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, pass_fds=(3, 4), close_fds=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []

    def send(self, method, params=None, session=None):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            message["sessionId"] = session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        return self.wait(lambda m: m.get("id") == self.next_id, method)

    def read_one(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the browser")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 16)
                if not chunk:
                    raise RuntimeError("the browser closed the DevTools pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait(self, predicate, what, timeout=20):
        deadline = time.monotonic() + timeout
        for i, event in enumerate(self.events):
            if predicate(event):
                return self.events.pop(i)
        while True:
            message = self.read_one(deadline)
            if predicate(message):
                if "error" in message:
                    raise RuntimeError("%s: %s" % (what, message["error"]))
                return message
            self.events.append(message)

    def close(self):
        try:
            os.write(self.to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode()
                     + b"\0")
            self.process.wait(timeout=5)
        except Exception:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def errors_in(events):
    found = []
    for e in events:
        method, params = e.get("method"), e.get("params", {})
        if method == "Runtime.exceptionThrown":
            details = params.get("exceptionDetails", {})
            found.append("exception: " + details.get("exception", {}).get(
                "description", details.get("text", "")))
        elif method == "Runtime.consoleAPICalled" and params.get("type") in ("error", "assert"):
            found.append("console.error: " + " ".join(
                str(a.get("value", a.get("description", ""))) for a in params.get("args", [])))
        elif method == "Log.entryAdded" and params.get("entry", {}).get("level") == "error":
            entry = params["entry"]
            found.append("log: %s %s" % (entry.get("text", ""), entry.get("url", "")))
    return found


def main():
    if len(sys.argv) < 3:
        print(__doc__, file=sys.stderr)
        return 2
    binary, page, keys = sys.argv[1], pathlib.Path(sys.argv[2]).resolve(), sys.argv[3:]
    browser = Browser(binary)
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"})
        attached = browser.send("Target.attachToTarget", {
            "targetId": target["result"]["targetId"], "flatten": True})
        session = attached["result"]["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(domain + ".enable", session=session)
        browser.send("Page.navigate", {"url": page.as_uri()}, session=session)
        browser.wait(lambda m: m.get("method") == "Page.loadEventFired"
                     and m.get("sessionId") == session, "page load")

        def state():
            # Wait (briefly) until the images have loaded or failed.
            for _ in range(100):
                value = browser.send("Runtime.evaluate", {
                    "expression": STATE, "returnByValue": True}, session=session)
                s = json.loads(value["result"]["result"]["value"])
                if s["pending"] == 0:
                    return s
                time.sleep(0.02)
            return s

        states = [state()]
        for key in keys:
            code, vk, text = KEYS[key]
            down = {"type": "keyDown" if text is None else "keyDown", "key": key, "code": code,
                    "windowsVirtualKeyCode": vk, "nativeVirtualKeyCode": vk}
            if text is not None:
                down["text"] = text
            browser.send("Input.dispatchKeyEvent", down, session=session)
            browser.send("Input.dispatchKeyEvent", {
                "type": "keyUp", "key": key, "code": code, "windowsVirtualKeyCode": vk,
                "nativeVirtualKeyCode": vk}, session=session)
            states.append(state())
        # Let late console messages arrive.
        time.sleep(0.1)
        while True:
            ready, _, _ = select.select([browser.from_browser], [], [], 0)
            if not ready:
                break
            browser.buffer += os.read(browser.from_browser, 1 << 16)
            while b"\0" in browser.buffer:
                message, browser.buffer = browser.buffer.split(b"\0", 1)
                browser.events.append(json.loads(message))
        print(json.dumps({"states": states, "errors": errors_in(browser.events)}))
        return 0
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
