#!/usr/bin/env python3
"""Writes a maildir whose folders nest the way Python's mailbox.Maildir nests them (add_folder
on a folder makes M/.A/.B), mixed with Maildir++ dot names, for the maildir store tests.

usage: maildir_nested_tree.py ROOT

Folder names are passed to add_folder as stored: IMAP modified UTF-7 ("&AMk-t&AOk-" is Été,
"&ZeVnLIqe-" is 日本語) and Dovecot listescape ("a\\2eb" is a.b).
"""
import mailbox
import sys


def message(subject, subdir, flags):
    m = mailbox.MaildirMessage(("From: a@example.org\nTo: b@example.org\nSubject: %s\n"
                                "Message-ID: <%s@nested.test>\n\nbody of %s\n"
                                % (subject, subject.replace(" ", "."), subject)).encode())
    m.set_subdir(subdir)
    if flags:
        m.set_flags(flags)
    return m


def fill(box, name, n):
    for k in range(n):
        box.add(message("%s %d" % (name, k), "cur" if k % 2 else "new", "RS" if k % 2 else ""))


def main():
    top = mailbox.Maildir(sys.argv[1], create=True)
    fill(top, "top", 2)
    archive = top.add_folder("Archive")                     # .Archive
    fill(archive, "archive", 1)
    y2024 = archive.add_folder("2024")                      # .Archive/.2024
    fill(y2024, "archive 2024 nested", 2)
    fill(y2024.add_folder("Q1"), "q1", 3)                   # .Archive/.2024/.Q1
    fill(top.add_folder("Archive.2024"), "archive 2024 dotted", 1)  # the same folder, Maildir++
    fill(archive.add_folder("Work.Projects"), "projects", 1)  # .Archive/.Work.Projects
    fill(archive.add_folder("a\\2eb"), "escaped", 1)         # Archive/a.b
    ete = top.add_folder("&AMk-t&AOk-")                     # Été
    fill(ete, "ete", 1)
    fill(ete.add_folder("&ZeVnLIqe-"), "nihongo", 2)        # Été/日本語
    fill(top.add_folder("x.y").add_folder("z"), "xyz", 1)   # .x.y/.z: x (implied), y, z


if __name__ == "__main__":
    main()
