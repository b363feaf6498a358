"""The real non-delivery report of the corpus ("Undeliverable: 05 - test email - single meeting
request" in aspnet__SampleOstFile.ost, class REPORT.IPM.Note.NDR) converted to mbox and EML and
read back with Python's mailbox/email packages:
- it is multipart/report; report-type=delivery-status, with the report's own body first, a
  message/delivery-status part second and the attached original as message/rfc822 third;
- Python parses the delivery-status part into its per-message and per-recipient groups, and
  the Final-Recipient addresses are the report's recipient table as pffexport (libpff, an
  independent reader) lists it in Recipients.txt, in order; each group says Action: failed and
  has an RFC 3463 Status;
- the attached original has the subject the report names, and every part of the message
  parses without a defect.
"""
import email.policy
import glob
import mailbox
import os
import re
import subprocess

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("reports_corpus")
corpus = mmtest.require_corpus(args)

OST = os.path.join(corpus, "pst", "aspnet__SampleOstFile.ost")
SUBJECT = "Undeliverable: 05 - test email - single meeting request"
ORIGINAL = "05 - test email - single meeting request"

# The oracle: libpff's pffexport, its recipient table of the report.
export = os.path.join(args.workdir, "pff")
r = mmtest.run(["pffexport", "-q", "-t", export, OST])
want = None
for headers in sorted(glob.glob(os.path.join(export + ".export", "**", "OutlookHeaders.txt"),
                                recursive=True)):
    text = open(headers, encoding="utf-8", errors="replace").read()
    if re.search(r"^Subject:\s+" + re.escape(SUBJECT) + r"\s*$", text, re.M):
        rcpt = os.path.join(os.path.dirname(headers), "Recipients.txt")
        want = re.findall(r"^Email address:\s+(\S+)", open(rcpt, encoding="utf-8").read(), re.M)
        break
c.check(want, f"pffexport did not list the report's recipients (rc {r.returncode})")
want = want or []


def check_report(msg, where):
    c.check(not [d for p in msg.walk() for d in p.defects], f"{where}: defects")
    c.check(msg.get_content_type() == "multipart/report",
            f"{where}: Content-Type {msg.get_content_type()}")
    c.check(msg.get_param("report-type") == "delivery-status",
            f"{where}: report-type {msg.get_param('report-type')!r}")
    parts = list(msg.iter_parts()) if msg.is_multipart() else []
    types = [p.get_content_type() for p in parts]
    if not c.check(len(parts) == 3 and types[1:] == ["message/delivery-status", "message/rfc822"],
                   f"{where}: parts {types}"):
        return
    body = parts[0].get_content() if not parts[0].is_multipart() else ""
    c.check("Delivery has failed" in body, f"{where}: human-readable part lacks the report text")
    blocks = parts[1].get_payload()
    c.check(len(blocks) >= 2 and blocks[0]["Reporting-MTA"],
            f"{where}: no Reporting-MTA in the per-message group")
    for b in blocks:
        c.check(not b.defects, f"{where}: delivery-status group defects {b.defects}")
    finals = [b["Final-Recipient"] for b in blocks[1:]]
    c.check(finals == ["rfc822; " + a for a in want],
            f"{where}: Final-Recipient {finals}, pffexport lists {want}")
    for b in blocks[1:]:
        c.check(b["Action"] == "failed", f"{where}: Action {b['Action']!r}")
        c.check(re.fullmatch(r"[245]\.\d{1,3}\.\d{1,3}", b["Status"] or ""),
                f"{where}: Status {b['Status']!r}")
    inner = parts[2].get_payload()[0]
    c.check(str(inner["Subject"]) == ORIGINAL, f"{where}: original subject {inner['Subject']!r}")


for fmt in ("mbox", "eml"):
    out = os.path.join(args.workdir, fmt)
    r = mmtest.run([args.mailmill, "convert", OST, "-o", out, "--format", fmt, "--dedup", "none",
                    "--quiet"])
    c.check(r.returncode == 0, f"{fmt}: convert exited {r.returncode}: {r.stderr[-400:]!r}")
    found = 0
    if fmt == "mbox":
        for path in glob.glob(os.path.join(out, "**", "*.mbox"), recursive=True):
            box = mailbox.mbox(path, create=False)
            for key in box.keys():
                msg = mmtest.parse_message(box.get_bytes(key))
                if msg["Subject"] == SUBJECT:
                    found += 1
                    check_report(msg, f"mbox {os.path.basename(path)}#{key}")
    else:
        for path in glob.glob(os.path.join(out, "**", "*.eml"), recursive=True):
            msg = mmtest.parse_message(open(path, "rb").read())
            if msg["Subject"] == SUBJECT:
                found += 1
                check_report(msg, f"eml {os.path.basename(path)}")
    c.check(found == 1, f"{fmt}: the report was found {found} times")
c.finish()
