#!/usr/bin/env python3
"""Independent oracle for mime::parse_message: reads every EML file and every mbox entry of the
corpus with Python's email package (policy=email.policy.default, mailbox.mbox for splitting) and
prints the facts the C++ test compares, one per line, tab-separated, values escaped (backslash,
tab, CR, LF):

  msg     <id>                         a message (id: path under the corpus, "#n" for mbox entry n)
  raw     <id> <hex>                   the entry's bytes (mbox entries: Python did the splitting)
  notmsg  <id>                         Python found no header field at all
  subject <id> <decoded, whitespace collapsed>
  from/to/cc <id> <lower-case addr-specs joined by spaces, groups flattened>
  date    <id> <unix seconds>
  text    <id> <first text/plain body (get_body), normalized>
  att     <id> <filename> <sha256 of decoded bytes>
  rawsubject <id> <value>              a Subject of raw 8-bit bytes (no encoded-words) in a
                                       message whose top-level text part names a charset:
                                       the bytes decoded with Python's codec for that charset
Attachments: leaf parts with a filename whose type is not text/plain or text/html, outside
attached messages (message/* parts are not descended into). Fields Python cannot decode
(exceptions, unknown charsets) are left out and so not compared.
"""
import email
import email.policy
import hashlib
import mailbox
import os
import re
import sys
from datetime import timezone


def esc(s):
    return str(s).replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def out(*fields):
    sys.stdout.write("\t".join(esc(f) for f in fields) + "\n")


def normalize_text(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    lines = [l.rstrip(" \t") for l in s.split("\n")]
    while lines and lines[0] == "":
        lines.pop(0)
    while lines and lines[-1] == "":
        lines.pop()
    return "\n".join(lines)


def collapse(s):
    return " ".join(s.split())


def attachments(part, found):
    ct = part.get_content_type()
    if ct.startswith("message/"):
        return
    if part.is_multipart():
        for p in part.iter_parts():
            attachments(p, found)
        return
    fn = part.get_filename()
    if fn and ct not in ("text/plain", "text/html"):
        data = part.get_payload(decode=True) or b""
        found.append((fn, hashlib.sha256(data).hexdigest()))


def describe(raw, ident):
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    if len(msg.keys()) == 0:
        out("notmsg", ident)
        return
    out("msg", ident)
    try:
        if msg["subject"] is not None:
            out("subject", ident, collapse(str(msg["subject"])))
    except Exception:
        pass
    try:
        head = raw.split(b"\n\n", 1)[0].split(b"\r\n\r\n", 1)[0]
        m = re.search(rb"^Subject:[ \t]*(.*(?:\r?\n[ \t].*)*)", head, re.M | re.I)
        cs = msg.get_content_charset()
        if m and cs and msg.get_content_maintype() == "text" and b"=?" not in m.group(1) and \
                any(c >= 0x80 for c in m.group(1)):
            value = re.sub(rb"\r?\n", b"", m.group(1))
            try:
                value.decode("utf-8")
            except UnicodeDecodeError:
                out("rawsubject", ident, collapse(value.decode(cs, errors="replace")))
    except LookupError:
        pass
    for name in ("from", "to", "cc"):
        try:
            hs = msg.get_all(name) or []
            if name == "from":
                hs = hs[:1]
            if hs and not any(h.defects for h in hs):
                out(name, ident, " ".join(a.addr_spec.lower() for h in hs for a in h.addresses
                                          if a.addr_spec and a.addr_spec != "<>"))
        except Exception:
            pass
    try:
        d = msg["date"]
        if d is not None and d.datetime is not None:
            dt = d.datetime
            if dt.tzinfo is None:
                dt = dt.replace(tzinfo=timezone.utc)
            out("date", ident, int(dt.timestamp()))
    except Exception:
        pass
    try:
        body = msg.get_body(preferencelist=("plain",))
        if body is not None:
            out("text", ident, normalize_text(body.get_content()))
    except Exception:
        pass
    try:
        found = []
        attachments(msg, found)
        for fn, sha in found:
            out("att", ident, fn, sha)
    except Exception:
        pass


def main():
    corpus = sys.argv[1]
    eml = os.path.join(corpus, "eml")
    for name in sorted(os.listdir(eml)):
        with open(os.path.join(eml, name), "rb") as f:
            describe(f.read(), "eml/" + name)
    mb = os.path.join(corpus, "mbox")
    for name in sorted(os.listdir(mb)):
        try:
            box = mailbox.mbox(os.path.join(mb, name), create=False)
            keys = list(box.keys())
        except Exception:
            continue
        for n, key in enumerate(keys):
            raw = box.get_bytes(key)
            ident = "mbox/%s#%d" % (name, n)
            out("raw", ident, raw.hex())
            describe(raw, ident)


if __name__ == "__main__":
    main()
