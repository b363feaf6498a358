"""Bad input never crashes, hangs, or writes outside OUTDIR: empty, non-PST, truncated and
corrupted copies of a real fixture (made here, at test time), and a missing path. Each bad file
gets a one-line error naming it, the run goes on with the other inputs, and the ledger adds up."""
import json
import os
import signal
import subprocess
import random
import shutil

import mmtest

args = mmtest.parse_args()
mmtest.require_corpus(args)  # the bad files are made from a corpus PST
c = mmtest.Checker("bad_input")

good = os.path.join(args.shared, "pst", "aspnet__Outlook.pst")
with open(good, "rb") as f:
    data = f.read()

inputs = os.path.join(args.workdir, "inputs")
os.makedirs(inputs)


def put(name, content):
    with open(os.path.join(inputs, name), "wb") as f:
        f.write(content)


put("empty.pst", b"")
put("text.pst", b"This is not a PST file at all.\n" * 40)
put("magic-only.pst", b"!BDN" + b"\0" * 508)
for cut in (600, 4096, len(data) // 3, len(data) // 2, len(data) - 1000):
    put(f"truncated-{cut}.pst", data[:cut])
rng = random.Random(20261129)
for n in range(12):
    b = bytearray(data)
    # Flip bytes in the header, B-tree pages and data blocks alike.
    for _ in range(1 + n * 8):
        pos = rng.randrange(0, len(b))
        b[pos] ^= 1 << rng.randrange(8)
    put(f"corrupt-{n:02d}.pst", bytes(b))
shutil.copy(good, os.path.join(inputs, "good.pst"))

before = sorted(os.listdir(args.workdir))
for fmt in ("eml", "mbox"):
    for reader in ("auto", "native", "libpff"):
        out = os.path.join(args.workdir, f"out-{fmt}-{reader}")
        report = out + ".json"
        try:
            r = mmtest.run([args.mailmill, "convert", inputs, os.path.join(inputs, "missing.pst"),
                            "-o", out, "--format", fmt, "--reader", reader, "--report", report,
                            "--dedup", "none",
                            "--quiet"], timeout=600)
        except Exception as e:  # subprocess.TimeoutExpired
            c.check(False, f"{fmt}/{reader}: run did not finish: {e}")
            continue
        stderr = r.stderr.decode("utf-8", "replace")
        c.check(r.returncode == 1, f"{fmt}/{reader}: exit code {r.returncode} (want 1): {stderr[-800:]}")
        rep = json.load(open(report, encoding="utf-8"))
        t = rep["totals"]
        by_name = {os.path.basename(s["path"]): s for s in rep["sources"]}
        # seen is the sum of the censuses of the inputs that could be read (unreadable ones
        # have none), and the good file's census finds its 17 messages (the node index and
        # libpff's folder counts agree on that file: test_readers_agree).
        censuses = sum(s["census"]["items"] for s in rep["sources"] if s["status"] != "failed")
        good_census = by_name.get("good.pst", {}).get("census", {})
        c.check(rep["balanced"] and t["seen"] == censuses,
                f"{fmt}/{reader}: seen {t['seen']} is not the sum of the censuses {censuses}")
        c.check(good_census.get("message_nodes") == 17,
                f"{fmt}/{reader}: the good file's census counts {good_census.get('message_nodes')} messages")
        for bad in ("empty.pst", "text.pst", "magic-only.pst", "truncated-600.pst"):
            s = by_name.get(bad)
            c.check(s is not None and not s["opened"] and s["error"],
                    f"{fmt}/{reader}: {bad} must be reported as unreadable: {s and s.get('error')}")
            c.check(any(bad in line for line in stderr.splitlines()),
                    f"{fmt}/{reader}: stderr must name {bad}")
        c.check(any("missing.pst" in line for line in stderr.splitlines()),
                f"{fmt}/{reader}: stderr must name the missing input")
        g = by_name.get("good.pst")
        c.check(g is not None and g["opened"] and g["totals"]["written"] >= 16,
                f"{fmt}/{reader}: the good file must still be converted: {g and g['totals']}")
        for s in rep["sources"]:
            if s["opened"]:
                c.check("\n" not in s.get("error", ""), "one-line errors")
            else:
                c.check("\n" not in s["error"], f"{fmt}/{reader}: multi-line error {s['error']!r}")
after = sorted(os.listdir(args.workdir))
c.check(set(after) - set(before) == {f"out-{f}-{r}" for f in ("eml", "mbox") for r in ("auto", "native", "libpff")} |
        {f"out-{f}-{r}.json" for f in ("eml", "mbox") for r in ("auto", "native", "libpff")},
        f"nothing may be written outside OUTDIR: {sorted(set(after) - set(before))}")
# ---- Faults on the output side tell their cause (exit 3), before or without a crash ----------
def fatal_run(name, *extra, preexec=None, **kw):
    out = os.path.join(args.workdir, name)
    r = subprocess.run([args.mailmill, "convert", good, "-o", out, "--quiet", *extra],
                       stdout=subprocess.PIPE, stderr=subprocess.PIPE, preexec_fn=preexec, timeout=300)
    return out, r.returncode, r.stderr.decode("utf-8", "replace")


# An unwritable --report path is refused before anything is converted.
blocker = os.path.join(args.workdir, "a-file")
open(blocker, "w").close()
out, rc, err = fatal_run("fault-report", "--report", os.path.join(blocker, "r.json"))
c.check(rc == 3 and "Not a directory" in err and not os.path.exists(out),
        f"unwritable report: exit {rc}, stderr {err!r}, output started: {os.path.exists(out)}")

# A state folder that cannot be created.
out = os.path.join(args.workdir, "fault-state")
os.makedirs(out)
open(os.path.join(out, ".mailmill"), "w").close()
_, rc, err = fatal_run("fault-state")
c.check(rc == 3 and ".mailmill" in err and "Not a directory" in err,
        f"state folder not creatable: exit {rc}, stderr {err!r}")


# Out of space, simulated by a file-size limit (writes past it fail with EFBIG): the error names
# the file and the system's reason.
def small_files():
    import resource
    signal.signal(signal.SIGXFSZ, signal.SIG_IGN)
    resource.setrlimit(resource.RLIMIT_FSIZE, (4096, 4096))


_, rc, err = fatal_run("fault-space", "--io", "buffered", preexec=small_files)
c.check(rc == 3 and "fatal: " in err and "File too large" in err,
        f"out of space: exit {rc}, stderr {err!r}")

c.finish()
