#!/usr/bin/env python3
"""Drives the clipig studio page in headless Chromium the way a user does, and reports.

Usage: studio_browser_check.py BROWSER URL PLAN.json [SCREENSHOT.png]

PLAN.json holds {"bad": YAML with an error, "good": YAML, "edited": YAML for Update} and, for
the screenshot, optionally "zoom" (percent) and "repeat" (tiles) to set before taking it. The
script types each into the editor with real keyboard input, clicks Start, Update and Stop with
real mouse events, and prints one JSON object: the page states it saw at each step and the
console errors. Talks to the browser over the DevTools pipe (file descriptors 3 and 4), so it
needs no port and only Python's standard library.
"""

import base64
import json
import os
import select
import shutil
import subprocess
import sys
import tempfile
import time

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


class Browser:
    def __init__(self, binary):
        self.profile = tempfile.mkdtemp(prefix="clipig-studio-check-")
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "--window-size=1280,800", "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, pass_fds=(3, 4), close_fds=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True):
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        wanted = self.next_id
        return self.wait(lambda m: m.get("id") == wanted, method)

    def read_one(self, deadline):
        while b"\0" not in self.buffer:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError("no answer from the browser")
            ready, _, _ = select.select([self.from_browser], [], [], left)
            if ready:
                chunk = os.read(self.from_browser, 1 << 20)
                if not chunk:
                    raise RuntimeError("the browser closed the DevTools pipe")
                self.buffer += chunk
        message, self.buffer = self.buffer.split(b"\0", 1)
        return json.loads(message)

    def wait(self, predicate, what, timeout=30):
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

    def evaluate(self, expression):
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r["result"]["result"].get("value")

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

    def click(self, selector):
        box = json.loads(self.evaluate(
            "JSON.stringify(document.querySelector(%s).getBoundingClientRect())"
            % json.dumps(selector)))
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def type_into_editor(self, text):
        self.click("#yaml")
        # Select everything with the keyboard, then type the new text over it.
        self.send("Input.dispatchKeyEvent", {
            "type": "keyDown", "key": "a", "code": "KeyA", "modifiers": 2,
            "windowsVirtualKeyCode": 65, "commands": ["selectAll"]})
        self.send("Input.dispatchKeyEvent", {
            "type": "keyUp", "key": "a", "code": "KeyA", "modifiers": 2,
            "windowsVirtualKeyCode": 65})
        self.send("Input.insertText", {"text": text})

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
    if len(sys.argv) < 4:
        print(__doc__, file=sys.stderr)
        return 2
    binary, url, plan = sys.argv[1], sys.argv[2], json.load(open(sys.argv[3]))
    screenshot = sys.argv[4] if len(sys.argv) > 4 else None
    browser = Browser(binary)
    steps = {}
    try:
        target = browser.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = browser.send("Target.attachToTarget", {
            "targetId": target["result"]["targetId"], "flatten": True}, session=False)
        browser.session = attached["result"]["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            browser.send(domain + ".enable")
        browser.send("Page.navigate", {"url": url})
        browser.wait(lambda m: m.get("method") == "Page.loadEventFired", "page load")
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
        time.sleep(0.1)
        print(json.dumps({"steps": steps, "errors": errors_in(browser.events)}))
        return 0
    except Exception as e:
        print(json.dumps({"steps": steps, "errors": errors_in(browser.events),
                          "failure": str(e)}))
        return 1
    finally:
        browser.close()


if __name__ == "__main__":
    sys.exit(main())
