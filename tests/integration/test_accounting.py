"""Issue 11: every item accounted for, provably, on generated inputs (no corpus needed).

(a) The census equals the generator's ground truth (one line per item it wrote), and the
    manifest has exactly one line per census item.
(b) The end-of-run check can fail: with one outcome made to vanish (MAILMILL_TEST_FAULT=
    drop-outcome:N, a switch only tests use), the run exits 4, says LEDGER MISMATCH, and the
    report lists the one census item without an outcome.
(c) An input that shrinks while it is read (MAILMILL_TEST_FAULT=shrink-input:N cuts it to
    half after the Nth outcome) fails that input's remaining items with the reason and goes on
    with the next input: exit 1, no crash, the ledger balanced, the input 'partial', and every
    item written before the cut is byte-identical to a run on the intact file.
"""
import json
import os
import shutil

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("accounting")
W = args.workdir
MM = args.mailmill


def gen(name, seed, n, *extra):
    p = os.path.join(W, name)
    r = mmtest.run([args.gen, "generate", "-o", p, "--seed", str(seed), "--messages", str(n), *extra])
    if not c.check(r.returncode == 0, f"generate {name}: {r.stderr[-400:]!r}"):
        c.finish()
    return p, mmtest.load_jsonl(p + ".jsonl")


def convert(inputs, out, env=None):
    report = out + ".json"
    e = dict(os.environ)
    e.pop("MAILMILL_TEST_FAULT", None)
    e.update(env or {})
    r = mmtest.run([MM, "convert", *inputs, "-o", out, "--report", report, "--quiet",
                    "--format", "mbox", "--dedup", "none", "--jobs", "2"], env=e)
    rep = json.load(open(report, encoding="utf-8")) if os.path.exists(report) else None
    man = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")) if os.path.exists(
        os.path.join(out, "manifest.jsonl")) else []
    return r, rep, man


a, truth_a = gen("a.pst", 11, 1500, "--attachment-ratio", "0.3", "--attachment-max", "300000")
b, truth_b = gen("b.pst", 12, 150)

# ---- (a) census = ground truth ----------------------------------------------------------------
r, rep, man = convert([a, b], os.path.join(W, "clean"))
c.check(r.returncode == 0, f"(a) exit {r.returncode}: {r.stderr[-300:]!r}")
by_path = {s["path"]: s for s in rep["sources"]}
for path, truth in ((a, truth_a), (b, truth_b)):
    census = by_path[path]["census"]
    c.check(census["items"] == len(truth) and census["message_nodes"] == len(truth),
            f"(a) {os.path.basename(path)}: census {census['items']} items, truth {len(truth)}")
    lines = [e for e in man if e["source"] == path]
    c.check(len(lines) == len(truth) and len({e["node_id"] for e in lines}) == len(truth),
            f"(a) {os.path.basename(path)}: {len(lines)} manifest lines for {len(truth)} items")
c.check(rep["balanced"] and rep["totals"]["seen"] == len(truth_a) + len(truth_b),
        f"(a) report {rep['totals']}")
clean = {(e["source"], e["node_id"]): e for e in man}

# ---- (b) the check can fail ---------------------------------------------------------------------
r, rep, man = convert([a, b], os.path.join(W, "drop"), {"MAILMILL_TEST_FAULT": "drop-outcome:700"})
stderr = r.stderr.decode("utf-8", "replace")
c.check(r.returncode == 4, f"(b) a vanished outcome must exit 4, got {r.returncode}")
c.check("LEDGER MISMATCH" in stderr, f"(b) the summary must say LEDGER MISMATCH: {stderr[-300:]!r}")
c.check(rep is not None and rep["balanced"] is False, "(b) report must not be balanced")
src = {s["path"]: s for s in rep["sources"]}[a]
c.check(src["census"]["missing_count"] == 1 and len(src["census"]["missing"]) == 1,
        f"(b) the report must list the one missing item: {src['census']}")
c.check(len(man) == len(truth_a) + len(truth_b) - 1, f"(b) manifest has {len(man)} lines")
listed = {e["node_id"] for e in man if e["source"] == a}
c.check(src["census"]["missing"] and src["census"]["missing"][0] not in listed,
        "(b) the missing item is the one without a manifest line")

# ---- (c) an input that shrinks while read -------------------------------------------------------
cut = os.path.join(W, "cut.pst")
shutil.copyfile(a, cut)
r, rep, man = convert([cut, b], os.path.join(W, "shrink"), {"MAILMILL_TEST_FAULT": "shrink-input:300"})
stderr = r.stderr.decode("utf-8", "replace")
c.check(r.returncode == 1, f"(c) exit {r.returncode} (want 1): {stderr[-400:]!r}")
c.check(rep is not None and rep["balanced"], "(c) report missing or not balanced")
if rep:
    src = {s["path"]: s for s in rep["sources"]}
    s_cut, s_b = src[cut], src[b]
    c.check(s_cut["status"] == "partial" and "changed or shrank" in s_cut.get("read_problem", ""),
            f"(c) the cut input must be 'partial' with the reason: {s_cut['status']} "
            f"{s_cut.get('read_problem')!r}")
    t = s_cut["totals"]
    c.check(t["seen"] == len(truth_a) and t["written"] >= 300 and t["failed"] > 0
            and t["written"] + t["failed"] == len(truth_a),
            f"(c) the cut input: {t}")
    c.check(s_b["status"] == "ok" and s_b["totals"]["written"] == len(truth_b),
            f"(c) the next input must be converted whole: {s_b['status']} {s_b['totals']}")
    c.check(cut in stderr and "changed or shrank" in stderr, f"(c) stderr must name the input: {stderr[-300:]!r}")
    for e in man:
        if e["source"] != cut:
            continue
        ref = clean[(a, e["node_id"])]
        if e["outcome"] == "written":
            c.check(e["raw_sha256"] == ref["raw_sha256"],
                    f"(c) item {e['node_id']} written after the cut differs from the intact run")
        else:
            c.check(e["outcome"] == "failed" and "changed or shrank" in e.get("reason", ""),
                    f"(c) item {e['node_id']}: {e['outcome']} {e.get('reason')!r}")

c.finish()
