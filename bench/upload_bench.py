#!/usr/bin/env python3
"""IMAP upload throughput: `mailmill upload` into a private Dovecot on loopback (the one the
tests start: tests/integration/dovecot.py), at --connections 1, 2 and 4, against Python's
imaplib appending the same messages one by one on one connection (what a script would do).

Corpus: `mailmill generate --format maildir --folders 20 --messages N` (default 10,000),
converted to mbox output once; imaplib appends each message into its own folder's mailbox too. Every round uploads into fresh users, alternating the variants (A B C D A B C D
...), at least 3 rounds; the table gives medians of wall time, client CPU time (user + system
of the uploader; Dovecot's own CPU is not included) and messages/s. Both the client and the
server run on this machine, so they share its cores.

    python3 bench/upload_bench.py [--messages 10000] [--rounds 3] [--build build]
Results go to bench/upload-results.md and .json.
"""
import argparse
import email.utils
import imaplib
import json
import os
import platform
import re
import resource
import shutil
import statistics
import subprocess
import sys
import tempfile
import time

HERE = os.path.dirname(os.path.abspath(__file__))
sys.path.insert(0, os.path.join(HERE, "..", "tests", "integration"))
import dovecot  # noqa: E402
import mmtest  # noqa: E402


def children_cpu():
    r = resource.getrusage(resource.RUSAGE_CHILDREN)
    return r.ru_utime + r.ru_stime


def timed(cmd):
    c0, t0 = children_cpu(), time.monotonic()
    r = subprocess.run(cmd, capture_output=True)
    t1, c1 = time.monotonic(), children_cpu()
    if r.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{r.stderr.decode()[-2000:]}")
    return t1 - t0, c1 - c0


def main():
    ap = argparse.ArgumentParser()
    ap.add_argument("--messages", type=int, default=10000)
    ap.add_argument("--rounds", type=int, default=3)
    ap.add_argument("--build", default=os.path.join(HERE, "..", "build"))
    ap.add_argument("--workdir", default=None)
    ap.add_argument("--no-fsync", action="store_true",
                    help="Dovecot with mail_fsync = never: the disk's flush latency out of the way")
    a = ap.parse_args()
    mm = os.path.join(a.build, "tools", "mailmill")
    work = a.workdir or tempfile.mkdtemp(prefix="mm-upload-bench-")
    os.makedirs(work, exist_ok=True)
    src = os.path.join(work, "corpus")
    out = os.path.join(work, "out")
    if not os.path.exists(out):
        # A Maildir++ of 20 folders: a mailbox is many folders, and servers lock per folder.
        subprocess.run([mm, "generate", "-o", src, "--format", "maildir", "--messages", str(a.messages),
                        "--folders", "20", "--seed", "21"], check=True, capture_output=True)
        subprocess.run([mm, "convert", src, "-o", out, "--quiet"], check=True, capture_output=True)
    written = [e for e in mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")) if e["outcome"] == "written"]
    n = len(written)
    total_bytes = sum(e["size"] for e in written)
    # The messages as imaplib would send them (CRLF), read by Python from the mbox output.
    # With the same flags and INTERNALDATE mailmill sends, so both do the same work.
    FLAGS = {"read": "\\Seen", "answered": "\\Answered", "flagged": "\\Flagged", "draft": "\\Draft",
             "forwarded": "$Forwarded"}
    msgs = []
    cache = {}
    for e in written:
        f, k = e["location"].rsplit("#", 1)
        if f not in cache:
            cache = {f: mmtest.split_mboxrd(open(os.path.join(out, f), "rb").read())}
        data = re.sub(rb"\r\n|\r|\n", b"\r\n", cache[f][int(k) - 1])
        flags = "(" + " ".join(FLAGS[x] for x in e["flags"].split(",") if x) + ")"
        date = imaplib.Time2Internaldate(email.utils.parsedate_to_datetime(e["date"]).timestamp()) if e.get("date") else None
        msgs.append((e["folder"], flags if flags != "()" else None, date, data))
    boxes = {f: f"f{k}" for k, f in enumerate(sorted({m[0] for m in msgs}))}

    D = dovecot.Dovecot(work, fsync=not a.no_fsync)
    D.start()
    pw = os.path.join(work, "pw")
    with open(pw, "w") as f:
        f.write(dovecot.PASSWORD + "\n")

    def mailmill(conns):
        def run(user):
            journal = os.path.join(work, user + ".sqlite")
            for suffix in ("", "-wal", "-shm"):
                if os.path.exists(journal + suffix):
                    os.remove(journal + suffix)  # a journal of an earlier bench run's server
            return timed([mm, "upload", out, "--imap", D.url(), "--user", user, "--password-file", pw,
                          "--quiet", "--connections", str(conns), "--journal", os.path.join(work, user + ".sqlite")])
        return run

    def python_imaplib(user):
        c0, t0 = time.process_time(), time.monotonic()
        imap = D.connect(user)
        for box in boxes.values():
            imap.create(box)
        for folder, flags, date, m in msgs:
            typ, _ = imap.append(boxes[folder], flags, date, m)
            assert typ == "OK"
        imap.logout()
        return time.monotonic() - t0, time.process_time() - c0

    variants = [("mailmill upload --connections 1", mailmill(1)),
                ("mailmill upload --connections 2", mailmill(2)),
                ("mailmill upload --connections 4", mailmill(4)),
                ("Python imaplib, APPEND one by one (same flags, dates)", python_imaplib)]
    results = {name: [] for name, _ in variants}
    for r in range(a.rounds):
        for k, (name, fn) in enumerate(variants):
            user = f"r{r}v{k}"
            wall, cpu = fn(user)
            # Every message arrived: the server's count.
            imap = D.connect(user)
            names = [re.match(rb'\(.*?\) ".*?" "?([^"]*)"?$', l).group(1).decode() for l in imap.list()[1]]
            count = sum(int(imap.select(f'"{b}"', readonly=True)[1][0]) for b in names)
            imap.logout()
            if count != n:
                raise SystemExit(f"{name}: {count} messages on the server, expected {n}")
            results[name].append((wall, cpu))
            print(f"round {r + 1} {name}: {wall:.2f} s wall, {cpu:.2f} s CPU", flush=True)
    D.stop()

    rows = []
    for name, _ in variants:
        wall = statistics.median(w for w, _ in results[name])
        cpu = statistics.median(c for _, c in results[name])
        rows.append({"variant": name, "wall_s": round(wall, 3), "cpu_s": round(cpu, 3),
                     "msgs_per_s": round(n / wall), "mb_per_s": round(total_bytes / 1e6 / wall, 1),
                     "runs": [[round(w, 3), round(c, 3)] for w, c in results[name]]})
    cpu_model = ""
    try:
        cpu_model = next(l.split(":", 1)[1].strip() for l in open("/proc/cpuinfo") if l.startswith("model name"))
    except (OSError, StopIteration):
        pass
    meta = {"fsync": not a.no_fsync, "messages": n, "bytes": total_bytes, "rounds": a.rounds, "cores": os.cpu_count(),
            "cpu": cpu_model, "dovecot": subprocess.run([dovecot.binaries()[0], "--version"], capture_output=True,
                                                        text=True).stdout.strip(),
            "date": time.strftime("%Y-%m-%d %H:%M UTC", time.gmtime()), "kernel": platform.release()}
    md = [f"# IMAP upload throughput\n",
          f"`python3 bench/upload_bench.py --messages {a.messages} --rounds {a.rounds}` on {meta['date']}: "
          f"{n} messages ({total_bytes / 1e6:.1f} MB) in {len(boxes)} folders, into Dovecot {meta['dovecot']} on loopback "
          f"(plain IMAP, maildir{', mail_fsync = never' if a.no_fsync else ', fsync on'}), {meta['cores']} cores ({meta['cpu']}), client and server on the same machine. "
          f"Medians of {a.rounds} alternating rounds; CPU is the uploader's only.\n",
          "| variant | wall s | client CPU s | msgs/s | MB/s |", "|---|--:|--:|--:|--:|"]
    for r in rows:
        md.append(f"| {r['variant']} | {r['wall_s']:.2f} | {r['cpu_s']:.2f} | {r['msgs_per_s']:,} | {r['mb_per_s']} |")
    name = "upload-results-nofsync" if a.no_fsync else "upload-results"
    with open(os.path.join(HERE, name + ".md"), "w") as f:
        f.write("\n".join(md) + "\n")
    with open(os.path.join(HERE, name + ".json"), "w") as f:
        json.dump({"meta": meta, "rows": rows}, f, indent=1)
    print("\n".join(md))
    if not a.workdir:
        shutil.rmtree(work, ignore_errors=True)


if __name__ == "__main__":
    main()
