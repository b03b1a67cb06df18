#!/usr/bin/env python3
"""Writes the fan-out section of benches/RESULTS.md from fanout.sh's results.

Reads `RESULT mode=fanout key=value ...` lines (from fanout-loadgen, or
written by fanout.sh for a failed point) and `NOTE ...` lines, and replaces
what lies between `<!-- fanout:start -->` and `<!-- fanout:end -->` in the
output file (appending the markers if absent, creating the file if missing).
The rest of the file is left as it is.
"""

import argparse
import datetime
import os
import platform
import re
import subprocess

START = "<!-- fanout:start -->"
END = "<!-- fanout:end -->"

SERVER_ORDER = ["ws-tokio", "tokio-tungstenite", "fastwebsockets", "tokio-websockets", "sockudo-ws", "bun", "node-ws"]
RUST_PEERS = ["tokio-tungstenite", "fastwebsockets", "tokio-websockets", "sockudo-ws"]
SERVER_TITLE = {
    "ws-tokio": "ws-tokio broadcast (ours)",
    "tokio-tungstenite": "tokio-tungstenite",
    "fastwebsockets": "fastwebsockets",
    "tokio-websockets": "tokio-websockets",
    "sockudo-ws": "sockudo-ws `PubSub`",
    "bun": "Bun `server.publish`",
    "node-ws": "Node `ws`",
}
# The load generator is counted as the bound when it was busy this share of
# the measured window.
LOADGEN_BUSY = 0.9


def parse(path):
    results, notes = {}, []
    with open(path) as f:
        for line in f:
            line = line.strip()
            if line.startswith("NOTE "):
                notes.append(line[5:])
            if not line.startswith("RESULT "):
                continue
            kv = dict(tok.split("=", 1) for tok in line.split()[1:] if "=" in tok)
            if kv.get("mode") != "fanout":
                continue
            results.setdefault((kv["label"], int(kv["clients"]), int(kv["size"])), []).append(kv)
    return {key: pick(runs) for key, runs in results.items()}, notes


def pick(runs):
    """One point's runs: the first with loss, failure or violations if any
    (never hidden behind a clean repetition), else the median by server CPU
    per delivery."""
    bad = [kv for kv in runs if not clean(kv)]
    chosen = dict(bad[0]) if bad else dict(sorted(runs, key=lambda kv: num(kv, "server_ns_per_delivery"))[len(runs) // 2])
    chosen["runs"] = str(len(runs))
    chosen["bad_runs"] = str(len(bad))
    return chosen


def num(kv, key):
    try:
        value = float(kv.get(key, "-"))
    except ValueError:
        return None
    return value if value == value else None  # NaN


def fmt_rate(v):
    if v is None:
        return "–"
    if v >= 1e6:
        return f"{v / 1e6:.2f} M"
    if v >= 1e3:
        return f"{v / 1e3:.0f} k"
    return f"{v:.0f}"


def fmt_ns(v):
    if v is None:
        return "–"
    return f"{v:.0f}" if v >= 100 else f"{v:.1f}"


def failed(kv):
    return kv is None or kv.get("failed") == "1"


def lost_cell(kv):
    if kv is None:
        return "not run"
    if kv.get("failed") == "1":
        why = " (server did not start)" if kv.get("reason") == "start" else ""
        return "**failed**" + why
    parts = []
    lost = int(kv.get("lost", "0"))
    if kv.get("timeout") == "1":
        parts.append(f"**{lost:,} lost** (round timed out)")
    elif lost:
        parts.append(f"**{lost:,} lost**")
    else:
        parts.append("0")
    if int(kv.get("violations", "0")):
        parts.append(f"**{int(kv['violations']):,} duplicate/out of order**")
    if int(kv.get("dead", "0")):
        parts.append(f"{int(kv['dead'])} connections dropped")
    if kv.get("server_exited") == "1":
        parts.append("**server exited**")
    if int(kv.get("runs", "1")) > 1 and int(kv.get("bad_runs", "0")):
        parts.append(f"in {kv['bad_runs']} of {kv['runs']} runs")
    return ", ".join(parts)


def clean(kv):
    """A point that measured whole rounds with nothing lost."""
    return (
        not failed(kv)
        and kv.get("timeout") == "0"
        and kv.get("lost") == "0"
        and kv.get("violations") == "0"
        and kv.get("server_exited") != "1"
        and num(kv, "server_ns_per_delivery") is not None
    )


def loadgen_bound(kv):
    secs, cpu = num(kv, "secs"), num(kv, "loadgen_cpu_s")
    return bool(secs and cpu is not None and cpu / secs >= LOADGEN_BUSY)


def git(root, *args):
    try:
        return subprocess.run(["git", *args], cwd=root, capture_output=True, text=True, timeout=20).stdout.strip()
    except Exception:
        return ""


def cpu_model():
    try:
        with open("/proc/cpuinfo") as f:
            for line in f:
                if line.startswith("model name"):
                    return line.split(":", 1)[1].strip()
    except OSError:
        pass
    return platform.processor() or "unknown CPU"


def crate_versions(root):
    versions = {}
    try:
        text = open(os.path.join(root, "Cargo.lock")).read()
    except OSError:
        return versions
    for name, version in re.findall(r'name = "([^"]+)"\nversion = "([^"]+)"', text):
        if name in ("tokio-tungstenite", "fastwebsockets", "tokio-websockets", "tokio"):
            versions[name] = version
    return versions


def section(args, results, notes):
    clients = sorted({c for (_, c, _) in results})
    sizes = sorted({s for (_, _, s) in results})
    servers = [s for s in SERVER_ORDER if any(k[0] == s for k in results)]
    servers += sorted({k[0] for k in results} - set(servers))
    now = datetime.datetime.now(datetime.timezone.utc).strftime("%Y-%m-%d %H:%M UTC")
    try:
        load = " ".join(f"{x:.2f}" for x in os.getloadavg())
    except OSError:
        load = "?"
    versions = crate_versions(args.root)
    out = []
    w = out.append
    w(START)
    w(f"## Fan-out (chat room), {args.mode}")
    w("")
    w("Written by `bash benches/fanout.sh " + args.mode + "` (see the README's Fan-out section).")
    w("")
    w(f"* Date: {now}; machine: {os.cpu_count()} CPUs ({cpu_model()}), Linux {platform.release()}; "
      f"load average at the end: {load}; workspace revision {git(args.root, 'rev-parse', '--short', 'HEAD') or '?'}")
    w(f"* Pinning: {args.pinning}. 127.0.0.1, a fresh server per point.")
    w(f"* Method: N clients each send one binary message per round; the server sends it to all N "
      f"(the sender too); the next round starts when every client has every message of the round. "
      f"A delivery is one message arriving at one client (N² a round). The load generator checks each "
      f"delivery arrives exactly once and, per sender, in order. Measured: whole rounds for about "
      f"{args.seconds:g} s after {args.warmup_rounds} warm-up round(s) and at least {args.warmup_ms} ms; "
      f"a round that does not complete within 10 s (30 s at N = 1,000) ends the point and counts as loss. "
      f"{args.repeats} run(s) per point" + (", the median by server CPU per delivery shown (a run with loss is shown instead of the median)." if args.repeats > 1 else "."))
    w("* Columns: deliveries/s; server CPU (user + system, `/proc/PID/stat`, all threads) per delivery; "
      "the load generator's own CPU per delivery (`/proc/self/stat`); lost deliveries. "
      f"† marks a point where the load generator was busy at least {LOADGEN_BUSY:.0%} of the window, "
      "so it, not the server, may bound deliveries/s (server CPU per delivery still holds). "
      "Loopback TCP: a sender's write runs the receiver's TCP receive path, so some of each side's CPU is the other's traffic.")
    peers = ", ".join(f"{n} {versions[n]}" for n in ("tokio-tungstenite", "fastwebsockets", "tokio-websockets") if n in versions)
    w(f"* Versions: {peers}{'; tokio ' + versions['tokio'] if 'tokio' in versions else ''}"
      + "".join(f"; {n}" for n in notes if not n.endswith("skipped")))
    for n in notes:
        if n.endswith("skipped"):
            w(f"* Skipped: {n}")
    w("* The machine is shared and noisy: compare servers within one run.")
    w("")
    for size in sizes:
        title = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        w(f"### {title} messages")
        w("")
        head = ["server"]
        for c in clients:
            head += [f"N={c:,} deliveries/s", f"N={c:,} server ns", f"N={c:,} loadgen ns", f"N={c:,} lost"]
        w("| " + " | ".join(head) + " |")
        w("|" + "---|" * len(head))
        for s in servers:
            row = [SERVER_TITLE.get(s, s)]
            for c in clients:
                kv = results.get((s, c, size))
                if failed(kv):
                    row += ["–", "–", "–", lost_cell(kv)]
                    continue
                rate = fmt_rate(num(kv, "deliveries_per_s"))
                if loadgen_bound(kv):
                    rate += " †"
                row += [rate, fmt_ns(num(kv, "server_ns_per_delivery")),
                        fmt_ns(num(kv, "loadgen_ns_per_delivery")), lost_cell(kv)]
            w("| " + " | ".join(row) + " |")
        w("")
    w("### Server CPU per delivery: ws-tokio broadcast ÷ Bun, ÷ the best Rust peer")
    w("")
    w("Below 1 is ours cheaper. Best Rust peer: the lowest server ns/delivery among tokio-tungstenite, "
      "fastwebsockets, tokio-websockets and sockudo-ws (when built) at the same point (only points with nothing lost).")
    w("")
    w("| size | N | ws-tokio ns | Bun ns | ÷ Bun | best Rust peer | peer ns | ÷ peer |")
    w("|---|---|---|---|---|---|---|---|")
    for size in sizes:
        title = f"{size} B" if size < 1024 else f"{size // 1024} KiB"
        for c in clients:
            ours = results.get(("ws-tokio", c, size))
            ours_ns = num(ours, "server_ns_per_delivery") if clean(ours) else None
            bun = results.get(("bun", c, size))
            bun_ns = num(bun, "server_ns_per_delivery") if clean(bun) else None
            peers = [(num(results[(p, c, size)], "server_ns_per_delivery"), p)
                     for p in RUST_PEERS if clean(results.get((p, c, size)))]
            best = min(peers) if peers else None
            if ours is None:
                ours_cell = "not run"
            elif ours_ns is None:
                ours_cell = "lost/failed"
            else:
                ours_cell = fmt_ns(ours_ns)
            ratio = lambda a, b: f"{a / b:.2f}" if a is not None and b else "–"
            w(f"| {title} | {c:,} | {ours_cell} | {fmt_ns(bun_ns)} | {ratio(ours_ns, bun_ns)} | "
              f"{best[1] if best else '–'} | {fmt_ns(best[0]) if best else '–'} | "
              f"{ratio(ours_ns, best[0] if best else None)} |")
    w("")
    w(END)
    return "\n".join(out) + "\n"


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--mode", required=True)
    ap.add_argument("--results", required=True)
    ap.add_argument("--pinning", required=True)
    ap.add_argument("--seconds", type=float, required=True)
    ap.add_argument("--warmup-ms", type=int, required=True)
    ap.add_argument("--warmup-rounds", type=int, required=True)
    ap.add_argument("--repeats", type=int, default=1)
    ap.add_argument("--root", required=True)
    ap.add_argument("--out", required=True)
    args = ap.parse_args()
    results, notes = parse(args.results)
    text = section(args, results, notes)
    print(text)
    try:
        existing = open(args.out).read()
    except FileNotFoundError:
        existing = ""
    if START in existing and END in existing and existing.index(START) < existing.index(END):
        before = existing[: existing.index(START)]
        after = existing[existing.index(END) + len(END):]
        after = after[1:] if after.startswith("\n") else after
        new = before + text + after
    else:
        new = existing + ("\n" if existing and not existing.endswith("\n\n") else "") + text
    with open(args.out, "w") as f:
        f.write(new)


if __name__ == "__main__":
    main()
