#!/usr/bin/env python3
"""Turns run.sh's measurements into benches/RESULTS.md.

Inputs: the load generator's `RESULT key=value ...` lines and criterion's
output directory (`CRITERION_HOME`). Output: one Markdown table of ratios
(ours / peer, per metric) followed by the raw numbers. Repeated rounds are
combined by their median.
"""

import argparse
import datetime
import json
import os
import platform
import statistics
import subprocess

OURS = "ws-tokio"
URING = "ws-uring"
# sockudo-ws is optional (run.sh skips it when its crate does not build);
# every best-peer choice considers it when it was measured.
PEERS = ["tungstenite", "fastwebsockets", "tokio-websockets", "sockudo-ws"]
ALL = ["ws-tokio", "ws-blocking", "ws-uring", "tungstenite", "fastwebsockets", "tokio-websockets", "sockudo-ws"]
SHOWN = {
    "ws-tokio": "ws-tokio (ours)",
    "ws-blocking": "ws-blocking (ours)",
    "ws-uring": "ws-uring (ours)",
    "tungstenite": "tokio-tungstenite",
    "fastwebsockets": "fastwebsockets",
    "tokio-websockets": "tokio-websockets",
    "sockudo-ws": "sockudo-ws",
}

# The performance targets (issue 18): server CPU per echo, ours / the best
# peer's, at most this much ("<": strictly below). Keys: (size, connections,
# in flight); None matches any.
TARGETS = [
    ((20, 100, 1), "≤", 0.8),
    ((1024, 100, 1), "≤", 0.8),
    ((20, 100, 16), "<", 1.0),
    ((1024, 100, 16), "<", 1.0),
    ((65536, None, None), "≤", 0.9),
    ((1048576, None, None), "≤", 0.9),
]
# The fairness point: ws-tokio's p99 at most the best peer's here.
FAIRNESS_LOAD = (1024, 100, 16)


def target_for(load):
    """(op, limit) for the load, or None."""
    for key, op, limit in TARGETS:
        if all(k is None or k == v for k, v in zip(key, load)):
            return op, limit
    return None


def meets(r, op, limit):
    return r < limit if op == "<" else r <= limit


def size_name(n):
    n = int(n)
    if n >= 1 << 20 and n % (1 << 20) == 0:
        return f"{n >> 20} MiB"
    if n >= 1024 and n % 1024 == 0:
        return f"{n >> 10} KiB"
    return f"{n} B"


def num(value):
    try:
        return float(value)
    except (TypeError, ValueError):
        return None


def median(values):
    values = [v for v in values if v is not None]
    return statistics.median(values) if values else None


def parse_results(path):
    echo, idle, notes = {}, {}, []
    with open(path) as f:
        for line in f:
            if line.startswith("NOTE "):
                if line[5:].strip() not in notes:
                    notes.append(line[5:].strip())
                continue
            if not line.startswith("RESULT "):
                continue
            fields = dict(kv.split("=", 1) for kv in line.split()[1:] if "=" in kv)
            if fields.get("mode") == "echo":
                key = (fields["label"], int(fields["size"]), int(fields["conns"]), int(fields["inflight"]))
                echo.setdefault(key, []).append(fields)
            elif fields.get("mode") == "idle":
                idle.setdefault(fields["label"], []).append(fields)
    combined = {}
    for key, runs in echo.items():
        combined[key] = {
            metric: median([num(r.get(metric)) for r in runs])
            for metric in ["msg_per_s", "mb_per_s", "p50_us", "p99_us", "cpu_us_per_msg"]
        }
        combined[key]["runs"] = len(runs)
    idle_combined = {}
    for label, runs in idle.items():
        idle_combined[label] = {
            metric: median([num(r.get(metric)) for r in runs])
            for metric in ["opened", "failed", "rss_before_kib", "rss_after_kib", "server_threads", "bytes_per_conn"]
        }
    return combined, idle_combined, notes


def parse_criterion(root):
    """{(group, function, value): (median_ns, bytes_per_iter)}"""
    out = {}
    if not root or not os.path.isdir(root):
        return out
    for dirpath, _dirs, files in os.walk(root):
        if os.path.basename(dirpath) != "new" or "benchmark.json" not in files:
            continue
        with open(os.path.join(dirpath, "benchmark.json")) as f:
            bench = json.load(f)
        with open(os.path.join(dirpath, "estimates.json")) as f:
            est = json.load(f)
        throughput = bench.get("throughput") or {}
        out[(bench["group_id"], bench.get("function_id") or "", bench.get("value_str") or "")] = (
            est["median"]["point_estimate"],
            throughput.get("Bytes"),
        )
    return out


def fmt(v, digits=2):
    if v is None:
        return "—"
    if abs(v) >= 1000:
        return f"{v:,.0f}"
    if abs(v) >= 100:
        return f"{v:.0f}"
    if abs(v) >= 10:
        return f"{v:.1f}"
    return f"{v:.{digits}f}"


def ratio(a, b):
    if a is None or b is None or b == 0:
        return "—"
    r = a / b
    return f"{r:.3f}" if r < 0.1 else f"{r:.2f}"


def fmt_int(v):
    return "—" if v is None else f"{v:,.0f}"


def fmt_time(ns):
    if ns is None:
        return "—"
    if ns >= 1e6:
        return f"{ns / 1e6:.2f} ms"
    if ns >= 1e3:
        return f"{ns / 1e3:.2f} µs"
    return f"{ns:.1f} ns"


def fmt_rate(nbytes, ns):
    if nbytes is None or not ns:
        return "—"
    gbs = nbytes / ns  # bytes per ns = GB/s
    return f"{gbs:.2f} GB/s" if gbs >= 0.1 else f"{gbs * 1000:.1f} MB/s"


def machine(root):
    model = "unknown"
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    model = line.split(":", 1)[1].strip()
                    break
    except OSError:
        pass

    def run(*cmd):
        try:
            return subprocess.run(cmd, cwd=root, capture_output=True, text=True, timeout=20).stdout.strip()
        except Exception:  # noqa: BLE001 - best effort description
            return "unknown"

    rev = run("git", "rev-parse", "--short", "HEAD")
    dirty = run("git", "status", "--porcelain", "--untracked-files=no")
    return {
        "date": datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
        "nproc": os.cpu_count(),
        "cpu": model,
        "kernel": platform.release(),
        "rustc": run("rustc", "--version"),
        "rev": rev + (" (with uncommitted changes)" if dirty else ""),
        "load": " ".join(open("/proc/loadavg").read().split()[:3]) if os.path.exists("/proc/loadavg") else "?",
    }


def hot_path_targets(w, crit, idle):
    """The other targets of the performance issue: small-frame decode against
    the fastest peer, large frames against memcpy, idle memory."""
    if crit:
        w("## Targets: decode of small masked frames, ours ÷ the fastest peer (time)")
        w("")
        w("At most 0.5 (twice the fastest peer's frames per second). `ours` decodes with "
          "`Connection::poll_event_ref` (payloads lent from the read buffer, as fastwebsockets' `read_frame` "
          "lends them); `ours_owned` with `poll_event` (each payload handed out as `Bytes`), shown for reference.")
        w("")
        w("| frames | ours | ours_owned | fastest peer | peer time | ours ÷ peer | owned ÷ peer | target | met |")
        w("|---|---|---|---|---|---|---|---|---|")
        for s in ["16B", "125B"]:
            ours = crit.get(("decode", "ours", s), (None,))[0]
            owned = crit.get(("decode", "ours_owned", s), (None,))[0]
            peers = [(crit.get(("decode", p, s), (None,))[0], p) for p in ["tungstenite", "fastwebsockets"]]
            peers = [(v, p) for v, p in peers if v]
            if ours is None or not peers:
                continue
            best, name = min(peers)
            r = ours / best
            w(f"| {s} | {fmt_time(ours)} | {fmt_time(owned)} | {name} | {fmt_time(best)} | {r:.2f} | "
              f"{ratio(owned, best)} | ≤ 0.5 | {'yes' if r <= 0.5 else 'no'} |")
        w("")
        w("## Targets: large frames against memcpy of the same bytes (bandwidth)")
        w("")
        w("Bandwidth as a share of `memcpy` of the same wire bytes in the same run (memcpy time ÷ ours): at least "
          "80% for binary, 60% for text with UTF-8 validation. `in buffer`: the bytes are already in the "
          "connection's read buffer (the adapters' case: the socket read is the copy); `from a slice`: "
          "`Connection::receive(&[u8])` copies them in first, a second pass.")
        w("")
        w("| frames | memcpy | in buffer | share | from a slice | share | target | met (in buffer) |")
        w("|---|---|---|---|---|---|---|---|")
        for kind, limit in [("binary", 0.8), ("text_ascii", 0.6), ("text_multibyte", 0.6)]:
            group = f"bandwidth_{kind}"
            for s in ["64KiB", "1MiB"]:
                memcpy = crit.get((group, "memcpy", s))
                inbuf = crit.get((group, "in_buffer", s))
                slice_ = crit.get((group, "receive", s))
                if not memcpy or not inbuf:
                    continue
                share = memcpy[0] / inbuf[0]
                slice_share = f"{memcpy[0] / slice_[0]:.0%}" if slice_ else "—"
                w(f"| {kind.replace('_', ' ')} {s} | {fmt_rate(memcpy[1], memcpy[0])} | {fmt_rate(inbuf[1], inbuf[0])} | "
                  f"{share:.0%} | {fmt_rate(slice_[1], slice_[0]) if slice_ else '—'} | {slice_share} | "
                  f"≥ {limit:.0%} | {'yes' if share >= limit else 'no'} |")
        w("")
    ours = (idle.get(OURS) or {}).get("bytes_per_conn")
    peers = [((idle.get(p) or {}).get("bytes_per_conn"), p) for p in PEERS]
    peers = [(num(v), p) for v, p in peers if num(v)]
    if num(ours) and peers:
        best, name = min(peers)
        r = num(ours) / best
        w("## Target: server memory per idle connection, ours ÷ the smallest peer")
        w("")
        w("| ours | smallest peer | peer | ratio | target | met |")
        w("|---|---|---|---|---|---|")
        w(f"| {fmt_int(ours)} B | {SHOWN[name]} | {fmt_int(best)} B | {r:.2f} | ≤ 0.25 | {'yes' if r <= 0.25 else 'no'} |")
        w("")
    uring = num((idle.get(URING) or {}).get("bytes_per_conn"))
    if uring and num(ours):
        r = uring / num(ours)
        w("## Target: ws-uring's server memory per idle connection, ÷ ws-tokio's")
        w("")
        w("No worse than ws-tokio's (issue 18).")
        w("")
        w("| ws-uring | ws-tokio | ratio | target | met |")
        w("|---|---|---|---|---|")
        w(f"| {fmt_int(uring)} B | {fmt_int(ours)} B | {r:.2f} | ≤ 1.0 | {'yes' if r <= 1.0 else 'no'} |")
        w("")


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--criterion")
    ap.add_argument("--pinning", default="")
    ap.add_argument("--seconds", default="?")
    ap.add_argument("--rounds", default="1")
    ap.add_argument("--root", default=".")
    ap.add_argument("--out", required=True)
    args = ap.parse_args()

    echo, idle, notes = parse_results(args.results)
    crit = parse_criterion(args.criterion)
    m = machine(args.root)
    loads = sorted({(size, conns, inflight) for (_, size, conns, inflight) in echo})

    def e2e(label, load, metric):
        return echo.get((label,) + load, {}).get(metric)

    def load_name(load):
        size, conns, inflight = load
        return f"{size_name(size)}, {conns}×{inflight}"

    lines = []
    w = lines.append
    w(f"# ws-benches results ({args.mode})")
    w("")
    w(f"* Date: {m['date']}; machine: {m['nproc']} CPUs, {m['cpu']}, Linux {m['kernel']}; load average at the end: {m['load']}")
    w(f"* Toolchain: {m['rustc']}; workspace revision {m['rev']}")
    w(f"* End to end: 127.0.0.1, {args.pinning}; {args.seconds} s measured per load after a warm-up, "
      f"{args.rounds} round(s) (median shown); binary messages; the load generator (ws-proto client core on raw tokio TCP) "
      "does not offer permessage-deflate, so no server compresses.")
    w("* The machine is shared with fuzzers and test suites: absolute numbers are noisy; ratios from the same run are the point.")
    measured_peers = [p for p in PEERS if any(k[0] == p for k in echo)]
    w("* Peers measured: " + (", ".join(SHOWN[p] for p in measured_peers) or "none") + ".")
    for note in notes:
        w(f"* {note}")
    w("")

    def best_peer(load, metric, higher=False):
        """(value, label) of the best peer at the load, or (None, None)."""
        peers = [(e2e(p, load, metric), p) for p in PEERS]
        peers = [(v, p) for v, p in peers if v]
        if not peers:
            return None, None
        return (max if higher else min)(peers)

    w("## Targets: server CPU per echo, ours ÷ the best peer")
    w("")
    w("From issue 18: at most 0.8× the best peer's for 20 B and 1 KiB messages over 100 connections "
      "with one message in flight each; below every peer's (ratio under 1 against the best) with 16 in flight "
      "each; at most 0.9× for 64 KiB and 1 MiB. Best peer: the lowest CPU per echo among the peers measured "
      "(" + ", ".join(SHOWN[p] for p in PEERS) + ") at the same load.")
    w("")
    w("| server | load | ours µs/echo | best peer | peer µs/echo | ratio | target | met |")
    w("|---|---|---|---|---|---|---|---|")
    for label in [URING, OURS, "ws-blocking"]:
        for load in loads:
            target = target_for(load)
            ours = e2e(label, load, "cpu_us_per_msg")
            if target is None or ours is None:
                continue
            best, name = best_peer(load, "cpu_us_per_msg")
            if best is None:
                continue
            op, limit = target
            r = ours / best
            w(f"| {SHOWN[label]} | {load_name(load)} | {fmt(ours)} | {SHOWN[name]} | {fmt(best)} | "
              f"{r:.2f} | {op} {limit} | {'yes' if meets(r, op, limit) else 'no'} |")
    w("")

    if any(k[1:] == FAIRNESS_LOAD for k in echo):
        w(f"## Target: fairness, p99 round trip at {load_name(FAIRNESS_LOAD)}")
        w("")
        w("With 16 messages in flight on each of 100 connections a server that serves one connection's burst "
          "for long makes the others wait: ws-tokio's p99 at most the best (lowest) peer p99.")
        w("")
        w("| server | p50 µs | p99 µs | p99 ÷ best peer p99 |")
        w("|---|---|---|---|")
        best, name = best_peer(FAIRNESS_LOAD, "p99_us")
        for label in ALL:
            if (label,) + FAIRNESS_LOAD not in echo:
                continue
            p99 = e2e(label, FAIRNESS_LOAD, "p99_us")
            w(f"| {SHOWN[label]} | {fmt(e2e(label, FAIRNESS_LOAD, 'p50_us'), 1)} | {fmt(p99, 1)} | {ratio(p99, best)} |")
        ours = e2e(OURS, FAIRNESS_LOAD, "p99_us")
        if ours is not None and best:
            r = ours / best
            w("")
            w(f"ws-tokio ÷ best peer ({SHOWN[name]}): {r:.2f}; target ≤ 1.0; met: {'yes' if r <= 1.0 else 'no'}.")
        w("")

    w("## ws-uring and ws-tokio ÷ the best peer at each point")
    w("")
    w("Per metric, the best peer is chosen anew (lowest CPU, p50 and p99; highest messages/s). "
      "For CPU and latency below 1 means ours is better; for messages/s above 1.")
    w("")
    w("| load | metric | best peer | peer | ws-uring | ÷ peer | ws-tokio | ÷ peer |")
    w("|---|---|---|---|---|---|---|---|")
    for load in loads:
        for metric, title, unit, higher in [
            ("cpu_us_per_msg", "server CPU µs/echo", "", False),
            ("p50_us", "p50 µs", "", False),
            ("p99_us", "p99 µs", "", False),
            ("msg_per_s", "messages/s", "", True),
        ]:
            best, name = best_peer(load, metric, higher)
            uring = e2e(URING, load, metric)
            ours = e2e(OURS, load, metric)
            w(f"| {load_name(load)} | {title} | {SHOWN[name] if name else '—'} | {fmt(best)} | "
              f"{fmt(uring)} | {ratio(uring, best)} | {fmt(ours)} | {ratio(ours, best)} |")
    w("")
    hot_path_targets(w, crit, idle)
    w("## Ratios: ours ÷ peer")
    w("")
    w("Each cell is our number divided by the peer's for the same metric. "
      "For time, CPU, latency and memory, below 1 means ours is better; for messages/s, above 1 means ours is better. "
      "End-to-end rows compare ws-tokio (or ws-blocking or ws-uring where named) with tokio-tungstenite, fastwebsockets, "
      "tokio-websockets and sockudo-ws; "
      "hot-path rows (criterion, in memory, median time per iteration) compare ws-proto with tungstenite and fastwebsockets.")
    w("")
    w("| metric | better | ours | ÷ tokio-tungstenite / tungstenite | ÷ fastwebsockets | ÷ tokio-websockets | ÷ sockudo-ws |")
    w("|---|---|---|---|---|---|---|")

    for label in [OURS, "ws-blocking", "ws-uring"]:
        prefix = "" if label == OURS else f"{label}: "
        for load in loads:
            ours = e2e(label, load, "cpu_us_per_msg")
            if ours is None and label != OURS:
                continue
            cells = [ratio(ours, e2e(p, load, "cpu_us_per_msg")) for p in PEERS]
            w(f"| {prefix}server CPU per echo, {load_name(load)} | lower | {fmt(ours)} µs | " + " | ".join(cells) + " |")
    for metric, title, unit, better in [
        ("msg_per_s", "messages/s", "", "higher"),
        ("p50_us", "p50 round trip", " µs", "lower"),
        ("p99_us", "p99 round trip", " µs", "lower"),
    ]:
        for label in [OURS, URING]:
            prefix = "" if label == OURS else f"{label}: "
            for load in loads:
                ours = e2e(label, load, metric)
                if ours is None and label != OURS:
                    continue
                cells = [ratio(ours, e2e(p, load, metric)) for p in PEERS]
                w(f"| {prefix}{title}, {load_name(load)} | {better} | {fmt(ours)}{unit} | " + " | ".join(cells) + " |")
    for label in [OURS, "ws-blocking", URING]:
        ours = idle.get(label, {}).get("bytes_per_conn")
        if ours is None and label != OURS:
            continue
        cells = [ratio(ours, idle.get(p, {}).get("bytes_per_conn")) for p in PEERS]
        conns = fmt_int(idle.get(label, {}).get("opened"))
        name = "" if label == OURS else f"{label}: "
        w(f"| {name}server memory per idle connection ({conns} open) | lower | {fmt(ours)} B | " + " | ".join(cells) + " |")

    def crit_row(title, ours_key, tung_key, fast_key):
        ours = crit.get(ours_key, (None, None))[0]
        if ours is None:
            return
        cells = [
            ratio(ours, crit.get(tung_key, (None, None))[0]) if tung_key else "—",
            ratio(ours, crit.get(fast_key, (None, None))[0]) if fast_key else "—",
            "—",
            "—",
        ]
        w(f"| {title} | lower | {fmt_time(ours)} | " + " | ".join(cells) + " |")

    sizes = ["16B", "125B", "4KiB", "64KiB", "1MiB"]
    for s in sizes:
        crit_row(f"hot path: decode masked, {s}", ("decode", "ours", s), ("decode", "tungstenite", s), ("decode", "fastwebsockets", s))
    for group, title in [("encode_server", "encode unmasked (server)"), ("encode_client_masked", "encode masked (client)")]:
        for s in sizes:
            crit_row(f"hot path: {title}, {s}", (group, "ours", s), (group, "tungstenite", s), (group, "fastwebsockets", s))
    crit_row("hot path: reassemble 1 MiB from 64 KiB fragments",
             ("reassembly", "ours", "1MiB_in_64KiB"), ("reassembly", "tungstenite", "1MiB_in_64KiB"),
             ("reassembly", "fastwebsockets", "1MiB_in_64KiB"))
    for s in sizes:
        crit_row(f"hot path: unmask {s} (apply_mask vs fastwebsockets::unmask)",
                 ("mask", "apply_mask", s), None, ("mask", "fastwebsockets_unmask", s))
    crit_row("hot path: parse browser handshake request",
             ("handshake", "ours_parse", ""), ("handshake", "tungstenite_parse", ""), None)
    crit_row("hot path: parse request and build the answer",
             ("handshake", "ours_parse_and_answer", ""), ("handshake", "tungstenite_parse_and_answer", ""), None)

    w("")
    w("## Raw numbers")
    w("")
    w("### End to end (echo over loopback)")
    w("")
    w("Load: message size, connections × messages in flight per connection. CPU is the server's user+system time "
      "over the measured window divided by the messages echoed in it.")
    w("")
    w("| server | load | msg/s | MB/s (one way) | p50 µs | p99 µs | server CPU µs/msg |")
    w("|---|---|---|---|---|---|---|")
    for load in loads:
        for label in ALL:
            if (label,) + load not in echo:
                continue
            r = echo[(label,) + load]
            w(f"| {SHOWN[label]} | {load_name(load)} | {fmt(r['msg_per_s'])} | {fmt(r['mb_per_s'])} | "
              f"{fmt(r['p50_us'], 1)} | {fmt(r['p99_us'], 1)} | {fmt(r['cpu_us_per_msg'])} |")
    w("")
    w("### Memory per idle connection")
    w("")
    w("A fresh server, then N connections opened (handshake done, no messages) and held; VmRSS before and after.")
    w("")
    w("| server | connections | failed | RSS before KiB | RSS after KiB | threads | bytes per connection |")
    w("|---|---|---|---|---|---|---|")
    for label in ALL:
        r = idle.get(label)
        if not r:
            continue
        w(f"| {SHOWN[label]} | {fmt_int(r['opened'])} | {fmt_int(r['failed'])} | {fmt_int(r['rss_before_kib'])} | "
          f"{fmt_int(r['rss_after_kib'])} | {fmt_int(r['server_threads'])} | {fmt_int(r['bytes_per_conn'])} |")
    if crit:
        w("")
        w("### Hot path (criterion, in memory, median per iteration)")
        w("")
        w("Iterations handle about 1 MiB of payload (1,024 frames of 16 B or 125 B, 256 of 4 KiB, 16 of 64 KiB, "
          "2 of 1 MiB); mask, UTF-8 and handshake rows handle one buffer or request.")
        w("")
        w("| group | implementation | input | time | throughput |")
        w("|---|---|---|---|---|")
        order = {g: i for i, g in enumerate(
            ["decode", "encode_server", "encode_client_masked", "reassembly", "bandwidth_binary", "bandwidth_text_ascii",
             "bandwidth_text_multibyte", "mask", "utf8_ascii", "utf8_multibyte", "mask_key", "handshake"])}
        size_order = {s: i for i, s in enumerate(["16B", "64B", "125B", "4KiB", "64KiB", "1MiB", "1MiB_in_64KiB", ""])}
        for (group, func, value), (ns, nbytes) in sorted(
                crit.items(), key=lambda kv: (order.get(kv[0][0], 99), size_order.get(kv[0][2], 50), kv[0][2], kv[0][1])):
            w(f"| {group} | {func} | {value or '—'} | {fmt_time(ns)} | {fmt_rate(nbytes, ns)} |")
        w("")
        w("UTF-8 validation, ours (`Utf8Validator`: std below 64 B, simdutf8 from 64 B) ÷ others "
          "(time; below 1: ours faster):")
        w("")
        w("| text | ÷ std::str::from_utf8 | ÷ simdutf8 basic | ÷ simdutf8 compat | chunked 1460 ÷ whole |")
        w("|---|---|---|---|---|")
        for group in ["utf8_ascii", "utf8_multibyte"]:
            for s in ["16B", "64B", "125B", "4KiB", "64KiB"]:
                ours = crit.get((group, "ours", s), (None,))[0]
                if ours is None:
                    continue
                chunked = crit.get((group, "ours_chunked_1460", s), (None,))[0]
                w(f"| {group[5:]} {s} | {ratio(ours, crit.get((group, 'std', s), (None,))[0])} | "
                  f"{ratio(ours, crit.get((group, 'simdutf8_basic', s), (None,))[0])} | "
                  f"{ratio(ours, crit.get((group, 'simdutf8_compat', s), (None,))[0])} | {ratio(chunked, ours)} |")
    w("")
    text = "\n".join(lines)
    with open(args.out, "w") as f:
        f.write(text)


if __name__ == "__main__":
    main()
