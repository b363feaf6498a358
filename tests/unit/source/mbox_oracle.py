#!/usr/bin/env python3
"""Oracle for the mbox store tests: splits an mbox file with Python's own `mailbox` module
and writes what each entry should read as.

usage: mbox_oracle.py OUTDIR MBOX DIALECT [MBOX DIALECT ...]

DIALECT is the dialect to read the file as (mboxo, mboxrd, mboxcl, mboxcl2). For the k-th
file (0-based) and its entry i (1-based) it writes OUTDIR/k/i.msg (the message bytes) and
OUTDIR/k/index.tsv with one line per entry: i, sender (first word of the From_ line), received
(unix seconds or -), Python's mboxMessage flags from Status/X-Status (- when not read by
Python). Many files per run, because starting Python costs more than reading them.

Deliberate adjustments, each for a documented reason:
- mailbox.mbox does not know a UTF-8 byte order mark: one at the start of the file is dropped
  before Python reads it (mailmill skips it).
- mailbox.mbox ends an entry before a blank line only when the line is b"\\n": in CRLF files
  the blank "\\r\\n" separator stays in Python's entry; it is cut here.
- mailbox.mbox starts an entry at every line beginning "From "; mailmill only at such a line
  that follows an empty line (mbox(5): every message ends with an empty line), starts the
  file, or is followed by a header field line (old Netscape files have no empty line between
  messages). An entry Python starts at a From line that is none of these (a body line such as
  "From here on...") is joined back to the entry before it here (the bytes are contiguous).
- mailbox.mbox never undoes From quoting: mboxrd removes one '>' from every /^>+From / line,
  mboxo and mboxcl from /^>From / lines only; mboxcl2 leaves them.
- mailbox.mbox does not know Content-Length: for mboxcl/mboxcl2 the entries are found here by
  walking each entry's Content-Length header (read with Python's email header parser).
"""
import calendar
import email.parser
import mailbox
import os
import re
import sys
import tempfile
import time

BOM = b"\xef\xbb\xbf"
# A header field line: RFC 5322 field name (at most 76 characters), optional white space, ':'.
FIELD = re.compile(rb"[!-9;-~]{1,76}[ \t]*:")


def unquote(data, dialect):
    if dialect == "mboxrd":
        return re.sub(rb"(?m)^>(>*From )", rb"\1", data)
    if dialect in ("mboxo", "mboxcl"):
        return re.sub(rb"(?m)^>(From )", rb"\1", data)
    return data


def received(from_line):
    """asctime date of a From_ line ("Www Mmm dd hh:mm:ss [zone] yyyy [zone]") in UTC."""
    m = re.search(
        r"\b(Mon|Tue|Wed|Thu|Fri|Sat|Sun)\w*\s+(\w{3})\w*\s+(\d{1,2})\s+(\d\d:\d\d(?::\d\d)?)"
        r"(?:\s+([+-]\d{4}|[A-Z]{2,4}))?\s+(\d{4})(?:\s+([+-]\d{4}))?", from_line)
    if not m:
        return None
    hms = m.group(4) if m.group(4).count(":") == 2 else m.group(4) + ":00"
    try:
        t = time.strptime("%s %s %s %s" % (m.group(2), m.group(3), m.group(6), hms),
                          "%b %d %Y %H:%M:%S")
    except ValueError:
        return None
    secs = calendar.timegm(t)
    zone = m.group(7) or m.group(5)
    names = {"UT": 0, "UTC": 0, "GMT": 0, "EST": -300, "EDT": -240, "CST": -360, "CDT": -300,
             "MST": -420, "MDT": -360, "PST": -480, "PDT": -420}
    if zone and zone[0] in "+-":
        off = int(zone[1:3]) * 60 + int(zone[3:5])
        secs -= off * 60 if zone[0] == "+" else -off * 60
    elif zone in names:
        secs -= names[zone] * 60
    return secs


def python_entries(path):
    """(from_line, bytes, flags) per entry, as mailbox.mbox reads them."""
    with open(path, "rb") as f:
        data = f.read()
    tmp = None
    if data.startswith(BOM):
        data = data[len(BOM):]
        fd, tmp = tempfile.mkstemp()
        os.write(fd, data)
        os.close(fd)
        path = tmp
    try:
        box = mailbox.mbox(path, create=False)
        out = []
        for key in box.iterkeys():
            start, stop = box._toc[key]  # Python's own split: [From_ line, end of entry)
            nl = data.find(b"\n", start)
            body = stop if nl < 0 or nl + 1 > stop else nl + 1
            follows_blank = data[:start].endswith(b"\n\n") or data[:start].endswith(b"\r\n\r\n")
            header_next = FIELD.match(data, body) is not None
            if out and not follows_blank and not header_next:
                # Joined back: mailmill starts entries only at From lines after a blank line.
                prev_from, prev_body, _, prev_flags = out[-1]
                out[-1] = (prev_from, prev_body, stop, prev_flags)
                continue
            from_line = data[start + 5:body].decode("latin-1").rstrip("\r\n")
            out.append((from_line, body, stop, box.get_message(key).get_flags()))
        box.close()
        result = []
        for from_line, body, stop, flags in out:
            raw = data[body:stop]
            if raw.endswith(b"\r\n\r\n"):
                raw = raw[:-2]
            result.append((from_line, raw, flags))
        return result
    finally:
        if tmp:
            os.unlink(tmp)


def content_length_entries(path):
    with open(path, "rb") as f:
        data = f.read()
    if data.startswith(BOM):
        data = data[len(BOM):]
    pos = data.find(b"From ")
    out = []
    parser = email.parser.BytesHeaderParser()
    while pos < len(data):
        nl = data.find(b"\n", pos)
        nl = len(data) if nl < 0 else nl + 1
        from_line = data[pos:nl].decode("latin-1").rstrip("\r\n")[5:]
        sep = re.compile(rb"\r?\n\r?\n").search(data, nl - 1)
        body = len(data) if sep is None else sep.end()
        headers = parser.parsebytes(data[nl:body])
        end = min(body + int(headers["Content-Length"].strip()), len(data))
        out.append((from_line, data[nl:end], None))
        rest = re.compile(rb"\r?\n").match(data, end)
        pos = rest.end() if rest else len(data)
    return out


def main():
    outdir = sys.argv[1]
    pairs = sys.argv[2:]
    for k in range(0, len(pairs) // 2):
        path, dialect = pairs[2 * k], pairs[2 * k + 1]
        sub = os.path.join(outdir, str(k))
        os.makedirs(sub, exist_ok=True)
        if dialect in ("mboxcl", "mboxcl2"):
            entries = content_length_entries(path)
        else:
            entries = python_entries(path)
        with open(os.path.join(sub, "index.tsv"), "w") as index:
            for i, (from_line, raw, flags) in enumerate(entries, 1):
                with open(os.path.join(sub, "%d.msg" % i), "wb") as f:
                    f.write(unquote(raw, dialect))
                r = received(from_line)
                words = from_line.split()
                index.write("%d\t%s\t%s\t%s\n" % (i, words[0] if words else "",
                                                  "-" if r is None else r,
                                                  "-" if flags is None else flags))


if __name__ == "__main__":
    main()
