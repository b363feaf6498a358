#!/usr/bin/env python3
"""Independent oracle for the MIME builder tests: parses one message file with Python's email
package (policy=email.policy.default) and prints one fact per line, tab-separated, values escaped
(backslash, tab, newline) so the C++ test can read them without a JSON library.

  defect  <path> <DefectClass>                 message/part level defects
  hdefect <path> <Header> <DefectClass>        header level defects
  subject/from/to/cc/sender/message-id <path> <decoded value>
  structure <path> <content-type tree>
  text <path> <first text/plain, CRLF folded to LF>
  html <path> <first text/html>
  attachment <path> <filename> <content-type> <sha256 of decoded bytes> <disposition>
Embedded message/rfc822 parts are described recursively with path "<path>/<index>".
"""
import email
import email.policy
import hashlib
import sys


def esc(s):
    return str(s).replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def out(*fields):
    sys.stdout.write("\t".join(esc(f) for f in fields) + "\n")


def structure(part):
    ct = part.get_content_type()
    if part.is_multipart() and ct != "message/rfc822":
        return ct + "(" + ",".join(structure(p) for p in part.iter_parts()) + ")"
    return ct


def describe(msg, path):
    for name in ("subject", "from", "to", "cc", "sender", "message-id"):
        if msg[name] is not None:
            out(name, path, str(msg[name]))
    out("structure", path, structure(msg))
    text_done = html_done = False
    index = 0
    for part in msg.walk():
        for d in part.defects:
            out("defect", path, type(d).__name__)
        for hname, hval in part.items():
            for d in getattr(hval, "defects", ()):
                out("hdefect", path, hname, type(d).__name__)
        ct = part.get_content_type()
        disp = part.get_content_disposition()
        if ct == "message/rfc822":
            index += 1
            inner = part.get_payload()[0]
            out("attachment", path, part.get_filename() or "", ct, "", disp or "")
            describe(inner, f"{path}/{index}")
            continue
        if part.is_multipart():
            continue
        if ct == "text/plain" and disp is None and not text_done:
            out("text", path, part.get_content().replace("\r\n", "\n"))
            text_done = True
        elif ct == "text/html" and disp is None and not html_done:
            out("html", path, part.get_content())
            html_done = True
        elif disp is not None or ct not in ("text/plain", "text/html", "application/rtf"):
            data = part.get_payload(decode=True) or b""
            out("attachment", path, part.get_filename() or "", ct,
                hashlib.sha256(data).hexdigest(), disp or "")
        else:
            out("part", path, ct)




def main():
    with open(sys.argv[1], "rb") as f:
        raw = f.read()
    msg = email.message_from_bytes(raw, policy=email.policy.default)
    describe_top(msg, "0")


def describe_top(msg, path):
    # Replace walk() with one that stops at message/rfc822 so embedded parts are not counted twice.
    def walk(self):
        yield self
        if self.is_multipart() and self.get_content_type() != "message/rfc822":
            for p in self.iter_parts():
                yield from walk(p)
    email.message.EmailMessage.walk = walk
    describe(msg, path)


if __name__ == "__main__":
    main()
