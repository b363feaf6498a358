#!/usr/bin/env python3
"""EDB against PST (issue 15, part 6): the same generator options written as an
Exchange-shaped database (`generate --format edb`) and as a PST (`generate --format pst`),
each converted to mbox with `convert --jobs 0`, in alternating rounds (PST, EDB, PST, EDB...),
medians of wall and CPU time. Reported per input byte (the issue's measure) and per message,
since the two files hold the same number of messages of the same size distribution but have
very different sizes (an ESE database keeps long values in 32 KiB pages).

    python3 bench/edb_bench.py [--mailmill build/tools/mailmill] [--messages 12000]
                               [--rounds 3] [--workdir /tmp/mailmill-edb-bench]

Writes bench/edb-results.md and bench/edb-results.json (WORKDIR copies with --quick).
Run it alone on the machine: it measures CPU time.
"""
import argparse
import json
import os
import platform
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

GEN_OPTIONS = ["--seed", "5", "--folders", "12", "--attachment-ratio", "0.09",
               "--attachment-min", "1000", "--attachment-max", "200000", "--html-ratio", "0.5",
               "--non-ascii-ratio", "0.2", "--transport-headers-ratio", "0.5",
               "--embedded-ratio", "0.02"]


def run_timed(cmd: list[str]) -> tuple[float, float, int]:
    """Wall seconds, CPU seconds (user + system of the child), exit code."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.perf_counter()
    r = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE)
    wall = time.perf_counter() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    if r.returncode != 0:
        sys.stderr.write(r.stderr.decode("utf-8", "replace")[-2000:])
    return wall, cpu, r.returncode


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailmill", default="build/tools/mailmill")
    ap.add_argument("--messages", type=int, default=12000)
    ap.add_argument("--mailboxes", type=int, default=4)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/mailmill-edb-bench")
    ap.add_argument("--quick", action="store_true", help="1,000 messages, results in WORKDIR only")
    args = ap.parse_args()
    if args.rounds < 3 and not args.quick:
        ap.error("--rounds must be at least 3")
    n = 1000 if args.quick else args.messages
    work = Path(args.workdir)
    work.mkdir(parents=True, exist_ok=True)
    mm = args.mailmill
    inputs = {}
    for fmt in ("pst", "edb"):
        path = work / f"bench-{n}.{fmt}"
        extra = ["--mailboxes", str(args.mailboxes)] if fmt == "edb" else []
        if not path.exists():
            subprocess.run([mm, "generate", "-o", str(path), "--format", fmt, "--messages",
                            str(n)] + GEN_OPTIONS + extra, check=True)
        inputs[fmt] = path
    times = {fmt: [] for fmt in inputs}
    counts = {}
    for rnd in range(max(1, args.rounds)):
        for fmt, path in inputs.items():
            out = work / f"out-{fmt}"
            shutil.rmtree(out, ignore_errors=True)
            report = work / f"report-{fmt}.json"
            wall, cpu, rc = run_timed([mm, "convert", str(path), "-o", str(out), "--format", "mbox",
                                       "--jobs", "0", "--report", str(report), "--quiet"])
            if rc != 0:
                print(f"convert {fmt} failed with exit code {rc}", file=sys.stderr)
                return 1
            totals = json.loads(report.read_text())["totals"]
            counts[fmt] = totals
            times[fmt].append((wall, cpu))
            print(f"round {rnd + 1} {fmt}: {wall:.2f} s wall, {cpu:.2f} s CPU, {totals}", flush=True)
    rows = []
    for fmt, path in inputs.items():
        size = path.stat().st_size
        wall = statistics.median(w for w, _ in times[fmt])
        cpu = statistics.median(c for _, c in times[fmt])
        written = counts[fmt]["written"]
        rows.append({"input": fmt, "bytes": size, "messages": written, "seen": counts[fmt]["seen"],
                     "wall_s": wall, "cpu_s": cpu, "walls": [w for w, _ in times[fmt]],
                     "mb_per_s": size / wall / 1e6, "us_cpu_per_msg": cpu / written * 1e6,
                     "us_wall_per_msg": wall / written * 1e6})
    info = {"measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), "machine": platform.processor() or
            platform.machine(), "cpus": os.cpu_count(), "command": " ".join(sys.argv),
            "generator_options": GEN_OPTIONS, "messages": n, "mailboxes": args.mailboxes}
    try:
        info["cpu_model"] = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo")
                                 if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    md = [f"EDB against PST, measured {info['measured']} with `{info['command']}`.", "",
          f"Machine: {info.get('cpu_model', info['machine'])}, {info['cpus']} CPUs. Generator "
          f"options for both: `--messages {n} {' '.join(GEN_OPTIONS)}` (EDB: `--mailboxes "
          f"{args.mailboxes}`); `convert --format mbox --jobs 0`, {args.rounds} alternating rounds, "
          "medians. Warm page cache.", "",
          "| input | file MB | messages written | rows seen | wall s | CPU s | MB/s (input) | "
          "CPU µs/msg | walls of the rounds |", "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        md.append(f"| {r['input']} | {r['bytes'] / 1e6:,.1f} | {r['messages']:,} | {r['seen']:,} | "
                  f"{r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['mb_per_s']:,.1f} | "
                  f"{r['us_cpu_per_msg']:.1f} | {' '.join(f'{w:.2f}' for w in r['walls'])} |")
    pst, edb = rows[0], rows[1]
    md += ["", f"Per input byte the EDB converts at {edb['mb_per_s'] / pst['mb_per_s']:.2f}× the "
           f"PST's rate; per message it costs {edb['us_cpu_per_msg'] / pst['us_cpu_per_msg']:.2f}× "
           "the PST's CPU time."]
    text = "\n".join(md) + "\n"
    print(text)
    dest = work if args.quick else Path(__file__).resolve().parent
    (dest / "edb-results.md").write_text(text)
    (dest / "edb-results.json").write_text(json.dumps({"info": info, "results": rows}, indent=1) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
