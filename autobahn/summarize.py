#!/usr/bin/env python3
"""Summarise Autobahn|Testsuite reports (index.json) written by wstest.

Used by autobahn/run.sh after each mode (servers / clients). For every agent
it reads <dir>/<agent>/index.json (one wstest run per agent), and prints a
markdown summary: counts per section and outcome, the non-OK cases, and the
wall-clock duration of the run. It also writes <dir>/index.json (all agents
merged, same format as wstest's) and <dir>/index.html (links to the agents'
wstest reports), and appends the markdown to --summary-md.

Outcome of a case: wstest's `behavior`, made worse by `behaviorClose` the way
wstest's own HTML report colours it: UNCLEAN / FAILED close -> FAILED,
WRONG CODE / FAILED BY CLIENT close -> NON-STRICT. UNIMPLEMENTED stays
UNIMPLEMENTED (wstest ignores the close for those).

Exit status 1 when any agent has a FAILED case, an UNIMPLEMENTED case that is
not excluded, a MISSING case (fewer results than wstest announced), a run
problem (--problem), or no report; NON-STRICT fails too with --strict.
"""
import argparse
import fnmatch
import html
import json
import os
import sys

OUTCOMES = ["OK", "NON-STRICT", "INFORMATIONAL", "UNIMPLEMENTED", "FAILED"]
SEVERITY = {"OK": 0, "INFORMATIONAL": 1, "NON-STRICT": 2, "UNIMPLEMENTED": 3, "FAILED": 4}
CLOSE_TO_OUTCOME = {
    "OK": "OK",
    "INFORMATIONAL": "INFORMATIONAL",
    "NON-STRICT": "NON-STRICT",
    "WRONG CODE": "NON-STRICT",
    "FAILED BY CLIENT": "NON-STRICT",
    "UNCLEAN": "FAILED",
    "FAILED": "FAILED",
}


def case_key(case_id):
    out = []
    for part in case_id.split("."):
        out.append((0, int(part), "") if part.isdigit() else (1, 0, part))
    return out


def outcome(result):
    behavior = result.get("behavior", "FAILED")
    if behavior == "UNIMPLEMENTED":
        return "UNIMPLEMENTED"
    base = behavior if behavior in SEVERITY else "FAILED"  # e.g. NO_CLOSE
    close = CLOSE_TO_OUTCOME.get(result.get("behaviorClose", "FAILED"), "FAILED")
    return base if SEVERITY[base] >= SEVERITY[close] else close


def matches(case_id, patterns):
    return any(fnmatch.fnmatchcase(case_id, p) for p in patterns)


def split_patterns(text):
    return [p.strip() for p in (text or "").split(",") if p.strip()]


def key_value(text):
    if "=" not in text:
        raise argparse.ArgumentTypeError("expected NAME=VALUE, got %r" % text)
    return tuple(text.split("=", 1))


def fmt_duration(seconds):
    if seconds is None:
        return "?"
    seconds = float(seconds)
    if seconds >= 60:
        return "%dm%04.1fs (%.1f s)" % (seconds // 60, seconds % 60, seconds)
    return "%.1f s" % seconds


def summarize_agent(name, results, has_report, args, duration, expected, problems):
    """Return (markdown lines, failed?, per-outcome totals) for one agent."""
    excluded = split_patterns(args.exclude)
    sections = {}
    totals = dict.fromkeys(OUTCOMES, 0)
    non_ok = []
    for case_id in sorted(results, key=case_key):
        res = results[case_id]
        out = outcome(res)
        sec = case_id.split(".", 1)[0]
        sections.setdefault(sec, dict.fromkeys(OUTCOMES, 0))[out] += 1
        totals[out] += 1
        if out != "OK" or res.get("behaviorClose") != "OK":
            non_ok.append((case_id, out, res))

    reasons = list(problems)
    if has_report and not results and expected != 0:
        reasons.append("no results in report")
    if totals["FAILED"]:
        reasons.append("%d FAILED" % totals["FAILED"])
    unimpl = [c for c, o, _ in non_ok if o == "UNIMPLEMENTED" and not matches(c, excluded)]
    if unimpl:
        reasons.append("%d UNIMPLEMENTED outside the excluded cases" % len(unimpl))
    if args.strict and totals["NON-STRICT"]:
        reasons.append("%d NON-STRICT (AUTOBAHN_STRICT=1)" % totals["NON-STRICT"])
    missing = None
    if has_report and expected is not None and len(results) < expected:
        missing = expected - len(results)
        reasons.append("%d of %d cases MISSING from the report" % (missing, expected))

    failed = bool(reasons)
    lines = []
    verdict = "FAIL" if failed else "PASS"
    lines.append("### %s: %s" % (name, verdict))
    lines.append("")
    if name in args.agent_cases:
        lines.append("- cases: `%s`" % ", ".join(split_patterns(args.agent_cases[name])))
    lines.append("- duration: %s" % fmt_duration(duration))
    lines.append("- cases in report: %d%s" % (
        len(results), "" if expected is None else " (wstest announced %d)" % expected))
    for r in reasons:
        lines.append("- **problem: %s**" % r)
    lines.append("")
    if results:
        lines.append("| section | " + " | ".join(OUTCOMES) + " |")
        lines.append("|---:|" + "---:|" * len(OUTCOMES))
        for sec in sorted(sections, key=lambda s: case_key(s)):
            lines.append("| %s | " % sec + " | ".join(str(sections[sec][o]) for o in OUTCOMES) + " |")
        lines.append("| **total** | " + " | ".join("**%d**" % totals[o] for o in OUTCOMES) + " |")
        lines.append("")
    if non_ok:
        lines.append("Non-OK cases (outcome: behavior / behaviorClose, remote close code):")
        lines.append("")
        for case_id, out, res in non_ok:
            lines.append("- `%s` **%s**: %s / %s, close code %s" % (
                case_id, out, res.get("behavior"), res.get("behaviorClose"),
                res.get("remoteCloseCode")))
        lines.append("")
    elif results:
        lines.append("All cases OK.")
        lines.append("")
    return lines, failed, totals


def write_index_html(path, title, agents_info):
    rows = []
    for name, verdict, totals, duration, has_report in agents_info:
        link = ('<a href="%s/index.html">%s</a>' % (html.escape(name), html.escape(name))
                if has_report else html.escape(name))
        cells = "".join("<td>%d</td>" % totals.get(o, 0) for o in OUTCOMES)
        rows.append("<tr><td>%s</td><td>%s</td>%s<td>%s</td></tr>" % (
            link, verdict, cells, html.escape(fmt_duration(duration))))
    head = "".join("<th>%s</th>" % o for o in OUTCOMES)
    doc = """<!DOCTYPE html>
<html><head><meta charset="utf-8"><title>{t}</title>
<style>body{{font-family:sans-serif}} td,th{{border:1px solid #999;padding:2px 8px}}
table{{border-collapse:collapse}}</style></head>
<body><h1>{t}</h1>
<p>One wstest run per agent; the full wstest report of each agent is linked.
Merged results: <a href="index.json">index.json</a>.</p>
<table><tr><th>agent</th><th>verdict</th>{h}<th>duration</th></tr>
{r}
</table></body></html>
""".format(t=html.escape(title), h=head, r="\n".join(rows))
    with open(path, "w") as f:
        f.write(doc)


def main():
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--mode", required=True, help="servers or clients")
    ap.add_argument("--title", default=None)
    ap.add_argument("--dir", required=True, help="report dir holding <agent>/index.json")
    ap.add_argument("--agent", action="append", default=[], required=True,
                    help="agent name (repeat; order kept)")
    ap.add_argument("--duration", action="append", default=[], type=key_value,
                    help="AGENT=SECONDS wall-clock duration of the agent's run")
    ap.add_argument("--expected", action="append", default=[], type=key_value,
                    help="AGENT=N number of cases wstest said it would run")
    ap.add_argument("--problem", action="append", default=[], type=key_value,
                    help="AGENT=TEXT a run problem (counts as failure)")
    ap.add_argument("--cases", default="*", help="comma-separated case patterns run")
    ap.add_argument("--agent-cases", action="append", default=[], type=key_value,
                    help="AGENT=PATTERNS the cases of one agent, where they differ")
    ap.add_argument("--exclude", default="", help="comma-separated excluded case patterns")
    ap.add_argument("--exclude-reason", default="")
    ap.add_argument("--strict", action="store_true", help="NON-STRICT fails too")
    ap.add_argument("--summary-md", default=None, help="append the markdown here")
    args = ap.parse_args()

    args.agent_cases = dict(args.agent_cases)
    durations = {k: float(v) for k, v in args.duration}
    expected = {k: int(v) for k, v in args.expected}
    problems = {}
    for k, v in args.problem:
        problems.setdefault(k, []).append(v)

    title = args.title or args.mode
    lines = ["## %s" % title, ""]
    lines.append("- cases: `%s`" % ", ".join(split_patterns(args.cases)))
    excl = split_patterns(args.exclude)
    lines.append("- excluded: %s%s" % (
        ", ".join("`%s`" % p for p in excl) if excl else "none",
        " (%s)" % args.exclude_reason if excl and args.exclude_reason else ""))
    lines.append("- NON-STRICT fails the run: %s" % ("yes" if args.strict else "no"))
    lines.append("")

    merged = {}
    any_failed = False
    agents_info = []
    for name in args.agent:
        index = os.path.join(args.dir, name, "index.json")
        agent_problems = list(problems.get(name, []))
        results = {}
        has_report = False
        try:
            with open(index) as f:
                data = json.load(f)
            has_report = True
            results = data.get(name)
            if results is None:
                agent_problems.append("report %s has no results for agent %s (agents: %s)"
                                      % (index, name, ", ".join(sorted(data)) or "none"))
                results = {}
        except FileNotFoundError:
            agent_problems.append("no report: %s was not written" % index)
        except (OSError, ValueError) as e:
            agent_problems.append("unreadable report %s: %s" % (index, e))
        merged[name] = results
        agent_lines, failed, totals = summarize_agent(
            name, results, has_report, args, durations.get(name), expected.get(name),
            agent_problems)
        any_failed |= failed
        lines.extend(agent_lines)
        agents_info.append((name, "FAIL" if failed else "PASS", totals,
                            durations.get(name), has_report))

    lines.append("**%s: %s**" % (title, "FAIL" if any_failed else "PASS"))
    lines.append("")
    text = "\n".join(lines)

    os.makedirs(args.dir, exist_ok=True)
    with open(os.path.join(args.dir, "index.json"), "w") as f:
        json.dump(merged, f, indent=2, sort_keys=True)
    write_index_html(os.path.join(args.dir, "index.html"), title, agents_info)
    if args.summary_md:
        with open(args.summary_md, "a") as f:
            f.write(text + "\n")
    sys.stdout.write(text + "\n")
    return 1 if any_failed else 0


if __name__ == "__main__":
    sys.exit(main())
