"""`mailmill generate --format mbox|eml|maildir` checked with readers someone else wrote, then
converted with mailmill:
- Python's mailbox.mbox (mbox, LF and CRLF), mailbox.Maildir (maildir: folders, keys, info
  flags) and email (every message of every format) read the generated output; for each
  ground-truth line (in write order) the message is there, once: raw_sha256 of its bytes
  (mbox: mboxrd quoting undone), Subject decoded by Python, Message-ID, From, To + Cc, the
  text/plain and text/html bodies (hashed in canonical CRLF form), attachments by name, size
  and sha256, the number of attached messages, no parser defects; maildir flags equal the
  ground truth's;
- `mailmill convert` of each output accounts for every generated message (report balanced,
  seen = written = ground-truth count, one manifest line per message, all written);
- mbox -> EML keeps the original bytes: every EML file hashes to the message's raw_sha256
  (CRLF mbox: byte for byte; LF mbox: mailmill's EML files end lines with CRLF, so compared
  after CRLF -> LF).
"""
import collections
import email
import email.policy
import hashlib
import mailbox
import os
import re
from email.utils import getaddresses

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("generate_mime")

SEED = 1313
N = 260
GEN_OPTS = ["--seed", str(SEED), "--messages", str(N), "--folders", "6",
            "--attachment-ratio", "0.3", "--attachment-max", "30000", "--html-ratio", "0.4",
            "--non-ascii-ratio", "0.5", "--transport-headers-ratio", "0.4",
            "--embedded-ratio", "0.08", "--duplicate-ratio", "0.05",
            "--near-duplicate-ratio", "0.05"]
FROM_QUOTED = re.compile(rb"^>+From ")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def generate(fmt, out, eol):
    r = mmtest.run([args.gen, "generate", "-o", out, "--format", fmt, "--eol", eol] + GEN_OPTS)
    if not c.check(r.returncode == 0, f"generate {fmt} failed: {r.stderr[-500:]!r}"):
        c.finish()
    return mmtest.load_jsonl(out + ".jsonl")


def unquote_mboxrd(b):
    return b"".join(l[1:] if FROM_QUOTED.match(l) else l
                    for l in b.splitlines(keepends=True))


def canonical_sha(text):
    """sha256 of text with CRLF line ends (how the ground truth hashes bodies)."""
    return sha(text.replace("\r\n", "\n").replace("\n", "\r\n").encode("utf-8"))


def check_message(label, raw, t):
    """One message's bytes against its ground-truth line, through Python's email package."""
    c.check(sha(raw) == t["raw_sha256"], f"{label}: raw_sha256 differs")
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    defects = mmtest.all_defects(msg)
    for inner in mmtest.embedded_messages(msg):
        defects += mmtest.all_defects(inner)
    c.check(not defects, f"{label}: parser defects {defects}")
    c.check(str(msg["subject"]) == t["subject"],
            f"{label}: subject {str(msg['subject'])!r} != {t['subject']!r}")
    c.check(msg["message-id"] == t["message_id"], f"{label}: Message-ID {msg['message-id']!r}")
    frm = [a for _, a in getaddresses([str(msg["from"])])]
    c.check(frm == [t["sender"]], f"{label}: From {frm} != {t['sender']}")
    rcpt = [a for _, a in getaddresses([str(v) for v in msg.get_all("to", []) +
                                        msg.get_all("cc", [])])]
    c.check(sorted(rcpt) == sorted(t["recipients"]), f"{label}: To+Cc {rcpt}")
    body = mmtest.text_body(msg)
    c.check(body is not None and canonical_sha(body) == t["body_sha256"],
            f"{label}: text body hash differs")
    html = msg.get_body(preferencelist=("html",))
    got_html = canonical_sha(html.get_content()) if html is not None else None
    c.check(got_html == t["html_sha256"], f"{label}: HTML body hash differs")
    atts = sorted((n, len(b), sha(b)) for n, b in mmtest.attachments(msg))
    want = sorted((a["name"], a["size"], a["sha256"]) for a in t["attachments"])
    c.check(atts == want, f"{label}: attachments {atts} != {want}")
    c.check(len(mmtest.embedded_messages(msg)) == t["embedded"],
            f"{label}: attached messages differ")


def check_truth_shape(fmt, truth):
    c.check(len(truth) == N, f"{fmt}: ground truth has {len(truth)} lines, want {N}")
    c.check(all(t.get("raw_sha256") and t.get("path") for t in truth),
            f"{fmt}: ground truth lacks path or raw_sha256")
    c.check(all(set(t["flags"]) <= set("FRS") for t in truth), f"{fmt}: bad flags")


def convert(fmt_in, src, out_format, truth):
    """mailmill convert, checked to account for every generated message."""
    out = os.path.join(args.workdir, f"conv-{fmt_in}-{out_format}")
    report = out + ".report.json"
    r = mmtest.run([args.mailmill, "convert", src, "-o", out, "--format", out_format,
                    "--dedup", "none", "--report", report, "--quiet"])
    c.check(r.returncode == 0, f"convert {fmt_in}->{out_format}: exit {r.returncode} "
                               f"{r.stderr[-600:]!r}")
    import json
    with open(report, "rb") as f:
        rep = json.load(f)
    tot = rep.get("totals", {})
    c.check(rep.get("balanced") is True, f"{fmt_in}->{out_format}: report not balanced")
    c.check(tot.get("seen") == len(truth) and tot.get("written") == len(truth),
            f"{fmt_in}->{out_format}: report {tot}, ground truth {len(truth)}")
    manifest = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl"))
    c.check(len(manifest) == len(truth),
            f"{fmt_in}->{out_format}: manifest {len(manifest)} lines, want {len(truth)}")
    c.check(all(e["outcome"] == "written" for e in manifest),
            f"{fmt_in}->{out_format}: outcomes "
            f"{collections.Counter(e['outcome'] for e in manifest)}")
    got = collections.Counter(e["message_id"] for e in manifest)
    want = collections.Counter(t["message_id"] for t in truth)
    c.check(got == want, f"{fmt_in}->{out_format}: Message-IDs differ")
    return out, manifest


# --- mbox, LF and CRLF: Python's mailbox.mbox ------------------------------------------------
for eol in ("lf", "crlf"):
    path = os.path.join(args.workdir, f"gen-{eol}.mbox")
    truth = generate("mbox", path, eol)
    check_truth_shape(f"mbox {eol}", truth)
    with open(path, "rb") as f:
        data = f.read()
    c.check(any(FROM_QUOTED.search(l) for l in data.splitlines()),
            f"mbox {eol}: no mboxrd-quoted From line (the corpus must exercise quoting)")
    box = mailbox.mbox(path, create=False)
    keys = list(box.keys())
    c.check(len(keys) == len(truth), f"mbox {eol}: Python reads {len(keys)} messages, "
                                     f"want {len(truth)}")
    for i, (k, t) in enumerate(zip(keys, truth)):
        c.check(os.path.basename(path) == t["path"], f"mbox {eol}: path {t['path']}")
        c.check(data.startswith(b"From ", t["offset"]), f"mbox {eol} #{i}: offset")
        b = box.get_bytes(k)
        # Python drops the separating empty line only when it is a bare "\n".
        if eol == "crlf" and b.endswith(b"\r\n\r\n"):
            b = b[:-2]
        check_message(f"mbox {eol} #{i}", unquote_mboxrd(b), t)
    box.close()
    out, manifest = convert(f"mbox-{eol}", path, "eml", truth)
    # Original bytes kept: the manifest's index is the position in the mbox.
    kept = 0
    for e in manifest:
        with open(os.path.join(out, e["location"]), "rb") as f:
            written = f.read()
        if eol == "lf":
            written = written.replace(b"\r\n", b"\n")
        kept += sha(written) == truth[e["index"] - 1]["raw_sha256"]
    c.check(kept == len(truth), f"mbox {eol} -> eml: {kept} of {len(truth)} EML files hold the "
                                f"original bytes")

# --- EML: Python's email, file by file -------------------------------------------------------
root = os.path.join(args.workdir, "gen-eml")
truth = generate("eml", root, "crlf")
check_truth_shape("eml", truth)
files = mmtest.tree_files(root)
c.check(len(files) == len(truth), f"eml: {len(files)} files, want {len(truth)}")
for i, t in enumerate(truth):
    p = files.get(t["path"].replace("/", os.sep))
    if not c.check(p is not None, f"eml #{i}: {t['path']} missing"):
        continue
    c.check(os.path.dirname(t["path"]) == t["folder"], f"eml #{i}: folder {t['folder']}")
    with open(p, "rb") as f:
        check_message(f"eml #{i}", f.read(), t)
convert("eml", root, "mbox", truth)

# --- maildir: Python's mailbox.Maildir (Maildir++ folders, info flags) ----------------------
root = os.path.join(args.workdir, "gen-maildir")
truth = generate("maildir", root, "lf")
check_truth_shape("maildir", truth)
md = mailbox.Maildir(root, factory=None, create=False)
folders = md.list_folders()
c.check(len(md) == 0 and len(folders) == 6, f"maildir: root holds {len(md)}, folders {folders}")
seen = 0
by_dir = {}
for name in folders:
    by_dir["." + name] = md.get_folder(name)
for i, t in enumerate(truth):
    dirname, _, fname = t["path"].split("/", 2)
    sub = by_dir.get(dirname)
    if not c.check(sub is not None, f"maildir #{i}: folder {dirname} not listed by Python"):
        continue
    key = fname.split(":", 1)[0]
    msg = sub.get_message(key)
    c.check(msg.get_flags() == t["flags"], f"maildir #{i}: flags {msg.get_flags()!r} "
                                           f"!= {t['flags']!r}")
    c.check(msg.get_subdir() == "cur", f"maildir #{i}: in {msg.get_subdir()}")
    check_message(f"maildir #{i}", sub.get_bytes(key), t)
    seen += 1
c.check(sum(len(f) for f in by_dir.values()) == len(truth),
        "maildir: Python lists more messages than the ground truth")
c.check(any(t["flags"] == "" for t in truth) and any("F" in t["flags"] for t in truth) and
        any("R" in t["flags"] for t in truth), "maildir: flags not varied")
convert("maildir", root, "maildir", truth)

c.finish()
