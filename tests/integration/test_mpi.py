"""Issue 17: one conversion spread over MPI ranks gives the single-machine result.

Every MPI run is compared with the same conversion run without mpirun (`--jobs 1`): the output
trees (every file but the .mailmill/ state folder) are byte-identical, manifest.jsonl included,
the exit codes are equal, and the reports have the same totals and per-source counts, the MPI
one with "mpi": {"ranks": N}.

(a) Generated corpus with about 20% duplicates spread across three inputs: a PST (mail,
    appointments, contacts, 10% copies inside it), a second PST made with the same seed and
    fewer messages (checked against both ground truths to repeat the first 100 items of the
    first), and an mbox made with the same seed, whose mail repeats part of the PST's in
    another format. The single-machine reference must show 10-35% of all items as duplicates,
    some of them pointing at an item of another input (the mbox's at the PST's, across
    formats). The plain run (no mpirun) has no "mpi" in its report, and two plain runs into
    different folders are identical (the comparison is meaningful); the tree comparison itself
    is seen to catch one flipped byte and one changed manifest line.
(b) MPI runs of that corpus: -np 2 mbox; -np 4 --oversubscribe eml, and batch with
    --batch-messages 50 (many batches); -np 2 --local-parts DIR (mbox; each rank's parts under
    DIR/rank-R, gathered to rank 0 and then removed from DIR); -np 2 --no-merge (maildir: not finished before
    `mailmill merge OUT`, identical after it); rank 1 killed with SIGKILL after it spooled 3
    work units (MAILMILL_TEST_FAULT=kill-rank:1:3; mpirun fails), then the same command again
    without the fault: identical, and its report says work units were resumed
    (mpi.resumed_units > 0); the same with rank 0 killed; rank 1's output failing after 2 units
    (fail-rank:1:2: exit 3, its reason printed once, the others stop) and the command again:
    identical; --format pst under -np 2 is refused (exit 2, one line on stderr
    mentioning MPI, no PST written) while the same command without mpirun converts.
(c) Corpus (skipped without it): four PST/OST fixtures (one a partial copy of another, one
    that cannot be opened, so the reference exits 1), an mbox, two EML and two MSG files, as
    mbox with -np 2 and -np 4 --oversubscribe.

The reference parts always run. The MPI runs need Open MPI's mpirun on PATH and a mailmill
built with MPI (`mailmill --version` mentions MPI): without either the test is skipped after
the reference parts (exit 77), or fails under CI=true. ctest sets the Open MPI variables for
running as root in a container (see CMakeLists.txt); run by hand, the script sets the same
defaults for mpirun.
"""
import collections
import json
import os
import re
import shutil
import signal
import subprocess
import sys
import time

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("mpi")
W = args.workdir
MM = args.mailmill
CI = os.environ.get("CI") == "true"
MANIFEST = "manifest.jsonl"
MPI_TIMEOUT = 300  # seconds for one mpirun job; a hung rank must not hold ctest for 900 s

# A fault left in the caller's environment would break every run but the one meant to fail.
os.environ.pop("MAILMILL_TEST_FAULT", None)
MPI_ENV = dict(os.environ)
for k, v in (("OMPI_ALLOW_RUN_AS_ROOT", "1"), ("OMPI_ALLOW_RUN_AS_ROOT_CONFIRM", "1"),
             ("OMPI_MCA_btl_vader_single_copy_mechanism", "none")):
    MPI_ENV.setdefault(k, v)


def text(b):
    return b.decode("utf-8", "replace") if isinstance(b, bytes) else (b or "")


def load_report(path):
    """The report, or None when there is none (a killed run leaves the empty file that was
    made at its start to prove the path writable)."""
    if not os.path.exists(path) or os.path.getsize(path) == 0:
        return None
    with open(path, encoding="utf-8") as f:
        return json.load(f)


def manifest(out):
    p = os.path.join(out, MANIFEST)
    return mmtest.load_jsonl(p) if os.path.exists(p) else []


# ---- comparing two output trees ----------------------------------------------------------------

def clip(s, n=240):
    return s if len(s) <= n else s[:n] + "..."


def first_difference(a, b):
    """Where two byte strings first differ: byte offset, line number, and the two lines when
    both are text (a batch .zst is not)."""
    n, i, step = min(len(a), len(b)), 0, 1 << 16
    while i < n and a[i:i + step] == b[i:i + step]:  # whole blocks first: outputs run to MBs
        i += step
    i = next((k for k in range(i, min(i + step, n)) if a[k] != b[k]), min(i + step, n))
    line = a.count(b"\n", 0, i) + 1
    where = f"sizes {len(a)} and {len(b)}, first difference at byte {i} (line {line})"
    # The line holding byte i (the same in both up to i), from at most 100 bytes before i.
    start = max(a.rfind(b"\n", 0, i) + 1, i - 100)

    def line_of(s):
        end = s.find(b"\n", i)
        return s[start:] if end < 0 else s[start:end]

    # A window that starts inside a UTF-8 sequence would not decode: drop its continuation bytes.
    cont = bytes(range(0x80, 0xC0))
    la, lb = line_of(a).lstrip(cont), line_of(b).lstrip(cont)
    try:
        return f"{where}:\n      {clip(la.decode())!r}\n      {clip(lb.decode())!r}"
    except UnicodeDecodeError:
        return where


def manifest_difference(a, b, a_name, b_name):
    """The first differing line of two manifests, with the fields that differ."""
    la, lb = a.splitlines(), b.splitlines()
    for n, (x, y) in enumerate(zip(la, lb), 1):
        if x == y:
            continue
        head = f"manifest.jsonl line {n} differs"
        try:
            ja, jb = json.loads(x), json.loads(y)
        except ValueError:
            ja = jb = None
        if not isinstance(ja, dict) or not isinstance(jb, dict):
            return f"{head}:\n      {a_name}: {clip(text(x))}\n      {b_name}: {clip(text(y))}"
        fields = sorted(k for k in set(ja) | set(jb) if ja.get(k) != jb.get(k))
        if not fields:
            return f"{head} (same fields, different bytes): {clip(text(x))}"

        def val(j, k):
            return clip(repr(j[k]), 100) if k in j else "(absent)"

        vals = "".join(f"\n      {k}: {val(ja, k)} ({a_name}) vs {val(jb, k)} ({b_name})"
                       for k in fields[:6])
        where = f"{a_name} seq {ja.get('seq')}, {ja.get('source')}"
        return f"{head} (fields {fields}) at {where}:{vals}"
    return (f"manifest.jsonl: {len(la)} lines in the {a_name} tree, {len(lb)} in the {b_name} "
            f"one, equal up to line {min(len(la), len(lb))}")


def tree_diff(a_root, b_root, a_name="reference", b_name="MPI"):
    """How two output trees differ (every file but .mailmill/), as lines for the log; [] when
    they are identical: the files only in one of them, the first differing line of
    manifest.jsonl, and the first other file whose bytes differ."""
    fa, fb = mmtest.tree_files(a_root), mmtest.tree_files(b_root)
    out = []
    for name, only in ((a_name, sorted(set(fa) - set(fb))), (b_name, sorted(set(fb) - set(fa)))):
        if only:
            out.append(f"{len(only)} file(s) only in the {name} tree, first {only[:3]}")
    differing = []
    for rel in sorted(set(fa) & set(fb)):
        if os.path.getsize(fa[rel]) == os.path.getsize(fb[rel]):
            with open(fa[rel], "rb") as x, open(fb[rel], "rb") as y:
                if x.read() == y.read():
                    continue
        differing.append(rel)
    if differing:
        out.append(f"{len(differing)} file(s) differ")
    if MANIFEST in differing:
        with open(fa[MANIFEST], "rb") as x, open(fb[MANIFEST], "rb") as y:
            out.append(manifest_difference(x.read(), y.read(), a_name, b_name))
    others = [rel for rel in differing if rel != MANIFEST]
    if others:
        with open(fa[others[0]], "rb") as x, open(fb[others[0]], "rb") as y:
            where = first_difference(x.read(), y.read())
        out.append(f"first differing file {others[0]!r}: {where}")
    return out


def report_diff(ref, got, ranks):
    """How a report differs from the reference's in what must be equal: totals, per-source
    counts, and (ranks not None) the "mpi" object's rank count."""
    if got is None:
        return ["no report written"]
    out = []
    if got.get("totals") != ref.get("totals"):
        out.append(f"report totals {got.get('totals')} != reference {ref.get('totals')}")

    def per_source(rep):
        return [(s.get("path"), s.get("totals")) for s in rep.get("sources", [])]

    ps_ref, ps_got = per_source(ref), per_source(got)
    if ps_got != ps_ref:
        bad = next(((x, y) for x, y in zip(ps_ref, ps_got) if x != y), None)
        out.append(f"per-source counts differ ({len(ps_ref)} and {len(ps_got)} sources), first: "
                   f"reference {bad and bad[0]} vs {bad and bad[1]}")
    if ranks is not None:
        mpi = got.get("mpi")
        if not isinstance(mpi, dict) or mpi.get("ranks") != ranks:
            out.append(f"report \"mpi\" is {mpi!r}, want an object with \"ranks\": {ranks}")
    return out


def explain(lines):
    return "\n    " + "\n    ".join(lines)


# ---- running mailmill ---------------------------------------------------------------------------

class Ref:
    """A single-machine run: the reference the MPI runs are compared with."""

    def __init__(self, inputs, fmt, extra, out, rc, rep):
        self.inputs, self.fmt, self.extra = inputs, fmt, extra
        self.out, self.rc, self.rep = out, rc, rep


def convert_argv(inputs, out, fmt, extra, report):
    return [MM, "convert", *inputs, "-o", out, "--format", fmt, "--jobs", "1",
            "--report", report, "--quiet", *extra]


def reference(name, inputs, fmt, extra=(), ok_codes=(0,)):
    """Runs the plain (no mpirun) conversion into W/<name> and checks it succeeded."""
    out = os.path.join(W, name)
    report = out + ".report.json"
    r = mmtest.run(convert_argv(inputs, out, fmt, list(extra), report))
    rep = load_report(report)
    c.check(r.returncode in ok_codes and rep is not None and rep.get("balanced") is True,
            f"reference {name}: exit {r.returncode} (want {ok_codes}), report "
            f"{rep and rep.get('totals')}: {text(r.stderr)[-400:]!r}")
    c.check(rep is not None and "mpi" not in rep,
            f"reference {name}: the plain run's report has \"mpi\": {rep and rep.get('mpi')!r}")
    return Ref(inputs, fmt, list(extra), out, r.returncode, rep)


class Job:
    def __init__(self, rc, stdout, stderr, timed_out):
        self.rc, self.stdout, self.stderr, self.timed_out = rc, stdout, stderr, timed_out

    def tail(self, n=600):
        return clip(text(self.stderr)[-n:], n)


def run_job(cmd, env):
    """Runs cmd (mpirun, or mailmill merge) in its own session; after MPI_TIMEOUT seconds it
    gets SIGTERM (mpirun passes it to the ranks), then the whole session SIGKILL."""
    p = subprocess.Popen(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env,
                         start_new_session=True)
    try:
        o, e = p.communicate(timeout=MPI_TIMEOUT)
        return Job(p.returncode, o, e, False)
    except subprocess.TimeoutExpired:
        p.send_signal(signal.SIGTERM)
        try:
            o, e = p.communicate(timeout=15)
        except subprocess.TimeoutExpired:
            os.killpg(p.pid, signal.SIGKILL)
            o, e = p.communicate()
        return Job(None, o, e, True)


def mpi_convert(np, ref, out, *extra, oversubscribe=False, fault=None, quiet_mpirun=False):
    """Runs ref's conversion under `mpirun -np np` into out, with extra options after ref's.
    fault sets MAILMILL_TEST_FAULT for the ranks. Returns (Job, report or None)."""
    report = out + ".report.json"
    cmd = [MPIRUN, "-np", str(np)]
    if oversubscribe or np > (os.cpu_count() or 1):
        cmd.append("--oversubscribe")
    if quiet_mpirun:
        cmd.append("-q")  # mpirun's own banners left out: stderr is the ranks' alone
    env = dict(MPI_ENV)
    if fault:
        env["MAILMILL_TEST_FAULT"] = fault
        cmd += ["-x", "MAILMILL_TEST_FAULT"]  # to ranks on other hosts too
    job = run_job(cmd + convert_argv(ref.inputs, out, ref.fmt, ref.extra + list(extra), report),
                  env)
    return job, load_report(report)


def same_as(ref, job, rep, out, ranks, what):
    """The MPI run ended like the reference and its tree and report equal the reference's."""
    ok = c.check(not job.timed_out and job.rc == ref.rc,
                 f"{what}: mpirun {'timed out' if job.timed_out else f'exit {job.rc}'}, "
                 f"reference exit {ref.rc}: {job.tail()!r}")
    d = tree_diff(ref.out, out)
    ok &= c.check(not d, f"{what}: output differs from the single-machine run:{explain(d)}")
    d = report_diff(ref.rep or {}, rep, ranks)
    ok &= c.check(not d, f"{what}: report differs from the single-machine run:{explain(d)}")
    return ok


def skip_mpi(why):
    """No MPI here: the reference parts ran; fail under CI=true, else report the test skipped."""
    if CI:
        c.check(False, f"{why}; CI=true needs the MPI runs")
        c.finish()
    print(f"{why}; the MPI runs were skipped", flush=True)
    print(f"{c.name}: {c.passed} passed, {len(c.failures)} failed")
    sys.exit(1 if c.failures else mmtest.SKIP_CODE)


def gen(name, seed, n, *extra):
    p = os.path.join(W, name)
    r = mmtest.run([args.gen, "generate", "-o", p, "--seed", str(seed), "--messages", str(n),
                    "--duplicate-ratio", "0.1", "--attachment-max", "40000", *extra])
    if not c.check(r.returncode == 0, f"generate {name}: {text(r.stderr)[-400:]!r}"):
        c.finish()
    return p


# ==== (a) generated corpus and its single-machine references =====================================
t_ref = time.monotonic()
PST_OPTS = ("--calendar-ratio", "0.05", "--contact-ratio", "0.05")
g_a = gen("a.pst", 1, 1500, *PST_OPTS)
g_b = gen("b.pst", 1, 100, *PST_OPTS)   # the same seed: the first 100 items of a.pst again
g_c = gen("c.mbox", 1, 300, "--format", "mbox")  # the same seed as mbox: mail of a.pst again
GEN = [g_a, g_b, g_c]

truth_a = {t["seq"]: t for t in mmtest.load_jsonl(g_a + ".jsonl")}
truth_b = mmtest.load_jsonl(g_b + ".jsonl")
n_same = sum(truth_a.get(t["seq"]) == t for t in truth_b)
c.check(len(truth_b) == 100 and n_same == len(truth_b),
        f"(a) b.pst does not repeat a.pst's first items: {n_same} of {len(truth_b)} ground-truth "
        f"lines equal")

refs = {}
refs["mbox"] = reference("ref-mbox", GEN, "mbox")
refs["eml"] = reference("ref-eml", GEN, "eml")
refs["batch"] = reference("ref-batch", GEN, "batch", ["--batch-messages", "50"])
refs["maildir"] = reference("ref-maildir", GEN, "maildir")
ref_pst = reference("ref-pst", [g_b], "pst", ["--mailbox", "user@example.com"])

man = manifest(refs["mbox"].out)
by_seq = {e["seq"]: e for e in man}
outcomes = collections.Counter(e["outcome"] for e in man)
share = outcomes["duplicate"] / len(man) if man else 0.0
print(f"(a) reference: {len(man)} items, {dict(outcomes)}; duplicates {share:.2%}")
c.check(0.10 <= share <= 0.35, f"(a) {share:.2%} of the items are duplicates, want 10-35%")
links = collections.Counter()
for e in man:
    if e["outcome"] == "duplicate":
        orig = by_seq.get(e.get("duplicate_of"))
        links[(os.path.basename(e["source"]), orig and os.path.basename(orig["source"]))] += 1
print(f"(a) duplicates by (input, input of the first occurrence): {dict(links)}")
cross = sum(n for (s, o), n in links.items() if o is not None and s != o)
c.check(cross > 0, "(a) no duplicate points at an item of another input")
c.check(links[("c.mbox", "a.pst")] > 0, "(a) no mbox message is a duplicate of a PST item")
b_items = [e for e in man if os.path.basename(e["source"]) == "b.pst"]
c.check(len(b_items) == 100 and all(
    e["outcome"] == "duplicate" and os.path.basename(by_seq[e["duplicate_of"]]["source"]) == "a.pst"
    for e in b_items), "(a) b.pst's items are not all duplicates of a.pst's")
n_batches = len([f for f in os.listdir(os.path.join(refs["batch"].out, "batches"))
                 if f.endswith(".mbox.zst")]) if os.path.isdir(
    os.path.join(refs["batch"].out, "batches")) else 0
c.check(n_batches > 10, f"(a) --batch-messages 50 made only {n_batches} batches")

# Control: the plain run again into another folder gives the same tree, so the output depends
# on neither the folder nor the clock, and a difference under MPI means something.
again = reference("ref-mbox-again", GEN, "mbox")
d = tree_diff(refs["mbox"].out, again.out, "first", "second")
c.check(not d, f"(a) two plain runs differ:{explain(d)}")

# The comparison must see a flipped byte in an output file and a changed manifest line.
probe = os.path.join(W, "probe")
shutil.copytree(refs["mbox"].out, probe, ignore=shutil.ignore_patterns(".mailmill"))
victim = sorted(p for p in mmtest.tree_files(probe) if p.endswith(".mbox"))[0]
with open(os.path.join(probe, victim), "r+b") as f:
    f.seek(os.path.getsize(os.path.join(probe, victim)) // 2)
    byte = f.read(1)
    f.seek(-1, os.SEEK_CUR)
    f.write(bytes([byte[0] ^ 0x01]))
lines = open(os.path.join(probe, MANIFEST), "rb").read().splitlines(keepends=True)
changed = lines[41].replace(b'"seq":41,', b'"seq":4100,')
c.check(changed != lines[41], "(a) manifest line 42 is not seq 41")
lines[41] = changed
open(os.path.join(probe, MANIFEST), "wb").writelines(lines)
d = tree_diff(refs["mbox"].out, probe)
c.check(any("line 42 differs (fields ['seq'])" in s for s in d)
        and any(s.startswith(f"first differing file {victim!r}") for s in d),
        f"(a) the tree comparison missed a flipped byte in {victim!r} or manifest line 42:"
        f"{explain(d)}")

# ==== (c, reference part) the corpus ==============================================================
CORPUS_FILES = [
    "pst/aspnet__Outlook.pst",
    "pst/aspnet__SampleOstFile.ost",
    "pst/tika__testPST.pst",
    "pst/aspnet__Test_part1.pst",  # much of it copies aspnet__Outlook.pst: duplicates across inputs
    "pst/aspnet__AddingBulkMessagesWithImprovedPerformance.pst",  # header CRC mismatch: unreadable
    "mbox/git__sample.mbox",
    "eml/aspnet__Attachments.eml",
    "eml/mailparser__nested.eml",
    "msg/aspnet__WithEmbeddedMsg.msg",
    "msg/aspnet__Test_Meeting.msg",
]
corpus_ref = None
if mmtest.have_corpus(args, c):
    corpus = [os.path.join(args.shared, f) for f in CORPUS_FILES]
    corpus_ref = reference("ref-corpus", corpus, "mbox", ok_codes=(0, 1))
    cm = manifest(corpus_ref.out)
    print(f"(c) reference: exit {corpus_ref.rc}, {len(cm)} items, "
          f"{dict(collections.Counter(e['outcome'] for e in cm))}")
    c.check(len(cm) > 100, f"(c) only {len(cm)} items in the corpus reference")
print(f"reference part: {time.monotonic() - t_ref:.1f} s")

# ==== is MPI here? ================================================================================
MPIRUN = shutil.which("mpirun")
if not MPIRUN:
    skip_mpi("mpirun not found on PATH (Debian package openmpi-bin; tools/setup.sh installs it)")
ver = mmtest.run([MM, "--version"])
ver_text = text(ver.stdout) + text(ver.stderr)
if not re.search(r"\bmpi\b", ver_text, re.IGNORECASE):
    skip_mpi(f"this mailmill was built without MPI (`mailmill --version` does not mention MPI: "
             f"{ver_text.strip()!r})")
# mpirun itself works (one clear failure, instead of one per run, when it cannot start ranks).
job = run_job([MPIRUN, "-np", "2", shutil.which("true") or "/bin/true"], MPI_ENV)
if not c.check(job.rc == 0, f"`mpirun -np 2 true` exits {job.rc}: {job.tail()!r}"):
    c.finish()

# ==== (b) MPI runs of the generated corpus ========================================================
t_mpi = time.monotonic()

out = os.path.join(W, "np2-mbox")
job, rep = mpi_convert(2, refs["mbox"], out)
same_as(refs["mbox"], job, rep, out, 2, "(b) -np 2 mbox")

for fmt in ("eml", "batch"):
    out = os.path.join(W, f"np4-{fmt}")
    job, rep = mpi_convert(4, refs[fmt], out, oversubscribe=True)
    same_as(refs[fmt], job, rep, out, 4, f"(b) -np 4 --oversubscribe {fmt}")

# --local-parts: per-rank part folders (on one host here), gathered to rank 0 at the end.
parts = os.path.join(W, "local-parts")
out = os.path.join(W, "np2-local-parts")
job, rep = mpi_convert(2, refs["mbox"], out, "--local-parts", parts)
same_as(refs["mbox"], job, rep, out, 2, "(b) -np 2 --local-parts")
have = sorted(os.listdir(parts)) if os.path.isdir(parts) else []
c.check(not {"rank-0", "rank-1"} & set(have),
        f"(b) --local-parts: {parts} still holds {have} after the gather (the parts are "
        f"removed from the hosts once rank 0 has them)")

# --no-merge: the ranks convert and decide duplicates; `mailmill merge` (no mpirun) assembles.
out = os.path.join(W, "np2-no-merge")
job, rep = mpi_convert(2, refs["maildir"], out, "--no-merge")
c.check(not job.timed_out and job.rc == 0,
        f"(b) -np 2 --no-merge maildir: mpirun exit {job.rc}: {job.tail()!r}")
d = tree_diff(refs["maildir"].out, out)
c.check(d, "(b) --no-merge: the output is already complete before `mailmill merge`")
merge = run_job([MM, "merge", out], dict(os.environ))
c.check(not merge.timed_out and merge.rc == 0,
        f"(b) mailmill merge: exit {merge.rc}: {merge.tail()!r}")
d = tree_diff(refs["maildir"].out, out)
c.check(not d, f"(b) --no-merge then merge: output differs from the single-machine run:"
               f"{explain(d)}")
if rep is not None:  # the contract does not say whether --no-merge writes the report
    d = report_diff(refs["maildir"].rep or {}, rep, 2)
    c.check(not d, f"(b) --no-merge: report differs:{explain(d)}")

def fault_then_again(name, fault, want_rc=None):
    """Runs -np 2 mbox with MAILMILL_TEST_FAULT=`fault` (the job must fail: with `want_rc` when
    given), then the same command without it: the result must equal the reference. Returns
    the failed run's stderr and the second run's report."""
    out = os.path.join(W, name)
    job, _ = mpi_convert(2, refs["mbox"], out, fault=fault, quiet_mpirun=True)
    failed = job.rc == want_rc if want_rc is not None else job.rc not in (0, None)
    c.check(not job.timed_out and failed,
            f"(b) {fault}: mpirun {'timed out' if job.timed_out else f'exit {job.rc}'}, want a "
            f"failed job{f' with exit {want_rc}' if want_rc else ''} (was the fault injected?): "
            f"{job.tail()!r}")
    report = out + ".report.json"
    if os.path.exists(report):
        os.remove(report)  # the report read below is the second run's
    again, rep = mpi_convert(2, refs["mbox"], out)
    same_as(refs["mbox"], again, rep, out, 2, f"(b) the command again after {fault}")
    return text(job.stderr), rep


def resumed_units(rep):
    mpi = (rep or {}).get("mpi")
    return mpi if isinstance(mpi, dict) else {}


# Kill rank 1 after it spooled 3 work units, then the same command without the fault resumes.
_, rep = fault_then_again("np2-kill", "kill-rank:1:3")
mpi = resumed_units(rep)
c.check(isinstance(mpi.get("resumed_units"), int) and mpi["resumed_units"] > 0,
        f"(b) resume after kill-rank:1:3: report mpi.resumed_units is "
        f"{mpi.get('resumed_units')!r}, want > 0: the second run did not resume")

# Rank 0 killed (it also assembles): the same command resumes.
_, rep = fault_then_again("np2-kill0", "kill-rank:0:2")
per_rank = resumed_units(rep).get("per_rank") or []
c.check(len(per_rank) == 2 and per_rank[0].get("resumed_units", 0) > 0,
        f"(b) resume after kill-rank:0:2: rank 0 resumed no unit: {per_rank!r}")

# A rank whose output fails (as on a full disk): every rank stops with exit 3, the reason is
# printed once, and the same command then finishes the job.
err, _ = fault_then_again("np2-fail", "fail-rank:1:2", want_rc=3)
c.check(err.count("injected fault") == 1 and "another rank stopped" in err,
        f"(b) fail-rank:1:2: want rank 1's reason once and rank 0's pointer to it: {err[-800:]!r}")

# --format pst is refused under mpirun with more than one rank (the plain run above converts).
out = os.path.join(W, "np2-pst")
job, _ = mpi_convert(2, ref_pst, out, quiet_mpirun=True)
err = [ln for ln in text(job.stderr).splitlines() if ln.strip()]
c.check(job.rc == 2 and len(err) == 1 and "mpi" in err[0].lower(),
        f"(b) --format pst under -np 2: exit {job.rc} with stderr {err[:4]}, want exit 2 and "
        f"one line mentioning MPI")
pst_dir = os.path.join(out, "pst")
c.check(not (os.path.isdir(pst_dir) and any(fs for _, _, fs in os.walk(pst_dir))),
        "(b) --format pst under -np 2: PST files were written")

# ==== (c) MPI runs of the corpus ==================================================================
if corpus_ref is not None:
    for np in (2, 4):
        out = os.path.join(W, f"corpus-np{np}")
        job, rep = mpi_convert(np, corpus_ref, out, oversubscribe=np > 2)
        same_as(corpus_ref, job, rep, out, np, f"(c) corpus -np {np} mbox")
print(f"MPI part: {time.monotonic() - t_mpi:.1f} s")

c.finish()
