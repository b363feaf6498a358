"""Bad input never crashes, hangs, or writes outside OUTDIR: empty, non-PST, truncated and
corrupted copies of a real fixture (made here, at test time), and a missing path. Each bad file
gets a one-line error naming it, the run goes on with the other inputs, and the ledger adds up."""
import json
import os
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
        c.check(rep["balanced"] and t["seen"] == t["written"] + t["duplicates"] + t["skipped"] + t["failed"],
                f"{fmt}/{reader}: ledger does not add up: {t}")
        by_name = {os.path.basename(s["path"]): s for s in rep["sources"]}
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
c.finish()
