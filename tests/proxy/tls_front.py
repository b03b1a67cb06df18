#!/usr/bin/env python3
"""A TLS front for tests/proxy/run.sh: terminates TLS with a self-signed
certificate and passes the bytes to a plain WebSocket echo server, so
`wss://` can be tested against our own echo server.

    python3 tls_front.py PORT CERT KEY UPSTREAM_PORT [SECONDS]

Prints `listening on PORT` once ready; exits after SECONDS (default 120).
"""
import socket
import ssl
import sys
import threading
import time


def pump(src, dst):
    try:
        while True:
            data = src.recv(65536)
            if not data:
                break
            dst.sendall(data)
    except OSError:
        pass
    finally:
        for sock in (src, dst):
            try:
                sock.shutdown(socket.SHUT_RDWR)
            except OSError:
                pass


def serve(raw, context, upstream_port):
    raw.settimeout(15)
    try:
        tls = context.wrap_socket(raw, server_side=True)
        upstream = socket.create_connection(("127.0.0.1", upstream_port), timeout=15)
    except OSError:
        raw.close()
        return
    threading.Thread(target=pump, args=(upstream, tls), daemon=True).start()
    pump(tls, upstream)


def main():
    port, cert, key, upstream_port = int(sys.argv[1]), sys.argv[2], sys.argv[3], int(sys.argv[4])
    lifetime = float(sys.argv[5]) if len(sys.argv) > 5 else 120
    context = ssl.SSLContext(ssl.PROTOCOL_TLS_SERVER)
    context.load_cert_chain(cert, key)
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
        threading.Thread(target=serve, args=(conn, context, upstream_port), daemon=True).start()


if __name__ == "__main__":
    main()
