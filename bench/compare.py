#!/usr/bin/env python3
"""End-to-end benchmark: mailmill against readpst, pffexport and the read/hash floor.

One command, nothing built here:

    python3 bench/compare.py [--mailmill build/tools/mailmill] [--workdir /tmp/mailmill-bench]
                             [--quick] [--only A|B|mime] [--skip-slow] [--repeat N]

(--only mime is a separate benchmark of the MIME path; see MIME_DOC below and bench/README.md.)

It generates two deterministic corpora with `mailmill generate` (reused when the PST, its
ground-truth JSONL and the options sidecar FILE.opts all match):

    A  message-heavy:    200,000 messages, 2.45 GB, 9 % with 1-3 attachments of 1 kB-200 kB
    B  attachment-heavy:   4,000 messages, 4.80 GB, 25 % with 1-3 attachments of 100 kB-12 MB
                           (with every message carrying attachments it would be ~20 GB)

(--quick: A = 5,000 messages, B = 50 messages, for a smoke run.) On each corpus, with the same
input file and the same output disk, every variant runs into a fresh output folder under
/usr/bin/time (wall, user+sys CPU, peak RSS). The page cache cannot be dropped without root,
so the input is read once with `cat` before anything is timed: every tool sees a warm cache.
`sync` runs (untimed) after each variant so that one tool's write-back does not land in the
next tool's timing.

Outputs under WORKDIR: results.json, results.svg, results.md, logs/ (each run's stdout and
stderr) and reports/ (mailmill --report files). The Markdown table goes to stdout as well.

Linearity gate: readpst's time must be linear in the message count before a ratio to it
means anything. For each corpus the harness generates the same generator options at three
message counts (A: 10k/20k/40k; B: 250/500/1,000, whose messages average ~1.2 MB), times
`readpst -j 0 -r` on each (bench/readpst_growth.py: medians of --gate-repeat alternating runs,
user+sys CPU time) and prints no "× readpst" ratio for a corpus whose readpst time per message
grows by more than 30 % from the smallest to the largest count. The corpora use compressible
encryption, Outlook's default.

Honest timing: every variant is measured in every run (nothing is reused from an earlier
run), in alternating rounds (A B C ..., A B C ..., --repeat rounds, at least 3) so that a
change in machine load hits every tool alike, and the tables give medians of wall and CPU
(user + sys) time, CPU microseconds per message, and the largest peak RSS of the rounds.
readpst runs both ways: `readpst -j 0` (one process, no children: the reference of the
ratios and targets) and readpst's default (no -j: it forks up to 4 x cores children, one
per folder; its CPU time includes the children's).

Scaling curve (--scaling, on by default in full runs): corpus A's generator options at 25k,
50k, 100k and 200k messages, `readpst -j 0 -r` and `mailmill convert --format mbox -j 0`
alternating, medians of --repeat runs; the plot of time against size goes to
WORKDIR/scaling.svg (and bench/scaling.svg for a full run).

Correctness, cheaply: every mailmill report must be balanced with seen == the generated item
count (lines of the ground-truth JSONL); message counts of readpst (\"From \" separator lines in
mbox, .eml files), pffexport (Message* folders) and mailmill (report, and \"From \" lines of its
mboxrd output) are printed side by side.
"""
from __future__ import annotations

import argparse
import datetime as _dt
import json
import os
import platform
import re
import shlex
import shutil
import subprocess
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parent))
import readpst_growth  # noqa: E402  (bench/readpst_growth.py: the linearity gate)

REPO = Path(__file__).resolve().parent.parent
MB = 1_000_000  # MB/s means 10^6 bytes per second
MIB = 1024 * 1024

# Generator options per corpus. Tuned so that A is ~2.4 GB and B ~5 GB (see bench/RESULTS.md
# for the measured sizes); --quick keeps the options and cuts the message count.
CORPORA = {
    "A": {
        "title": "A: message-heavy",
        "full_messages": 200_000,
        "quick_messages": 5_000,
        "gate_sizes": (10_000, 20_000, 40_000),
        "quick_gate_sizes": (1_250, 2_500, 5_000),
        "scaling_sizes": (25_000, 50_000, 100_000, 200_000),
        "quick_scaling_sizes": (1_250, 2_500, 5_000),
        "options": [
            "--seed", "1", "--folders", "20", "--encryption", "compressible",
            "--attachment-ratio", "0.09", "--attachment-min", "1000",
            "--attachment-max", "200000", "--html-ratio", "0.5",
            "--non-ascii-ratio", "0.2", "--transport-headers-ratio", "0.5",
            "--embedded-ratio", "0.02",
        ],
    },
    "B": {
        "title": "B: attachment-heavy",
        "full_messages": 4_000,
        "quick_messages": 50,
        "gate_sizes": (250, 500, 1_000),
        "quick_gate_sizes": (25, 50, 100),
        "options": [
            "--seed", "2", "--folders", "10", "--encryption", "compressible",
            "--attachment-ratio", "0.25", "--attachment-min", "100000",
            "--attachment-max", "12000000", "--html-ratio", "0.3",
            "--non-ascii-ratio", "0.2", "--transport-headers-ratio", "0.5",
            "--embedded-ratio", "0.0",
        ],
    },
}


# ----------------------------------------------------------------------------- helpers

def log(msg: str) -> None:
    print(f"[{time.strftime('%H:%M:%S')}] {msg}", file=sys.stderr, flush=True)


def sh_out(cmd: list[str]) -> str:
    try:
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True,
                           timeout=30)
        return p.stdout.strip()
    except (OSError, subprocess.TimeoutExpired):
        return ""


def machine_info(workdir: Path) -> dict:
    info: dict = {"hostname": platform.node(), "kernel": platform.release()}
    lscpu = sh_out(["lscpu"])
    m = re.search(r"^Model name:\s*(.+)$", lscpu, re.M)
    info["cpu"] = m.group(1).strip() if m else platform.processor()
    info["cores"] = os.cpu_count()
    m = re.search(r"^Hypervisor vendor:\s*(.+)$", lscpu, re.M)
    if m:
        info["hypervisor"] = m.group(1).strip()
    try:
        with open("/proc/meminfo") as f:
            kb = int(re.search(r"MemTotal:\s+(\d+)", f.read()).group(1))
        info["memory_gib"] = round(kb / 1024 / 1024, 1)
    except (OSError, AttributeError):
        pass
    df = sh_out(["df", "-hT", str(workdir)]).splitlines()
    if len(df) >= 2:
        parts = df[1].split()
        info["disk"] = {"device": parts[0], "fstype": parts[1], "size": parts[2],
                        "avail": parts[4], "mount": parts[-1]}
        dev = os.path.basename(parts[0])
        base = re.sub(r"p?\d+$", "", dev) if not dev.startswith("vd") else re.sub(r"\d+$", "", dev)
        rot = Path(f"/sys/block/{base}/queue/rotational")
        if rot.exists():
            info["disk"]["rotational"] = rot.read_text().strip() == "1"
    return info


def tool_versions(mailmill: str) -> dict:
    v = {
        "mailmill": sh_out([mailmill, "--version"]),
        "readpst": (sh_out(["readpst", "-V"]).splitlines() or [""])[0],
        "pffexport": (sh_out(["pffexport", "-V"]).splitlines() or [""])[0],
        "openssl": sh_out(["openssl", "version"]),
        "mailmill source": (sh_out(["git", "-C", str(REPO), "describe", "--always", "--dirty"])
                            if (REPO / ".git").exists() else ""),
    }
    return v


def loadavg() -> float:
    try:
        return float(Path("/proc/loadavg").read_text().split()[0])
    except (OSError, ValueError):
        return -1.0


def tree_bytes(path: Path) -> int:
    total = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            try:
                total += os.lstat(os.path.join(root, name)).st_size
            except OSError:
                pass
    return total


def count_from_lines(path: Path, suffix: str | None = None) -> int:
    """Lines starting with "From " in every file under path (optionally only *suffix)."""
    n = 0
    for root, _dirs, files in os.walk(path):
        for name in files:
            if suffix and not name.endswith(suffix):
                continue
            p = os.path.join(root, name)
            if not os.path.isfile(p):
                continue
            with open(p, "rb") as f:
                # "\n" before the file start counts a first line "From "; the last 5 bytes
                # carry over so a "\nFrom " split across two reads is counted exactly once.
                tail = b"\n"
                while True:
                    chunk = f.read(16 * MIB)
                    if not chunk:
                        break
                    data = tail + chunk
                    n += data.count(b"\nFrom ")
                    tail = data[-5:]
    return n


def count_files(path: Path, suffix: str) -> int:
    n = 0
    for _root, _dirs, files in os.walk(path):
        n += sum(1 for f in files if f.endswith(suffix))
    return n


def count_pff_messages(path: Path) -> int:
    """pffexport's MessageNNNNN folders, not counting embedded messages (those sit below an
    Attachments folder)."""
    rx = re.compile(r"Message\d+")
    n = 0
    for root, dirs, _files in os.walk(path):
        if "Attachments" in Path(root).parts:
            continue
        n += sum(1 for d in dirs if rx.fullmatch(d))
    return n


# ext4 will not reuse an inode freed in the last ~30 s (recently_deleted() in the inode
# allocator) and scans past every such inode when creating files, so a run that creates
# hundreds of thousands of files right after another run's output was deleted pays for that
# deletion in system time (measured: EML -j 2 on 20,000 messages, 3.0 s right after a delete
# against 1.2 s on a quiet file system). Each timed run therefore starts at least
# QUIET_AFTER_DELETE seconds after the last deletion, plus QUIET_PER_FILE per file deleted:
# 60 s was not enough after deleting 200,000 files (corpus A, EML -j 2: 24.1 s when run 60 s
# after the -j 1 output was deleted, 14.4 s after 100 s; the kernel profile of the slow run
# is dominated by the inode allocator's recently_deleted() checks).
QUIET_AFTER_DELETE = 60.0
QUIET_PER_FILE = 0.0006
MANY_FILES = 1000  # deleting fewer files than this leaves no measurable cost
_last_delete = 0.0
_quiet_needed = 0.0


def rmtree(path: Path) -> None:
    global _last_delete, _quiet_needed
    if path.exists():
        files = sum(len(f) for _, _, f in os.walk(path))
        shutil.rmtree(path, ignore_errors=True)
        if files > MANY_FILES:
            left = _quiet_needed - (time.monotonic() - _last_delete)
            _last_delete = time.monotonic()
            _quiet_needed = max(left, QUIET_AFTER_DELETE + QUIET_PER_FILE * files)


def wait_after_delete(creates_many_files: bool) -> None:
    """Before a run that creates many files (EML output, pffexport): waits out the quiet
    period of the last deletion of many files. Runs that create a few large files (mbox,
    batch) are not slowed by recently deleted inodes and start at once."""
    subprocess.run(["sync"])
    if not creates_many_files:
        return
    left = _quiet_needed - (time.monotonic() - _last_delete)
    if left > 0:
        log(f"  waiting {left:.0f} s after the last deletion of many files (ext4 inode reuse)")
        time.sleep(left)


# ----------------------------------------------------------------------------- corpora

def generate_cached(mailmill: str, out: Path, truth: Path, options: list[str], label: str) -> int:
    """Runs `mailmill generate` into `out` (and its ground truth `truth`) unless a file made
    with the same options is there (sidecar OUT.opts); returns the ground truth's line count."""
    opts_file = Path(str(out) + ".opts")
    want = json.dumps({"generate": options}, sort_keys=True)
    if (out.exists() and truth.exists() and opts_file.exists()
            and opts_file.read_text().strip() == want):
        log(f"{label}: reusing {out} ({out.stat().st_size / 1e9:.2f} GB)")
    else:
        for p in (out, truth, opts_file):
            if p.exists():
                p.unlink()
        cmd = [mailmill, "generate", "-o", str(out), "--truth", str(truth)] + options
        log(f"{label}: generating: {shlex.join(cmd)}")
        t0 = time.monotonic()
        p = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True)
        if p.returncode != 0:
            sys.exit(f"mailmill generate failed ({p.returncode}):\n{p.stdout}")
        log(f"{label}: {p.stdout.strip()} ({time.monotonic() - t0:.0f} s)")
        opts_file.write_text(want + "\n")
    with open(truth, "rb") as f:
        return sum(1 for _ in f)


def ensure_corpus(key: str, mailmill: str, workdir: Path, quick: bool) -> dict:
    spec = CORPORA[key]
    n = spec["quick_messages"] if quick else spec["full_messages"]
    name = f"{key}-quick" if quick else key
    pst = workdir / f"{name}.pst"
    truth = workdir / f"{name}.pst.jsonl"
    options = ["--messages", str(n)] + spec["options"]
    items = generate_cached(mailmill, pst, truth, options, f"corpus {key}")
    kinds: dict[str, int] = {}
    with open(truth, "rb") as f:
        for line in f:
            m = re.search(rb'"kind"\s*:\s*"([^"]+)"', line)
            k = m.group(1).decode() if m else "?"
            kinds[k] = kinds.get(k, 0) + 1
    return {"key": key, "title": spec["title"], "path": str(pst), "truth": str(truth),
            "bytes": pst.stat().st_size, "items": items, "kinds": kinds,
            "generate_options": options}


def linearity_gate(key: str, mailmill: str, workdir: Path, quick: bool, repeat: int,
                   reuse: bool) -> dict:
    """Times readpst on the corpus's generator options at three message counts and returns
    readpst_growth.verdict() (linear: CPU time per message grows at most 30 %). Cached in
    WORKDIR/gate-KEY.json; reused with --resume when options, sizes and readpst match."""
    spec = CORPORA[key]
    sizes = spec["quick_gate_sizes"] if quick else spec["gate_sizes"]
    readpst = (sh_out(["readpst", "-V"]).splitlines() or [""])[0]
    want = {"options": spec["options"], "sizes": list(sizes), "readpst": readpst,
            "mailmill_sha256": file_sha256(mailmill)}
    cache = workdir / f"gate-{key}{'-quick' if quick else ''}.json"
    if reuse and cache.exists():
        try:
            old = json.loads(cache.read_text())
            if old.get("want") == want:
                log(f"corpus {key}: reusing the readpst linearity measurement in {cache}")
                return old["verdict"]
        except ValueError:
            pass
    log(f"corpus {key}: readpst linearity gate at {', '.join(f'{n:,}' for n in sizes)} "
        f"messages ({repeat} alternating runs each)")
    m = readpst_growth.measure(mailmill, workdir / "gate" / key, spec["options"], sizes, repeat)
    v = readpst_growth.verdict(m)
    log(readpst_growth.render(v))
    cache.write_text(json.dumps({"want": want, "verdict": v}, indent=1) + "\n")
    shutil.rmtree(workdir / "gate" / key, ignore_errors=True)  # the gate's PSTs
    return v


def scaling_curve(mailmill: str, workdir: Path, corpus: dict, quick: bool, rounds: int) -> dict:
    """Corpus A's generator options at each of its scaling sizes (the largest is corpus A
    itself): readpst -j 0 -r and mailmill mbox -j 0 alternating (sizes small to large, then
    large to small), medians of `rounds` runs. Returns {"rows": [...]}."""
    spec = CORPORA["A"]
    sizes = spec["quick_scaling_sizes"] if quick else spec["scaling_sizes"]
    sdir = workdir / "scaling"
    sdir.mkdir(parents=True, exist_ok=True)
    psts = {}
    for n in sizes:
        if n == corpus["items"]:
            psts[n] = Path(corpus["path"])
        else:
            psts[n] = readpst_growth.ensure_pst(mailmill, sdir, n, spec["options"])
        subprocess.run(["sh", "-c", 'cat "$0" > /dev/null', str(psts[n])])
    tools = {
        "readpst -j 0 -r": lambda pst, out: ["readpst", "-j", "0", "-r", "-o", out, pst],
        "mailmill mbox -j 0": lambda pst, out: [mailmill, "convert", pst, "-o", out,
                                                "--format", "mbox", "--jobs", "0", "--quiet"],
    }
    times: dict[str, dict[int, list[tuple[float, float]]]] = {
        t: {n: [] for n in sizes} for t in tools}
    out = sdir / "out"
    for rnd in range(rounds):
        order = list(sizes) if rnd % 2 == 0 else list(reversed(sizes))
        for n in order:
            for tool, argv in tools.items():
                rmtree(out)
                out.mkdir(parents=True)
                timef = sdir / "time.txt"
                cmd = ["/usr/bin/time", "-f", "%e %U %S", "-o", str(timef)] + argv(
                    str(psts[n]), str(out))
                p = subprocess.run(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
                                   stdin=subprocess.DEVNULL)
                if p.returncode != 0:
                    sys.exit(f"scaling: {shlex.join(cmd)} failed ({p.returncode}): "
                             f"{p.stderr[-1500:]!r}")
                wall, user, sys_ = timef.read_text().split()[-3:]
                times[tool][n].append((float(wall), float(user) + float(sys_)))
                log(f"scaling round {rnd + 1}/{rounds}: {n:>7,} messages: {tool}: wall "
                    f"{float(wall):.2f} s, cpu {float(user) + float(sys_):.2f} s")
                rmtree(out)
                subprocess.run(["sync"])
    rows = []
    for n in sizes:
        row = {"messages": n, "bytes": psts[n].stat().st_size}
        for tool in tools:
            w = median([x[0] for x in times[tool][n]])
            cpu = median([x[1] for x in times[tool][n]])
            row[tool] = {"wall_s": round(w, 3), "cpu_s": round(cpu, 3),
                         "wall_us_per_msg": round(w / n * 1e6, 1),
                         "cpu_us_per_msg": round(cpu / n * 1e6, 1)}
        rows.append(row)
    for n in sizes:
        if psts[n] != Path(corpus["path"]):
            for suffix in ("", ".jsonl", ".opts"):
                Path(str(psts[n]) + suffix).unlink(missing_ok=True)
    return {"sizes": list(sizes), "tools": list(tools), "rounds": rounds, "rows": rows}


def scaling_table(sc: dict) -> str:
    tools = sc["tools"]
    head = "| messages | PST GB | " + " | ".join(
        f"{t} wall s | {t} CPU µs/msg" for t in tools) + " | readpst / mailmill (wall) |"
    lines = [head, "|---:|---:|" + "---:|---:|" * len(tools) + "---:|"]
    for r in sc["rows"]:
        cells = " | ".join(f"{r[t]['wall_s']:.2f} | {r[t]['cpu_us_per_msg']:.1f}" for t in tools)
        ratio = r[tools[0]]["wall_s"] / max(r[tools[1]]["wall_s"], 0.005)
        lines.append(f"| {r['messages']:,} | {r['bytes'] / 1e9:.2f} | {cells} | {ratio:.2f}× |")
    return "\n".join(lines)


def scaling_svg(sc: dict) -> str:
    """Wall time against message count, one line per tool, linear axes from 0."""
    w, h, ml, mb, mt, mr = 720, 420, 70, 50, 50, 190
    pw, ph = w - ml - mr, h - mt - mb
    xmax = max(r["messages"] for r in sc["rows"])
    ymax = max(r[t]["wall_s"] for r in sc["rows"] for t in sc["tools"]) * 1.1 or 1
    colors = ["#ff7f0e", "#1f77b4"]
    def X(n):
        return ml + pw * n / xmax
    def Y(v):
        return mt + ph - ph * v / ymax
    parts = [f'<svg xmlns="http://www.w3.org/2000/svg" width="{w}" height="{h}" '
             f'viewBox="0 0 {w} {h}" font-family="sans-serif">',
             '<rect width="100%" height="100%" fill="white"/>',
             f'<text x="{ml}" y="24" font-size="15" font-weight="bold">Wall time against '
             f'message count (corpus A options, medians of {sc["rounds"]})</text>',
             f'<line x1="{ml}" y1="{mt + ph}" x2="{ml + pw}" y2="{mt + ph}" stroke="#333"/>',
             f'<line x1="{ml}" y1="{mt}" x2="{ml}" y2="{mt + ph}" stroke="#333"/>']
    for k in range(5):
        v = ymax * k / 4
        parts.append(f'<text x="{ml - 6}" y="{Y(v) + 4:.1f}" text-anchor="end" '
                     f'font-size="11">{v:.1f} s</text>')
        parts.append(f'<line x1="{ml}" y1="{Y(v):.1f}" x2="{ml + pw}" y2="{Y(v):.1f}" '
                     f'stroke="#ddd"/>')
    for r in sc["rows"]:
        parts.append(f'<text x="{X(r["messages"]):.1f}" y="{mt + ph + 16}" text-anchor="middle" '
                     f'font-size="11">{r["messages"] // 1000}k</text>')
    parts.append(f'<text x="{ml + pw / 2}" y="{h - 10}" text-anchor="middle" font-size="12">'
                 f'messages</text>')
    for i, t in enumerate(sc["tools"]):
        pts = [(0.0, 0.0)] + [(X(r["messages"]), Y(r[t]["wall_s"])) for r in sc["rows"]]
        pts[0] = (X(0), Y(0))
        path = " ".join(f"{x:.1f},{y:.1f}" for x, y in pts)
        parts.append(f'<polyline points="{path}" fill="none" stroke="{colors[i % 2]}" '
                     f'stroke-width="2"/>')
        for r in sc["rows"]:
            parts.append(f'<circle cx="{X(r["messages"]):.1f}" cy="{Y(r[t]["wall_s"]):.1f}" '
                         f'r="3.5" fill="{colors[i % 2]}"><title>{esc(t)}: {r["messages"]:,} '
                         f'messages, {r[t]["wall_s"]:.2f} s</title></circle>')
        parts.append(f'<rect x="{ml + pw + 15}" y="{mt + 20 * i}" width="12" height="12" '
                     f'fill="{colors[i % 2]}"/>')
        parts.append(f'<text x="{ml + pw + 32}" y="{mt + 20 * i + 11}" font-size="12">'
                     f'{esc(t)}</text>')
    parts.append("</svg>\n")
    return "".join(parts)


def gate_passed(corpus: dict) -> bool:
    g = corpus.get("readpst_growth")
    return bool(g and g.get("linear"))


# ----------------------------------------------------------------------------- variants

def variants(mailmill: str, skip_slow: bool) -> list[dict]:
    """Each variant: name, format (what it is compared with), family, argv template
    ({IN}, {OUT}, {REPORT}), and how its output is counted."""
    v = [
        {"name": "cat > /dev/null", "family": "floor", "format": None,
         "argv": ["sh", "-c", 'exec cat "$0" > /dev/null', "{IN}"], "count": None},
        {"name": "openssl dgst -sha256", "family": "floor", "format": None,
         "argv": ["openssl", "dgst", "-sha256", "{IN}"], "count": None},
        {"name": "readpst -j 0 -r (mbox)", "family": "readpst", "format": "mbox",
         "argv": ["readpst", "-j", "0", "-r", "-o", "{OUT}", "{IN}"], "count": "from",
         "reference": True},
        {"name": "readpst -j 0 -e (EML)", "family": "readpst", "format": "eml",
         "argv": ["readpst", "-j", "0", "-e", "-o", "{OUT}", "{IN}"], "count": "eml",
         "reference": True},
    ]
    # readpst's default mode: no -j, so it forks children (one per folder, up to 4 x cores).
    v += [
        {"name": "readpst -r (mbox, default forks)", "family": "readpst", "format": "mbox",
         "argv": ["readpst", "-r", "-o", "{OUT}", "{IN}"], "count": "from", "forks": True},
        {"name": "readpst -e (EML, default forks)", "family": "readpst", "format": "eml",
         "argv": ["readpst", "-e", "-o", "{OUT}", "{IN}"], "count": "eml", "forks": True},
    ]
    if not skip_slow:
        v.append({"name": "pffexport -t", "family": "pffexport", "format": "eml",
                  "argv": ["pffexport", "-q", "-t", "{OUT}/export", "{IN}"],
                  "count": "pff"})
    for fmt, label in (("mbox", "mbox"), ("eml", "EML"), ("batch", "batch")):
        for jobs in ("1", "0"):
            v.append({
                "name": f"mailmill {label} -j {jobs}", "family": "mailmill",
                "format": "mbox" if fmt == "batch" else fmt, "mm_format": fmt, "jobs": jobs,
                "argv": [mailmill, "convert", "{IN}", "-o", "{OUT}", "--format", fmt,
                         "--jobs", jobs, "--quiet", "--report", "{REPORT}"],
                "count": "from" if fmt == "mbox" else ("eml" if fmt == "eml" else None),
            })
    if not skip_slow:
        v.append({"name": "mailmill mbox -j 0 --reader libpff", "family": "mailmill-libpff",
                  "format": "mbox", "mm_format": "mbox", "jobs": "0",
                  "argv": [mailmill, "convert", "{IN}", "-o", "{OUT}", "--format", "mbox",
                           "--jobs", "0", "--quiet", "--reader", "libpff",
                           "--report", "{REPORT}"],
                  "count": "from"})
    return v


def slug(s: str) -> str:
    return re.sub(r"[^A-Za-z0-9]+", "-", s).strip("-").lower()


def run_variant(var: dict, corpus: dict, workdir: Path, keep: bool, rep: int) -> dict:
    key = corpus["key"]
    name = slug(var["name"])
    out = workdir / "out" / f"{key}-{name}"
    report = workdir / "reports" / f"{key}-{name}.json"
    logf = workdir / "logs" / f"{key}-{name}{'' if rep == 0 else f'.{rep}'}.log"
    timef = workdir / "logs" / f"{key}-{name}.time"
    rmtree(out)
    out.mkdir(parents=True)
    if report.exists():
        report.unlink()
    subs = {"{IN}": corpus["path"], "{OUT}": str(out), "{REPORT}": str(report)}
    argv = [subs.get(a, a) for a in var["argv"]]
    argv = [a.replace("{OUT}", str(out)) for a in argv]
    cmd = ["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timef)] + argv
    wait_after_delete(var.get("format") == "eml" or var["family"] == "pffexport")
    load = loadavg()
    log(f"{key}: {var['name']}: {shlex.join(argv)}")
    with open(logf, "wb") as lf:
        p = subprocess.run(cmd, stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    lines = [l for l in timef.read_text().splitlines() if l.strip()]
    wall, user, sys_, rss = lines[-1].split()
    r = {
        "corpus": key, "variant": var["name"], "family": var["family"],
        "format": var["format"], "command": shlex.join(argv), "exit": p.returncode,
        "wall_s": float(wall), "user_s": float(user), "sys_s": float(sys_),
        "cpu_s": round(float(user) + float(sys_), 2), "peak_rss_mib": round(int(rss) / 1024, 1),
        "loadavg_before": load, "reference": bool(var.get("reference")),
        "jobs": var.get("jobs"), "mm_format": var.get("mm_format"),
    }
    subprocess.run(["sync"])  # untimed: flush this run's dirty pages before the next one
    r["output_bytes"] = tree_bytes(out)
    c = var.get("count")
    if c == "from":
        r["count_from_lines"] = count_from_lines(out, ".mbox" if var["family"].startswith(
            "mailmill") else None)
    elif c == "eml":
        r["count_eml_files"] = count_files(out, ".eml")
    elif c == "pff":
        r["count_pff_messages"] = count_pff_messages(out)
    if report.exists():
        try:
            rj = json.loads(report.read_text())
            warn: dict[str, int] = {}
            for src in rj.get("sources", []):
                for f in src.get("folders", []):
                    for w in f.get("warnings", []):
                        warn[w.get("code", "?")] = warn.get(w.get("code", "?"), 0) + 1
            r["report"] = {"totals": rj.get("totals"), "balanced": rj.get("balanced"),
                           "seconds": rj.get("seconds"), "stages": rj.get("stages"),
                           "warnings": warn}
        except (OSError, ValueError) as e:
            r["report"] = {"error": str(e)}
    if var["family"].startswith("mailmill"):
        rep_ = r.get("report") or {}
        t = rep_.get("totals") or {}
        r["check"] = {
            "report_present": bool(t),
            "balanced": bool(rep_.get("balanced")),
            "seen_equals_generated": t.get("seen") == corpus["items"],
        }
        r["check"]["ok"] = all(r["check"].values()) and p.returncode == 0
    if p.returncode != 0:
        tail = logf.read_bytes()[-2000:].decode("utf-8", "replace")
        log(f"  exit {p.returncode}; log tail:\n{tail}")
    log(f"  wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s, rss {r['peak_rss_mib']:.0f} MiB, "
        f"out {r['output_bytes'] / 1e9:.2f} GB, load before {load:.2f}")
    if not keep:
        rmtree(out)
        subprocess.run(["sync"])
    return r


# ----------------------------------------------------------------------------- reporting

def derive(results: list[dict], corpora: dict) -> None:
    """MB/s, messages/s and the ratio to readpst -j 0 of the same format."""
    refs = {(r["corpus"], r["format"]): r["wall_s"] for r in results
            if r.get("reference") and r["exit"] == 0}
    forks = {(r["corpus"], r["format"]): r["wall_s"] for r in results
             if r.get("forks") and r["exit"] == 0}
    for r in results:
        c = corpora[r["corpus"]]
        w = max(r["wall_s"], 0.005)
        r["mb_per_s"] = round(c["bytes"] / MB / w, 1)
        r["messages_per_s"] = (round(c["items"] / w, 1)
                               if r["family"] not in ("floor",) else None)
        r["cpu_us_per_msg"] = (round(r["cpu_s"] / c["items"] * 1e6, 1)
                               if r["family"] not in ("floor",) else None)
        ref = refs.get((r["corpus"], r["format"])) if r["format"] else None
        r["ratio_to_readpst"] = round(ref / w, 2) if ref and not r.get("reference") else (
            1.0 if r.get("reference") else None)
        fk = forks.get((r["corpus"], r["format"])) if r["format"] else None
        r["ratio_to_readpst_forks"] = (round(fk / w, 2) if fk and r["family"].startswith(
            "mailmill") else None)
        # No ratio to a readpst whose time is not linear in the message count on this
        # corpus's shape (or was not checked): it would depend on the corpus size.
        r["ratio_withheld"] = not gate_passed(c)
        if r["ratio_withheld"]:
            r["ratio_to_readpst"] = None
            r["ratio_to_readpst_forks"] = None


def fmt_num(x, nd=1) -> str:
    if x is None:
        return "—"
    if isinstance(x, float):
        return f"{x:,.{nd}f}"
    return f"{x:,}"


def ratio_label(r: dict) -> str:
    if r.get("ratio_withheld") and r["format"]:
        return "withheld (gate)"
    if r["ratio_to_readpst"] is None:
        return "—"
    base = {"mbox": "-r", "eml": "-e"}[r["format"]]
    s = f"{r['ratio_to_readpst']:.2f}×"
    if r.get("reference"):
        return "1.00× (ref)"
    return f"{s} (vs {base})"


def markdown(results: list[dict], corpora: dict) -> str:
    out = []
    for key, c in corpora.items():
        out.append(f"**Corpus {c['title']}**: `{os.path.basename(c['path'])}`, "
                   f"{c['bytes'] / 1e9:.2f} GB, {c['items']:,} items "
                   f"(generator: `{' '.join(c['generate_options'])}`)")
        out.append("")
        g = c.get("readpst_growth")
        if g:
            out.append("Linearity gate (readpst -j 0 -r on the same generator options):")
            out.append("")
            out.append(readpst_growth.render(g))
        else:
            out.append("Linearity gate: not run (--skip-gate); ratios to readpst withheld.")
        out.append("")
        out.append("| Tool / variant | Wall s | CPU s | CPU µs/msg | Peak RSS MiB | MB/s | msg/s "
                   "| × readpst -j 0 (same format) | × readpst default forks | walls of the "
                   "rounds | exit |")
        out.append("|---|--:|--:|--:|--:|--:|--:|--:|--:|---|--:|")
        for r in results:
            if r["corpus"] != key:
                continue
            name = r["variant"]
            if r["family"].startswith("mailmill"):
                name = f"**{name}**"
            fk = r.get("ratio_to_readpst_forks")
            walls = " ".join(f"{x:.2f}" for x in r.get("walls", [r["wall_s"]]))
            out.append(f"| {name} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                       f"{fmt_num(r.get('cpu_us_per_msg'))} | "
                       f"{r['peak_rss_mib']:.0f} | {fmt_num(r['mb_per_s'])} | "
                       f"{fmt_num(r['messages_per_s'], 0)} | {ratio_label(r)} | "
                       f"{f'{fk:.2f}×' if fk else '—'} | {walls} | {r['exit']} |")
        out.append("")
    return "\n".join(out)


def counts_table(results: list[dict], corpora: dict) -> str:
    out = ["| Corpus | Variant | Generated | Tool's count | How counted | Output GB "
           "| mailmill report (seen = written + dup + skipped + failed) | Warnings | Check |",
           "|---|---|--:|--:|---|--:|---|---|---|"]
    for r in results:
        if r["family"] == "floor":
            continue
        c = corpora[r["corpus"]]
        if "count_from_lines" in r:
            cnt, how = r["count_from_lines"], '"From " lines in mbox'
        elif "count_eml_files" in r:
            cnt, how = r["count_eml_files"], ".eml files"
        elif "count_pff_messages" in r:
            cnt, how = r["count_pff_messages"], "Message* folders"
        elif r.get("note"):
            cnt, how = None, "see note"
        else:
            cnt, how = None, "(report only)"
        rep = ""
        t = (r.get("report") or {}).get("totals")
        if t:
            rep = (f"{t['seen']} = {t['written']} + {t['duplicates']} + {t['skipped']} + "
                   f"{t['failed']} ({'balanced' if r['report'].get('balanced') else 'UNBALANCED'})")
        warn = ""
        w = (r.get("report") or {}).get("warnings")
        if w is not None:
            warn = ", ".join(f"{v} {k}" for k, v in sorted(w.items())) or "none"
        chk = ""
        if "check" in r:
            chk = "ok" if r["check"]["ok"] else "FAIL " + ",".join(
                k for k, v in r["check"].items() if not v and k != "ok")
        out.append(f"| {r['corpus']} | {r['variant']} | {c['items']:,} | {fmt_num(cnt)} | {how} "
                   f"| {r['output_bytes'] / 1e9:.3f} | {rep} | {warn} | {chk} |")
    return "\n".join(out)


def notes(results: list[dict]) -> list[str]:
    out = [f"Note ({r['corpus']}, {r['variant']}): {r['note']}." for r in results if r.get("note")]
    return out + [""] if out else []


def stages_table(results: list[dict]) -> str:
    names = ["read", "convert", "build", "hash", "write"]
    out = ["| Corpus | Variant | Wall s | " + " | ".join(names) + " |",
           "|---|---|--:|" + "--:|" * len(names)]
    for r in results:
        st = (r.get("report") or {}).get("stages")
        if not st:
            continue
        cells = [f"{st[n]['seconds']:.2f}" if n in st else "—" for n in names]
        out.append(f"| {r['corpus']} | {r['variant']} | {r['wall_s']:.2f} | "
                   + " | ".join(cells) + " |")
    return "\n".join(out)


def targets(results: list[dict], corpora: dict) -> list[dict]:
    def find(corpus, name):
        for r in results:
            if r["corpus"] == corpus and r["variant"] == name and r["exit"] == 0:
                return r
        return None

    t = []
    for key, need in (("A", 5.0), ("B", 3.0)):
        if key not in corpora:
            continue
        for label, mm, ref in (("mbox", "mailmill mbox -j 0", "readpst -j 0 -r (mbox)"),
                               ("EML", "mailmill EML -j 0", "readpst -j 0 -e (EML)")):
            a, b = find(key, mm), find(key, ref)
            if a and b and not gate_passed(corpora[key]):
                t.append({"target": f"{key}: mailmill {label} ≥ {need:g}× faster than {ref}",
                          "figure": "withheld: readpst's time is not shown linear on this "
                                    "corpus shape (linearity gate)", "met": False})
            elif a and b:
                x = b["wall_s"] / max(a["wall_s"], 0.005)
                t.append({"target": f"{key}: mailmill {label} ≥ {need:g}× faster than {ref}",
                          "figure": f"{x:.2f}× ({b['wall_s']:.1f} s / {a['wall_s']:.1f} s)",
                          "met": x >= need})
        a, b = find(key, "mailmill mbox -j 0"), find(key, "readpst -j 0 -r (mbox)")
        if a and b:
            x = b["cpu_s"] / max(a["cpu_s"], 0.005)
            t.append({"target": f"{key}: mailmill CPU per message ≤ 1/3 of readpst -j 0's (mbox)",
                      "figure": f"{a['cpu_us_per_msg']:.1f} µs against {b['cpu_us_per_msg']:.1f}"
                                f" µs ({x:.2f}× less)", "met": x >= 3.0})
        base = find(key, "mailmill mbox -j 0")
        for label in ("EML", "batch"):
            o = find(key, f"mailmill {label} -j 0")
            if base and o:
                x = o["wall_s"] / max(base["wall_s"], 0.005)
                t.append({"target": f"{key}: mailmill {label} -j 0 within 1.5× of mbox's time",
                          "figure": f"{x:.2f}× ({o['wall_s']:.1f} s against "
                                    f"{base['wall_s']:.1f} s)", "met": x <= 1.5})
        for label in ("mbox", "EML", "batch"):
            j1, j0 = find(key, f"mailmill {label} -j 1"), find(key, f"mailmill {label} -j 0")
            if j1 and j0:
                x = j1["wall_s"] / max(j0["wall_s"], 0.005)
                t.append({"target": f"{key}: {label} speed-up -j 1 → -j 0 ({os.cpu_count()} "
                                    f"cores) ≥ 1.8×",
                          "figure": f"{x:.2f}× ({j1['wall_s']:.1f} s → {j0['wall_s']:.1f} s)",
                          "met": x >= 1.8})
        mm = [r for r in results if r["corpus"] == key and r["family"] == "mailmill"]
        if mm:
            worst = max(mm, key=lambda r: r["peak_rss_mib"])
            t.append({"target": f"{key}: mailmill peak RSS ≤ 256 MiB (native reader, all runs)",
                      "figure": f"max {worst['peak_rss_mib']:.0f} MiB ({worst['variant']})",
                      "met": worst["peak_rss_mib"] <= 256})
    return t


def svg_chart(results: list[dict], corpora: dict) -> str:
    colors = {"mailmill": "#1f77b4", "mailmill-libpff": "#7fb2de", "readpst": "#ff7f0e",
              "pffexport": "#d62728", "floor": "#9a9a9a"}
    bar_h, gap, label_w, chart_w, right_w = 18, 6, 300, 540, 230
    width = label_w + chart_w + right_w
    y = 50
    parts = []
    for key, c in corpora.items():
        rows = [r for r in results if r["corpus"] == key]
        if not rows:
            continue
        vmax = max(r["mb_per_s"] for r in rows) or 1
        parts.append(f'<text x="10" y="{y}" font-weight="bold" font-size="15">'
                     f'Corpus {esc(c["title"])}: {c["bytes"] / 1e9:.2f} GB, '
                     f'{c["items"]:,} items (MB/s = input size / wall time; longer is '
                     f'faster)</text>')
        y += 12
        top = y
        for r in rows:
            w = max(1.0, chart_w * r["mb_per_s"] / vmax)
            col = colors.get(r["family"], "#555")
            parts.append(f'<text x="{label_w - 8}" y="{y + bar_h - 5}" text-anchor="end" '
                         f'font-size="12">{esc(r["variant"])}</text>')
            parts.append(f'<rect x="{label_w}" y="{y}" width="{w:.1f}" height="{bar_h}" '
                         f'fill="{col}"><title>{esc(r["variant"])}: {r["mb_per_s"]} MB/s, '
                         f'{r["wall_s"]} s</title></rect>')
            extra = f"  ({r['ratio_to_readpst']:.2f}× readpst)" if (
                r.get("ratio_to_readpst") and not r.get("reference")) else ""
            parts.append(f'<text x="{label_w + w + 5:.1f}" y="{y + bar_h - 5}" '
                         f'font-size="11">{r["mb_per_s"]:,.1f} MB/s{esc(extra)}</text>')
            y += bar_h + gap
        parts.append(f'<line x1="{label_w}" y1="{top - 2}" x2="{label_w}" y2="{y - gap + 2}" '
                     f'stroke="#333"/>')
        y += 30
    legend_y = y
    lx = 10
    for fam, col in colors.items():
        parts.append(f'<rect x="{lx}" y="{legend_y - 11}" width="12" height="12" fill="{col}"/>')
        parts.append(f'<text x="{lx + 16}" y="{legend_y}" font-size="12">{fam}</text>')
        lx += 140
    height = legend_y + 20
    head = (f'<svg xmlns="http://www.w3.org/2000/svg" width="{width}" height="{height}" '
            f'viewBox="0 0 {width} {height}" font-family="sans-serif">'
            f'<rect width="100%" height="100%" fill="white"/>'
            f'<text x="10" y="22" font-size="17" font-weight="bold">mailmill end-to-end '
            f'throughput (MB/s of PST input, warm page cache)</text>')
    return head + "".join(parts) + "</svg>\n"


def esc(s: str) -> str:
    return s.replace("&", "&amp;").replace("<", "&lt;").replace(">", "&gt;")


# ----------------------------------------------------------------------------- --only mime

MIME_DOC = """The MIME path (--only mime): one generated mbox (`mailmill generate --format mbox
--target-bytes SIZE`, default 1G = 2^30 bytes, --quick 50M; --mime-size to change it, reused
when the file, its ground truth and the options sidecar match), read by four commands that run
alternately (A B C D, A B C D, ...; --repeat rounds, at least 3), each timed with
/usr/bin/time; the tables give the median wall and CPU (user + sys) seconds and MB/s = mbox
bytes / median wall (10^6 bytes):
  A  cat FILE > /dev/null                       the read floor
  B  Python: mailbox.mbox, every message parsed by email (compat32), every part's
     get_payload(decode=True)                   an independent reader doing the MIME work
  C  mailmill convert FILE -o OUT --format mbox --jobs 0
  D  mailmill convert FILE -o OUT --format eml --jobs 0
Checks (a run that fails them is reported, not hidden): Python's message count and every
mailmill report's seen and written equal the ground truth's line count, reports balanced.
A full run writes bench/mime-results.md and bench/mime-results.json; --quick writes
WORKDIR/mime-results-quick.{md,json} only (smoke figures, not results)."""

MIME_GEN_OPTIONS = [
    "--seed", "11", "--folders", "10", "--attachment-ratio", "0.1",
    "--attachment-min", "1000", "--attachment-max", "200000", "--html-ratio", "0.5",
    "--non-ascii-ratio", "0.2", "--transport-headers-ratio", "0.5", "--embedded-ratio", "0.02",
]

PY_MIME_READER = r"""import email, email.policy, mailbox, sys
box = mailbox.mbox(sys.argv[1], create=False)
n = parts = decoded = 0
for key in box.iterkeys():
    msg = email.message_from_bytes(box.get_bytes(key), policy=email.policy.compat32)
    n += 1
    for part in msg.walk():
        if part.is_multipart():
            continue
        parts += 1
        decoded += len(part.get_payload(decode=True) or b"")
print(f"messages {n} parts {parts} decoded_bytes {decoded}")
"""


def median(xs: list[float]) -> float:
    ys = sorted(xs)
    k = len(ys)
    return ys[k // 2] if k % 2 else (ys[k // 2 - 1] + ys[k // 2]) / 2


def ensure_mime_corpus(mailmill: str, workdir: Path, size: str) -> dict:
    path = workdir / f"mime-{size}.mbox"
    truth = Path(str(path) + ".jsonl")
    options = ["--format", "mbox", "--target-bytes", size] + MIME_GEN_OPTIONS
    items = generate_cached(mailmill, path, truth, options, "mime")
    return {"path": str(path), "truth": str(truth), "bytes": path.stat().st_size,
            "items": items, "generate_options": options}


def mime_variants(mailmill: str, reader: Path) -> list[dict]:
    return [
        {"name": "cat > /dev/null", "argv": ["sh", "-c", 'exec cat "$0" > /dev/null', "{IN}"]},
        {"name": "python mailbox + email (compat32, decode every part)",
         "argv": [sys.executable, str(reader), "{IN}"], "python": True},
        {"name": "mailmill convert --format mbox --jobs 0",
         "argv": [mailmill, "convert", "{IN}", "-o", "{OUT}", "--format", "mbox", "--jobs", "0",
                  "--quiet", "--report", "{REPORT}"], "mailmill": True},
        {"name": "mailmill convert --format eml --jobs 0",
         "argv": [mailmill, "convert", "{IN}", "-o", "{OUT}", "--format", "eml", "--jobs", "0",
                  "--quiet", "--report", "{REPORT}"], "mailmill": True},
    ]


def run_mime_once(var: dict, corpus: dict, workdir: Path, rnd: int) -> dict:
    name = slug(var["name"])
    out = workdir / "out" / f"mime-{name}"
    report = workdir / "reports" / f"mime-{name}.{rnd}.json"
    logf = workdir / "logs" / f"mime-{name}.{rnd}.log"
    timef = workdir / "logs" / f"mime-{name}.time"
    rmtree(out)
    if report.exists():
        report.unlink()
    subs = {"{IN}": corpus["path"], "{OUT}": str(out), "{REPORT}": str(report)}
    argv = [subs.get(a, a) for a in var["argv"]]
    wait_after_delete("eml" in var["name"].lower())
    log(f"mime round {rnd + 1}: {var['name']}")
    with open(logf, "wb") as lf:
        p = subprocess.run(["/usr/bin/time", "-f", "%e %U %S %M", "-o", str(timef)] + argv,
                           stdout=lf, stderr=subprocess.STDOUT, stdin=subprocess.DEVNULL)
    wall, user, sys_, rss = [l for l in timef.read_text().splitlines() if l.strip()][-1].split()
    r = {"variant": var["name"], "round": rnd, "exit": p.returncode, "wall_s": float(wall),
         "cpu_s": round(float(user) + float(sys_), 2), "peak_rss_mib": round(int(rss) / 1024, 1)}
    subprocess.run(["sync"])  # untimed
    problems = []
    if p.returncode != 0:
        problems.append(f"exit {p.returncode}")
    if var.get("python"):
        m = re.search(r"messages (\d+) parts (\d+) decoded_bytes (\d+)", logf.read_text())
        r["python_messages"] = int(m.group(1)) if m else None
        if r["python_messages"] != corpus["items"]:
            problems.append(f"python read {r['python_messages']} messages")
    if var.get("mailmill"):
        try:
            rj = json.loads(report.read_text())
            t = rj.get("totals") or {}
            r["totals"] = t
            if not rj.get("balanced"):
                problems.append("report not balanced")
            if t.get("seen") != corpus["items"] or t.get("written") != corpus["items"]:
                problems.append(f"report seen {t.get('seen')} written {t.get('written')}")
        except (OSError, ValueError) as e:
            problems.append(f"no report: {e}")
    r["problems"] = problems
    log(f"  wall {r['wall_s']:.2f} s, cpu {r['cpu_s']:.2f} s"
        + (f"; PROBLEMS: {', '.join(problems)}" if problems else ""))
    rmtree(out)
    return r


def run_mime(args, mailmill: str) -> int:
    global QUIET_AFTER_DELETE
    size = args.mime_size or ("50M" if args.quick else "1G")
    if args.quick:
        # The EML output of a smoke run is a few thousand files, not hundreds of thousands.
        QUIET_AFTER_DELETE = 5.0
    workdir = Path(args.workdir).resolve()
    for d in ("out", "logs", "reports"):
        (workdir / d).mkdir(parents=True, exist_ok=True)
    started = _dt.datetime.now().astimezone()
    info = {"date": started.isoformat(timespec="seconds"),
            "command": shlex.join([sys.executable, *sys.argv]),
            "machine": machine_info(workdir),
            "versions": {"mailmill": sh_out([mailmill, "--version"]),
                         "python": platform.python_version(),
                         "mailmill source": (sh_out(["git", "-C", str(REPO), "describe",
                                                     "--always", "--dirty"])
                                             if (REPO / ".git").exists() else "")},
            "quick": args.quick, "mailmill_sha256": file_sha256(mailmill),
            "warm_cache": "the input is read with cat before timing; the cache is not dropped"}
    corpus = ensure_mime_corpus(mailmill, workdir, size)
    reader = workdir / "mime_python_read.py"
    reader.write_text(PY_MIME_READER)
    log("mime: warming the page cache (cat, untimed)")
    subprocess.run(["sh", "-c", 'cat "$0" > /dev/null', corpus["path"]])
    vars_ = mime_variants(mailmill, reader)
    rounds = max(3, args.repeat)
    runs: list[dict] = []
    for rnd in range(rounds):  # alternating: A B C D, A B C D, ...
        for var in vars_:
            runs.append(run_mime_once(var, corpus, workdir, rnd))
    rows = []
    for var in vars_:
        mine = [r for r in runs if r["variant"] == var["name"]]
        wall = median([r["wall_s"] for r in mine])
        rows.append({"variant": var["name"], "runs": len(mine),
                     "wall_s": round(wall, 3), "cpu_s": round(median([r["cpu_s"] for r in mine]), 3),
                     "mb_per_s": round(corpus["bytes"] / MB / max(wall, 0.005), 1),
                     "messages_per_s": round(corpus["items"] / max(wall, 0.005), 1),
                     "walls": [r["wall_s"] for r in mine],
                     "peak_rss_mib": max(r["peak_rss_mib"] for r in mine),
                     "problems": sorted({p for r in mine for p in r["problems"]})})
    data = dict(info, corpus=corpus, rounds=rounds, summary=rows, runs=runs)
    md = mime_markdown(data)
    if args.quick:
        jpath, mpath = workdir / "mime-results-quick.json", workdir / "mime-results-quick.md"
    else:
        jpath, mpath = REPO / "bench" / "mime-results.json", REPO / "bench" / "mime-results.md"
    jpath.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    mpath.write_text(md)
    print(md)
    log(f"wrote {jpath} and {mpath}")
    return 1 if any(r["problems"] for r in rows) else 0


def mime_markdown(data: dict) -> str:
    m = data["machine"]
    c = data["corpus"]
    lines = []
    if data["quick"]:
        lines += ["**Smoke run (--quick): not benchmark figures.**", ""]
    lines += [
        f"Measured {data['date']} with `{data['command']}`.",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cores')} cores"
        f"{', ' + m['hypervisor'] + ' VM' if m.get('hypervisor') else ''}), "
        f"{m.get('memory_gib')} GiB RAM, disk {m.get('disk', {}).get('device')}, kernel "
        f"{m.get('kernel')}. Tools: "
        + "; ".join(f"{k}: {v}" for k, v in data["versions"].items() if v) + ".",
        "",
        f"Input: `{os.path.basename(c['path'])}`, {c['bytes']:,} bytes, {c['items']:,} messages "
        f"(generator: `{' '.join(c['generate_options'])}`). Warm page cache; "
        f"{data['rounds']} alternating rounds; medians.",
        "",
        "| Command | Wall s (median) | CPU s (median) | MB/s | msg/s | Peak RSS MiB | Walls | Check |",
        "|---|--:|--:|--:|--:|--:|---|---|",
    ]
    for r in data["summary"]:
        walls = ", ".join(f"{w:.2f}" for w in r["walls"])
        chk = "ok" if not r["problems"] else "**" + "; ".join(r["problems"]) + "**"
        lines.append(f"| {r['variant']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | "
                     f"{r['mb_per_s']:,.1f} | {r['messages_per_s']:,.0f} | "
                     f"{r['peak_rss_mib']:.0f} | {walls} | {chk} |")
    lines += ["", "MB/s = mbox bytes / median wall time (10^6 bytes per second). "
              "CPU = user + sys of the process and its threads.", ""]
    return "\n".join(lines)


# ----------------------------------------------------------------------------- main

def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailmill", default=str(REPO / "build" / "tools" / "mailmill"),
                    help="mailmill binary (default: build/tools/mailmill in the repo)")
    ap.add_argument("--workdir", default="/tmp/mailmill-bench",
                    help="corpora, outputs and results (needs ~20 GB free for the full run)")
    ap.add_argument("--quick", action="store_true",
                    help="small corpora (A = 5,000 messages, B = 50) for a smoke run")
    ap.add_argument("--only", choices=["A", "B", "mime"],
                    help="run one corpus only; mime: the MIME-path benchmark on a generated "
                         "mbox against cat and Python's mailbox/email (see bench/README.md)")
    ap.add_argument("--mime-size", help="--only mime: mbox size for `mailmill generate "
                    "--target-bytes` (default 1G; --quick 50M)")
    ap.add_argument("--skip-slow", action="store_true",
                    help="skip pffexport and the mailmill --reader libpff run")
    ap.add_argument("--variants", help="comma-separated substrings: run only variants whose "
                    "name contains one of them (readpst -j 0 and readpst's default mode always "
                    "run for the output formats of those picked)")
    ap.add_argument("--repeat", type=int, default=3,
                    help="alternating rounds (every variant once per round; at least 3): the "
                         "tables give the medians")
    ap.add_argument("--scaling", choices=["on", "off"], default=None,
                    help="the scaling curve of corpus A (default: on for full runs with A, "
                         "off with --quick)")
    ap.add_argument("--generate-only", action="store_true",
                    help="generate (or check) the corpora and stop")
    ap.add_argument("--render-only", action="store_true",
                    help="re-render results.md and results.svg from WORKDIR/results.json")
    ap.add_argument("--gate-repeat", type=int, default=3,
                    help="alternating readpst runs per size in the linearity gate (medians)")
    ap.add_argument("--skip-gate", action="store_true",
                    help="do not run the readpst linearity gate (every ratio to readpst is "
                         "then withheld)")
    ap.add_argument("--keep-outputs", action="store_true",
                    help="keep every output folder (default: deleted after counting)")
    args = ap.parse_args()

    if args.render_only:
        workdir = Path(args.workdir).resolve()
        data = json.loads((workdir / "results.json").read_text())
        corpora, results = data["corpora"], data["results"]
        derive(results, corpora)
        tg = targets(results, corpora)
        info = {k: v for k, v in data.items() if k not in ("corpora", "results", "targets")}
        save(workdir, info, corpora, results, tg)
        md = render_md(info, corpora, results, tg)
        (workdir / "results.md").write_text(md)
        print(md)
        return 0
    if args.quick:  # smoke figures, not results: no quiet periods after deletions
        global QUIET_AFTER_DELETE, QUIET_PER_FILE
        QUIET_AFTER_DELETE = QUIET_PER_FILE = 0.0
    mailmill = os.path.abspath(args.mailmill)
    if not os.access(mailmill, os.X_OK):
        sys.exit(f"mailmill binary not found: {mailmill} (build it first, or pass --mailmill)")
    if args.only == "mime":
        if not shutil.which("/usr/bin/time"):
            sys.exit("/usr/bin/time is not installed")
        return run_mime(args, mailmill)
    for tool in ("readpst", "openssl", "/usr/bin/time") + (() if args.skip_slow else
                                                            ("pffexport",)):
        if not shutil.which(tool):
            sys.exit(f"{tool} is not installed")
    workdir = Path(args.workdir).resolve()
    for d in ("out", "logs", "reports"):
        (workdir / d).mkdir(parents=True, exist_ok=True)

    free = shutil.disk_usage(workdir).free
    need = 2e9 if args.quick else 20e9
    if free < need:
        log(f"WARNING: only {free / 1e9:.1f} GB free under {workdir}; the "
            f"{'quick' if args.quick else 'full'} run needs about {need / 1e9:.0f} GB")
    else:
        log(f"{free / 1e9:.1f} GB free under {workdir} (need ~{need / 1e9:.0f} GB)")

    started = _dt.datetime.now().astimezone()
    info = {"date": started.isoformat(timespec="seconds"),
            "command": shlex.join([sys.executable, *sys.argv]),
            "machine": machine_info(workdir), "versions": tool_versions(mailmill),
            "warm_cache": "each input is read with cat before timing; the page cache is not "
                          "dropped (needs root)",
            "quick": args.quick, "mailmill_sha256": file_sha256(mailmill)}
    keys = [args.only] if args.only else ["A", "B"]
    corpora = {k: ensure_corpus(k, mailmill, workdir, args.quick) for k in keys}
    if args.generate_only:
        for c in corpora.values():
            print(f"{c['key']}: {c['path']} {c['bytes']:,} bytes, {c['items']:,} items "
                  f"{c['kinds']}")
        return 0
    if not args.skip_gate:
        for k, c in corpora.items():
            c["readpst_growth"] = linearity_gate(k, mailmill, workdir, args.quick,
                                                 args.gate_repeat, False)

    rounds = max(3, args.repeat)
    results: list[dict] = []
    for key in keys:
        c = corpora[key]
        log(f"corpus {key}: warming the page cache (cat, untimed)")
        subprocess.run(["sh", "-c", 'cat "$0" > /dev/null', c["path"]])
        every = variants(mailmill, args.skip_slow)
        picked = [v for v in every if not args.variants or any(
            s.strip() in v["name"] for s in args.variants.split(","))]
        # readpst (-j 0 and default forks) always runs for every format a picked variant has.
        formats = {v["format"] for v in picked if v["format"]}
        vars_ = [v for v in every if v in picked or (
            (v.get("reference") or v.get("forks")) and v["format"] in formats)]
        runs: dict[str, list[dict]] = {v["name"]: [] for v in vars_}
        for rnd in range(rounds):  # alternating: A B C ..., A B C ..., ...
            log(f"corpus {key}: round {rnd + 1} of {rounds}")
            for var in vars_:
                r = run_variant(var, c, workdir, args.keep_outputs, rnd)
                r["measured_at"] = _dt.datetime.now().astimezone().isoformat(timespec="seconds")
                if r["family"].startswith("mailmill"):
                    r["mailmill_sha256"] = info["mailmill_sha256"]
                runs[var["name"]].append(r)
        for var in vars_:
            rs = runs[var["name"]]
            med = dict(rs[-1])  # counts, report and checks of the last round
            med["forks"] = bool(var.get("forks"))
            med["runs"] = len(rs)
            med["walls"] = [x["wall_s"] for x in rs]
            med["cpus"] = [x["cpu_s"] for x in rs]
            med["wall_s"] = round(median(med["walls"]), 3)
            med["cpu_s"] = round(median(med["cpus"]), 3)
            med["user_s"] = round(median([x["user_s"] for x in rs]), 3)
            med["sys_s"] = round(median([x["sys_s"] for x in rs]), 3)
            med["peak_rss_mib"] = max(x["peak_rss_mib"] for x in rs)
            med["exit"] = next((x["exit"] for x in rs if x["exit"] != 0), 0)
            if "check" in med:
                med["check"]["ok"] = all(x.get("check", {}).get("ok") for x in rs)
            results.append(med)
        derive(results, corpora)
        save(workdir, info, corpora, results)

    if "A" in corpora and (args.scaling == "on" or (args.scaling is None and not args.quick)):
        corpora["A"]["scaling"] = scaling_curve(mailmill, workdir, corpora["A"], args.quick,
                                                rounds)
        (workdir / "scaling.svg").write_text(scaling_svg(corpora["A"]["scaling"]))
        if not args.quick:
            shutil.copyfile(workdir / "scaling.svg", REPO / "bench" / "scaling.svg")

    results = sorted(results, key=lambda r: r["corpus"])
    derive(results, corpora)
    tg = targets(results, corpora)
    save(workdir, info, corpora, results, tg)
    md = render_md(info, corpora, results, tg)
    (workdir / "results.md").write_text(md)
    print(md)
    log(f"wrote {workdir / 'results.json'}, {workdir / 'results.svg'}, {workdir / 'results.md'}")
    bad = [r for r in results if "check" in r and not r["check"]["ok"]]
    return 1 if bad else 0


def render_md(info, corpora, results, tg) -> str:
    m = info["machine"]
    disk = m.get("disk", {})
    lines = [
        f"Measured {info['date']} with `{info['command']}`.",
        "",
        f"Machine: {m.get('cpu')} ({m.get('cores')} cores"
        f"{', ' + m['hypervisor'] + ' VM' if m.get('hypervisor') else ''}), "
        f"{m.get('memory_gib')} GiB RAM, disk {disk.get('device')} ({disk.get('fstype')}, "
        f"{disk.get('size')}), kernel {m.get('kernel')}.",
        "Tools: " + "; ".join(f"{k}: {v}" for k, v in info["versions"].items() if v) + ".",
        "Warm page cache (the input is read with `cat` first; the cache is not dropped). "
        "Input, outputs and work folder on the same disk. MB/s = input PST bytes / wall "
        "time (10^6 bytes); msg/s = generated items / wall time; × readpst = readpst -j 0 "
        "wall time / this wall time for the same output format (batch is compared with "
        "mbox, pffexport with EML).",
        "",
        markdown(results, corpora),
        "Message counts:",
        "",
        counts_table(results, corpora),
        "",
        *notes(results),
        *([f"Scaling (corpus A's options at several sizes; readpst -j 0 -r and mailmill mbox -j 0 "
           f"alternating, medians of {corpora['A']['scaling']['rounds']}; plot: scaling.svg):",
           "", scaling_table(corpora["A"]["scaling"]), ""]
          if "A" in corpora and corpora["A"].get("scaling") else []),
        "mailmill stage seconds from --report (summed over worker threads, so with -j 0 they "
        "can exceed the wall time):",
        "",
        stages_table(results),
        "",
    ]
    if tg:
        lines += ["Targets:", "", "| Target | Figure | Met |", "|---|---|---|"]
        lines += [f"| {t['target']} | {t['figure']} | {'yes' if t['met'] else '**no**'} |"
                  for t in tg]
        lines.append("")
    return "\n".join(lines)


def file_sha256(path: str) -> str:
    import hashlib
    h = hashlib.sha256()
    with open(path, "rb") as f:
        for chunk in iter(lambda: f.read(MIB), b""):
            h.update(chunk)
    return h.hexdigest()


def save(workdir: Path, info: dict, corpora: dict, results: list[dict], tg=None) -> None:
    data = dict(info)
    data["corpora"] = corpora
    data["results"] = results
    if tg is not None:
        data["targets"] = tg
    tmp = workdir / "results.json.tmp"
    tmp.write_text(json.dumps(data, indent=2, ensure_ascii=False) + "\n")
    tmp.replace(workdir / "results.json")
    (workdir / "results.svg").write_text(svg_chart(results, corpora))


if __name__ == "__main__":
    sys.exit(main())
