#!/usr/bin/env python3
"""Independent oracle for attachment tests: reads an mbox file with Python's mailbox and email
packages (policy=email.policy.default) and prints, tab-separated, for every message

  message     <subject> <number of defects>

and for every attachment part of it (leaf parts with a filename)

  attachment  <filename> <content type> <size> <sha256> <image>

where <image> is what Pillow (Debian python3-pil) sees in an image/* part: "WxH:MODE" and, for
images of at most 64 pixels, ":r,g,b;r,g,b;..." row by row from the top; "-" for other parts;
"unreadable" when Pillow cannot open an image part; "nopil" when Pillow is missing (exit 77 then,
after the listing, so the caller can skip the image checks).
"""
import hashlib
import io
import mailbox
import os
import sys
import email.policy

try:
    from PIL import Image
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    Image = None


def esc(s):
    return str(s).replace("\\", "\\\\").replace("\t", "\\t").replace("\r", "\\r").replace("\n", "\\n")


def image_facts(data):
    if Image is None:
        return "nopil"
    try:
        im = Image.open(io.BytesIO(data))
        im.load()
    except Exception:  # noqa: BLE001 - any failure is the answer
        return "unreadable"
    out = "%dx%d:%s" % (im.size[0], im.size[1], im.mode)
    if im.size[0] * im.size[1] <= 64:
        rgb = im.convert("RGB")
        px = [rgb.getpixel((x, y)) for y in range(im.size[1]) for x in range(im.size[0])]
        out += ":" + ";".join("%d,%d,%d" % p for p in px)
    return out


def main(path):
    box = mailbox.mbox(path, factory=lambda f: email.message_from_binary_file(f, policy=email.policy.default))
    for msg in box:
        defects = sum(len(p.defects) for p in msg.walk())
        print("message\t%s\t%d" % (esc(msg.get("subject", "")), defects))
        for part in msg.walk():
            if part.is_multipart() or part.get_filename() is None:
                continue
            data = part.get_payload(decode=True) or b""
            ctype = part.get_content_type()
            img = image_facts(data) if ctype.startswith("image/") else "-"
            print("attachment\t%s\t%s\t%d\t%s\t%s" % (esc(part.get_filename()), ctype, len(data),
                                                     hashlib.sha256(data).hexdigest(), img))
    return 77 if Image is None else 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1]))
