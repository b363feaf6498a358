#!/usr/bin/env python3
"""Independent TNEF facts for the parse tests, without libytnef: finds the TNEF part of a
message with Python's email package, then walks the TNEF attribute stream ([MS-OXTNEF] 2.1.3:
signature, key, then level/id/length/data/checksum records). Each attachment starts at
attAttachRendData; prints one line per attachment:
  att <attAttachTitle> <size of attAttachData, -1 when absent> <sha256 of it, or ->
"""
import email
import email.policy
import hashlib
import struct
import sys

ATT_REND_DATA = 0x00069002
ATT_TITLE = 0x00018010
ATT_DATA = 0x0006800F

msg = email.message_from_bytes(open(sys.argv[1], "rb").read(), policy=email.policy.default)
for part in msg.walk():
    if part.get_content_type() != "application/ms-tnef" and \
            (part.get_filename() or "").lower() != "winmail.dat":
        continue
    d = part.get_payload(decode=True)
    assert struct.unpack("<I", d[:4])[0] == 0x223E9F78
    pos, atts = 6, []
    while pos + 9 <= len(d):
        level = d[pos]
        aid, length = struct.unpack("<II", d[pos + 1:pos + 9])
        data = d[pos + 9:pos + 9 + length]
        pos += 9 + length + 2
        if level == 2 and aid == ATT_REND_DATA:
            atts.append({"title": "", "data": None})
        elif level == 2 and aid == ATT_TITLE and atts:
            atts[-1]["title"] = data.rstrip(b"\0").decode("latin-1")
        elif level == 2 and aid == ATT_DATA and atts:
            atts[-1]["data"] = data
    for a in atts:
        data = a["data"]
        print("att\t%s\t%d\t%s" % (a["title"], -1 if data is None else len(data),
                                   "-" if data is None else hashlib.sha256(data).hexdigest()))
