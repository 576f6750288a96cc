"""A headless Chromium driven over the DevTools pipe, shared by the browser checks of the tests
(Tests/WorkflowsTests/Fixtures/gallery_browser_check.py, Tests/StudioTests/Fixtures/
studio_browser_check.py).

--remote-debugging-pipe speaks NUL-separated JSON on file descriptors 3 (to the browser) and 4
(from it), so no network port is opened and only Python's standard library is needed. A check
does: `browser = Browser(binary)`, `browser.open(url)`, then `send`, `evaluate`, `click`, `key`,
and at the end `errors_in(browser.drain())` for the page's console errors and exceptions.
"""

import json
import os
import select
import shutil
import subprocess
import tempfile
import time


class Browser:
    """One headless Chromium with one page; commands go to that page once `open` attached it."""

    def __init__(self, binary, window="1280,800", prefix="clipig-browser-check-"):
        self.profile = tempfile.mkdtemp(prefix=prefix)
        to_browser_r, self.to_browser = os.pipe()
        self.from_browser, from_browser_w = os.pipe()

        def wire():
            os.dup2(to_browser_r, 3)
            os.dup2(from_browser_w, 4)

        self.process = subprocess.Popen(
            [binary, "--headless", "--no-sandbox", "--disable-gpu", "--no-first-run",
             "--no-default-browser-check", "--disable-extensions", "--remote-debugging-pipe",
             "--user-data-dir=" + self.profile, "--window-size=" + window, "about:blank"],
            stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
            preexec_fn=wire, pass_fds=(3, 4), close_fds=True)
        os.close(to_browser_r)
        os.close(from_browser_w)
        self.buffer = b""
        self.next_id = 0
        self.events = []
        self.session = None

    def send(self, method, params=None, session=True):
        """Sends a command (to the attached page unless `session` is False) and returns the
        answer; an error answer raises."""
        self.next_id += 1
        message = {"id": self.next_id, "method": method, "params": params or {}}
        if session and self.session:
            message["sessionId"] = self.session
        os.write(self.to_browser, json.dumps(message).encode() + b"\0")
        wanted = self.next_id
        return self.wait(lambda m: m.get("id") == wanted, method)

    def read_one(self, deadline):
        """The next message from the browser, waiting until `deadline` (time.monotonic)."""
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
        """The first message (already seen or arriving) that `predicate` accepts; the others
        are kept as events."""
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

    def open(self, url):
        """Opens a page, attaches to it, enables its Page, Runtime and Log events, loads `url`
        and waits for its load event."""
        target = self.send("Target.createTarget", {"url": "about:blank"}, session=False)
        attached = self.send("Target.attachToTarget", {
            "targetId": target["result"]["targetId"], "flatten": True}, session=False)
        self.session = attached["result"]["sessionId"]
        for domain in ("Page", "Runtime", "Log"):
            self.send(domain + ".enable")
        self.send("Page.navigate", {"url": url})
        self.wait(lambda m: m.get("method") == "Page.loadEventFired"
                  and m.get("sessionId") == self.session, "page load")

    def evaluate(self, expression):
        """The value of a JavaScript expression in the page."""
        r = self.send("Runtime.evaluate", {"expression": expression, "returnByValue": True})
        return r["result"]["result"].get("value")

    def click(self, selector):
        """A real left click in the middle of the element `selector` names."""
        box = json.loads(self.evaluate(
            "JSON.stringify(document.querySelector(%s).getBoundingClientRect())"
            % json.dumps(selector)))
        x, y = box["x"] + box["width"] / 2, box["y"] + box["height"] / 2
        for kind in ("mouseMoved", "mousePressed", "mouseReleased"):
            self.send("Input.dispatchMouseEvent", {
                "type": kind, "x": x, "y": y, "button": "left", "clickCount": 1})

    def key(self, key, code, virtual, text=None, modifiers=0, commands=None):
        """A real key press and release: `key` and `code` as in KeyboardEvent, `virtual` the
        Windows virtual key code, `text` what it types (None for none)."""
        down = {"type": "keyDown", "key": key, "code": code, "modifiers": modifiers,
                "windowsVirtualKeyCode": virtual, "nativeVirtualKeyCode": virtual}
        if text is not None:
            down["text"] = text
        if commands:
            down["commands"] = commands
        self.send("Input.dispatchKeyEvent", down)
        self.send("Input.dispatchKeyEvent", {
            "type": "keyUp", "key": key, "code": code, "modifiers": modifiers,
            "windowsVirtualKeyCode": virtual, "nativeVirtualKeyCode": virtual})

    def drain(self, settle=0.1):
        """Every event received so far, after `settle` seconds for late ones to arrive."""
        time.sleep(settle)
        while True:
            ready, _, _ = select.select([self.from_browser], [], [], 0)
            if not ready:
                break
            chunk = os.read(self.from_browser, 1 << 20)
            if not chunk:
                break
            self.buffer += chunk
            while b"\0" in self.buffer:
                message, self.buffer = self.buffer.split(b"\0", 1)
                self.events.append(json.loads(message))
        return self.events

    def close(self):
        """Closes the browser (killing it if it does not close) and removes its profile."""
        try:
            os.write(self.to_browser, json.dumps({"id": 0, "method": "Browser.close"}).encode()
                     + b"\0")
            self.process.wait(timeout=5)
        except Exception:
            self.process.kill()
            self.process.wait()
        shutil.rmtree(self.profile, ignore_errors=True)


def errors_in(events):
    """The page's exceptions, console errors and failed loads among DevTools `events`."""
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
