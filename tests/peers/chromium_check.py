"""Opens a page in headless Chromium and reads its results over the
DevTools protocol (with Python `websockets` as the DevTools client).

    chromium_check.py CHROMIUM PAGE_URL PROFILE_DIR [SECONDS]

Starts Chromium in its own process group with remote debugging on a port
it picks (read from PROFILE_DIR/DevToolsActivePort), waits until the page
sets `window.__results` (a list of {name, ok, detail}), prints `ok: ...` /
`FAIL: ...` per result, stops Chromium's process group, and exits 1 if any
check failed or no result came within SECONDS (default 60).
"""

import asyncio
import json
import os
import signal
import subprocess
import sys
import time
import urllib.request

from websockets.asyncio.client import connect

FLAGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-quic",
    "--no-first-run",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
    "--remote-debugging-address=127.0.0.1",
    "--remote-debugging-port=0",
]


def devtools_port(profile, deadline):
    path = os.path.join(profile, "DevToolsActivePort")
    while time.monotonic() < deadline:
        try:
            with open(path) as f:
                return int(f.readline().strip())
        except (OSError, ValueError):
            time.sleep(0.1)
    raise TimeoutError("Chromium did not open its DevTools port")


def page_target(port, page_url, deadline):
    while time.monotonic() < deadline:
        with urllib.request.urlopen(f"http://127.0.0.1:{port}/json/list", timeout=5) as r:
            for target in json.load(r):
                if target.get("type") == "page" and target.get("url", "").startswith(page_url.split("?")[0]):
                    return target["webSocketDebuggerUrl"]
        time.sleep(0.1)
    raise TimeoutError("the page did not show up in /json/list")


async def results(debugger_url, deadline):
    async with connect(debugger_url, max_size=1 << 24, compression=None) as cdp:
        ident = 0
        while time.monotonic() < deadline:
            ident += 1
            await cdp.send(json.dumps({
                "id": ident,
                "method": "Runtime.evaluate",
                "params": {"expression": "JSON.stringify(window.__results || null)", "returnByValue": True},
            }))
            while True:
                reply = json.loads(await asyncio.wait_for(cdp.recv(), 10))
                if reply.get("id") == ident:
                    break
            value = reply.get("result", {}).get("result", {}).get("value")
            if value and value != "null":
                return json.loads(value)
            await asyncio.sleep(0.2)
    raise TimeoutError("the page did not finish")


def main():
    chromium, page_url, profile = sys.argv[1:4]
    seconds = float(sys.argv[4]) if len(sys.argv) > 4 else 60
    deadline = time.monotonic() + seconds
    browser = subprocess.Popen(
        [chromium, *FLAGS, f"--user-data-dir={profile}", page_url],
        stdout=subprocess.DEVNULL,
        stderr=open(os.path.join(profile, "..", "chromium.log"), "w"),
        start_new_session=True,  # its own process group, stopped as a whole below
    )
    failed = 0
    try:
        port = devtools_port(profile, deadline)
        found = asyncio.run(results(page_target(port, page_url, deadline), deadline))
        for result in found:
            ok = bool(result.get("ok"))
            failed += not ok
            print(f"{'ok' if ok else 'FAIL'}: {result.get('name')} ({result.get('detail')})", flush=True)
        if not found:
            failed += 1
            print("FAIL: the page reported no results", flush=True)
    except Exception as err:  # noqa: BLE001 - any error is a failed check
        failed += 1
        print(f"FAIL: {type(err).__name__}: {err}", flush=True)
    finally:
        try:
            os.killpg(browser.pid, signal.SIGTERM)
            browser.wait(timeout=10)
        except (ProcessLookupError, subprocess.TimeoutExpired):
            try:
                os.killpg(browser.pid, signal.SIGKILL)
            except ProcessLookupError:
                pass
            browser.wait(timeout=10)
    sys.exit(1 if failed else 0)


if __name__ == "__main__":
    main()
