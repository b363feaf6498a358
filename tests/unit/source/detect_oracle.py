#!/usr/bin/env python3
"""Oracle for detect_input on single-message files: prints "name<TAB>kind" for every file of
a directory, by Python's email package: "mbox" when the file (after a UTF-8 BOM) starts with a
From_ line, "eml" when email.parser.BytesHeaderParser finds at least one header field,
"unknown" when it finds none.

usage: detect_oracle.py DIR
"""
import email.parser
import os
import sys


def main():
    root = sys.argv[1]
    for name in sorted(os.listdir(root)):
        with open(os.path.join(root, name), "rb") as f:
            data = f.read()
        if data.startswith(b"\xef\xbb\xbf"):
            data = data[3:]
        if data.startswith(b"From "):
            kind = "mbox"
        else:
            msg = email.parser.BytesHeaderParser().parsebytes(data)
            kind = "eml" if msg.keys() else "unknown"
        print("%s\t%s" % (name, kind))


if __name__ == "__main__":
    main()
