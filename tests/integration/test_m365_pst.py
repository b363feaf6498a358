"""--format pst --profile m365: upload-ready PSTs for the Microsoft 365 PST Import Service.

A generated corpus (ground truth in X.pst.jsonl) is converted with a small --pst-max-bytes so that
it splits; then: mapping.csv bytes, every part opens in pffinfo, pffexport of all parts together
holds every item exactly once in its folder with its subject, readpst reads every part, an item
over the item limit goes to oversize/ and the report (never dropped), and --mailbox-map sends
inputs to their mailboxes."""
import json
import os
import re
import shutil
from collections import Counter

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("m365_pst")
HEADER = (b"Workload,FilePath,Name,Mailbox,IsArchive,TargetRootFolder,ContentCodePage,"
          b"SPFileContainer,SPManifestContainer,SPSiteUrl\r\n")
W = args.workdir


def generate(name, n, seed):
    pst = os.path.join(W, name + ".pst")
    r = mmtest.run([args.gen, "generate", "-o", pst, "--messages", str(n), "--seed", str(seed),
                    "--attachment-ratio", "0.3"])
    c.check(r.returncode == 0, f"generate {name}: {r.stderr[-500:]!r}")
    return pst, mmtest.load_jsonl(pst + ".jsonl")


def convert(inputs, out, *extra):
    report = out + ".json"
    r = mmtest.run([args.mailmill, "convert", *inputs, "-o", out, "--format", "pst", "--profile", "m365",
                    "--dedup", "none", "--report", report, "--quiet", *extra], timeout=900)
    rep = json.load(open(report, encoding="utf-8")) if os.path.exists(report) else None
    return r, rep


def psts(out):
    found = []
    for d, _, files in os.walk(os.path.join(out, "pst")):
        for f in files:
            if f.endswith(".pst"):
                found.append(os.path.relpath(os.path.join(d, f), os.path.join(out, "pst")))
    return sorted(found)


def subject_of(msg_dir):
    for name in ("OutlookHeaders.txt",):
        p = os.path.join(msg_dir, name)
        if os.path.exists(p):
            for line in open(p, encoding="utf-8", errors="replace"):
                if line.startswith("Subject:"):
                    return line[len("Subject:"):].strip("\t\r\n ")
    return None


ITEM_DIR = re.compile(r"^(Message|Contact|Appointment|Task|Meeting|Note|Activity|Item|Distribution list)\d+$")


def pff_items(pst, base):
    """[(folder below Top of Personal Folders, subject)] of every item pffexport writes."""
    r = mmtest.run(["pffexport", "-q", "-f", "all", "-t", base, pst])
    if r.returncode != 0:
        return None
    top = os.path.join(base + ".export", "Top of Personal Folders")
    got = []
    for d, dirs, _ in os.walk(top):
        for sub in list(dirs):
            if ITEM_DIR.match(sub):
                dirs.remove(sub)
                folder = os.path.relpath(d, top).replace(os.sep, "/")
                got.append(("" if folder == "." else folder, bmp(subject_of(os.path.join(d, sub)))))
    return got


def bmp(s):
    """pffexport (libpff 20180714) writes characters outside the BMP wrongly in OutlookHeaders.txt
    (U+1F600 comes out as U+1F201), for the generator's own PST as well, while libpff's API and
    our reader read them right: compare with astral characters masked."""
    return "".join(ch if ord(ch) < 0x10000 else "?" for ch in s) if s is not None else s


def truth_folder(f):
    # The generator's folder paths start below the store root; drop the IPM subtree name.
    parts = [p for p in f.split("/") if p]
    if parts and (parts[0].startswith("Top of ") or parts[0] == "IPM_SUBTREE"):
        parts = parts[1:]
    return "/".join(parts)


def check_mapping(out, want_rows, what):
    data = open(os.path.join(out, "pst", "mapping.csv"), "rb").read()
    want = HEADER + b"".join(r.encode() + b"\r\n" for r in want_rows)
    c.check(data == want, f"{what}: mapping.csv is\n{data.decode(errors='replace')}\nwant\n{want.decode()}")


# ---- 1. one mailbox, split at 400K -------------------------------------------------------
src, truth = generate("corpus", 300, 5)
out = os.path.join(W, "out")
r, rep = convert([src], out, "--mailbox", "a@example.com", "--pst-max-bytes", "400K")
c.check(r.returncode == 0, f"convert: exit {r.returncode}: {r.stderr[-800:]!r}")
c.check(rep is not None and rep["balanced"] and rep["totals"]["seen"] == len(truth)
        and rep["totals"]["written"] == len(truth),
        f"every generated item counted and written: {rep and rep['totals']}, truth {len(truth)}")
parts = psts(out)
c.check(len(parts) >= 3, f"want several PSTs at 400K, got {parts}")
c.check(all(p.startswith("a@example.com/corpus-") for p in parts), f"names: {parts}")
c.check([os.path.basename(p) for p in parts] == [f"corpus-{i:03d}.pst" for i in range(1, len(parts) + 1)],
        f"numbering: {parts}")
check_mapping(out, [f"Exchange,a@example.com,{os.path.basename(p)},a@example.com,FALSE,/,,,," for p in parts],
              "single mailbox")
limit = 400 * 1024
got = []
for i, p in enumerate(parts):
    full = os.path.join(out, "pst", p)
    c.check(os.path.getsize(full) <= limit, f"{p}: {os.path.getsize(full)} bytes is over the 400K limit")
    c.check(mmtest.run(["pffinfo", full]).returncode == 0, f"pffinfo {p}")
    items = pff_items(full, os.path.join(W, f"pff{i}"))
    c.check(items is not None and len(items) > 0, f"pffexport {p}")
    got += items or []
    rp = os.path.join(W, f"readpst{i}")
    os.makedirs(rp)
    # -j 0: readpst's forked workers (the default) now and then lose a message (seen on the
    # generator's own PST too: 2 runs in 10 wrote 299 of 300); serial mode is stable.
    rr = mmtest.run(["readpst", "-j", "0", "-q", "-S", "-o", rp, full])
    c.check(rr.returncode == 0, f"readpst {p}: {rr.stderr[-300:]!r}")
want = Counter((truth_folder(t["folder"]), bmp(t["subject"])) for t in truth)
have = Counter(got)
c.check(have == want, f"pffexport of all parts vs ground truth: missing {list((want - have).items())[:5]}, "
        f"extra {list((have - want).items())[:5]}")
# readpst (-S: one numbered file per message) finds as many messages per folder as the truth.
readpst_counts = Counter()
for i in range(len(parts)):
    base = os.path.join(W, f"readpst{i}")
    for d, _, files in os.walk(base):
        n = sum(1 for f in files if re.fullmatch(r"\d+", f))
        if n:
            # readpst's top directory is the store name; the rest is the folder path.
            readpst_counts["/".join(os.path.relpath(d, base).split(os.sep)[1:])] += n
want_counts = Counter(truth_folder(t["folder"]) for t in truth)
c.check(readpst_counts == want_counts, f"readpst per folder {dict(readpst_counts)} != {dict(want_counts)}")
written = [e for e in mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")) if e["outcome"] == "written"]
c.check(len(written) == len(truth), f"manifest: {len(written)} written of {len(truth)}")
c.check(all(re.fullmatch(r"pst/a@example\.com/corpus-\d{3}\.pst#\d+", e["location"]) for e in written),
        f"locations: {[e['location'] for e in written[:3]]}")

# ---- 2. over the item limit: oversize/ and the report, never dropped ----------------------
big = sorted(truth, key=lambda t: -sum(a["size"] for a in t["attachments"]))[0]
big_bytes = sum(a["size"] for a in big["attachments"])
out2 = os.path.join(W, "out-oversize")
r, rep = convert([src], out2, "--mailbox", "a@example.com", "--max-message-bytes", str(big_bytes))
c.check(r.returncode == 0, f"oversize convert: exit {r.returncode}: {r.stderr[-800:]!r}")
man = mmtest.load_jsonl(os.path.join(out2, "manifest.jsonl"))
over = [e for e in man if e["outcome"] == "written" and e["location"].startswith("oversize/")]
in_pst = [e for e in man if e["outcome"] == "written" and e["location"].startswith("pst/")]
c.check(len(over) >= 1, "at least one item goes to oversize/")
c.check(len(over) + len(in_pst) == len(truth), f"{len(over)} oversize + {len(in_pst)} in PSTs != {len(truth)}")
c.check(all(os.path.exists(os.path.join(out2, e["location"])) and e["location"].endswith(".eml") for e in over),
        "oversize items exist as .eml")
rep_text = json.dumps(rep)
c.check("Oversize" in rep_text, "report names the oversize items")
got2 = []
for i, p in enumerate(psts(out2)):
    got2 += pff_items(os.path.join(out2, "pst", p), os.path.join(W, f"pffo{i}")) or []
c.check(len(got2) == len(in_pst), f"PSTs hold {len(got2)} items, manifest says {len(in_pst)}")

# ---- 3. several mailboxes through --mailbox-map ------------------------------------------
src_b, truth_b = generate("bob", 40, 7)
os.makedirs(os.path.join(W, "carl"))
src_c = os.path.join(W, "carl", "old.pst")
shutil.copy(src_b, src_c)
mapfile = os.path.join(W, "map.csv")
with open(mapfile, "w", encoding="utf-8") as f:
    f.write("source,mailbox,archive\n")
    f.write(f"{src},ann@example.com,false\n")
    f.write(f"{src_b},Bob@Example.com,true\n")
    f.write(f"{os.path.join(W, 'carl')},carl@example.com\n")  # a folder: inputs inside it
out3 = os.path.join(W, "out-multi")
r, rep = convert([src, src_b, src_c], out3, "--mailbox-map", mapfile, "--target-root-folder", "/Imported")
c.check(r.returncode == 0, f"multi convert: exit {r.returncode}: {r.stderr[-800:]!r}")
parts3 = psts(out3)
c.check(parts3 == ["ann@example.com/corpus-001.pst", "bob@example.com/bob-001.pst",
                   "carl@example.com/old-001.pst"], f"multi: {parts3}")
check_mapping(out3, ["Exchange,ann@example.com,corpus-001.pst,ann@example.com,FALSE,/Imported,,,,",
                     "Exchange,bob@example.com,bob-001.pst,Bob@Example.com,TRUE,/Imported,,,,",
                     "Exchange,carl@example.com,old-001.pst,carl@example.com,FALSE,/Imported,,,,"], "multi")
for i, p in enumerate(parts3):
    c.check(mmtest.run(["pffinfo", os.path.join(out3, "pst", p)]).returncode == 0, f"pffinfo {p}")
n_b = len(pff_items(os.path.join(out3, "pst", parts3[1]), os.path.join(W, "pffm1")) or [])
c.check(n_b == len(truth_b), f"bob's PST has {n_b} items, want {len(truth_b)}")

# ---- 4. usage errors ---------------------------------------------------------------------
r = mmtest.run([args.mailmill, "convert", src, "-o", os.path.join(W, "bad1"), "--format", "pst"])
c.check(r.returncode == 2 and b"--mailbox" in r.stderr, f"no mailbox: exit {r.returncode} {r.stderr[-300:]!r}")
r = mmtest.run([args.mailmill, "convert", src, "-o", os.path.join(W, "bad2"), "--format", "mbox",
                "--profile", "m365"])
c.check(r.returncode == 2, f"m365 with mbox: exit {r.returncode}")
with open(os.path.join(W, "badmap.csv"), "w") as f:
    f.write("x.pst,not-an-address-but-second-line\ny.pst,nope\n")
r = mmtest.run([args.mailmill, "convert", src, "-o", os.path.join(W, "bad3"), "--format", "pst",
                "--mailbox-map", os.path.join(W, "badmap.csv")])
c.check(r.returncode == 2 and b"line 2" in r.stderr, f"bad map: exit {r.returncode} {r.stderr[-300:]!r}")

c.finish()
