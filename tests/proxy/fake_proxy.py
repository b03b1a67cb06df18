#!/usr/bin/env python3
"""A misbehaving proxy for tests/proxy/run.sh: the failures a real proxy
cannot be made to produce on demand.

    python3 fake_proxy.py PORT MODE [SECONDS]

MODE (each connection gets the same treatment):
  http:STATUS     reads a request head, answers `HTTP/1.1 STATUS ...`, closes
  http-close      reads a request head, closes without answering
  http-garbage    reads a request head, answers bytes that are not HTTP
  socks:CODE      SOCKS5: accepts "no authentication", answers the CONNECT
                  with reply code CODE (hex or decimal), closes
  socks-close     SOCKS5: reads the greeting, closes
  socks-garbage   SOCKS5: answers the greeting with an HTTP response
  silent          accepts and never answers
Prints `listening on PORT` once ready; exits after SECONDS (default 120).
"""
import socket
import sys
import threading
import time

REASONS = {403: "Forbidden", 407: "Proxy Authentication Required",
           502: "Bad Gateway", 503: "Service Unavailable"}


def read_head(conn):
    data = b""
    while b"\r\n\r\n" not in data and len(data) < 65536:
        chunk = conn.recv(4096)
        if not chunk:
            break
        data += chunk


def read_exactly(conn, n):
    data = b""
    while len(data) < n:
        chunk = conn.recv(n - len(data))
        if not chunk:
            break
        data += chunk
    return data


def serve(conn, mode):
    conn.settimeout(10)
    try:
        if mode.startswith("http:"):
            status = int(mode[5:])
            read_head(conn)
            reason = REASONS.get(status, "Whatever")
            conn.sendall(f"HTTP/1.1 {status} {reason}\r\nContent-Length: 0\r\n\r\n".encode())
        elif mode == "http-close":
            read_head(conn)
        elif mode == "http-garbage":
            read_head(conn)
            conn.sendall(b"\x00\x01 this is not HTTP\r\n\r\n")
        elif mode.startswith("socks:"):
            code = int(mode[6:], 0)
            greeting = read_exactly(conn, 2)
            read_exactly(conn, greeting[1] if len(greeting) == 2 else 0)
            conn.sendall(b"\x05\x00")
            head = read_exactly(conn, 5)
            if len(head) == 5:
                rest = {1: 4 + 2, 4: 16 + 2, 3: head[4] + 2}.get(head[3], 0)
                read_exactly(conn, rest - (1 if head[3] != 3 else 0))
            conn.sendall(bytes([5, code, 0, 1, 0, 0, 0, 0, 0, 0]))
        elif mode == "socks-close":
            read_exactly(conn, 3)
        elif mode == "socks-garbage":
            read_exactly(conn, 3)
            conn.sendall(b"HTTP/1.1 400 Bad Request\r\n\r\n")
        elif mode == "silent":
            time.sleep(30)
    except OSError:
        pass
    finally:
        conn.close()


def main():
    port, mode = int(sys.argv[1]), sys.argv[2]
    lifetime = float(sys.argv[3]) if len(sys.argv) > 3 else 120
    listener = socket.socket()
    listener.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    listener.bind(("127.0.0.1", port))
    listener.listen(16)
    listener.settimeout(1)
    print(f"listening on {port}", flush=True)
    end = time.monotonic() + lifetime
    while time.monotonic() < end:
        try:
            conn, _ = listener.accept()
        except socket.timeout:
            continue
        threading.Thread(target=serve, args=(conn, mode), daemon=True).start()


if __name__ == "__main__":
    main()
