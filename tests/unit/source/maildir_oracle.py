#!/usr/bin/env python3
"""Lists a Maildir++ tree with Python's mailbox.Maildir, the oracle of the maildir store and
sink tests. Output, one line each, tab-separated:

  FOLDER <directory, "" for the root> <decoded path, levels joined by U+241F>
  MSG <directory> <subdir: new|cur> <sha256 of the bytes> <flags, as get_flags() says>

A directory is named by its path below the root: ".A.B" at the top, ".A/.B" for the folder
Python's add_folder makes inside a folder (nested to any depth). Folder names are decoded
here, independently of mailmill: each directory name without its leading '.', split on '.',
each level read as IMAP modified UTF-7 (RFC 3501 5.1.3) with Python's base64 and utf-16-be
codecs, then Dovecot listescape's "\\NN" escapes undone; a nested directory's levels follow
its parent's. Maildir(5) readers skip file names starting with '.', so such keys are left out;
folders are the '.' subdirectories that hold cur/ and new/ (Python needs both).
"""
import base64
import hashlib
import mailbox
import os
import re
import sys

SEP = "\u241f"


def decode_mutf7(s):
    out = []
    i = 0
    while i < len(s):
        if s[i] != "&":
            out.append(s[i])
            i += 1
            continue
        end = s.index("-", i + 1)
        chunk = s[i + 1:end]
        if chunk == "":
            out.append("&")
        else:
            b64 = chunk.replace(",", "/")
            b64 += "=" * (-len(b64) % 4)
            out.append(base64.b64decode(b64).decode("utf-16-be"))
        i = end + 1
    return "".join(out)


def unescape(s):
    return re.sub(r"\\([0-9a-fA-F]{2})", lambda m: chr(int(m.group(1), 16)), s)


def decode_levels(name):
    return [unescape(decode_mutf7(level)) for level in name[1:].split(".")]


def dump(box, dirname):
    for key in sorted(box.keys()):
        if key.startswith("."):
            continue
        msg = box.get_message(key)
        data = box.get_bytes(key)
        print("MSG\t%s\t%s\t%s\t%s" % (dirname, msg.get_subdir(), hashlib.sha256(data).hexdigest(),
                                       msg.get_flags()))


def main():
    sys.stdout.reconfigure(encoding="utf-8", errors="surrogateescape")
    root = sys.argv[1]
    top = mailbox.Maildir(root, factory=None, create=False)
    print("FOLDER\t\t")
    dump(top, "")
    walk(top, root, "", [])


def walk(box, path, rel, levels):
    for name in sorted(box.list_folders()):
        d = os.path.join(path, "." + name)
        if not (os.path.isdir(os.path.join(d, "cur")) and os.path.isdir(os.path.join(d, "new"))):
            continue
        sub_rel = (rel + "/" if rel else "") + "." + name
        sub_levels = levels + decode_levels("." + name)
        print("FOLDER\t%s\t%s" % (sub_rel, SEP.join(sub_levels)))
        sub = box.get_folder(name)
        dump(sub, sub_rel)
        walk(sub, d, sub_rel, sub_levels)


if __name__ == "__main__":
    main()
