"""mailmill upload against a real Dovecot (started here, loopback only, stopped at the end).

Inputs: the corpus' EML, mbox and MSG files, a generated PST (Inbox, Sent Items, nested
folders; flags) and a Maildir++ written by Python's mailbox with non-ASCII folder names and
names holding '.', '&' and the server's separator '/'. Converted to mbox and to maildir output,
each uploaded for its own user, then everything is read back over IMAP with Python's imaplib and
compared with the output folder as Python reads it (mmtest.split_mboxrd, plain files):

* every written item is in the mailbox its folder maps to, byte for byte (CRLF form), exactly
  once, and nothing else is there; flags and INTERNALDATE are the manifest's; mailbox names as
  Dovecot itself prints them (doveadm, UTF-8) are the source folder names;
* a second run sends nothing; `verify --imap` agrees, and fails once a message is deleted;
* kill -9 after the server acknowledged the n-th message but before the journal recorded it,
  at several n, then a plain run: exactly once; also a kill from outside at a random moment;
* Dovecot restarted in the middle of an upload: the uploader reconnects, exactly once;
* messages put on the server beforehand (no journal) are found there, not sent again;
* a user over quota: the server's NO [OVERQUOTA] is reported per message (exit code 1, JSON
  report), nothing silently lost; --max-message-bytes is reported the same way;
* `convert --to`: the upload runs beside the conversion, exactly once;
* TLS: the test CA verifies; without it the certificate is refused (exit code 3); a wrong
  password is exit code 3.
"""
import base64
import collections
import email.utils
import hashlib
import imaplib
import json
import mailbox
import os
import random
import re
import signal
import subprocess
import sys
import time

import mmtest
import dovecot

args = mmtest.parse_args()
c = mmtest.Checker("imap_upload")
W = args.workdir
MM = args.mailmill

dovecot.require(mmtest)
corpus = mmtest.require_corpus(args)

D = dovecot.Dovecot(W, tls=True, quota_users={"small": "300K"})
D.start()
PW = os.path.join(W, "password")
with open(PW, "w") as f:
    f.write(dovecot.PASSWORD + "\n")


def sha(b):
    return hashlib.sha256(b).hexdigest()


def wire(b):
    """Every line end as CRLF (a bare CR too, as Dovecot stores it)."""
    return re.sub(rb"\r\n|\r|\n", b"\r\n", b)


def upload(out, user, *extra, env=None, tls=False):
    cmd = [MM, "upload", out, "--imap", D.url(tls), "--user", user, "--password-file", PW, "--quiet"]
    if tls:
        cmd += ["--ca-file", D.ca]
    return mmtest.run(cmd + list(extra), env=env)


def not_mail(e):
    """Appointments and contacts written as .ics/.vcf files: upload skips them."""
    return e["location"].lower().endswith((".ics", ".vcf"))


def stored_items(out):
    """seq -> (manifest line, stored bytes) of every written mail item, read by Python."""
    items = {}
    containers = {}
    for e in mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")):
        if e["outcome"] != "written" or not_mail(e):
            continue
        loc = e["location"]
        if "#" in loc:
            f, n = loc.rsplit("#", 1)
            if f not in containers:
                containers[f] = mmtest.split_mboxrd(open(os.path.join(out, f), "rb").read())
            data = containers[f][int(n) - 1]
        else:
            data = open(os.path.join(out, loc), "rb").read()
        items[e["seq"]] = (e, data)
    return items


def mutf7_decode(name):
    """RFC 3501 5.1.3 modified UTF-7 -> str (the test's own decoder; doveadm checks it)."""
    out, i = "", 0
    while i < len(name):
        if name[i] != "&":
            out += name[i]
            i += 1
            continue
        j = name.index("-", i)
        if j == i + 1:
            out += "&"
        else:
            b64 = name[i + 1:j].replace(",", "/")
            out += base64.b64decode(b64 + "=" * (-len(b64) % 4)).decode("utf-16-be")
        i = j + 1
    return out


def server_state(user):
    """mailbox (UTF-8) -> [(sha256, flags set, internaldate epoch)] for every mailbox."""
    imap = D.connect(user)
    typ, data = imap.list()
    boxes = []
    for line in data:
        m = re.match(rb'\((.*?)\) "(.)" (.*)$', line)
        box = m.group(3)
        if box.startswith(b'"'):
            box = box[1:-1].replace(b'\\"', b'"').replace(b"\\\\", b"\\")
        boxes.append((box.decode("ascii"), m.group(1).decode()))
    out = {}
    mid_of = {}
    for box, attrs in boxes:
        if "\\Noselect" in attrs:
            continue
        typ, count = imap.select('"%s"' % box.replace("\\", "\\\\").replace('"', '\\"'), readonly=True)
        if typ != "OK":
            continue
        if int(count[0]) == 0:
            out[mutf7_decode(box)] = []
            imap.close()
            continue
        typ, data = imap.fetch("1:*", "(FLAGS INTERNALDATE BODY.PEEK[HEADER.FIELDS (MESSAGE-ID)] BODY.PEEK[])")
        msgs = []
        if typ == "OK" and data and data != [None]:
            pieces = [p for p in data if isinstance(p, tuple)]
            for hdr, piece in zip(pieces[0::2], pieces[1::2]):
                mid = str(email.message_from_bytes(hdr[1]).get("Message-ID", "")).strip()
                mid_of[(mutf7_decode(box), len(msgs))] = mid
                head, body = piece
                head = hdr[0] + head
                flags = set(re.search(rb"FLAGS \(([^)]*)\)", head).group(1).decode().split())
                idate = re.search(rb'INTERNALDATE "([^"]+)"', head).group(1).decode()
                t = email.utils.parsedate_to_datetime(re.sub(r"^ ?(\d+)-(\w+)-(\d+) ", r"\1 \2 \3 ", idate))
                msgs.append((sha(body), flags - {"\\Recent"}, int(t.timestamp())))
        imap.close()
        out[mutf7_decode(box)] = msgs
    imap.logout()
    c.check(set(out) <= names_from_doveadm(user) | {"INBOX"},
            f"{user}: IMAP names decoded here are the names doveadm prints: {sorted(set(out) - names_from_doveadm(user))}")
    return out, mid_of


def names_from_doveadm(user):
    r = D.doveadm("mailbox", "list", "-u", user)
    return set(n for n in r.stdout.decode("utf-8").splitlines() if n)


FLAG = {"read": "\\Seen", "answered": "\\Answered", "flagged": "\\Flagged", "draft": "\\Draft",
        "forwarded": "$Forwarded"}


def expected_mailbox(folder):
    """The mailbox the README's default rules put a source folder in, on this Dovecot (where
    Sent, Trash, Drafts and Junk carry their special use)."""
    parts = [p for p in folder.split("/") if p]
    if parts and parts[0].lower() in ("top of personal folders", "top of information store"):
        parts = parts[1:]
    special = {"sent items": "Sent", "sent": "Sent", "deleted items": "Trash", "drafts": "Drafts",
               "junk e-mail": "Junk"}
    if not parts:
        return "INBOX"
    if parts[0].lower() == "inbox":
        parts[0] = "INBOX"
    elif parts[0].lower() in special:
        parts[0] = special[parts[0].lower()]
    # Dovecot's Maildir++ layout refuses '.' in a name: mailmill then uses '_' (and says so).
    return "/".join(p.replace("/", "_").replace(".", "_") for p in parts)


def compare(user, out, what, allow_extra=False):
    """Every written item exactly once, in its mailbox, with flags and date; nothing else."""
    items = stored_items(out)
    state_mid = server_state(user)
    want = collections.defaultdict(collections.Counter)
    binary = collections.defaultdict(collections.Counter)
    meta = {}
    state, mids = state_mid
    for seq, (e, data) in items.items():
        h = sha(wire(data))
        box = expected_mailbox(e["folder"])
        if b"\0" in data:
            # Sent as binary (literal8): Dovecot returns a NUL as 0x80, and a part declared
            # binary re-encoded as base64; such a message is recognised by its 0x80 form or,
            # failing that, by its Message-ID.
            nul = sha(wire(data).replace(b"\0", b"\x80"))
            h = "binary:" + e["message_id"] if e["message_id"] else nul
            binary[box][nul] = h
        want[box][h] += 1
        meta.setdefault(h, []).append(e)
    for box, msgs in state.items():
        for k, (h, f, t) in enumerate(msgs):
            if want[box][h] > 0:
                continue
            if h in binary[box]:
                msgs[k] = (binary[box][h], f, t)
            elif mids.get((box, k)) and "binary:" + mids[(box, k)] in want[box]:
                msgs[k] = ("binary:" + mids[(box, k)], f, t)
    ok = True
    for box, counter in want.items():
        got = collections.Counter(h for h, _, _ in state.get(box, []))
        missing = counter - got
        extra = got - counter
        ok &= c.check(not missing, f"{what}: {box}: {sum(missing.values())} written items not on the server")
        if not allow_extra:
            ok &= c.check(not extra, f"{what}: {box}: {sum(extra.values())} messages on the server twice or unknown")
    if not allow_extra:
        others = {b: len(m) for b, m in state.items() if b not in want and m}
        ok &= c.check(not others, f"{what}: messages in mailboxes nothing maps to: {others}")
    bad_flags = bad_dates = 0
    for box, msgs in state.items():
        for h, flags, t in msgs:
            es = meta.get(h)
            if not es:
                continue
            # Identical bytes may come from several items: any of them may be this one.
            bad_flags += all(flags != set(FLAG[f] for f in e["flags"].split(",") if f) for e in es)
            # A date in the future is replaced by the arrival time (Dovecot, like most servers).
            whens = [int(email.utils.parsedate_to_datetime(e["date"]).timestamp()) for e in es if e.get("date")]
            # Dovecot's maildir keeps INTERNALDATE in a 32-bit field: a date before 1970 reads
            # back as one after 2100 once the index is rebuilt. Only 1970 to now is compared.
            whens = [w for w in whens if 0 <= w < time.time()]
            undated = any(not e.get("date") for e in es)  # then the server picks the date
            if whens and not undated and t not in whens:
                bad_dates += 1
                if bad_dates <= 3:
                    print(f"  {what}: {box}: INTERNALDATE {t}, manifest {whens} ({[e['seq'] for e in es]})")
    c.check(bad_flags == 0, f"{what}: {bad_flags} messages with other flags than the manifest's")
    c.check(bad_dates == 0, f"{what}: {bad_dates} messages whose INTERNALDATE is not the manifest's date")
    return ok, items, state


# --- inputs --------------------------------------------------------------------------------

IN = os.path.join(W, "in")
os.makedirs(IN)
r = mmtest.run([args.gen, "generate", "-o", os.path.join(IN, "gen.pst"), "--messages", "400", "--seed", "11"])
c.check(r.returncode == 0, "generate: " + r.stderr.decode()[-300:])
md = mailbox.Maildir(os.path.join(IN, "salvaged"), create=True)
# Maildir++ names: "日本語.子" is the folder 子 inside 日本語.
FOLDERS = ["Entwürfe", "Projekt & Co", "日本語.子", "Sent Items"]
for n, name in enumerate(FOLDERS):
    box = md.add_folder(name)
    for k in range(3):
        m = mailbox.MaildirMessage(
            f"From: ann@example.com\nTo: bob@example.com\nSubject: {n}.{k}\n"
            f"Message-ID: <m{n}.{k}@test>\nDate: Mon, {k + 1} Feb 2016 10:00:00 +0000\n\nbody {n} {k}\n")
        m.set_flags("S" if k else "RF")
        box.add(m)

inputs = [os.path.join(IN, "gen.pst"), os.path.join(IN, "salvaged"),
          os.path.join(corpus, "eml"), os.path.join(corpus, "mbox"), os.path.join(corpus, "msg")]
OUT = os.path.join(W, "out-mbox")
r = mmtest.run([MM, "convert", *inputs, "-o", OUT, "--quiet"])
c.check(r.returncode in (0, 1), "convert to mbox: " + r.stderr.decode()[-400:])
OUT_MD = os.path.join(W, "out-maildir")
r = mmtest.run([MM, "convert", *inputs, "-o", OUT_MD, "--format", "maildir", "--quiet"])
c.check(r.returncode in (0, 1), "convert to maildir: " + r.stderr.decode()[-400:])

# --- the whole conversion, over TLS with 4 connections --------------------------------------

rep = os.path.join(W, "report.json")
r = upload(OUT, "ann", "--connections", "4", "--report", rep, tls=True)
c.check(r.returncode == 0, f"upload over TLS exits 0 (got {r.returncode}): {r.stderr.decode()[-800:]}")
ok, items, state = compare("ann", OUT, "mbox output")
report = json.load(open(rep)) if os.path.exists(rep) else {}
c.check(report.get("appended") == len(items) and report.get("refused") == 0,
        f"report: {len(items)} appended, 0 refused (got {report.get('appended')}, {report.get('refused')})")
n_files = sum(1 for e in mmtest.load_jsonl(os.path.join(OUT, "manifest.jsonl"))
              if e["outcome"] == "written" and not_mail(e))
c.check(n_files > 0 and report.get("skipped") == n_files and
        all(x["code"] == "NotMail" for x in report.get("skipped_items", [])),
        f"the {n_files} .ics/.vcf files are skipped with a reason (got {report.get('skipped')})")
names = names_from_doveadm("ann")
for want in ["Entwürfe", "Projekt & Co", "日本語/子", "Folder 0", "Folder 0/Folder 1 naïve"]:
    c.check(want in names, f"doveadm lists mailbox {want!r} (has {sorted(names)[:12]}...)")
c.check(any(m for m in state.get("Sent", [])), "Sent Items went to the \\Sent special-use mailbox")

r = upload(OUT, "ann", "--report", rep)
report = json.load(open(rep))
c.check(r.returncode == 0 and report.get("appended") == 0 and report.get("journaled_before") == len(items),
        f"a second run sends nothing ({report.get('appended')} appended, {report.get('journaled_before')} journaled)")
ok, _, _ = compare("ann", OUT, "after the second run")

r = mmtest.run([MM, "verify", OUT, "--imap", D.url(), "--user", "ann", "--password-file", PW])
c.check(r.returncode == 0, "verify --imap: all there: " + "".join(
    l for l in r.stdout.decode().splitlines(True) if not l.startswith("ok")) + r.stderr.decode()[-400:])

# The maildir output, another user, plain IMAP: same result.
r = upload(OUT_MD, "mdout", "--connections", "2")
c.check(r.returncode == 0, f"upload of maildir output exits 0: {r.stderr.decode()[-600:]}")
compare("mdout", OUT_MD, "maildir output")

# verify --imap notices a message deleted on the server.
imap = D.connect("ann")
imap.select('"Folder 0"')
imap.store("1", "+FLAGS", "\\Deleted")
imap.expunge()
imap.logout()
r = mmtest.run([MM, "verify", OUT, "--imap", D.url(), "--user", "ann", "--password-file", PW])
c.check(r.returncode == 1 and b"missing" in r.stdout, "verify --imap fails when a message is gone: " + r.stdout.decode()[-300:])

# --- kill -9 between the server's OK and the journal ----------------------------------------

for n in (1, 37, 150):
    env = dict(os.environ, MAILMILL_UPLOAD_DIE_AFTER=str(n))
    r = upload(OUT, "killed", "--connections", "2", env=env)
    c.check(r.returncode == -signal.SIGKILL, f"the run killed after {n} acknowledgements died (rc {r.returncode})")
# And from outside, at a moment chosen by chance.
p = subprocess.Popen([MM, "upload", OUT, "--imap", D.url(), "--user", "killed", "--password-file", PW,
                      "--quiet", "--connections", "3"], stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
time.sleep(random.Random(5).uniform(0.1, 0.6))
p.kill()
p.wait()
r = upload(OUT, "killed", "--report", rep)
report = json.load(open(rep))
c.check(r.returncode == 0, f"the run after the kills exits 0: {r.stderr.decode()[-500:]}")
c.check(report.get("present", 0) >= 1, f"the acknowledged but unjournaled messages were found on the server (present={report.get('present')})")
compare("killed", OUT, "after kill -9 at several points")

# --- Dovecot restarted in the middle of an upload ------------------------------------------

BIG = os.path.join(W, "big")
r = mmtest.run([args.gen, "generate", "-o", os.path.join(IN, "big.mbox"), "--format", "mbox",
                "--messages", "3000", "--seed", "4"])
r = mmtest.run([MM, "convert", os.path.join(IN, "big.mbox"), "-o", BIG, "--quiet"])
c.check(r.returncode == 0, "convert big.mbox")
env = dict(os.environ, MAILMILL_UPLOAD_PAUSE_AFTER="700")
p = subprocess.Popen([MM, "upload", BIG, "--imap", D.url(), "--user", "restart", "--password-file", PW,
                      "--quiet", "--connections", "2", "--report", rep],
                     stdout=subprocess.PIPE, stderr=subprocess.PIPE, env=env)
seen = b""
for line in p.stderr:
    seen += line
    if b"test hook: pausing" in line:
        break
D.restart(users=["restart"])  # while 700 messages are in and the rest are not
try:
    so, se = p.communicate(timeout=300)
except subprocess.TimeoutExpired:
    p.kill()
    so, se = p.communicate()
se = seen + se
report = json.load(open(rep)) if os.path.exists(rep) else {}
c.check(p.returncode == 0, f"the upload survives a server restart (rc {p.returncode}): {se.decode()[-600:]}")
c.check(b"connection lost" in se, "the restart was noticed: " + se.decode()[-1500:])
c.check(report.get("appended", 0) + report.get("present", 0) == 3000,
        f"restart: 3000 = appended + found ({report.get('appended')} + {report.get('present')})")
compare("restart", BIG, "Dovecot restarted mid-upload")

# --- convert --to: uploading while converting ----------------------------------------------

FOLLOW = os.path.join(W, "follow")
r = mmtest.run([args.gen, "generate", "-o", os.path.join(IN, "follow"), "--format", "maildir",
                "--messages", "8000", "--folders", "4", "--seed", "8"])
rep_follow = os.path.join(W, "follow-report.json")
r = mmtest.run([MM, "convert", os.path.join(IN, "follow"), "-o", FOLLOW, "--quiet", "--jobs", "1",
                "--to", D.url(), "--user", "follow", "--password-file", PW, "--upload-report", rep_follow])
c.check(r.returncode == 0, f"convert --to exits 0 (got {r.returncode}): {r.stderr.decode()[-600:]}")
report = json.load(open(rep_follow)) if os.path.exists(rep_follow) else {}
print(f"convert --to: {report.get('journaled_before')} sent while converting, {report.get('appended')} after")
c.check(report.get("journaled_before", 0) + report.get("appended", 0) == 8000,
        f"convert --to: 8000 = sent while converting + after ({report.get('journaled_before')} + {report.get('appended')})")
compare("follow", FOLLOW, "convert --to")

# --- mail already on the server, no journal -------------------------------------------------

items = stored_items(OUT)
imap = D.connect("prior")
pre = 0
for seq, (e, data) in sorted(items.items()):
    if expected_mailbox(e["folder"]) == "INBOX" and e.get("message_id") and pre < 5:
        imap.append("INBOX", None, imaplib.Time2Internaldate(
            email.utils.parsedate_to_datetime(e["date"]).timestamp()) if e.get("date") else None, wire(data))
        pre += 1
imap.logout()
r = upload(OUT, "prior", "--report", rep)
report = json.load(open(rep))
c.check(r.returncode == 0 and report.get("present") == pre,
        f"{pre} messages already in INBOX are found, not sent again (present={report.get('present')})")
compare("prior", OUT, "with mail already on the server")

# --- refusals ------------------------------------------------------------------------------

r = upload(OUT, "small", "--report", rep)
report = json.load(open(rep))
refused = report.get("refused_items", [])
c.check(r.returncode == 1, f"over quota: exit code 1 (got {r.returncode})")
c.check(refused and all(x["code"] == "OVERQUOTA" for x in refused),
        f"over quota: every refusal carries the server's code ({set(x['code'] for x in refused)})")
c.check(report.get("appended", 0) + len(refused) == len(items) and report.get("appended", 0) > 0,
        f"over quota: appended + refused = {len(items)} ({report.get('appended')} + {len(refused)})")
r = upload(OUT, "limited", "--max-message-bytes", "20000", "--report", rep)
report = json.load(open(rep))
big = sum(1 for e, d in items.values() if len(wire(d)) > 20000)
c.check(r.returncode == 1 and report.get("refused") == big and
        all(x["code"] == "TOOBIG" for x in report.get("refused_items", [])),
        f"--max-message-bytes: the {big} larger messages are reported as TOOBIG (got {report.get('refused')})")

# --- TLS and login failures ----------------------------------------------------------------

r = mmtest.run([MM, "upload", OUT, "--imap", D.url(True), "--user", "tls", "--password-file", PW, "--quiet"])
c.check(r.returncode == 3 and b"certificate" in r.stderr.lower(),
        f"without the test CA the certificate is refused (rc {r.returncode}): {r.stderr.decode()[-300:]}")
bad = os.path.join(W, "badpw")
with open(bad, "w") as f:
    f.write("wrong\n")
D2 = None
r = mmtest.run([MM, "upload", OUT, "--imap", D.url(), "--user", "x", "--password-file", bad, "--quiet"])
c.check(r.returncode == 3, f"a wrong password is exit code 3 (got {r.returncode}): {r.stderr.decode()[-300:]}")

D.stop()
c.finish()
