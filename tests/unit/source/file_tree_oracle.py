#!/usr/bin/env python3
"""Lists the loose messages of a directory tree by this test's own rule, the oracle of the
file-tree store test. One line per message, tab-separated: KIND (eml|msg), the path relative
to the root. Exit status 77 when olefile is missing.

The rule, from the store's contract, written independently of mailmill:
- directories holding both cur/ and new/ are maildirs (other inputs): not entered;
  symbolic links to directories are not followed (os.walk's default);
- a file starting "!BDN" (PST) or with an mbox From_ line is another input;
- .msg: an OLE2 file whose root storage holds the stream "__properties_version1.0"
  (olefile, a separate compound-file reader);
- .eml: the first line is a header field ("name:" with a printable-ASCII name, white space
  allowed before the colon, RFC 5322 4.5.3); the header block runs while lines are fields
  or folded lines (a malformed line or an empty one ends it), and one field of the block is
  one that messages carry.
"""
import os
import re
import sys

try:
    import olefile
except ImportError:
    sys.exit(77)

FIELD = re.compile(rb"^([\x21-\x39\x3b-\x7e]+)[ \t]*:")
KNOWN = {b"from", b"date", b"subject", b"message-id", b"received", b"return-path", b"to",
         b"mime-version", b"delivered-to", b"sender", b"reply-to", b"content-type", b"x-mailer",
         b"cc", b"in-reply-to"}


def is_eml(data):
    head = data[:65536]
    if head.startswith(b"\xef\xbb\xbf"):
        head = head[3:]
    lines = head.split(b"\n")
    if len(data) > 65536:
        lines = lines[:-1]  # the last line may be cut
    fields, known = 0, False
    for line in lines:
        line = line.rstrip(b"\r")
        if line == b"":
            break
        if line[:1] in (b" ", b"\t"):
            if fields == 0:
                return False
            continue
        m = FIELD.match(line)
        if not m:
            if fields == 0:
                return False
            break
        fields += 1
        known = known or m.group(1).lower() in KNOWN
    return fields > 0 and known


def kind(path):
    with open(path, "rb") as f:
        data = f.read()
    first = data.split(b"\n", 1)[0]
    if data.startswith(b"!BDN"):
        return None
    if data.startswith(b"From ") and not FIELD.match(first):
        return None
    if olefile.isOleFile(path):
        try:
            with olefile.OleFileIO(path) as ole:
                return "msg" if ole.exists("__properties_version1.0") else None
        except Exception:
            return None
    return "eml" if is_eml(data) else None


def main():
    root = sys.argv[1]
    for d, dirs, files in os.walk(root):
        keep = []
        for sub in sorted(dirs):
            p = os.path.join(d, sub)
            if os.path.islink(p):
                continue
            if os.path.isdir(os.path.join(p, "cur")) and os.path.isdir(os.path.join(p, "new")):
                continue
            keep.append(sub)
        dirs[:] = keep
        for name in sorted(files):
            p = os.path.join(d, name)
            if not os.path.isfile(p):
                continue
            k = kind(p)
            if k:
                sys.stdout.buffer.write(("%s\t" % k).encode() + os.fsencode(os.path.relpath(p, root)) + b"\n")


if __name__ == "__main__":
    main()
