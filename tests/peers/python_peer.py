"""Python `websockets` as an independent peer for our client and servers.

    python_peer.py client URL             checks one of our echo servers
    python_peer.py server-close URL CODE REASON
                                          our server must close with CODE REASON
    python_peer.py server PORT            an echo server for our clients

Prints `ok: ...` / `FAIL: ...` per check; exits 1 if any failed. Loopback
only; every wait is bounded.
"""

import asyncio
import sys

from websockets.asyncio.client import connect
from websockets.asyncio.server import serve
from websockets.exceptions import ConnectionClosed

STEP = 20  # seconds, for any single wait
FAILED = 0


def check(ok, what):
    global FAILED
    if ok:
        print(f"ok: {what}", flush=True)
    else:
        FAILED += 1
        print(f"FAIL: {what}", flush=True)


def payloads():
    for size in (10, 125, 126, 65535, 65536, 1 << 20):
        text = "".join(chr(ord("a") + i % 26) for i in range(size - 2)) + "é"
        yield text
        yield bytes((i * 7) % 256 for i in range(size))


async def echo_checks(url, compression):
    label = "deflate" if compression else "no compression"
    async with asyncio.timeout(STEP * 3):
        async with connect(url, compression=compression, max_size=1 << 22) as ws:
            extensions = ws.response.headers.get("Sec-WebSocket-Extensions", "")
            if compression:
                check("permessage-deflate" in extensions,
                      f"permessage-deflate negotiated ({extensions!r})")
            else:
                check(extensions == "", f"nothing negotiated without an offer ({extensions!r})")
            for payload in payloads():
                await ws.send(payload)
                reply = await ws.recv()
                kind = "text" if isinstance(payload, str) else "binary"
                check(reply == payload,
                      f"{label}: {kind} of {len(payload)} {'chars' if kind == 'text' else 'bytes'} echoed")
            pong = await ws.ping(b"python ping")
            latency = await asyncio.wait_for(pong, STEP)
            check(latency >= 0, f"{label}: ping answered in {latency * 1000:.1f} ms")
            # A message split into fragments by the client.
            await ws.send(["frag", "ment", "ed ✓"])
            check(await ws.recv() == "fragmented ✓", f"{label}: fragmented text reassembled")
            await ws.send([b"\x00" * 1000, b"\xff" * 1000])
            check(await ws.recv() == b"\x00" * 1000 + b"\xff" * 1000,
                  f"{label}: fragmented binary reassembled")


async def close_check(url, code, reason):
    async with asyncio.timeout(STEP):
        async with connect(url) as ws:
            await ws.send("bye soon")
            await ws.recv()
            await ws.close(code=code, reason=reason)
            rcvd = ws.protocol.close_rcvd
            got = (rcvd.code, rcvd.reason) if rcvd else None
            check(rcvd is not None and rcvd.code == code,
                  f"close {code} {reason!r} answered with {got}")


async def bad_utf8_check(url):
    """Invalid UTF-8 in a text frame: our server must close with 1007."""
    async with asyncio.timeout(STEP):
        async with connect(url, compression=None) as ws:
            # websockets validates what it sends; write a raw frame instead.
            from websockets.frames import Frame, Opcode
            ws.protocol.send_frame(Frame(Opcode.TEXT, b"\xff\xfe"))
            ws.send_data()  # flush the protocol's output to the transport
            try:
                await ws.recv()
                check(False, "invalid UTF-8 was accepted")
            except ConnectionClosed as closed:
                rcvd = closed.rcvd
                check(rcvd is not None and rcvd.code == 1007,
                      f"invalid UTF-8 closed with {rcvd.code if rcvd else None} (1007 expected)")


async def client(url):
    await echo_checks(url, "deflate")
    await echo_checks(url, None)
    await close_check(url, 1000, "done")
    await close_check(url, 4001, "application says bye")
    await bad_utf8_check(url)


async def server_close(url, code, reason):
    async with asyncio.timeout(STEP):
        async with connect(url) as ws:
            await ws.send("one")
            await ws.send("two")
            echoed = []
            try:
                while True:
                    echoed.append(await ws.recv())
            except ConnectionClosed as closed:
                rcvd = closed.rcvd
                got = (rcvd.code, rcvd.reason) if rcvd else None
                check(got == (code, reason), f"server closed with {got} after echoing {echoed}")


async def server(port):
    async def handler(ws):
        path = ws.request.path
        count = 0
        async for message in ws:
            await ws.send(message)
            count += 1
            if path.startswith("/close-") and count == 2:
                # /close-4002: close with that code after two messages.
                await ws.close(code=int(path.split("-")[1]), reason="bye from python")
                return

    async with serve(handler, "127.0.0.1", port, max_size=1 << 22, compression="deflate"):
        print(f"listening on ws://127.0.0.1:{port}", flush=True)
        await asyncio.Future()


def main():
    args = sys.argv[1:]
    if args[:1] == ["client"] and len(args) == 2:
        asyncio.run(client(args[1]))
    elif args[:1] == ["server-close"] and len(args) == 4:
        asyncio.run(server_close(args[1], int(args[2]), args[3]))
    elif args[:1] == ["server"] and len(args) == 2:
        asyncio.run(server(int(args[1])))
    else:
        print(__doc__, file=sys.stderr)
        sys.exit(2)
    sys.exit(1 if FAILED else 0)


if __name__ == "__main__":
    try:
        main()
    except Exception as err:  # noqa: BLE001 - any error is a failed check
        print(f"FAIL: {type(err).__name__}: {err}", flush=True)
        sys.exit(1)
