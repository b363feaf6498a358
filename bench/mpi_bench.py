#!/usr/bin/env python3
"""Distributed runs (issue 17, item 5): one conversion as a single process and over 2 and 4 MPI
ranks on this machine, and the key exchange's bytes per message, measured and then projected
to 10, 100 and 1,000 ranks by a stated model that the measurement checks first.

Corpus (generated once into WORKDIR, reused while the options are the same): three
Outlook-shaped PSTs with edb_bench.py's generator options (`--encryption compressible`):
A = seed 1, M messages; B = seed 2, M messages of which 20 % copy earlier ones
(`--duplicate-ratio 0.2`); C = seed 1 again with M/5 messages, which are the first M/5
messages of A, so every message of C is a duplicate from another input. M = TOTAL / 2.2.

Configurations, each run once per round in a rotated order (A B C D, B C D A, ...) with a
fresh output folder, medians of at least 3 rounds:
  single, --jobs 1     mailmill convert A B C -o OUT --format mbox --jobs 1
  single, --jobs C     the same with every core of the machine
  mpirun -np 2         mpirun -np 2 mailmill convert ... --jobs 1
  mpirun -np 4         mpirun -np 4 --oversubscribe mailmill convert ... --jobs 1
  the fixed costs      single and mpirun -np N with a 1-message input (MPI_Init, planning,
                       assembly, MPI_Finalize), and `mpirun -np N true` (the launcher alone)
Every output (manifest.jsonl, and every other file outside OUT/.mailmill) must be byte for
byte the one of an untimed single-process --jobs 1 run, or nothing is reported.

    python3 bench/mpi_bench.py [--mailmill build/tools/mailmill] [--messages 40000]
                               [--rounds 3] [--workdir /tmp/mailmill-mpi-bench] [--quick]

Writes bench/mpi-results.md and bench/mpi-results.json (WORKDIR copies with --quick, which
uses 2,000 messages: a smoke run, not figures). Run it alone on the machine: it measures CPU.
"""
import argparse
import hashlib
import json
import math
import os
import re
import resource
import shutil
import signal
import statistics
import subprocess
import sys
import threading
import time
from pathlib import Path

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))
from edb_bench import GEN_OPTIONS as EDB_GEN_OPTIONS  # noqa: E402


def without_seed(opts: list[str]) -> list[str]:
    out, skip = [], False
    for o in opts:
        if skip:
            skip = False
        elif o == "--seed":
            skip = True
        else:
            out.append(o)
    return out


GEN_OPTIONS = without_seed(EDB_GEN_OPTIONS) + ["--encryption", "compressible"]

# The key exchange as src/pipeline/keyexchange.cc and cluster.cc implement it (the model).
ROUND_S = 0.020        # pass 1: a round starts at most every 20 ms per 8 ranks while converting


def round_s(n: int) -> float:
    """KeySpreader::round_interval: 20 ms per started group of 8 ranks."""
    return ROUND_S * ((n + 7) // 8)
KEY_BATCH = 1 << 16    # pass 2: keys per rank per question round (convert.cc KEY_BATCH)
P1_RECORD = 8 + 32     # pass 1: seq + key, to the key's owner
P2_QUESTION = 32       # pass 2: the key, to its owner
P2_ANSWER = 8          # pass 2: the first seq of that key, back
PER_ITEM = P1_RECORD + P2_QUESTION + P2_ANSWER
FLAG = 1               # pass 1 rounds and pass 2 question rounds: a flag byte to every peer
COUNT = 8              # every round: an 8-byte count to every peer (MPI_Ialltoall, unreported)

# Run as a rank by the untimed check run: runs mailmill, then records its CPU and peak RSS.
RANK_WRAPPER = r"""
import json, os, subprocess, sys
p = subprocess.Popen(sys.argv[2:])
_, status, ru = os.wait4(p.pid, 0)
rank = os.environ.get("OMPI_COMM_WORLD_RANK", os.environ.get("PMIX_RANK", "x"))
with open(os.path.join(sys.argv[1], "rank-%s.json" % rank), "w") as f:
    json.dump({"rank": rank, "cpu_s": ru.ru_utime + ru.ru_stime, "maxrss_kib": ru.ru_maxrss}, f)
sys.exit(os.waitstatus_to_exitcode(status))
"""


def proc_cpu(pid: int) -> tuple[float, float]:
    """Own CPU and reaped descendants' CPU of an exited, not yet reaped, process (seconds)."""
    with open(f"/proc/{pid}/stat") as f:
        fields = f.read().rsplit(")", 1)[1].split()
    tick = os.sysconf("SC_CLK_TCK")
    # Fields 14-17 of proc(5): utime stime cutime cstime; the split starts at field 3.
    utime, stime, cutime, cstime = (int(x) / tick for x in fields[11:15])
    return utime + stime, cutime + cstime


def run_timed(cmd: list[str], env: dict, timeout: float, log: Path) -> dict:
    """Wall seconds; CPU seconds (user + system) of the child and every descendant it waited
    for, from RUSAGE_CHILDREN; the same split into the child's own and its descendants' (read
    from /proc before reaping it); peak RSS of the largest single process of the tree (KiB)."""
    before = resource.getrusage(resource.RUSAGE_CHILDREN)
    with open(log, "wb") as err:
        t0 = time.perf_counter()
        p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=err, env=env,
                             start_new_session=True)
        killer = threading.Timer(timeout, lambda: os.killpg(p.pid, signal.SIGKILL))
        killer.start()
        try:
            os.waitid(os.P_PID, p.pid, os.WEXITED | os.WNOWAIT)
        except BaseException:  # interrupted: take the run's processes down with us
            os.killpg(p.pid, signal.SIGKILL)
            raise
        finally:
            killer.cancel()
        wall = time.perf_counter() - t0
        own, descendants = proc_cpu(p.pid)
        _, status, ru = os.wait4(p.pid, 0)
        p.returncode = os.waitstatus_to_exitcode(status)
    after = resource.getrusage(resource.RUSAGE_CHILDREN)
    cpu = (after.ru_utime - before.ru_utime) + (after.ru_stime - before.ru_stime)
    return {"wall_s": wall, "cpu_s": cpu, "own_cpu_s": own, "descendants_cpu_s": descendants,
            "maxrss_kib": ru.ru_maxrss, "rc": p.returncode}


def tree_digest(out: Path) -> tuple[str, str]:
    """sha256 of manifest.jsonl, and of every file's path and bytes outside OUT/.mailmill."""
    manifest = hashlib.sha256((out / "manifest.jsonl").read_bytes()).hexdigest()
    h = hashlib.sha256()
    for path in sorted(p for p in out.rglob("*") if p.is_file()):
        rel = path.relative_to(out)
        if rel.parts[0] == ".mailmill":
            continue
        h.update(str(rel).encode() + b"\0")
        with open(path, "rb") as f:
            for block in iter(lambda: f.read(1 << 20), b""):
                h.update(block)
        h.update(b"\0")
    return manifest, h.hexdigest()


def machine() -> dict:
    info = {"cpus": os.cpu_count()}
    try:
        text = subprocess.run(["lscpu"], capture_output=True, text=True).stdout
        for key, name in (("Model name", "cpu_model"), ("CPU(s)", "lscpu_cpus"),
                          ("Thread(s) per core", "threads_per_core"),
                          ("Core(s) per socket", "cores_per_socket"), ("Socket(s)", "sockets")):
            m = re.search(rf"^{re.escape(key)}:\s*(.+)$", text, re.M)
            if m:
                info[name] = m.group(1).strip()
    except OSError:
        pass
    return info


def make_corpus(mm: str, work: Path, total: int) -> tuple[list[Path], dict]:
    m = round(total / 2.2)
    specs = [("a", ["--seed", "1", "--messages", str(m)]),
             ("b", ["--seed", "2", "--messages", str(m), "--duplicate-ratio", "0.2"]),
             ("c", ["--seed", "1", "--messages", str(m // 5)]),
             ("one", ["--seed", "1", "--messages", "1"])]
    key = hashlib.sha256(json.dumps([GEN_OPTIONS, specs]).encode()).hexdigest()[:12]
    corpus = work / f"corpus-{total}-{key}"
    if not (corpus / "done").exists():
        shutil.rmtree(corpus, ignore_errors=True)
        corpus.mkdir(parents=True)
        for name, extra in specs:
            subprocess.run([mm, "generate", "-o", str(corpus / f"{name}.pst"), "--format", "pst"]
                           + extra + GEN_OPTIONS, check=True, stdout=subprocess.DEVNULL)
        (corpus / "done").write_text("")
    return [corpus / f"{n}.pst" for n, _ in specs if n != "one"], {
        "per_input": {n: " ".join(e + GEN_OPTIONS) for n, e in specs}, "m": m, "dir": str(corpus)}


def pass2_iterations(per_rank: list[dict]) -> int:
    # A rank's batches: full ones while they come, then the short (possibly empty) last one;
    # the rounds go on while any rank still has some.
    return max(r["keys_offered"] // KEY_BATCH + 1 for r in per_rank)


def check_exchange(mpi: dict) -> dict:
    """The model against one run's report. The rounds are timing, so they are taken from the
    report; the structure must then account for every byte exactly: measured bytes minus the
    flag bytes is 80 bytes per key that crossed to another rank. Which keys cross is decided by
    the keys' hashes: binomial around K (N-1)/N."""
    n, keyed, distinct = mpi["ranks"], mpi["keyed_items"], mpi["distinct_keys"]
    per_rank = mpi["per_rank"]
    rounds = {r["exchange_rounds"] for r in per_rank}
    i2 = pass2_iterations(per_rank)
    r1 = mpi["exchange_rounds"] - 2 * i2
    flags = n * (n - 1) * (r1 + i2) * FLAG
    rest = mpi["exchange_bytes"] - flags
    p = (n - 1) / n
    expected = keyed * p
    # Copies of one key go to one owner together, so they cross together: the variance is
    # p (1-p) sum(m^2) over the keys' multiplicities m; with copies in pairs that is K + 2 (K - D).
    sd = math.sqrt(p * (1 - p) * (keyed + 2 * (keyed - distinct)))
    crossing = rest / PER_ITEM
    model = expected * PER_ITEM + flags
    ok = (len(rounds) == 1 and r1 >= 1 and rest >= 0 and rest % PER_ITEM == 0
          and abs(crossing - expected) <= 4 * sd + 1)
    max_convert = max(r["convert_seconds"] for r in per_rank)
    return {"ranks": n, "keyed_items": keyed, "distinct_keys": distinct,
            "rounds": mpi["exchange_rounds"], "rounds_pass1": r1, "rounds_pass2": 2 * i2,
            "rounds_pass1_bound": math.ceil(max_convert / round_s(n)) + 2,
            "rounds_equal_on_every_rank": len(rounds) == 1,
            "exchange_bytes": mpi["exchange_bytes"], "flag_bytes": flags,
            "bytes_per_keyed": mpi["exchange_bytes"] / keyed,
            "crossing_keys": crossing, "crossing_expected": expected, "crossing_sd": sd,
            "crossing_deviation_sd": (crossing - expected) / sd if sd else 0.0,
            "model_bytes": model, "measured_over_model": mpi["exchange_bytes"] / model,
            "count_bytes_unreported": n * (n - 1) * (r1 + 2 * i2) * COUNT,
            "max_convert_s": max_convert,
            "max_dedup_s": max(r["dedup_seconds"] for r in per_rank), "ok": ok}


def project(n: int, messages: int, rank_rate: float) -> dict:
    """The model at n ranks: `messages` keyed messages, evenly spread, each rank converting
    `rank_rate` messages a second. Rounds every round_s(n) is an upper bound (a round starts only
    when the last one is complete), so the header figures are upper bounds too."""
    payload = messages * PER_ITEM * (n - 1) / n
    convert_s = messages / (n * rank_rate)
    r1 = math.ceil(convert_s / round_s(n)) + 1
    i2 = (messages // n) // KEY_BATCH + 1
    head1 = n * (n - 1) * r1 * (FLAG + COUNT)
    head2 = n * (n - 1) * i2 * (FLAG + COUNT + COUNT)
    total = payload + head1 + head2
    return {"ranks": n, "messages": messages, "rank_rate": rank_rate, "convert_s": convert_s,
            "rounds_pass1": r1, "rounds_pass2": 2 * i2, "payload_bytes": payload,
            "header_bytes_pass1": head1, "header_bytes_pass2": head2, "total_bytes": total,
            "bytes_per_message": total / messages,
            "payload_per_message": payload / messages,
            "header_per_message": (head1 + head2) / messages,
            "rank_header_bytes_per_s": (n - 1) * (FLAG + COUNT) / round_s(n),
            "rank_payload_bytes_per_s": rank_rate * P1_RECORD * (n - 1) / n,
            "rank_mpi_messages_per_s": 2 * (n - 1) / round_s(n)}


def fmt_bytes(b: float) -> str:
    for unit, scale in (("TB", 1e12), ("GB", 1e9), ("MB", 1e6), ("kB", 1e3)):
        if b >= scale:
            return f"{b / scale:,.1f} {unit}"
    return f"{b:,.0f} B"


def main() -> int:
    ap = argparse.ArgumentParser(description=__doc__,
                                 formatter_class=argparse.RawDescriptionHelpFormatter)
    ap.add_argument("--mailmill", default="build/tools/mailmill")
    ap.add_argument("--mpirun", default="mpirun")
    ap.add_argument("--messages", type=int, default=40000, help="all three inputs together")
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--ranks", default="2,4", help="rank counts to run under mpirun")
    ap.add_argument("--workdir", default="/tmp/mailmill-mpi-bench")
    ap.add_argument("--project-messages", type=int, default=100_000_000)
    ap.add_argument("--rank-rate", type=float, default=0.0,
                    help="messages/s of one rank for the projection (default: the measured "
                    "single process on every core, i.e. one rank per host like this one)")
    ap.add_argument("--timeout", type=float, default=3600.0, help="seconds per run")
    ap.add_argument("--quick", action="store_true", help="2,000 messages, results in WORKDIR only")
    args = ap.parse_args()
    if args.rounds < 3 and not args.quick:
        ap.error("--rounds must be at least 3")
    total = 2000 if args.quick else args.messages
    ranks = [int(x) for x in args.ranks.split(",")]
    if any(n < 2 for n in ranks):
        ap.error("--ranks: 2 or more (one rank is the single-process path)")
    work = Path(args.workdir).resolve()
    work.mkdir(parents=True, exist_ok=True)
    mm = str(Path(args.mailmill).resolve())
    mpirun = shutil.which(args.mpirun)
    if not mpirun:
        ap.error(f"{args.mpirun} not found")
    cores = os.cpu_count() or 1
    env = dict(os.environ, OMPI_MCA_btl_vader_single_copy_mechanism="none")
    if os.geteuid() == 0:
        env.update(OMPI_ALLOW_RUN_AS_ROOT="1", OMPI_ALLOW_RUN_AS_ROOT_CONFIRM="1")

    inputs, corpus = make_corpus(mm, work, total)
    print(f"corpus {corpus['dir']}: " + ", ".join(f"{p.name} {p.stat().st_size / 1e6:,.1f} MB"
                                                 for p in inputs), flush=True)

    def convert(out: Path, report: Path, jobs: int, what: list[Path] = inputs) -> list[str]:
        return [mm, "convert", *map(str, what), "-o", str(out), "--format", "mbox",
                "--jobs", str(jobs), "--report", str(report), "--quiet"]

    def launch(n: int) -> list[str]:
        return [mpirun, "-np", str(n)] + (["--oversubscribe"] if n > cores else [])

    configs = [{"name": "single --jobs 1", "kind": "single", "ranks": 1, "jobs": 1},
               {"name": f"single --jobs {cores}", "kind": "single", "ranks": 1, "jobs": cores}]
    configs += [{"name": f"mpirun -np {n} --jobs 1", "kind": "mpi", "ranks": n, "jobs": 1}
                for n in ranks]
    configs += [{"name": f"{w}, 1 message", "kind": "fixed", "ranks": n, "jobs": 1}
                for w, n in [("single", 1)] + [(f"mpirun -np {n}", n) for n in ranks]]
    configs += [{"name": f"mpirun -np {n} true", "kind": "launcher", "ranks": n, "jobs": 0}
                for n in ranks]
    one = Path(corpus["dir"]) / "one.pst"
    for i, c in enumerate(configs):
        c["out"] = work / f"out-{i}"
        c["report"] = work / f"report-{i}.json"
        if c["kind"] == "single":
            c["cmd"] = convert(c["out"], c["report"], c["jobs"])
        elif c["kind"] == "mpi":
            c["cmd"] = launch(c["ranks"]) + convert(c["out"], c["report"], c["jobs"])
        elif c["kind"] == "fixed":
            c["cmd"] = ((launch(c["ranks"]) if c["ranks"] > 1 else [])
                        + convert(c["out"], c["report"], c["jobs"], [one]))
        else:
            c["cmd"] = launch(c["ranks"]) + ["true"]
        c["runs"] = []

    def run(cmd: list[str], out: Path | None, what: str) -> dict:
        if out is not None:
            shutil.rmtree(out, ignore_errors=True)
        r = run_timed(cmd, env, args.timeout, work / "stderr.log")
        if r["rc"] != 0:
            sys.stderr.write((work / "stderr.log").read_text(errors="replace")[-3000:])
            raise SystemExit(f"{what} failed with exit code {r['rc']}: {' '.join(cmd)}")
        return r

    # The reference: an untimed single-process run (it also warms the page cache).
    ref_out, ref_report = work / "out-reference", work / "report-reference.json"
    run(convert(ref_out, ref_report, 1), ref_out, "the reference run")
    reference = tree_digest(ref_out)
    ref_totals = json.loads(ref_report.read_text())["totals"]
    print(f"reference: {ref_totals}", flush=True)
    if ref_totals["duplicates"] < round(total / 2.2) // 5:
        raise SystemExit("the corpus has fewer duplicates than input C alone should give")

    mismatches = []

    def check_output(c: dict, label: str) -> dict:
        report = json.loads(c["report"].read_text())
        if c["kind"] == "fixed":
            if c["ranks"] > 1 and report.get("mpi", {}).get("ranks") != c["ranks"]:
                raise SystemExit(f"{label}: the report has no 'mpi' object for {c['ranks']} ranks")
            return report
        manifest, tree = tree_digest(c["out"])
        if manifest != reference[0]:
            mismatches.append(f"{label}: manifest.jsonl differs from the single-process run's")
        elif tree != reference[1]:
            mismatches.append(f"{label}: output files differ from the single-process run's")
        if c["kind"] == "mpi":
            mpi = report.get("mpi")
            if not mpi or mpi["ranks"] != c["ranks"]:
                raise SystemExit(f"{label}: the report has no 'mpi' object for {c['ranks']} "
                                 "ranks (is mailmill built with MPI?)")
        if mismatches:
            keep = work / f"mismatch-{len(mismatches)}"
            shutil.rmtree(keep, ignore_errors=True)
            c["out"].rename(keep)
            raise SystemExit("\n".join(mismatches) + f"\n(kept in {keep}); no results: a "
                             "benchmark of a wrong result measures nothing")
        return report

    # Untimed, once per rank count: every rank wrapped to record its own CPU and peak RSS,
    # to see whether RUSAGE_CHILDREN of mpirun covers its ranks.
    cpu_checks = {}
    for c in configs:
        if c["kind"] != "mpi":
            continue
        rank_dir = work / f"ranks-{c['ranks']}"
        shutil.rmtree(rank_dir, ignore_errors=True)
        rank_dir.mkdir()
        cmd = (launch(c["ranks"]) + [sys.executable, "-c", RANK_WRAPPER, str(rank_dir)]
               + convert(c["out"], c["report"], c["jobs"]))
        r = run(cmd, c["out"], f"the check run of {c['name']}")
        check_output(c, f"check run of {c['name']}")
        per = [json.loads(p.read_text()) for p in sorted(rank_dir.glob("rank-*.json"))]
        if len(per) != c["ranks"]:
            raise SystemExit(f"{c['name']}: {len(per)} of {c['ranks']} ranks reported their CPU")
        ranks_cpu = sum(p["cpu_s"] for p in per)
        cpu_checks[c["ranks"]] = {
            "rusage_children_cpu_s": r["cpu_s"], "mpirun_own_cpu_s": r["own_cpu_s"],
            "mpirun_descendants_cpu_s": r["descendants_cpu_s"], "ranks_cpu_s": ranks_cpu,
            "ranks": per, "ranks_maxrss_sum_kib": sum(p["maxrss_kib"] for p in per),
            "covered": r["cpu_s"] >= ranks_cpu and r["descendants_cpu_s"] >= 0.9 * ranks_cpu}
        print(f"check {c['name']}: RUSAGE_CHILDREN {r['cpu_s']:.2f} s CPU = mpirun itself "
              f"{r['own_cpu_s']:.2f} s + its descendants {r['descendants_cpu_s']:.2f} s; the "
              f"ranks measured themselves at {ranks_cpu:.2f} s", flush=True)

    rounds = max(1, args.rounds)
    for rnd in range(rounds):
        order = configs[rnd % len(configs):] + configs[:rnd % len(configs)]
        for c in order:
            r = run(c["cmd"], c["out"] if c["kind"] != "launcher" else None, c["name"])
            if c["kind"] != "launcher":
                report = check_output(c, f"round {rnd + 1} {c['name']}")
                r["totals"] = report["totals"]
                r["report_seconds"] = report["seconds"]
                if c["kind"] == "mpi":
                    r["mpi"] = report["mpi"]
                    r["exchange"] = check_exchange(report["mpi"])
                shutil.rmtree(c["out"], ignore_errors=True)
            c["runs"].append(r)
            print(f"round {rnd + 1} {c['name']}: {r['wall_s']:.2f} s wall, {r['cpu_s']:.2f} s "
                  f"CPU, {r['maxrss_kib'] / 1024:.0f} MiB", flush=True)

    seen = ref_totals["seen"]
    rows = []
    for c in configs:
        runs = c["runs"]
        med = {k: statistics.median(r[k] for r in runs)
               for k in ("wall_s", "cpu_s", "own_cpu_s", "maxrss_kib")}
        row = {"config": c["name"], "kind": c["kind"], "ranks": c["ranks"], "jobs": c["jobs"],
               "command": " ".join(c["cmd"]), **med, "walls": [r["wall_s"] for r in runs],
               "runs": runs}
        if c["kind"] != "launcher":
            row["report_seconds"] = statistics.median(r["report_seconds"] for r in runs)
        if c["kind"] in ("single", "mpi"):
            row["msgs_per_s"] = seen / med["wall_s"]
            row["us_cpu_per_msg"] = med["cpu_s"] / seen * 1e6
        rows.append(row)
    by_name = {r["config"]: r for r in rows}

    # The key exchange: every MPI run against the model, then the projection.
    exchange = []
    for c in configs:
        if c["kind"] == "mpi":
            checks = [r["exchange"] for r in c["runs"]]
            mid = sorted(checks, key=lambda x: x["rounds"])[len(checks) // 2]
            exchange.append({**mid, "all_ok": all(x["ok"] for x in checks),
                             "rounds_of_runs": [x["rounds"] for x in checks],
                             "bytes_of_runs": [x["exchange_bytes"] for x in checks]})
    model_ok = all(x["all_ok"] for x in exchange)
    rank_rate = args.rank_rate or by_name[f"single --jobs {cores}"]["msgs_per_s"]
    projection = ([project(n, args.project_messages, rank_rate) for n in (10, 100, 1000)]
                  if model_ok else [])

    info = {"measured": time.strftime("%Y-%m-%dT%H:%M:%S%z"), **machine(),
            "command": " ".join(sys.argv), "quick": args.quick, "messages": total,
            "seen": seen, "totals": ref_totals, "corpus": corpus, "rounds": rounds,
            "mpirun": subprocess.run([mpirun, "--version"], capture_output=True,
                                     text=True).stdout.splitlines()[0],
            "mailmill": subprocess.run([mm, "--version"], capture_output=True,
                                       text=True).stdout.strip().replace("\n", "; "),
            "env": {k: v for k, v in env.items() if k.startswith("OMPI_")}}

    md = [f"MPI runs on one machine (issue 17), measured {info['measured']} with "
          f"`{info['command']}`{' (--quick: a smoke run, not figures)' if args.quick else ''}.",
          "",
          f"Machine: {info.get('cpu_model', '?')}, {info.get('lscpu_cpus', cores)} CPUs "
          f"({info.get('sockets', '?')} socket(s) × {info.get('cores_per_socket', '?')} cores × "
          f"{info.get('threads_per_core', '?')} threads); {info['mailmill']}; {info['mpirun']}.",
          "",
          f"**This machine has {cores} cores.** More ranks than that cannot be faster than the "
          f"{cores}-thread single process: N ranks here share the same cores, and each also "
          "spools its share to disk for rank 0 to assemble, so the figures below show what "
          "distributing costs (launch, spooling, assembly, key exchange), not scaling.",
          "",
          f"Corpus: three PSTs, {seen:,} messages, {ref_totals['duplicates']:,} duplicates "
          f"(content dedup): A `{corpus['per_input']['a']}`, B `{corpus['per_input']['b']}`, "
          f"C `{corpus['per_input']['c']}` (the first messages of A again). Each configuration "
          f"ran once per round, in a rotated order, {rounds} rounds, fresh output folder each "
          "time; medians. Every output (manifest.jsonl and every file outside "
          "OUT/.mailmill) was byte-identical to an untimed single-process `--jobs 1` run's. "
          "Warm page cache.", "",
          "| configuration | wall s | CPU s | of which the launcher | largest process MiB | "
          "msgs/s | CPU µs/msg | report's seconds | walls of the rounds |",
          "|---|--:|--:|--:|--:|--:|--:|--:|---|"]
    for r in rows:
        launcher = f"{r['own_cpu_s']:.2f}" if r["ranks"] > 1 else "–"
        rate = f"{r['msgs_per_s']:,.0f}" if "msgs_per_s" in r else "–"
        cpu_msg = f"{r['us_cpu_per_msg']:.1f}" if "msgs_per_s" in r else "–"
        rep = f"{r['report_seconds']:.2f}" if "report_seconds" in r else "–"
        md.append(f"| {r['config']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {launcher} | "
                  f"{r['maxrss_kib'] / 1024:.0f} | {rate} | {cpu_msg} | {rep} | "
                  f"{' '.join(f'{w:.2f}' for w in r['walls'])} |")
    md += ["", "Commands (OUT and R.json fresh each run):", ""]
    md += [f"- {r['config']}: `{r['command']}`" for r in rows]
    covered = all(x["covered"] for x in cpu_checks.values())
    md += ["", "CPU is user + system time from `getrusage(RUSAGE_CHILDREN)` around each run: the "
           "child and every descendant it waited for. "
           + ("It covers the ranks: mpirun reaps them, and in an untimed check run per rank "
              "count, with every rank wrapped to measure itself, mpirun's reaped descendants "
              "(from /proc before reaping mpirun) held at least the ranks' own total: "
              if covered else "**It did NOT cover the ranks** in the untimed check run: ")
           + "; ".join(f"{n} ranks: {x['rusage_children_cpu_s']:.2f} s in all = mpirun "
                       f"{x['mpirun_own_cpu_s']:.2f} s + descendants "
                       f"{x['mpirun_descendants_cpu_s']:.2f} s, ranks' own "
                       f"{x['ranks_cpu_s']:.2f} s" for n, x in cpu_checks.items())
           + ". \"Of which the launcher\" is mpirun's own CPU. \"Largest process\" is "
           "ru_maxrss of the run: the peak of the largest single process (mpirun or one rank), "
           "not the sum over ranks; the sum of the ranks' peaks in the check run was "
           + "; ".join(f"{x['ranks_maxrss_sum_kib'] / 1024:.0f} MiB for {n} ranks"
                       for n, x in cpu_checks.items())
           + ". \"Report's seconds\" is the run's own clock (rank 0's for MPI); the rest of the "
           "wall time is starting and ending the processes. The 1-message rows are what any run "
           "costs before and after its messages; `mpirun -np N true` is the launcher alone, so "
           "the difference between the two is mostly Open MPI's MPI_Init and MPI_Finalize in "
           "the ranks."]

    md += ["", "## The key exchange", "",
           "Measured: `exchange_bytes` of the report (payload sent between ranks, both passes) "
           "per keyed message, and the model below with the rounds taken from the report "
           "(rounds are timing). The model must account for the bytes exactly: measured bytes "
           f"minus the flag bytes is {PER_ITEM} bytes per key that crossed to another rank, and "
           "that count is binomial around K (N−1)/N (copies of a key cross together, so the "
           "standard deviation takes copies as pairs).", "",
           "| ranks | keyed messages | distinct keys | rounds (pass 1 + pass 2) | pass 1 bound | "
           "exchange bytes | bytes / keyed msg | keys crossing: measured / expected (σ) | "
           "model bytes | measured / model | counts, unreported | pass 2 s |",
           "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
    for x in exchange:
        md.append(f"| {x['ranks']} | {x['keyed_items']:,} | {x['distinct_keys']:,} | "
                  f"{x['rounds']} ({x['rounds_pass1']} + {x['rounds_pass2']}) | "
                  f"{x['rounds_pass1_bound']} | {x['exchange_bytes']:,} | "
                  f"{x['bytes_per_keyed']:.2f} | {x['crossing_keys']:,.0f} / "
                  f"{x['crossing_expected']:,.0f} ({x['crossing_deviation_sd']:+.2f} σ) | "
                  f"{x['model_bytes']:,.0f} | {x['measured_over_model']:.4f} | "
                  f"{x['count_bytes_unreported']:,} | {x['max_dedup_s']:.3f} |")
    md += ["", "The median run by rounds is shown; rounds and bytes of every run: "
           + "; ".join(f"{x['ranks']} ranks {x['rounds_of_runs']} rounds, "
                       f"{x['bytes_of_runs']} bytes" for x in exchange) + ".", "",
           "### The model", "",
           "From src/pipeline/keyexchange.cc and cluster.cc. A keyed message's dedup key has an "
           "owner rank (its first 8 bytes modulo N); a fraction (N−1)/N of them live elsewhere.",
           "",
           f"- Pass 1, while converting: each keyed message sends {P1_RECORD} bytes (8-byte seq "
           "+ 32-byte key) to its owner. A round starts at most every I = "
           f"{ROUND_S * 1000:.0f} ms × ⌈N / 8⌉ (only between work units, and only once the "
           "previous round is complete, so that is an upper bound), and the finishing rounds "
           "follow until every rank is done: at most ⌈T / I⌉ + 2 rounds for a "
           "conversion of T seconds (the bound column above).",
           f"- Pass 2, after converting: each keyed message sends a {P2_QUESTION}-byte question "
           f"to its owner and gets an {P2_ANSWER}-byte answer, in batches of {KEY_BATCH:,} keys "
           "per rank: ⌊keys / 65,536⌋ + 1 batches of the busiest rank, two rounds each.",
           f"- So each keyed message costs {PER_ITEM} × (N−1)/N bytes of payload.",
           f"- Every round costs every rank, to each of its N−1 peers, a {FLAG}-byte flag (pass "
           f"1 and pass 2 questions; counted in `exchange_bytes`) and an {COUNT}-byte count "
           "(MPI_Ialltoall before the data; not counted in the report, shown as \"counts, "
           "unreported\"). MPI's own envelopes are not counted anywhere.", ""]
    if not model_ok:
        md += ["**The model does not account for the measured bytes, so nothing is projected.**"]
    else:
        md += ["### Projection (on paper)", "",
               f"{args.project_messages:,} keyed messages spread evenly; each rank converts "
               f"{rank_rate:,.0f} messages/s (the single process on all {cores} cores here, "
               "i.e. one rank per host like this one"
               + (", given by --rank-rate" if args.rank_rate else "") + "). Pass 1 rounds "
               "every I = 20 ms × ⌈N / 8⌉, an upper bound; so are the header bytes.", "",
               "| ranks | payload / msg | headers / msg | bytes / msg | total | of which "
               "headers | conversion s | rounds (1 + 2) | per rank: headers/s out | per rank: "
               "pass 1 payload/s out | per rank: MPI messages/s |",
               "|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|--:|"]
        for p in projection:
            md.append(f"| {p['ranks']:,} | {p['payload_per_message']:.1f} B | "
                      f"{p['header_per_message']:.1f} B | {p['bytes_per_message']:.1f} B | "
                      f"{fmt_bytes(p['total_bytes'])} | "
                      f"{fmt_bytes(p['header_bytes_pass1'] + p['header_bytes_pass2'])} | "
                      f"{p['convert_s']:,.1f} | {p['rounds_pass1']:,} + {p['rounds_pass2']:,} | "
                      f"{fmt_bytes(p['rank_header_bytes_per_s'])}/s | "
                      f"{fmt_bytes(p['rank_payload_bytes_per_s'])}/s | "
                      f"{p['rank_mpi_messages_per_s']:,.0f} |")
        md += ["", "The payload per message tends to 80 bytes whatever N. The headers do not: "
               "each rank sends 9 (N−1) bytes every round whether it has keys or not. The round "
               "interval grows with N (20 ms per 8 ranks) to keep that in check: per rank the "
               "header traffic stays near 9 × 8 / 20 ms = 3.6 kB/s and the point-to-point "
               "messages near 2 × 8 / 20 ms = 800/s, and a round's keys wait at most I before "
               "they leave. Where a round takes longer than I the next starts later, which "
               "lowers the rounds and header bytes below these bounds."]
    text = "\n".join(md) + "\n"
    print(text)
    dest = work if args.quick else HERE
    (dest / "mpi-results.md").write_text(text)
    (dest / "mpi-results.json").write_text(json.dumps(
        {"info": info, "results": rows, "cpu_checks": cpu_checks, "exchange": exchange,
         "model": {"round_s": ROUND_S, "key_batch": KEY_BATCH, "pass1_record": P1_RECORD,
                   "pass2_question": P2_QUESTION, "pass2_answer": P2_ANSWER, "flag": FLAG,
                   "count": COUNT, "ok": model_ok}, "projection": projection},
        indent=1, default=str) + "\n")
    print(f"wrote {dest / 'mpi-results.md'} and {dest / 'mpi-results.json'}")
    return 0 if model_ok else 2


if __name__ == "__main__":
    sys.exit(main())
