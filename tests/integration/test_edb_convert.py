"""An Exchange-2013-shaped database from `mailmill generate --format edb` (two mailboxes; HTML,
non-ASCII text, transport headers, attachments, embedded messages, exact duplicates, hidden
folder-associated rows) converted to mbox with --dedup none, read back with Python's `mailbox`
and `email` packages (independent of our reader and writer) and checked against the
generator's ground truth:
- the report balances: every message row written, every hidden row skipped as "associated",
  and the census (rows of the Message_n tables) equals what the generator says it wrote;
- each mbox entry is matched to its ground-truth item by folder and Message-ID: Subject (the
  generator's transport-header Subject "generated" when those headers are present), From,
  To+Cc, the text and HTML bodies by sha256, attachments by name, size and sha256, the number of
  attached messages, and no parser defects;
- `inspect --json` lists both mailboxes with the generator's folder and row counts;
- `--source-mailbox` takes one mailbox: only its folders are written, all of its messages.
"""
import collections
import hashlib
import json
import mailbox
import os
import re

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("edb_convert")

N = 300
edb = os.path.join(args.workdir, "gen.edb")
r = mmtest.run([args.gen, "generate", "-o", edb, "--format", "edb", "--mailboxes", "2",
                "--seed", "77", "--messages", str(N), "--folders", "5",
                "--attachment-ratio", "0.3", "--attachment-max", "60000", "--html-ratio", "0.35",
                "--non-ascii-ratio", "0.5", "--transport-headers-ratio", "0.3",
                "--embedded-ratio", "0.08", "--duplicate-ratio", "0.05"], text=True)
if not c.check(r.returncode == 0, f"generate failed: {r.stderr[-500:]!r}"):
    c.finish()
# "  mailbox 101 Alice Archive: 7 folders, 150 messages, 7 hidden"
gen_boxes = {}
for m in re.finditer(r"^  mailbox (\d+) (.+): (\d+) folders, (\d+) messages, (\d+) hidden$",
                     r.stderr, re.M):
    gen_boxes[int(m.group(1))] = (m.group(2), int(m.group(3)), int(m.group(4)), int(m.group(5)))
c.check(len(gen_boxes) == 2, f"generator stats not found: {r.stderr[-400:]!r}")
hidden = sum(v[3] for v in gen_boxes.values())
truth = mmtest.load_jsonl(edb + ".jsonl")
c.check(len(truth) == N, f"ground truth has {len(truth)} lines, want {N}")
c.check(any(t["html_sha256"] for t in truth), "corpus has no HTML message")
c.check(any(t["embedded"] for t in truth), "corpus has no embedded message")
c.check(any(t["attachments"] for t in truth), "corpus has no attachment")
c.check(any(t["duplicate_of"] is not None for t in truth), "corpus has no duplicate")

# inspect --json
r = mmtest.run([args.mailmill, "inspect", edb, "--json"], text=True)
c.check(r.returncode == 0, f"inspect exit code {r.returncode}: {r.stderr[-500:]!r}")
doc = json.loads(r.stdout)
db = doc["inputs"][0].get("database", {})
c.check(db.get("exchange") is True and db.get("state") == "CleanShutdown",
        f"inspect database section: {db!r}")
got_boxes = {m["number"]: (m["owner"], m["folders"], m["messages"] - m["hidden"], m["hidden"])
             for m in db.get("mailboxes", [])}
c.check(got_boxes == gen_boxes, f"inspect mailboxes {got_boxes} != generator {gen_boxes}")

out = os.path.join(args.workdir, "mbox")
report = os.path.join(args.workdir, "report.json")
r = mmtest.run([args.mailmill, "convert", edb, "-o", out, "--format", "mbox", "--dedup", "none",
                "--report", report, "--quiet"])
c.check(r.returncode == 0, f"convert exit code {r.returncode}: {r.stderr[-800:]!r}")
with open(report) as f:
    totals = json.load(f)["totals"]
c.check(totals == {"seen": N + hidden, "written": N, "duplicates": 0, "skipped": hidden,
                   "failed": 0}, f"report totals {totals}, want {N} written and {hidden} skipped")
manifest = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl"))
outcomes = collections.Counter((e["outcome"], e.get("code", "")) for e in manifest)
c.check(outcomes == {("written", ""): N, ("skipped", "associated"): hidden},
        f"manifest outcomes {dict(outcomes)}")


# Every mbox file the manifest names, read with Python's mailbox (not our reader).
by_folder = collections.defaultdict(list)  # manifest folder -> parsed messages
files = {e["location"].rsplit("#", 1)[0]: e["folder"] for e in manifest if e["outcome"] == "written"}
for rel, folder in files.items():
    for raw in mailbox.mbox(os.path.join(out, rel)):
        by_folder[folder].append(mmtest.parse_message(raw.as_bytes()))
c.check(sum(len(v) for v in by_folder.values()) == N,
        f"{sum(len(v) for v in by_folder.values())} mbox entries, want {N}")

checked = collections.Counter()
truth_by_folder = collections.defaultdict(list)
for t in truth:
    truth_by_folder[t["folder"]].append(t)
c.check(set(truth_by_folder) == set(by_folder),
        f"folders differ: truth {sorted(truth_by_folder)} output {sorted(by_folder)}")
for folder, items in truth_by_folder.items():
    pool = collections.defaultdict(list)
    for m in by_folder.get(folder, []):
        pool[(m["Message-ID"] or "").strip()].append(m)
    for t in items:
        where = f"seq {t['seq']} ({folder})"
        cands = pool.get(t["message_id"], [])
        if not c.check(cands, f"{where}: no mbox entry with Message-ID {t['message_id']}"):
            continue
        msg = cands.pop(0)
        checked["messages"] += 1
        c.check(not mmtest.all_defects(msg), f"{where}: Python email defects {mmtest.all_defects(msg)}")
        transport = any("from mx" in str(v) for v in msg.get_all("Received", []))
        want_subject = "generated" if transport else t["subject"]
        got_subject = str(msg["subject"]) if msg["subject"] is not None else None
        c.check(got_subject == want_subject, f"{where}: Subject {got_subject!r} != {want_subject!r}")
        c.check(mmtest.addr_list(msg, "From") == [t["sender"]],
                f"{where}: From {mmtest.addr_list(msg, 'From')} != {t['sender']}")
        want_rcpts = t["recipients"][:1] if transport else t["recipients"]
        c.check(sorted(mmtest.addr_list(msg, "To", "Cc")) == sorted(want_rcpts),
                f"{where}: To+Cc {mmtest.addr_list(msg, 'To', 'Cc')} != {want_rcpts}")
        body = mmtest.text_body(msg)
        if t["body_sha256"]:
            checked["body"] += 1
            got = hashlib.sha256(mmtest.crlf(body).encode("utf-8")).hexdigest() if body is not None else None
            c.check(got == t["body_sha256"], f"{where}: text body sha256 {got} != truth")
        if t["html_sha256"]:
            checked["html"] += 1
            hp = msg.get_body(preferencelist=("html",))
            got = hashlib.sha256(mmtest.crlf(hp.get_content()).encode("utf-8")).hexdigest() if hp else None
            c.check(got == t["html_sha256"], f"{where}: HTML body sha256 {got} != truth")
        got_atts = sorted((n, len(b), mmtest.sha256(b)) for n, b in mmtest.attachments(msg))
        want_atts = sorted((a["name"], a["size"], a["sha256"]) for a in t["attachments"])
        checked["attachments"] += len(want_atts)
        c.check(got_atts == want_atts, f"{where}: attachments {got_atts} != truth {want_atts}")
        inner = mmtest.embedded_messages(msg)
        checked["embedded"] += len(inner)
        c.check(len(inner) == t["embedded"], f"{where}: {len(inner)} attached messages, truth {t['embedded']}")

print("checked:", dict(checked))
c.check(checked["messages"] == N and checked["html"] > 0 and checked["attachments"] > 30
        and checked["embedded"] > 0, f"too little was checked: {dict(checked)}")

# One mailbox by owner name.
number, (owner, _, msgs, hid) = sorted(gen_boxes.items())[1]
one = os.path.join(args.workdir, "one")
r = mmtest.run([args.mailmill, "convert", edb, "-o", one, "--format", "mbox", "--dedup", "none",
                "--source-mailbox", owner.upper(), "--quiet"])
c.check(r.returncode == 0, f"--source-mailbox convert exit code {r.returncode}: {r.stderr[-500:]!r}")
m1 = mmtest.load_jsonl(os.path.join(one, "manifest.jsonl"))
prefix = f"Mailbox - {owner}"
c.check(all(e["folder"] == prefix or e["folder"].startswith(prefix + "/") for e in m1),
        f"--source-mailbox {owner!r} wrote other mailboxes' folders")
c.check(sum(e["outcome"] == "written" for e in m1) == msgs == sum(
    t["folder"].startswith(prefix + "/") for t in truth),
        f"--source-mailbox {owner!r}: {sum(e['outcome'] == 'written' for e in m1)} written, "
        f"generator {msgs}")
c.finish()
