"""Issue 13, point 8: `mailmill inspect` describes every input kind (format, dialect, message
count, folders), checked against what wrote the inputs or an independent reader:

(a) Generated (no corpus): one folder holding a PST from `mailmill generate` (its ground truth
    gives the items and folders), an mbox and a Maildir++ tree written by Python's `mailbox`
    (mboxo quoting, Status flags; maildir folders and flags from Python), and loose .eml files.
    `inspect DIR --json` lists each as its own input with the right kind, item count, folders
    and flags; the text form names the kind (not "PST") and the dialect; a headerless entry is
    counted as "unparsed"; a missing path exits 1.
(b) Corpus (skipped without it): fixtures/msg counted against python3-olefile (every file that
    is a compound file with an [MS-OXMSG] property stream is one item).
"""
import email.message
import json
import mailbox
import os
import shutil

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("inspect")
W = args.workdir
MM = args.mailmill
shutil.rmtree(W, ignore_errors=True)
root = os.path.join(W, "salvage")
os.makedirs(root)


def message(k, body="Hello\n"):
    m = email.message.EmailMessage()
    m["From"] = f"sender{k}@example.com"
    m["To"] = "rcpt@example.com"
    m["Subject"] = f"message {k}"
    m["Message-ID"] = f"<{k}@inspect.test>"
    m["Date"] = "Mon, 02 Mar 2020 10:00:00 +0000"
    m.set_content(body)
    return m


def inspect(*paths):
    r = mmtest.run([MM, "inspect", *paths, "--json"])
    try:
        return r, json.loads(r.stdout)
    except ValueError:
        return r, None


# PST with ground truth.
pst = os.path.join(root, "laptop.pst")
r = mmtest.run([args.gen, "generate", "-o", pst, "--truth", os.path.join(W, "truth.jsonl"),
                "--seed", "5", "--messages", "60", "--folders", "3"])
c.check(r.returncode == 0, f"generate: {r.stderr[-300:]!r}")
truth = mmtest.load_jsonl(os.path.join(W, "truth.jsonl"))

# mbox (Python writes mboxo: a body line "From ..." is stored as ">From ..."); flags in Status.
mb_path = os.path.join(root, "thunderbird.mbox")
mb = mailbox.mbox(mb_path, create=True)
mb_flags = ["RO", "O", "", "RA", "RF"]
for k in range(5):
    m = mailbox.mboxMessage(message(k, "From here on it is quoted\nbye\n"))
    m.set_flags(mb_flags[k])
    mb.add(m)
mb.flush()
mb.close()

# Maildir++ with two folders; flags from the file names.
md = mailbox.Maildir(os.path.join(root, "Maildir"), create=True)
md_flags = {"": ["S", "RS", "F"], "Archive": ["S", ""], "Archive.2019": ["D"]}
for folder, flags in md_flags.items():
    box = md if not folder else md.add_folder(folder)
    for k, fl in enumerate(flags):
        m = mailbox.MaildirMessage(message(100 + k))
        m.set_subdir("cur")
        m.set_flags(fl)
        box.add(m)

# Loose EML files (one of them no message at all: it must be counted, as "unparsed").
eml_dir = os.path.join(root, "loose")
os.makedirs(os.path.join(eml_dir, "sub"))
for k in range(3):
    with open(os.path.join(eml_dir, "sub" if k else "", f"m{k}.eml"), "wb") as f:
        f.write(bytes(message(200 + k)))

r, j = inspect(root)
if c.check(r.returncode == 0 and j, f"inspect DIR: exit {r.returncode} {r.stderr[-400:]!r}"):
    by_name = {os.path.relpath(i["input"], root): i for i in j["inputs"]}
    c.check(sorted(by_name) == [".", "Maildir", "laptop.pst", "thunderbird.mbox"],
            f"inputs found: {sorted(by_name)}")
    p = by_name.get("laptop.pst")
    if c.check(p is not None, "PST not listed"):
        c.check(p["kind"] == "pst" and p["type"].startswith("PST, "), f"PST kind {p['kind']}")
        c.check(p["items"] == len(truth) and p["census"]["items"] == len(truth),
                f"PST: {p['items']} items, census {p['census']['items']}, truth {len(truth)}")
        folders = {tuple(f["path"][1:]) for f in p["folders"] if f["items"]}
        want = {tuple(t["folder"].split("/")[1:]) for t in truth}
        c.check(folders == want, f"PST folders with items {folders}, truth {want}")
    m = by_name.get("thunderbird.mbox")
    if c.check(m is not None, "mbox not listed"):
        c.check(m["kind"] == "mbox" and m["type"] == "mbox", f"mbox kind {m['kind']}/{m['type']}")
        c.check(m["read_as"].startswith("mboxo (5 >From line(s) unquoted"),
                f"mbox dialect {m['read_as']!r}")
        py = mailbox.mbox(mb_path)
        c.check(m["items"] == len(py) == 5 and m["census"]["items"] == 5,
                f"mbox items {m['items']}, Python {len(py)}")
        fl = m.get("flags", {})
        want = {"read": sum("R" in x.get_flags() for x in py),
                "answered": sum("A" in x.get_flags() for x in py),
                "flagged": sum("F" in x.get_flags() for x in py)}
        c.check(all(fl.get(k) == v for k, v in want.items()), f"mbox flags {fl}, Python {want}")
    d = by_name.get("Maildir")
    if c.check(d is not None, "maildir not listed"):
        py = mailbox.Maildir(os.path.join(root, "Maildir"), factory=None, create=False)
        names = sorted(py.list_folders())
        got = sorted(".".join(f["path"]) for f in d["folders"] if f["path"])
        c.check(d["kind"] == "maildir" and d["read_as"].startswith("Maildir++"),
                f"maildir kind {d['kind']} {d['read_as']!r}")
        c.check(got == names, f"maildir folders {got}, Python {names}")
        counts = {".".join(f["path"]): f["items"] for f in d["folders"]}
        want = {"": len(py), **{n: len(py.get_folder(n)) for n in names}}
        c.check(counts == want, f"maildir items per folder {counts}, Python {want}")
        allm = list(py) + [x for n in names for x in py.get_folder(n)]
        fl = d.get("flags", {})
        want = {"read": sum("S" in x.get_flags() for x in allm),
                "answered": sum("R" in x.get_flags() for x in allm),
                "flagged": sum("F" in x.get_flags() for x in allm),
                "draft": sum("D" in x.get_flags() for x in allm),
                "recorded": len(allm)}
        c.check(all(fl.get(k) == v for k, v in want.items()), f"maildir flags {fl}, Python {want}")
    t = by_name.get(".")
    if c.check(t is not None, "loose files not listed"):
        c.check(t["kind"] == "files" and t["items"] == 3 and t["by_type"] == {"message": 3},
                f"loose files: {t['kind']} {t['items']} {t['by_type']}")

# Maildir folders nested the way Python's add_folder nests them (M/.Work/.2020), one of them
# also under its Maildir++ name (.Work.2020), one nested name non-ASCII: inspect lists each
# folder with Python's count (both directories of Work/2020 add up), and convert reads every
# message, its ledger balanced against the census's own count.
nested = os.path.join(W, "nested")
top = mailbox.Maildir(nested, create=True)
work = top.add_folder("Work")
y2020 = work.add_folder("2020")
ete = top.add_folder("&AMk-t&AOk-")  # Été in IMAP modified UTF-7 (RFC 3501 5.1.3)
k = 300  # distinct messages, so that every one is written (none is a duplicate)
for box, n in [(top, 2), (work, 1), (y2020, 2), (y2020.add_folder("Q1"), 1),
               (top.add_folder("Work.2020"), 1), (ete.add_folder("&ANw-nter"), 3)]:  # Ünter
    for _ in range(n):
        box.add(message(k))
        k += 1
MUTF7 = {"&AMk-t&AOk-": "\u00c9t\u00e9", "&ANw-nter": "\u00dcnter"}


def python_counts(box, levels, out):
    out[levels] = out.get(levels, 0) + len(box)
    for name in box.list_folders():
        python_counts(box.get_folder(name),
                      levels + tuple(MUTF7.get(x, x) for x in name.split(".")), out)
    return out


py_n = python_counts(mailbox.Maildir(nested, factory=None, create=False), (), {})
py_total = sum(py_n.values())
r, j = inspect(nested)
if c.check(r.returncode == 0 and j and len(j["inputs"]) == 1,
           f"inspect nested maildir: exit {r.returncode} {r.stderr[-300:]!r}"):
    d = j["inputs"][0]
    got = {tuple(f["path"]): f["items"] for f in d["folders"] if f["items"]}
    want = {p: n for p, n in py_n.items() if n}
    c.check(got == want, f"nested maildir: items per folder {got}, Python {want}")
    c.check(d["items"] == py_total == 10 and d["census"]["items"] == py_total,
            f"nested maildir: {d['items']} items, census {d['census']['items']}, Python {py_total}")
out = os.path.join(W, "nested-out")
r = mmtest.run([MM, "convert", nested, "-o", out, "--format", "eml", "--report", out + ".json",
                "--quiet"])
rep = json.load(open(out + ".json", encoding="utf-8")) if os.path.exists(out + ".json") else None
if c.check(r.returncode == 0 and rep, f"convert nested maildir: exit {r.returncode}"):
    t, src = rep["totals"], rep["sources"][0]
    c.check(rep["balanced"] is True and t["seen"] == t["written"] == py_total
            and src["status"] == "ok" and src["census"]["items"] == py_total,
            f"convert nested maildir: {t}, census {src['census']['items']}, Python {py_total}")
    print(f"nested maildir: Python {py_total}, convert {t}")

# Text form of one mbox with a headerless entry: the kind and dialect, no PST fields.
odd = os.path.join(W, "odd.mbox")
with open(odd, "wb") as f:
    f.write(b"From a@b Mon Mar  2 10:00:00 2020\nSubject: one\n\nbody\n\n"
            b"From nobody Mon Mar  2 10:00:00 2020\n\njust text, no header\n")
r = mmtest.run([MM, "inspect", odd], text=True)
c.check(r.returncode == 0, f"inspect odd.mbox: exit {r.returncode} {r.stderr[-300:]!r}")
c.check("type:        mbox\n" in r.stdout and "read as:     mboxo" in r.stdout
        and "encryption" not in r.stdout, f"inspect text form:\n{r.stdout}")
c.check("items by type: message=1 unparsed=1" in r.stdout and "census (mbox-from-lines): 2 items"
        in r.stdout, f"inspect counts:\n{r.stdout}")
# ... and convert writes the headerless entry verbatim, with a warning on its manifest line.
out = os.path.join(W, "odd-out")
r = mmtest.run([MM, "convert", odd, "-o", out, "--format", "eml", "--quiet"], text=True)
man = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")) if r.returncode == 0 else []
if c.check(len(man) == 2 and all(e["outcome"] == "written" for e in man),
           f"convert odd.mbox: exit {r.returncode}, manifest {man}"):
    kept = open(os.path.join(out, man[1]["location"]), "rb").read()
    c.check(kept == b"\r\njust text, no header\r\n", f"headerless entry written as {kept!r}")
    c.check(any("no header fields" in w for w in man[1].get("warnings", [])),
            f"headerless entry: no warning in {man[1]}")
r = mmtest.run([MM, "inspect", os.path.join(W, "no-such-file")], text=True)
c.check(r.returncode == 1 and "no-such-file" in r.stderr, f"missing path: exit {r.returncode}")

# ---- (b) corpus -------------------------------------------------------------------------------
if mmtest.have_corpus(args, c):
    olefile = mmtest.debian_module("olefile")
    if c.check(olefile is not None, "python3-olefile is not installed"):
        mdir = os.path.join(args.shared, "msg")
        want = 0
        for f in os.listdir(mdir):
            p = os.path.join(mdir, f)
            if olefile.isOleFile(p):
                with olefile.OleFileIO(p) as o:
                    want += o.exists("__properties_version1.0")
        r, j = inspect(mdir)
        if c.check(j is not None, f"inspect msg/: exit {r.returncode} {r.stderr[-300:]!r}"):
            got = sum(i["items"] for i in j["inputs"])
            c.check(got == want, f"fixtures/msg: inspect counts {got} items, olefile {want}")
            print(f"fixtures/msg: {got} .msg items; by type",
                  [i["by_type"] for i in j["inputs"]])
c.finish()
