"""Issue 5: the parallel pipeline, dedup, resume, incremental runs, batches and verify.

(a) determinism: a generated corpus and two shared fixtures converted with --jobs 1 and
    --jobs 4, as mbox, eml and batch: the output trees (every file but .mailmill/) are
    byte-identical.
(b) dedup: one fixture under two names (a.pst, b.pst): every item of b that a wrote is a
    duplicate pointing at a's seq of the same item (same folder and node id). The generator's
    exact duplicates and near-duplicates (which differ only in PR_TRANSPORT_MESSAGE_HEADERS):
    --dedup content and message-id report both as duplicates of the original, --dedup raw only
    the exact copies (the transport headers are part of the bytes written), --dedup none
    writes everything, and --dedup-scope source writes the second file's copies again.
(c) kill and resume: conversions of a ~3000-message corpus killed with SIGKILL at several
    points (by manifest growth, not by clock), rerun with the same command until they finish:
    the tree is byte-identical to an uninterrupted run (mbox, eml, batch), the report balanced
    and equal to the uninterrupted one, every seq exactly once in the manifest.
(d) incremental: a.pst converted into OUT, then b.pst (same content) into the same OUT: every
    written item of b is a duplicate of a's; a's output is untouched; seqs continue.
(e) batch limits: --batch-messages 50 --batch-bytes 200K: every batch has at most 50 messages
    and at most 200 KiB uncompressed unless it holds a single message; every .sha256 matches;
    each batch decompresses (zstd CLI) into exactly the messages its manifest lists, by sha256;
    the zst_offset/zst_bytes of the manifest lines tile the batch file, and each such slice
    decompresses alone into exactly its message's mboxrd entry; the batch manifests list every
    written message once.
(f) verify: exit 0 on clean output; non-zero after flipping one byte in an .eml, an .mbox and a
    batch file, and after moving a frame location in a batch manifest by one byte.
"""
import collections
import glob
import json
import os
import shutil
import signal
import subprocess
import time

import mmtest

args = mmtest.parse_args()
mmtest.require_corpus(args)
c = mmtest.Checker("pipeline")
W = args.workdir
MM = args.mailmill


def gen(name, seed, n, *extra):
    p = os.path.join(W, name)
    r = mmtest.run([args.gen, "generate", "-o", p, "--seed", str(seed), "--messages", str(n),
                    "--duplicate-ratio", "0.05", "--near-duplicate-ratio", "0.05",
                    "--calendar-ratio", "0.02", "--contact-ratio", "0.02",
                    "--embedded-ratio", "0.05", "--non-ascii-ratio", "0.3", *extra])
    if not c.check(r.returncode == 0, f"generate {name}: {r.stderr[-400:]!r}"):
        c.finish()
    return p


def convert(inputs, out, *opts, report=None):
    report = report or out + ".report.json"
    r = mmtest.run([MM, "convert", *inputs, "-o", out, "--report", report, "--quiet", *opts])
    rep = None
    if os.path.exists(report):
        with open(report, encoding="utf-8") as f:
            rep = json.load(f)
    return r, rep


def tree(root):
    """{relative path: bytes} of every file except the .mailmill/ state folder."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        if dirpath == root:
            dirnames[:] = [d for d in dirnames if d != ".mailmill"]
        for f in filenames:
            p = os.path.join(dirpath, f)
            with open(p, "rb") as fh:
                out[os.path.relpath(p, root)] = fh.read()
    return out


def tree_diff(a, b):
    return sorted(set(a) ^ set(b)) + sorted(k for k in set(a) & set(b) if a[k] != b[k])


def manifest(out):
    return mmtest.load_jsonl(os.path.join(out, "manifest.jsonl"))


def items_of(path):
    """Independent count of a source's items: the generator's ground truth for a generated PST
    (one line per item it wrote); None for other inputs."""
    truth = path + ".jsonl"
    if os.path.exists(truth):
        return len(mmtest.load_jsonl(truth))
    return None


def accounted(rep, out, inputs):
    """The run accounted for every item: the census of each generated input equals its ground
    truth, the report's check of census against outcomes passed, and (given the run's OUTDIR)
    the manifest has one line per item and node id, with the report's outcomes."""
    if rep is None:
        return False
    ok = rep["balanced"]
    for src in rep["sources"]:
        want = items_of(src["path"])
        if want is not None and src["census"]["items"] != want:
            print(f"census of {src['path']}: {src['census']['items']} items, ground truth {want}")
            ok = False
    if out:  # a manifest of this run alone (not an incremental run into an older OUTDIR)
        m = manifest(out)
        t = rep["totals"]
        per = collections.Counter(e["outcome"] for e in m)
        if (per["written"], per["duplicate"], per["skipped"], per["failed"]) != \
                (t["written"], t["duplicates"], t["skipped"], t["failed"]) or len(m) != t["seen"]:
            print(f"manifest outcomes {dict(per)} ({len(m)} lines) != report totals {t}")
            ok = False
        if len({(e["source"], e["node_id"]) for e in m}) != len(m):
            print("a (source, node id) has more than one manifest line")
            ok = False
    return ok


FIX1 = os.path.join(args.shared, "pst", "aspnet__Outlook.pst")
FIX2 = os.path.join(args.shared, "pst", "aspnet__SampleOstFile.ost")
FORMATS = ("mbox", "eml", "batch")

# ---- (a) determinism across --jobs ---------------------------------------------------------
g600 = gen("g600.pst", 600, 600, "--attachment-max", "250000", "--attachment-ratio", "0.25")
clean = {}
for fmt in FORMATS:
    trees = {}
    for jobs in (1, 4):
        out = os.path.join(W, f"a-{fmt}-j{jobs}")
        extra = ["--batch-messages", "50", "--batch-bytes", "200K"] if fmt == "batch" else []
        r, rep = convert([g600, FIX1, FIX2], out, "--format", fmt, "--jobs", str(jobs), *extra)
        c.check(r.returncode == 0, f"(a) {fmt} --jobs {jobs}: exit {r.returncode}: {r.stderr[-400:]!r}")
        c.check(accounted(rep, out, [g600, FIX1, FIX2]), f"(a) {fmt} --jobs {jobs}: items not accounted for")
        trees[jobs] = tree(out)
        clean[fmt] = out
    d = tree_diff(trees[1], trees[4])
    c.check(not d, f"(a) {fmt}: --jobs 1 and --jobs 4 differ in {len(d)} files: {d[:5]}")
    c.check(len(trees[1]) > 3, f"(a) {fmt}: almost empty output")

# ---- (e) batch limits (on the batch output of (a)) ----------------------------------------
bout = clean["batch"]
bdir = os.path.join(bout, "batches")
names = sorted(os.listdir(bdir))
batches = [n for n in names if n.endswith(".mbox.zst")]
c.check(len(batches) > 5, f"(e) only {len(batches)} batches")
c.check(not [n for n in names if n.endswith(".part")], "(e) a .part file was left behind")
man = manifest(bout)
written_in_batches = {e["seq"]: e for e in man
                      if e["outcome"] == "written" and e["location"].startswith("batches/")}
zstd = shutil.which("zstd")
if not zstd:
    print("NOTE: no zstd CLI; batch contents are not decompressed (Python has no zstd)")
listed = collections.Counter()
big_single = 0


split_mboxrd = mmtest.split_mboxrd


for b in batches:
    stem = b[:-len(".mbox.zst")]
    with open(os.path.join(bdir, b), "rb") as f:
        data = f.read()
    sumfile = os.path.join(bdir, b + ".sha256")
    want = open(sumfile).read().split()[0] if os.path.exists(sumfile) else None
    c.check(want == mmtest.sha256(data), f"(e) {b}: .sha256 does not match")
    entries = mmtest.load_jsonl(os.path.join(bdir, stem + ".manifest.jsonl"))
    c.check(1 <= len(entries) <= 50, f"(e) {b}: {len(entries)} messages (limit 50)")
    c.check([e["batch_index"] for e in entries] == list(range(1, len(entries) + 1)),
            f"(e) {b}: batch_index is not 1..n")
    for e in entries:
        listed[e["seq"]] += 1
        m = written_in_batches.get(e["seq"])
        c.check(m is not None and m["location"] == f"batches/{b}#{e['batch_index']}"
                and m["raw_sha256"] == e["raw_sha256"],
                f"(e) {b}#{e['batch_index']}: seq {e['seq']} does not match the manifest")
    if zstd:
        r = subprocess.run([zstd, "-dcq", os.path.join(bdir, b)], stdout=subprocess.PIPE,
                           stderr=subprocess.PIPE)
        if not c.check(r.returncode == 0, f"(e) {b}: zstd -d failed: {r.stderr[-200:]!r}"):
            continue
        raw = r.stdout
        c.check(len(raw) <= 200 * 1024 or len(entries) == 1,
                f"(e) {b}: {len(raw)} bytes uncompressed with {len(entries)} messages (limit 200K)")
        big_single += len(raw) > 200 * 1024
        msgs = split_mboxrd(raw)
        c.check([mmtest.sha256(m) for m in msgs] == [e["raw_sha256"] for e in entries],
                f"(e) {b}: messages do not match the batch manifest")
        c.check(all(len(m) == e["bytes"] for m, e in zip(msgs, entries)),
                f"(e) {b}: message sizes do not match the batch manifest")
        # One zstd frame per message: the manifest's slices tile the file, and each slice
        # decompresses alone into exactly that message's mboxrd entry, the entries in order
        # making up the whole batch.
        offsets = [(e.get("zst_offset"), e.get("zst_bytes")) for e in entries]
        if not c.check(all(isinstance(o, int) and isinstance(n, int) and n > 0
                           for o, n in offsets), f"(e) {b}: zst_offset/zst_bytes missing"):
            continue
        ends = [o + n for o, n in offsets]
        c.check([o for o, _ in offsets] == [0] + ends[:-1] and ends[-1] == len(data),
                f"(e) {b}: frames do not tile the file ({len(data)} bytes): {offsets[:4]}...")
        frame_path = os.path.join(W, "frame.zst")
        pos = 0
        for e, (o, n) in zip(entries, offsets):
            with open(frame_path, "wb") as f:
                f.write(data[o:o + n])
            r = subprocess.run([zstd, "-dcq", frame_path], stdout=subprocess.PIPE,
                               stderr=subprocess.PIPE)
            one = split_mboxrd(r.stdout)
            ok = (r.returncode == 0 and r.stdout.startswith(b"From ")
                  and r.stdout == raw[pos:pos + len(r.stdout)] and len(one) == 1
                  and mmtest.sha256(one[0]) == e["raw_sha256"])
            c.check(ok, f"(e) {b}#{e['batch_index']}: bytes {o}+{n} do not decompress alone "
                        f"into its mboxrd entry (zstd exit {r.returncode})")
            pos += len(r.stdout)
        c.check(pos == len(raw), f"(e) {b}: the frames decompress to {pos} bytes, the batch to "
                                 f"{len(raw)}")
c.check(set(listed) == set(written_in_batches) and all(v == 1 for v in listed.values()),
        f"(e) batch manifests: {len(set(written_in_batches) - set(listed))} written messages not "
        f"listed, {sum(1 for v in listed.values() if v > 1)} listed twice, "
        f"{len(set(listed) - set(written_in_batches))} unknown")
if zstd:
    print(f"(e) {len(batches)} batches, {big_single} holding one message over 200K")
    c.check(big_single > 0, "(e) the corpus should have messages over the batch byte limit")

# ---- (f) verify -----------------------------------------------------------------------------
for fmt in FORMATS:
    r = mmtest.run([MM, "verify", clean[fmt]])
    c.check(r.returncode == 0, f"(f) verify {fmt}: exit {r.returncode}: {r.stderr[-300:]!r}")


def flip_copy(fmt, pick):
    dst = os.path.join(W, f"f-{fmt}")
    shutil.copytree(clean[fmt], dst)
    path, pos = pick(dst)
    with open(path, "r+b") as f:
        f.seek(pos)
        b = f.read(1)
        f.seek(pos)
        f.write(bytes([b[0] ^ 0x20]))
    return dst, path


def pick_eml(root):
    e = next(e for e in manifest(root) if e["outcome"] == "written" and e["location"].endswith(".eml"))
    p = os.path.join(root, e["location"])
    data = open(p, "rb").read()
    return p, data.index(b"MIME-Version") + 2  # a letter of a header field name, mid-file


def pick_mbox(root):
    e = next(e for e in manifest(root) if e["outcome"] == "written" and ".mbox#" in e["location"])
    p = os.path.join(root, e["location"].rsplit("#", 1)[0])
    data = open(p, "rb").read()
    return p, data.index(b"\nMIME-Version") + 3


def pick_batch(root):
    d = os.path.join(root, "batches")
    b = sorted(n for n in os.listdir(d) if n.endswith(".mbox.zst"))[0]
    p = os.path.join(d, b)
    return p, os.path.getsize(p) // 2


for fmt, pick in (("eml", pick_eml), ("mbox", pick_mbox), ("batch", pick_batch)):
    dst, path = flip_copy(fmt, pick)
    r = mmtest.run([MM, "verify", dst])
    c.check(r.returncode != 0, f"(f) verify {fmt}: exit 0 after flipping a byte in {path}")

# A batch manifest whose frame locations are off by one byte (the batch itself intact).
dst = os.path.join(W, "f-batch-offsets")
shutil.copytree(clean["batch"], dst)
bm = next(p for p in sorted(glob.glob(os.path.join(dst, "batches", "*.manifest.jsonl")))
          if len(mmtest.load_jsonl(p)) > 1)
lines = mmtest.load_jsonl(bm)
lines[0]["zst_bytes"] += 1
lines[1]["zst_offset"] += 1
with open(bm, "w", encoding="utf-8") as f:
    f.writelines(json.dumps(e, separators=(",", ":")) + "\n" for e in lines)
r = mmtest.run([MM, "verify", dst])
c.check(r.returncode != 0 and b"#1: bytes 0+" in r.stderr and b"not one zstd frame" in r.stderr,
        f"(f) verify batch: exit {r.returncode} with frame locations off by one byte: "
        f"{r.stderr[-300:]!r}")

# ---- (b) dedup --------------------------------------------------------------------------------
a_pst, b_pst = os.path.join(W, "a.pst"), os.path.join(W, "b.pst")
shutil.copyfile(FIX1, a_pst)
shutil.copyfile(FIX1, b_pst)


def by_source(man):
    out = collections.defaultdict(dict)
    for e in man:
        out[os.path.basename(e["source"])][(e["folder"], e["node_id"])] = e
    return out


def kept_seq(e):
    return e["seq"] if e["outcome"] == "written" else e.get("duplicate_of")


out = os.path.join(W, "b-global")
r, rep = convert([a_pst, b_pst], out, "--format", "eml", "--dedup", "content")
c.check(r.returncode == 0 and accounted(rep, out, [a_pst, b_pst]), f"(b) a+b: exit {r.returncode}")
src = by_source(manifest(out))
A, B = src["a.pst"], src["b.pst"]
c.check(set(A) == set(B) and len(A) > 10, f"(b) a.pst and b.pst list different items")
n_dup = 0
for k, ea in A.items():
    eb = B.get(k)
    if eb is None:
        continue
    if ea["outcome"] in ("written", "duplicate"):
        n_dup += 1
        c.check(eb["outcome"] == "duplicate" and eb["duplicate_of"] == kept_seq(ea),
                f"(b) b.pst {k}: {eb['outcome']} dup_of {eb.get('duplicate_of')}, want duplicate "
                f"of seq {kept_seq(ea)}")
    else:
        c.check(eb["outcome"] == ea["outcome"], f"(b) b.pst {k}: {eb['outcome']} vs a {ea['outcome']}")
c.check(n_dup > 10, f"(b) only {n_dup} duplicates checked")
c.check(not any(e["outcome"] == "written" for e in B.values()), "(b) b.pst wrote something")
c.check(not os.path.exists(os.path.join(out, "b")) or not any(
    f for _, _, fs in os.walk(os.path.join(out, "b")) for f in fs), "(b) files written for b.pst")

# --dedup-scope source: the second copy is written again.
out = os.path.join(W, "b-source")
r, rep = convert([a_pst, b_pst], out, "--format", "eml", "--dedup", "content", "--dedup-scope", "source")
c.check(r.returncode == 0 and accounted(rep, out, [a_pst, b_pst]), f"(b) scope source: exit {r.returncode}")
src = by_source(manifest(out))
A, B = src["a.pst"], src["b.pst"]
seq_map = {A[k]["seq"]: B[k]["seq"] for k in A if k in B}
for k, ea in A.items():
    eb = B.get(k)
    if eb is None:
        continue
    want_dup = seq_map.get(ea.get("duplicate_of")) if ea["outcome"] == "duplicate" else None
    c.check(eb["outcome"] == ea["outcome"] and eb.get("duplicate_of") == want_dup,
            f"(b) scope source: b.pst {k}: {eb['outcome']}/{eb.get('duplicate_of')}, "
            f"want {ea['outcome']}/{want_dup}")
c.check(sum(e["outcome"] == "written" for e in B.values()) > 10, "(b) scope source: b.pst wrote nothing")

# --dedup none writes everything.
out = os.path.join(W, "b-none")
r, rep = convert([a_pst, b_pst], out, "--format", "eml", "--dedup", "none")
m = manifest(out)
c.check(r.returncode == 0 and not any(e["outcome"] == "duplicate" for e in m),
        f"(b) --dedup none reported duplicates: {collections.Counter(e['outcome'] for e in m)}")
src = by_source(m)
c.check(sum(e["outcome"] == "written" for e in src["b.pst"].values()) ==
        sum(e["outcome"] == "written" for e in src["a.pst"].values()) > 10,
        "(b) --dedup none: a and b must write the same items")

# The generator's duplicates and near-duplicates.
truth = mmtest.load_jsonl(g600 + ".jsonl")
tf = collections.defaultdict(list)
for t in truth:
    tf[t["folder"]].append(t)
exact = {t["seq"]: t["duplicate_of"] for t in truth if t["duplicate_of"] is not None}
near = {t["seq"]: t["near_duplicate_of"] for t in truth if t["near_duplicate_of"] is not None}
c.check(len(exact) > 5 and len(near) > 5, f"(b) corpus has {len(exact)} duplicates, {len(near)} near")


def groups(*copies):
    """Truth seqs grouped by the original they copy (original included)."""
    g = collections.defaultdict(set)
    for m in copies:
        for s, orig in m.items():
            g[orig] |= {orig, s}
    return list(g.values())


# "The first occurrence in input order is kept": input order is the folder traversal order,
# which need not be the generator's write order, so a copy may be written and its original be
# the duplicate. Per group: exactly the member with the smallest output seq is written, every
# other member is a duplicate pointing at it, and no item outside a group is a duplicate.
for mode, want_groups in (("content", groups(exact, near)), ("message-id", groups(exact, near)),
                          ("raw", groups(exact))):
    out = os.path.join(W, f"b-gen-{mode}")
    r, rep = convert([g600], out, "--format", "eml", "--dedup", mode)
    c.check(r.returncode == 0 and accounted(rep, out, [g600]), f"(b) gen {mode}: exit {r.returncode}")
    mf = collections.defaultdict(list)
    for e in manifest(out):
        mf[e["folder"]].append(e)
    t2m = {}  # truth seq -> manifest entry (folder + position)
    for f, items in tf.items():
        es = sorted(mf.get(f, []), key=lambda e: e["index"])
        if c.check(len(es) == len(items), f"(b) gen {mode}: folder {f!r} has {len(es)} items"):
            t2m.update({t["seq"]: e for t, e in zip(items, es)})
    in_group = set().union(*want_groups)
    stray = sorted(s for s, e in t2m.items() if e["outcome"] == "duplicate" and s not in in_group)
    c.check(not stray, f"(b) --dedup {mode}: items that are no copies reported as duplicates: "
                       f"truth seqs {stray[:8]}")
    bad = []
    for g in want_groups:
        es = sorted((t2m[s] for s in g if s in t2m), key=lambda e: e["seq"])
        if not es:
            continue
        keep = es[0]
        ok = keep["outcome"] == "written" and all(
            e["outcome"] == "duplicate" and e["duplicate_of"] == keep["seq"] for e in es[1:])
        if not ok:
            bad.append(sorted(g))
    c.check(not bad, f"(b) --dedup {mode}: {len(bad)} of {len(want_groups)} copy groups not "
                     f"deduplicated to their first occurrence, e.g. truth seqs {bad[:3]}")
    n_dup = sum(e["outcome"] == "duplicate" for e in t2m.values())
    c.check(n_dup == len(in_group) - len(want_groups),
            f"(b) --dedup {mode}: {n_dup} duplicates, want {len(in_group) - len(want_groups)}")
    if mode == "raw":
        # Near-duplicates differ in their transport headers, which are in the bytes written.
        c.check(all(t2m[s]["outcome"] == "written" for s in near if s in t2m and not any(
            s in g for g in want_groups)), "(b) --dedup raw: a near-duplicate was removed")

# ---- (d) incremental --------------------------------------------------------------------------
out = os.path.join(W, "d-inc")
r, rep = convert([a_pst], out, "--format", "mbox")
c.check(r.returncode == 0, f"(d) first run: exit {r.returncode}")
first = manifest(out)
before = tree(out)
r, rep = convert([b_pst], out, "--format", "mbox")
c.check(r.returncode == 0 and accounted(rep, None, [b_pst]), f"(d) second run: exit {r.returncode}: {r.stderr[-300:]!r}")
after = tree(out)
c.check(all(after.get(k) == v for k, v in before.items() if k != "manifest.jsonl"),
        "(d) the second run changed the first run's output")
m = manifest(out)
c.check(m[:len(first)] == first, "(d) the first run's manifest lines changed")
second = m[len(first):]
c.check(len(second) == len(first), f"(d) second run: {len(second)} manifest lines, want {len(first)}")
c.check([e["seq"] for e in m] == list(range(len(m))), "(d) seqs are not 0..n-1 across the runs")
fa = {(e["folder"], e["node_id"]): e for e in first}
for e in second:
    ea = fa.get((e["folder"], e["node_id"]))
    if ea is None or ea["outcome"] not in ("written", "duplicate"):
        continue
    c.check(e["outcome"] == "duplicate" and e["duplicate_of"] == kept_seq(ea),
            f"(d) b.pst {e['folder']}#{e['index']}: {e['outcome']} {e.get('duplicate_of')}, "
            f"want duplicate of {kept_seq(ea)}")
c.check(rep is not None and rep["totals"]["written"] == 0,
        f"(d) second run wrote {rep and rep['totals']['written']} items")
r = mmtest.run([MM, "verify", out])
c.check(r.returncode == 0, f"(d) verify after the incremental run: exit {r.returncode}")

# ---- (c) kill and resume -----------------------------------------------------------------------
g3k = gen("g3k.pst", 3000, 3000, "--attachment-max", "40000", "--attachment-ratio", "0.3")


def run_killed(cmd, man_path, grow):
    """Starts cmd, SIGKILLs it once the manifest grew by `grow` bytes past its size at start.
    Returns True if it was killed, False if it finished first."""
    start = os.path.getsize(man_path) if os.path.exists(man_path) else 0
    p = subprocess.Popen(cmd, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        while p.poll() is None:
            size = os.path.getsize(man_path) if os.path.exists(man_path) else 0
            if size - start >= grow or (grow == 0 and os.path.exists(os.path.join(
                    os.path.dirname(man_path), ".mailmill"))):
                p.send_signal(signal.SIGKILL)
                p.wait()
                return True
            time.sleep(0.002)
    finally:
        if p.poll() is None:
            p.kill()
            p.wait()
    return False


for fmt in FORMATS:
    extra = ["--batch-messages", "100", "--batch-bytes", "1M"] if fmt == "batch" else []
    ref = os.path.join(W, f"c-{fmt}-ref")
    r, ref_rep = convert([g3k], ref, "--format", fmt, "--jobs", "2", *extra)
    c.check(r.returncode == 0 and accounted(ref_rep, ref, [g3k]), f"(c) {fmt} reference run failed")
    ref_size = os.path.getsize(os.path.join(ref, "manifest.jsonl"))
    out = os.path.join(W, f"c-{fmt}")
    report = out + ".report.json"
    cmd = [MM, "convert", g3k, "-o", out, "--report", report, "--quiet", "--format", fmt,
           "--jobs", "2", "--checkpoint-items", "2000", *extra]
    kills = 0
    # Kill points: right at the start, then after about 20%, 75% and 95% of the manifest (a
    # commit happens every 2000 items, so the later kills resume after a commit).
    for frac in (0, 0.2, 0.75, 0.95):
        got = os.path.getsize(os.path.join(out, "manifest.jsonl")) if os.path.exists(
            os.path.join(out, "manifest.jsonl")) else 0
        grow = 0 if frac == 0 else max(1, int(ref_size * frac) - got)
        kills += run_killed(cmd, os.path.join(out, "manifest.jsonl"), grow)
    print(f"(c) {fmt}: killed {kills} times")
    c.check(kills >= 2, f"(c) {fmt}: the run finished before it could be killed ({kills} kills)")
    # One resume, never retried: a resume that fails is a failure.
    r = mmtest.run(cmd)
    c.check(r.returncode == 0, f"(c) {fmt}: the resumed run exits {r.returncode}: {r.stderr[-300:]!r}")
    rep = json.load(open(report, encoding="utf-8")) if os.path.exists(report) else None
    c.check(accounted(rep, out, [g3k]), f"(c) {fmt}: resumed run did not account for every item")
    c.check(rep is not None and rep["totals"] == ref_rep["totals"],
            f"(c) {fmt}: totals {rep and rep['totals']} != uninterrupted {ref_rep['totals']}")
    m = manifest(out)
    seqs = [e["seq"] for e in m]
    c.check(sorted(seqs) == list(range(3000)) and len(set(seqs)) == len(seqs),
            f"(c) {fmt}: manifest has {len(seqs)} lines, {len(set(seqs))} distinct seqs, want 0..2999 once")
    d = tree_diff(tree(ref), tree(out))
    c.check(not d, f"(c) {fmt}: resumed output differs from the uninterrupted run in {len(d)} "
                   f"files: {d[:5]}")
    r = mmtest.run([MM, "verify", out])
    c.check(r.returncode == 0, f"(c) {fmt}: verify after resume: exit {r.returncode}: {r.stderr[-300:]!r}")

c.finish()
