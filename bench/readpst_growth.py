#!/usr/bin/env python3
"""Growth probe: does readpst's time per message stay flat on PSTs written by `mailmill generate`?

    python3 bench/readpst_growth.py [--mailmill build/tools/mailmill] [--sizes 10000,20000,40000]
                                    [--repeat 3] [--workdir /tmp/mailmill-growth]
                                    [--max-growth 0.30] [-- GENERATOR OPTIONS...]

For each size N it generates one PST with `mailmill generate -n N` and the given generator
options (the same options at every size; files are reused when the options sidecar matches),
then times `readpst -j 0 -r -o OUT FILE` REPEAT times, alternating the sizes (small to large,
then large to small, ...) so that a change in machine load hits every size alike. It prints the
median wall time and the median CPU time (user + sys of readpst) per message for each size and
the growth of the per-message time from the smallest to the largest size:

    growth = (t(N_max) / N_max) / (t(N_min) / N_min) - 1

readpst reads a PST that Outlook wrote in time linear in its message count, so growth near 0 is
what an Outlook-shaped file gives. The exit status is 1 when the CPU-time growth exceeds
--max-growth (default 0.30), 0 otherwise. CPU time is the gate because it is far less sensitive
to other jobs on a shared machine than wall time; both are printed.

bench/compare.py uses measure() and verdict() from here as its linearity gate.
"""
from __future__ import annotations

import argparse
import json
import os
import resource
import shutil
import statistics
import subprocess
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parent.parent
DEFAULT_SIZES = (10_000, 20_000, 40_000)
MAX_GROWTH = 0.30


def log(msg: str) -> None:
    print(msg, file=sys.stderr, flush=True)


def ensure_pst(mailmill: str, workdir: Path, n: int, options: list[str]) -> Path:
    """Generates (or reuses) the PST with N messages and `options`; returns its path."""
    pst = workdir / f"growth-{n}.pst"
    opts_file = workdir / f"growth-{n}.pst.opts"
    want = json.dumps({"mailmill": mailmill, "generate": ["-n", str(n)] + options})
    if pst.exists() and opts_file.exists() and opts_file.read_text().strip() == want:
        return pst
    cmd = [mailmill, "generate", "-o", str(pst), "--truth", str(pst) + ".jsonl", "-n", str(n)]
    cmd += options
    log(f"generating {n} messages: {' '.join(cmd)}")
    p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
    if p.returncode != 0:
        sys.exit(f"mailmill generate failed ({p.returncode}):\n{p.stdout}")
    opts_file.write_text(want + "\n")
    return pst


def time_readpst(pst: Path, out: Path) -> tuple[float, float]:
    """One readpst -j 0 -r run into a fresh folder: (wall seconds, user+sys CPU seconds)."""
    if out.exists():
        shutil.rmtree(out)
    out.mkdir(parents=True)
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    t0 = time.monotonic()
    p = subprocess.run(["readpst", "-j", "0", "-r", "-o", str(out), str(pst)],
                       stdout=subprocess.DEVNULL, stderr=subprocess.PIPE, text=True)
    wall = time.monotonic() - t0
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    if p.returncode != 0:
        sys.exit(f"readpst failed on {pst} ({p.returncode}): {p.stderr[-2000:]}")
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    shutil.rmtree(out)
    return wall, cpu


def measure(mailmill: str, workdir: Path, options: list[str], sizes=DEFAULT_SIZES,
            repeat: int = 3) -> dict:
    """Generates one PST per size with the same options and times readpst on each, alternating
    sizes; returns {"sizes": [...], "wall": {n: [s...]}, "cpu": {n: [s...]}, "options": ...}."""
    workdir.mkdir(parents=True, exist_ok=True)
    psts = {n: ensure_pst(mailmill, workdir, n, options) for n in sizes}
    for pst in psts.values():  # warm the page cache once, untimed
        with open(pst, "rb") as f:
            while f.read(8 << 20):
                pass
    wall: dict[int, list[float]] = {n: [] for n in sizes}
    cpu: dict[int, list[float]] = {n: [] for n in sizes}
    for r in range(repeat):
        order = list(sizes) if r % 2 == 0 else list(reversed(sizes))
        for n in order:
            w, c = time_readpst(psts[n], workdir / "readpst-out")
            wall[n].append(w)
            cpu[n].append(c)
            log(f"  run {r + 1}/{repeat}: {n:>7} messages: wall {w:7.2f} s, cpu {c:7.2f} s")
    return {"sizes": list(sizes), "wall": wall, "cpu": cpu, "options": options,
            "bytes": {n: psts[n].stat().st_size for n in sizes}}


def verdict(m: dict, max_growth: float = MAX_GROWTH) -> dict:
    """Medians per size, per-message times and the growth from the smallest to the largest
    size. linear is True when the CPU-time growth is at most max_growth."""
    sizes = m["sizes"]
    rows = []
    for n in sizes:
        w = statistics.median(m["wall"][n])
        c = statistics.median(m["cpu"][n])
        rows.append({"messages": n, "bytes": m["bytes"][n], "wall_s": round(w, 3),
                     "cpu_s": round(c, 3), "wall_us_per_msg": round(w / n * 1e6, 1),
                     "cpu_us_per_msg": round(c / n * 1e6, 1)})
    lo, hi = rows[0], rows[-1]
    g_wall = hi["wall_s"] / hi["messages"] / (lo["wall_s"] / lo["messages"]) - 1
    g_cpu = hi["cpu_s"] / hi["messages"] / (lo["cpu_s"] / lo["messages"]) - 1
    return {"rows": rows, "growth_wall": round(g_wall, 3), "growth_cpu": round(g_cpu, 3),
            "max_growth": max_growth, "linear": g_cpu <= max_growth}


def render(v: dict) -> str:
    lines = ["| messages | PST MB | readpst wall s | wall µs/msg | readpst CPU s | CPU µs/msg |",
             "|---:|---:|---:|---:|---:|---:|"]
    for r in v["rows"]:
        lines.append(f"| {r['messages']:,} | {r['bytes'] / 1e6:,.0f} | {r['wall_s']:.2f} | "
                     f"{r['wall_us_per_msg']:.1f} | {r['cpu_s']:.2f} | {r['cpu_us_per_msg']:.1f} |")
    lo, hi = v["rows"][0]["messages"], v["rows"][-1]["messages"]
    lines.append("")
    lines.append(f"per-message growth {lo:,} -> {hi:,}: CPU {v['growth_cpu'] * 100:+.0f} %, "
                 f"wall {v['growth_wall'] * 100:+.0f} % (gate: CPU <= "
                 f"{v['max_growth'] * 100:.0f} %): {'linear' if v['linear'] else 'NOT linear'}")
    return "\n".join(lines)


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailmill", default=str(REPO / "build" / "tools" / "mailmill"))
    ap.add_argument("--sizes", default=",".join(str(n) for n in DEFAULT_SIZES),
                    help="comma-separated message counts (default 10000,20000,40000)")
    ap.add_argument("--repeat", type=int, default=3)
    ap.add_argument("--workdir", default="/tmp/mailmill-growth")
    ap.add_argument("--max-growth", type=float, default=MAX_GROWTH)
    ap.add_argument("--json", help="also write the measurements and verdict to this file")
    ap.add_argument("generate", nargs=argparse.REMAINDER,
                    help="generator options after --, e.g. -- --folders 20 --encryption "
                    "compressible")
    args = ap.parse_args()
    options = [o for o in args.generate if o != "--"] if args.generate else []
    sizes = tuple(int(s) for s in args.sizes.split(","))
    if shutil.which("readpst") is None:
        sys.exit("readpst not found (Debian package pst-utils)")
    mailmill = os.path.abspath(args.mailmill)
    m = measure(mailmill, Path(args.workdir), options, sizes, args.repeat)
    v = verdict(m, args.max_growth)
    print(f"generator options: {' '.join(options) or '(defaults)'}; readpst -j 0 -r; "
          f"medians of {args.repeat} alternating runs; load average "
          f"{os.getloadavg()[0]:.1f} at the end")
    print(render(v))
    if args.json:
        Path(args.json).write_text(json.dumps({"measure": m, "verdict": v}, indent=1) + "\n")
    return 0 if v["linear"] else 1


if __name__ == "__main__":
    sys.exit(main())
