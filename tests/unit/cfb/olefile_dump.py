#!/usr/bin/env python3
"""Independent oracle for the compound-file tests: lists compound files with olefile (Debian
python3-olefile) and prints, for each file given, one line per entry, sorted by path:

  FILE  <path as given>
  ROOT  <root CLSID>
  D     <path> <CLSID>                          a storage
  S     <path> <size> <sha256 of the stream>    a stream

Paths join names with '/'; each name is UTF-8 with bytes outside printable ASCII and the
backslash written as \\xNN, and ends at its first NUL ([MS-CFB] 2.6.1: the name is
NUL-terminated; damaged files have a NUL before the stored length). A CLSID is upper-case
registry form, all zeros when unset. A file olefile cannot read gets "ERROR <message>" after
its FILE line. Exit 77 when olefile is missing (the caller skips).
"""
import hashlib
import os
import sys

try:
    import olefile
except ImportError:
    # The interpreter first on PATH may not be Debian's (pyenv); Debian's packages live with
    # /usr/bin/python3.
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit(77)


def esc(name):
    name = name.split("\0", 1)[0]
    return "".join(chr(b) if 0x20 <= b < 0x7F and b != 0x5C else "\\x%02X" % b
                   for b in name.encode("utf-8", "surrogatepass"))


def clsid(s):
    return s.upper() if s else "00000000-0000-0000-0000-000000000000"


def dump(path):
    print("FILE\t%s" % path)
    try:
        ole = olefile.OleFileIO(path)
    except Exception as e:  # noqa: BLE001 - any failure to read is the answer
        print("ERROR\t%s" % str(e).replace("\n", " "))
        return
    print("ROOT\t%s" % clsid(ole.root.clsid))
    lines = []
    for parts in ole.listdir(streams=True, storages=True):
        p = "/".join(esc(x) for x in parts)
        kind = ole.get_type(parts)
        if kind == olefile.STGTY_STORAGE:
            lines.append("D\t%s\t%s" % (p, clsid(ole.getclsid(parts))))
        elif kind == olefile.STGTY_STREAM:
            data = ole.openstream(parts).read()
            lines.append("S\t%s\t%d\t%s" % (p, len(data), hashlib.sha256(data).hexdigest()))
    for line in sorted(lines):
        print(line)


if __name__ == "__main__":
    for p in sys.argv[1:]:
        dump(p)
    sys.exit(0)
