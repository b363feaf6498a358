"""A real mail client's view: mailmill's mbox output of every PST/OST fixture imported into a
private Dovecot (doveadm import, as a provider would) and read back over IMAP, compared with
pffexport's export of the same items and with mailmill's manifest.

Dovecot runs from its own configuration under the test's folder, listening on loopback only,
and is stopped at the end. Without Dovecot installed the test is skipped (a failure under
CI=true, where tools/setup.sh installs it).

Per mbox file: Dovecot finds exactly the messages the manifest says were written there, in
order (ENVELOPE Message-ID). Per message: ENVELOPE has a From; INTERNALDATE (which Dovecot takes
from the From_ line) is the instant of the Date field; BODYSTRUCTURE's attachment parts,
fetched and decoded by section, hold every attachment pffexport exports for the item, byte for
byte, and its message/rfc822 parts are as many as pffexport's attached messages.
"""
import base64
import email.utils
import hashlib
import os
import quopri
import re
import shutil
import subprocess
import time
import imaplib

import dovecot
import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("dovecot_imap")
W = args.workdir
MM = args.mailmill

dovecot.require(mmtest)
corpus = mmtest.require_corpus(args)

# Known to be unreadable by libpff (MANIFEST.tsv: header CRC mismatch): no pffexport to compare.
PFF_CANNOT_OPEN = {"aspnet__AddingBulkMessagesWithImprovedPerformance.pst"}


# --- a private Dovecot (tests/integration/dovecot.py) --------------------------------------

server = dovecot.Dovecot(W, special_use=False)
D = server.dir
for sub in ("spool", "empty"):
    os.makedirs(os.path.join(D, sub))
try:
    server.start()
except RuntimeError as e:
    c.check(False, f"dovecot starts: {e}")
    c.finish()
stop = server.stop


def doveadm(*a):
    return mmtest.run([server.bins[1], "-c", server.conf, *a])


imap = server.connect("tester")


# --- IMAP response parsing ---------------------------------------------------------------

# An atom may carry a bracketed section with spaces: BODY[HEADER.FIELDS (DATE)].
TOKEN = re.compile(rb'\s*(?:(\()|(\))|"((?:[^"\\]|\\.)*)"|(\{\d+\})|([^\s()"\[]*\[[^\]]*\][^\s()"]*|[^\s()"]+))')


def parse_fetch(data):
    """imaplib FETCH data -> [(seq, {ITEM: value})]; values are nested lists of bytes/None."""
    # Join the pieces; a literal {n} is replaced by a marker whose index names its bytes.
    literals, text = [], b""
    for piece in data:
        if isinstance(piece, tuple):
            head, lit = piece
            literals.append(lit)
            text += re.sub(rb"\{\d+\}$", b"\x00LIT%d\x00" % (len(literals) - 1), head)
        elif piece is not None:
            text += piece + b"\n"
    out = []
    pos = 0
    lit_re = re.compile(rb"\x00LIT(\d+)\x00")

    def parse_list(i):
        items = []
        while True:
            m = lit_re.match(text, i)
            if m:
                items.append(literals[int(m.group(1))])
                i = m.end()
                continue
            m = TOKEN.match(text, i)
            if not m:
                raise ValueError(f"IMAP parse error at {text[i:i + 60]!r}")
            i = m.end()
            if m.group(1):
                sub, i = parse_list(i)
                items.append(sub)
            elif m.group(2):
                return items, i
            elif m.group(3) is not None:
                items.append(re.sub(rb"\\(.)", rb"\1", m.group(3)))
            else:
                atom = m.group(5)
                items.append(None if atom == b"NIL" else atom)
            # whitespace between a literal marker and the next token
            while i < len(text) and text[i:i + 1] in b" \r\n":
                i += 1

    while pos < len(text):
        m = re.compile(rb"\s*(\d+) \(").match(text, pos)
        if not m:
            break
        seq = int(m.group(1))
        lst, pos = parse_list(m.end())
        fields = {}
        for k in range(0, len(lst) - 1, 2):
            fields[lst[k].upper() if isinstance(lst[k], bytes) else lst[k]] = lst[k + 1]
        out.append((seq, fields))
        while pos < len(text) and text[pos:pos + 1] in b" \r\n)":
            pos += 1
    return out


def leaves(bs, prefix=""):
    """(section, part) of every leaf of a BODYSTRUCTURE, not descending into message/rfc822;
    each part is (type, subtype, params dict, encoding, disposition, parent subtype)."""
    out = []

    def walk(b, section, parent):
        typ = (b[0] or b"").lower()
        subt = (b[1] or b"").lower()
        params = {}
        if isinstance(b[2], list):
            for k in range(0, len(b[2]) - 1, 2):
                params[b[2][k].lower()] = b[2][k + 1]
        enc = (b[5] or b"7bit").lower()
        ext = 8 if typ == b"text" else 10 if (typ, subt) == (b"message", b"rfc822") else 7
        disp = b[ext + 1] if len(b) > ext + 1 else None
        out.append((section or "1", (typ, subt, params, enc, disp, parent)))

    def walk_with_parent(b, section, parent):
        if b and isinstance(b[0], list):
            kids = [x for x in b if isinstance(x, list) and _is_body(x)]
            subt = next((x for x in b if isinstance(x, bytes)), b"").lower()
            for n, x in enumerate(kids, 1):
                walk_with_parent(x, f"{section}.{n}" if section else str(n), subt)
            return
        walk(b, section, parent)

    walk_with_parent(bs, prefix, None)
    return out


def _is_body(x):
    return bool(x) and (isinstance(x[0], list) or (isinstance(x[0], bytes) and len(x) >= 7))


def decode(data, enc):
    if enc == b"base64":
        return base64.b64decode(re.sub(rb"\s+", b"", data))
    if enc == b"quoted-printable":
        return quopri.decodestring(data)
    return data


def internaldate_epoch(v):
    t = email.utils.parsedate_to_datetime(
        re.sub(r"^(\d+)-(\w+)-(\d+) ", r"\1 \2 \3 ", v.decode().strip()))
    return int(t.timestamp())


# --- import and compare ------------------------------------------------------------------

fixtures = sorted(n for n in os.listdir(os.path.join(corpus, "pst"))
                  if n.lower().endswith((".pst", ".ost")))
n_box = 0
totals = {"messages": 0, "dates": 0, "attachments": 0, "embedded": 0}
for name in fixtures:
    pst = os.path.join(corpus, "pst", name)
    out = os.path.join(W, "out", name)
    r = mmtest.run([MM, "convert", pst, "-o", out, "--format", "mbox", "--dedup", "none", "--quiet"])
    if not c.check(r.returncode in (0, 1), f"{name}: convert exit {r.returncode}"):
        continue
    manifest = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl"))
    written = {}
    for e in manifest:
        if e["outcome"] == "written" and ".mbox#" in e.get("location", ""):
            path, k = e["location"].rsplit("#", 1)
            written.setdefault(path, []).append((int(k), e))
    pff = {}
    if name not in PFF_CANNOT_OPEN:
        os.makedirs(os.path.join(W, "pff"), exist_ok=True)
        base = os.path.join(W, "pff", name)
        mmtest.run(["pffexport", "-f", "all", "-m", "items", "-q", "-t", base, pst])
        pff = {mmtest.pff_canonical_folder(k): v for k, v in mmtest.pff_items(base + ".export").items()}
    rank = mmtest.pff_index_by_node(manifest)

    for rel in sorted(written):
        entries = [e for _, e in sorted(written[rel], key=lambda x: x[0])]
        n_box += 1
        box = f"m{n_box}"
        spool = os.path.join(D, "spool", box + ".mbox")
        shutil.copyfile(os.path.join(out, rel), spool)
        os.chmod(spool, 0o644)
        r = doveadm("import", "-u", "tester",
                    f"mbox:{D}/empty:INBOX={spool}:INDEX={D}/idx/{box}", box, "all")
        where = f"{name}: {rel}"
        if not c.check(r.returncode == 0, f"{where}: doveadm import: {r.stderr[-400:]!r}"):
            continue
        typ, data = imap.select(f'"{box}/INBOX"', readonly=True)
        count = int(data[0]) if typ == "OK" else -1
        if not c.check(count == len(entries), f"{where}: Dovecot has {count} messages, manifest {len(entries)}"):
            continue
        typ, data = imap.fetch("1:*", "(ENVELOPE INTERNALDATE BODYSTRUCTURE BODY.PEEK[HEADER.FIELDS (DATE)])")
        fetched = parse_fetch(data)
        c.check(len(fetched) == count, f"{where}: FETCH answered {len(fetched)} of {count}")
        for (seq, f), e in zip(fetched, entries):
            w = f"{where}#{seq} {e['subject'][:40]!r}"
            totals["messages"] += 1
            env = f.get(b"ENVELOPE")
            mid = (env[9] or b"").decode("utf-8", "replace") if env else ""
            c.check(mid == e.get("message_id", ""), f"{w}: ENVELOPE Message-ID {mid!r} != manifest {e.get('message_id')!r}")
            c.check(env is not None and env[2] is not None, f"{w}: ENVELOPE has no From")
            hdr = None
            for k, v in f.items():
                if isinstance(k, bytes) and k.startswith(b"BODY["):
                    hdr = v
            date = email.message_from_bytes(hdr or b"").get("Date")
            if date:
                try:
                    want = int(email.utils.parsedate_to_datetime(date).timestamp())
                except (TypeError, ValueError):
                    want = None
                if want is not None:
                    got = internaldate_epoch(f[b"INTERNALDATE"])
                    c.check(got == want, f"{w}: INTERNALDATE {f[b'INTERNALDATE']!r} is not Date {date!r}")
                    totals["dates"] += 1
            # Attachments and attached messages against pffexport's export of the item.
            idx = rank.get((e["folder"], e["node_id"]))
            item = pff.get(e["folder"], {}).get(idx)
            if not item or item[0] not in mmtest.PFF_MAIL_TYPES:
                continue
            want_files, want_embedded = mmtest.pff_attachments(item[1])
            parts = leaves(f[b"BODYSTRUCTURE"])
            got_embedded = sum(1 for _, p in parts if (p[0], p[1]) == (b"message", b"rfc822"))
            c.check(got_embedded == want_embedded,
                    f"{w}: {got_embedded} message/rfc822 parts, pffexport has {want_embedded}")
            bodies = 0
            got_files = []
            for section, (t, s, params, enc, disp, parent) in parts:
                if (t, s) == (b"message", b"rfc822"):
                    continue
                is_attachment = isinstance(disp, list) and disp and (disp[0] or b"").lower() == b"attachment"
                if not is_attachment and t == b"text" and s in (b"plain", b"html", b"calendar"):
                    continue  # bodies
                if not is_attachment and parent == b"alternative":
                    continue  # the RTF alternative
                typ2, d2 = imap.fetch(str(seq), f"(BODY.PEEK[{section}])")
                lit = [x[1] for x in d2 if isinstance(x, tuple)]
                if c.check(len(lit) == 1, f"{w}: section {section} fetched"):
                    got_files.append(hashlib.sha256(decode(lit[0], enc)).hexdigest())
            missing = sorted(sorted(forms) for forms in want_files if not forms & set(got_files))
            c.check(not missing, f"{w}: attachments pffexport exports, missing over IMAP: {missing}")
            totals["attachments"] += len(want_files)
            totals["embedded"] += want_embedded
        imap.close()

imap.logout()
log = open(os.path.join(D, "dovecot.log"), encoding="utf-8", errors="replace").read()
stop()
errors = [l for l in log.splitlines() if ": Error:" in l or ": Panic:" in l or ": Fatal:" in l]
c.check(not errors, f"Dovecot logged errors: {errors[:5]}")
print(f"checked over IMAP: {n_box} mailboxes, {totals}")
c.check(totals["messages"] > 150 and totals["dates"] > 150 and totals["attachments"] > 100
        and totals["embedded"] > 10,
        f"the comparison covered the corpus: {totals}")
c.finish()
