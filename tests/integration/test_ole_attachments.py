"""OLE attachments (PR_ATTACH_METHOD = ATTACH_OLE) of the real-world corpus come out as what they
hold. aspnet__SampleOstFile.ost has the newsletter "RTF newsletter copy" twice (Sent Items and
Inbox), each with six "Picture (Device Independent Bitmap)" objects (CLSID_StaticDib). Converted
to mbox and read back with Python's mailbox/email:
- every one is an image/bmp part named with a .bmp extension (the Sent Items ones after their
  display name), none is application/octet-stream or a compound file any more;
- the BMP file header agrees with the DIB behind it (bfType "BM", bfSize = the part's size,
  bfOffBits = 14 + header + palette) and Pillow (Debian python3-pil) opens it with the DIB's
  width and height;
- the bytes equal the CONTENTS stream of the object as pffexport (libpff) exports it, read with
  olefile (Debian python3-olefile): two independent readers;
- two runs give identical mbox files.
"""
import filecmp
import glob
import hashlib
import io
import mailbox
import os
import struct
import email
import email.policy

import mmtest

args = mmtest.parse_args()
mmtest.require_corpus(args)
c = mmtest.Checker("ole_attachments")

olefile = mmtest.debian_module("olefile")
pil = mmtest.debian_module("PIL.Image")
if olefile is None or pil is None:
    msg = "python3-olefile and python3-pil are needed (tools/setup.sh installs them)"
    if mmtest.corpus_mandatory():
        c.check(False, msg)
        c.finish()
    print(f"SKIP: {msg}")
    raise SystemExit(mmtest.SKIP_CODE)

ost = os.path.join(args.shared, "pst", "aspnet__SampleOstFile.ost")
SUBJECT = "RTF newsletter copy"
FOLDERS = {"Sent Items": "Picture (Device Independent Bitmap).bmp", "Inbox": None}

outs = []
for run in (1, 2):
    out = os.path.join(args.workdir, f"mbox{run}")
    r = mmtest.run([args.mailmill, "convert", ost, "-o", out, "--format", "mbox", "--dedup", "none",
                    "--quiet"])
    c.check(r.returncode in (0, 1), f"convert exit code {r.returncode}: {r.stderr[-500:]!r}")
    outs.append(out)

# pffexport's view: each object of the message as the compound file libpff reads.
pff = os.path.join(args.workdir, "pff")
r = mmtest.run(["pffexport", "-q", "-m", "all", "-t", pff, ost])
c.check(r.returncode == 0, f"pffexport exit code {r.returncode}")


def pff_contents(folder):
    """CONTENTS of every OLE object pffexport exports for the newsletter in `folder`."""
    for headers in glob.glob(os.path.join(pff + ".export", "**", folder, "*", "OutlookHeaders.txt"),
                             recursive=True):
        with open(headers, encoding="utf-8", errors="replace") as f:
            if f"Subject:\t\t\t\t{SUBJECT}\n" not in f.read():
                continue
        out = []
        for p in sorted(glob.glob(os.path.join(os.path.dirname(headers), "Attachments", "*"))):
            ole = olefile.OleFileIO(p)
            c.check(ole.root.clsid.upper() == "00000316-0000-0000-C000-000000000046",
                    f"{p}: not a static DIB object ({ole.root.clsid})")
            out.append(ole.openstream("CONTENTS").read())
        return out
    return []


for folder, want_name in FOLDERS.items():
    boxes = glob.glob(os.path.join(outs[0], "**", folder + ".mbox"), recursive=True)
    if not c.check(len(boxes) == 1, f"{folder}: {len(boxes)} mbox files"):
        continue
    msgs = [m for m in mailbox.mbox(boxes[0], factory=lambda f: email.message_from_binary_file(
        f, policy=email.policy.default)) if m["subject"] == SUBJECT]
    if not c.check(len(msgs) == 1, f"{folder}: {len(msgs)} messages '{SUBJECT}'"):
        continue
    parts = [p for p in msgs[0].walk() if not p.is_multipart() and p.get_filename()]
    c.check(len(parts) == 6, f"{folder}: {len(parts)} attachments, want 6")
    got = []
    for p in parts:
        where = f"{folder}: {p.get_filename()!r}"
        data = p.get_payload(decode=True) or b""
        got.append(data)
        c.check(p.get_content_type() == "image/bmp", f"{where}: type {p.get_content_type()}")
        c.check(p.get_filename().endswith(".bmp"), f"{where}: no .bmp extension")
        if want_name:
            c.check(p.get_filename() == want_name, f"{where}: want {want_name!r}")
        c.check(not data.startswith(b"\xd0\xcf\x11\xe0"), f"{where}: still a compound file")
        if not c.check(len(data) >= 54 and data[:2] == b"BM", f"{where}: not a BMP file"):
            continue
        bf_size, bf_off = struct.unpack_from("<I4xI", data, 2)
        bi_size, width, height, planes, bpp, compression, _, _, _, used = struct.unpack_from(
            "<IiiHHIIiiI", data, 14)
        palette = (used or (1 << bpp)) * 4 if bpp <= 8 else used * 4
        masks = 12 if (bi_size == 40 and compression == 3) else 0
        c.check(bf_size == len(data), f"{where}: bfSize {bf_size}, file {len(data)} bytes")
        c.check(bf_off == 14 + bi_size + masks + palette, f"{where}: bfOffBits {bf_off}")
        c.check(planes == 1 and bpp in (1, 4, 8, 16, 24, 32), f"{where}: planes {planes} bpp {bpp}")
        try:
            im = pil.open(io.BytesIO(data))
            im.load()
            c.check(im.size == (width, abs(height)),
                    f"{where}: Pillow sees {im.size}, the DIB says {width}x{abs(height)}")
        except Exception as e:  # noqa: BLE001
            c.check(False, f"{where}: Pillow cannot open it: {e}")
    want = pff_contents(folder)
    c.check(len(want) == 6, f"{folder}: pffexport exported {len(want)} objects")
    c.check(sorted(map(mmtest.sha256, got)) == sorted(map(mmtest.sha256, want)),
            f"{folder}: pictures differ from the objects' CONTENTS (pffexport + olefile)")

# Deterministic: the second run wrote the same bytes.
a, b = mmtest.tree_bytes(outs[0]), mmtest.tree_bytes(outs[1])
mboxes = sorted(k for k in a if k.endswith(".mbox"))
c.check(mboxes and all(a[k] == b.get(k) for k in mboxes), "two runs wrote different mbox files")
c.finish()
