#!/usr/bin/env python3
"""Runs page.html in headless Chromium against a WebSocket server and checks
the result the page writes into its DOM.

    python3 driver.py --ws ws://127.0.0.1:PORT/ [--chromium chromium] [--timeout 90]

Why not `chromium --dump-dom`: it dumps at the page's load event, and
`--virtual-time-budget` does not help, because virtual time does not wait for
WebSocket messages, so the dump comes before the exchange is done. Instead
this script:

1. serves this folder over HTTP on 127.0.0.1 (a thread, an ephemeral port);
2. starts Chromium headless in its own session with `--remote-debugging-pipe`
   (the DevTools protocol as NUL-terminated JSON on file descriptors 3 and 4,
   so no WebSocket client is needed here);
3. opens the page, polls `#result[data-state]` until the page says "done";
4. takes the DOM (`outerHTML`, what `--dump-dom` prints), closes the browser
   through the protocol (killing its process group only if it does not exit);
5. parses the JSON in `<pre id="result">`, prints one line per check and a
   summary `browser: N passed, M failed`, and exits 1 on any failure.

Only the standard library is used.
"""

import argparse
import fcntl
import functools
import html
import http.server
import json
import os
import queue
import re
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time

HERE = os.path.dirname(os.path.abspath(__file__))


def log(message):
    print(f"browser: {message}", file=sys.stderr, flush=True)


class Terminated(Exception):
    """SIGTERM or SIGINT arrived (from `timeout`, or Ctrl-C)."""


def on_signal(signum, _frame):
    raise Terminated(signal.Signals(signum).name)


class QuietHandler(http.server.SimpleHTTPRequestHandler):
    """Serves files without a log line per request."""

    def log_message(self, format, *args):  # noqa: A002 (the base class's name)
        pass


def serve_folder(folder):
    """An HTTP server for `folder` on 127.0.0.1, ephemeral port, in a thread."""
    handler = functools.partial(QuietHandler, directory=folder)
    server = http.server.ThreadingHTTPServer(("127.0.0.1", 0), handler)
    server.daemon_threads = True
    threading.Thread(target=server.serve_forever, name="http", daemon=True).start()
    return server


def above_4(fd):
    """`fd` moved to a descriptor number of at least 10."""
    moved = fcntl.fcntl(fd, fcntl.F_DUPFD_CLOEXEC, 10)
    os.close(fd)
    return moved


class Browser:
    """Headless Chromium driven over `--remote-debugging-pipe`."""

    def __init__(self, chromium, profile):
        # Chromium reads commands from fd 3 and writes replies to fd 4. The
        # child's pipe ends are moved above both first, so that setting up
        # fds 3 and 4 cannot clobber them.
        cmd_read, self.cmd_write = os.pipe()
        self.reply_read, reply_write = os.pipe()
        cmd_read, reply_write = above_4(cmd_read), above_4(reply_write)
        args = [
            chromium,
            "--headless",
            "--no-sandbox",
            "--disable-gpu",
            "--disable-quic",
            "--no-first-run",
            "--disable-background-networking",
            "--disable-component-update",
            "--disable-sync",
            "--disable-extensions",
            "--disable-dev-shm-usage",
            f"--user-data-dir={profile}",
            "--remote-debugging-pipe",
            "about:blank",
        ]
        # bash (dash only knows single-digit fds) moves the pipe ends to fds
        # 3 and 4, then execs Chromium.
        launcher = f'exec "$@" 3<&{cmd_read} 4>&{reply_write} {cmd_read}<&- {reply_write}>&-'
        self.stderr = tempfile.TemporaryFile()
        self.process = subprocess.Popen(
            ["bash", "-c", launcher, "bash", *args],
            pass_fds=(cmd_read, reply_write),
            stdin=subprocess.DEVNULL,
            stdout=self.stderr,
            stderr=self.stderr,
            start_new_session=True,  # its own process group, to clean up after it
        )
        os.close(cmd_read)
        os.close(reply_write)
        self.next_id = 0
        self.replies = queue.Queue()
        threading.Thread(target=self._read_replies, name="cdp", daemon=True).start()

    def _read_replies(self):
        pending = b""
        with os.fdopen(self.reply_read, "rb", buffering=0) as pipe:
            while True:
                chunk = pipe.read(65536)
                if not chunk:
                    self.replies.put(None)  # the browser is gone
                    return
                pending += chunk
                *messages, pending = pending.split(b"\0")
                for message in messages:
                    self.replies.put(json.loads(message))

    def call(self, method, params=None, session=None, timeout=15.0):
        """Sends one DevTools command and returns its result (events are skipped)."""
        self.next_id += 1
        command = {"id": self.next_id, "method": method, "params": params or {}}
        if session:
            command["sessionId"] = session
        os.write(self.cmd_write, json.dumps(command).encode() + b"\0")
        deadline = time.monotonic() + timeout
        while True:
            remaining = deadline - time.monotonic()
            if remaining <= 0:
                raise TimeoutError(f"no answer to {method} within {timeout} s")
            try:
                reply = self.replies.get(timeout=remaining)
            except queue.Empty:
                continue
            if reply is None:
                raise ConnectionError(f"Chromium exited while waiting for {method}")
            if reply.get("id") != self.next_id:
                continue  # an event, or a late answer
            if "error" in reply:
                raise RuntimeError(f"{method}: {reply['error']}")
            return reply.get("result", {})

    def evaluate(self, session, expression):
        result = self.call(
            "Runtime.evaluate",
            {"expression": expression, "returnByValue": True},
            session=session,
        )
        if "exceptionDetails" in result:
            raise RuntimeError(f"{expression}: {result['exceptionDetails']}")
        return result["result"].get("value")

    def close(self):
        """Closes the browser politely; kills its process group if it lingers."""
        if self.process.poll() is None:
            try:
                self.call("Browser.close", timeout=5.0)
            except (OSError, TimeoutError, ConnectionError, RuntimeError):
                pass
            try:
                self.process.wait(timeout=10)
            except subprocess.TimeoutExpired:
                log(f"Chromium (pid {self.process.pid}) did not exit; killing its process group")
        # Renderer and helper processes share the group; none should be left.
        try:
            os.killpg(self.process.pid, signal.SIGKILL)
        except (ProcessLookupError, PermissionError):
            pass
        self.process.wait()
        os.close(self.cmd_write)

    def log_tail(self, lines=20):
        """The end of Chromium's output, without its complaints about D-Bus
        (there is none in a container)."""
        self.stderr.seek(0)
        text = self.stderr.read().decode(errors="replace").splitlines()
        text = [line for line in text if ":ERROR:dbus/" not in line]
        return "\n".join(text[-lines:]) or "(nothing)"


def dump_dom(browser, url, timeout):
    """Opens `url`, waits for the page to finish, returns its DOM as HTML."""
    target = browser.call("Target.createTarget", {"url": url})["targetId"]
    session = browser.call(
        "Target.attachToTarget", {"targetId": target, "flatten": True}
    )["sessionId"]
    state_js = "(document.getElementById('result') || {dataset: {}}).dataset.state || 'loading'"
    deadline = time.monotonic() + timeout
    state = "loading"
    while time.monotonic() < deadline:
        state = browser.evaluate(session, state_js)
        if state == "done":
            break
        time.sleep(0.1)
    else:
        log(f"the page did not finish within {timeout} s (state: {state})")
    return browser.evaluate(session, "document.documentElement.outerHTML")


def parse_result(dom):
    """The JSON the page wrote into <pre id="result">."""
    match = re.search(r'<pre id="result"[^>]*>(.*?)</pre>', dom, re.DOTALL)
    if not match:
        raise ValueError("no <pre id=\"result\"> in the DOM")
    return json.loads(html.unescape(match.group(1)))


def main():
    parser = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    parser.add_argument("--ws", required=True, help="the server's URL, ws://127.0.0.1:PORT/")
    parser.add_argument("--chromium", default="chromium")
    parser.add_argument("--timeout", type=float, default=90.0, help="for the page, seconds")
    parser.add_argument("--dom-out", help="also write the DOM dump to this file")
    args = parser.parse_args()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)

    server = serve_folder(HERE)
    page = f"http://127.0.0.1:{server.server_address[1]}/page.html?ws={args.ws}"
    profile = tempfile.mkdtemp(prefix="ws-browser-profile.")
    browser = None
    dom = ""
    started = time.monotonic()
    try:
        browser = Browser(args.chromium, profile)
        version = browser.call("Browser.getVersion", timeout=30.0)
        log(f"{version.get('product')} opening {page}")
        dom = dump_dom(browser, page, args.timeout)
    except (Terminated, OSError, TimeoutError, ConnectionError, RuntimeError) as err:
        log(f"FAIL: driving Chromium: {err}")
        if browser:
            log("Chromium's output:\n" + browser.log_tail())
    finally:
        if browser:
            browser.close()
        server.shutdown()
        server.server_close()
        shutil.rmtree(profile, ignore_errors=True)
    elapsed = time.monotonic() - started

    if args.dom_out:
        with open(args.dom_out, "w") as out:
            out.write(dom)
    try:
        result = parse_result(dom)
    except ValueError as err:
        log(f"FAIL: no result in the page: {err}")
        print(f"browser: 0 passed, 1 failed ({elapsed:.1f} s)")
        return 1

    checks = result.get("checks", [])
    for c in checks:
        mark = "ok  " if c.get("ok") else "FAIL"
        detail = f" ({c['detail']})" if c.get("detail") else ""
        print(f"  {mark} {c.get('name')}{detail}")
    passed = sum(1 for c in checks if c.get("ok"))
    failed = len(checks) - passed
    if not checks:
        failed = 1  # an empty result is a failure, not a pass
    info = result.get("info", {})
    print(f"  browser: {info.get('userAgent', '?')}")
    print(f"browser: {passed} passed, {failed} failed ({elapsed:.1f} s)")
    return 0 if failed == 0 else 1


if __name__ == "__main__":
    sys.exit(main())
