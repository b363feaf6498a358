#!/usr/bin/env python3
"""Independent oracle for report_smime_test.cc: reads mailmill's mbox and EML output with
Python's mailbox/email packages (policy=email.policy.default) and openssl, and checks it against
the ground truth the C++ test wrote (truth.json: what it stored in the PST it converted).

  check_reports.py TRUTH.json MBOX_DIR EML_DIR WORK_DIR

For every message: no defect on any part or header. Reports: multipart/report with the right
report-type; the machine-readable part's fields per recipient (delivery-status) or for the reader
(disposition-notification); the original as message/rfc822 or text/rfc822-headers. S/MIME:
`openssl smime -verify` of the converted message succeeds and gives back the signed content;
an encrypted message decrypts to the exact bytes that were encrypted; the multipart/signed body
equals the stored entity's body byte for byte (EML) or with LF line ends (mbox).
Prints one line per failed check and exits 1 when there is any.
"""
import email
import email.policy
import glob
import json
import mailbox
import os
import subprocess
import sys

failures = []


def check(cond, what):
    if not cond:
        failures.append(what)
    return cond


def defects(msg, where):
    for part in msg.walk():
        for d in part.defects:
            failures.append(f"{where}: defect {type(d).__name__} in {part.get_content_type()}")
        for name, value in part.items():
            for d in getattr(value, "defects", ()):
                failures.append(f"{where}: header {name} defect {type(d).__name__}")
        if part.get_content_type() == "message/delivery-status":
            for block in part.get_payload():
                for d in block.defects:
                    failures.append(f"{where}: delivery-status block defect {type(d).__name__}")


def split_body(raw):
    for sep in (b"\r\n\r\n", b"\n\n"):
        i = raw.find(sep)
        if i >= 0:
            return raw[:i], raw[i + len(sep):]
    return raw, b""


def openssl(args, where):
    r = subprocess.run(["openssl"] + args, capture_output=True)
    check(r.returncode == 0, f"{where}: openssl {args[0]} {args[1]} failed: {r.stderr[-400:]!r}")
    return r.returncode == 0


def check_smime(raw, msg, t, where, work, crlf):
    path = os.path.join(work, f"{t['key']}_{'eml' if crlf else 'mbox'}.msg")
    with open(path, "wb") as f:
        f.write(raw)
    out = path + ".out"
    content = open(t["content_file"], "rb").read()
    if t["kind"] == "signed":
        check(msg.get_content_type() == "multipart/signed",
              f"{where}: Content-Type {msg.get_content_type()}, want multipart/signed")
        stored = open(t["stored_file"], "rb").read()
        _, stored_body = split_body(stored)
        _, body = split_body(raw)
        want = stored_body if crlf else stored_body.replace(b"\r\n", b"\n")
        check(body.rstrip(b"\n") == want.rstrip(b"\n") if not crlf else body == want,
              f"{where}: multipart/signed body differs from the stored entity")
        if openssl(["smime", "-verify", "-in", path, "-CAfile", t["cert"], "-out", out], where):
            got = open(out, "rb").read()
            check(got.replace(b"\r\n", b"\n") == content.replace(b"\r\n", b"\n"),
                  f"{where}: verified content differs: {got[:80]!r}")
    elif t["kind"] == "opaque":
        check(msg.get_content_type() == "application/pkcs7-mime",
              f"{where}: Content-Type {msg.get_content_type()}, want application/pkcs7-mime")
        check(msg.get_param("smime-type") == "signed-data",
              f"{where}: smime-type {msg.get_param('smime-type')!r}")
        check(msg.get_payload(decode=True) == open(t["p7m_file"], "rb").read(),
              f"{where}: decoded application/pkcs7-mime is not the stored CMS blob")
        if openssl(["smime", "-verify", "-in", path, "-CAfile", t["cert"], "-out", out], where):
            got = open(out, "rb").read()
            check(got.replace(b"\r\n", b"\n") == content.replace(b"\r\n", b"\n"),
                  f"{where}: verified content differs: {got[:80]!r}")
    elif t["kind"] == "encrypted":
        check(msg.get_content_type() == "application/pkcs7-mime",
              f"{where}: Content-Type {msg.get_content_type()}, want application/pkcs7-mime")
        check(msg.get_param("smime-type") == "enveloped-data",
              f"{where}: smime-type {msg.get_param('smime-type')!r}")
        if openssl(["smime", "-decrypt", "-in", path, "-recip", t["cert"], "-inkey", t["key_file"],
                    "-out", out], where):
            check(open(out, "rb").read() == content, f"{where}: decrypted bytes differ")


def check_report(msg, t, where):
    if t.get("kept_attachment"):
        # The stored machine-readable part stays an attachment too, byte for byte, beside the
        # multipart/report it now also forms the second part of.
        check(msg.get_content_type() == "multipart/mixed",
              f"{where}: Content-Type {msg.get_content_type()}, want multipart/mixed")
        outer = list(msg.iter_parts()) if msg.is_multipart() else [msg]
        kept = [p for p in outer[1:] if p.get_filename() == t["kept_attachment"]]
        check(kept and kept[0].get_payload(decode=True) == t["kept_bytes"].encode(),
              f"{where}: {t['kept_attachment']} not kept byte for byte")
        msg = outer[0]
    if not check(msg.get_content_type() == "multipart/report",
                 f"{where}: Content-Type {msg.get_content_type()}, want multipart/report"):
        return
    check(msg.get_param("report-type") == t["report_type"],
          f"{where}: report-type {msg.get_param('report-type')!r}, want {t['report_type']!r}")
    if "to" in t:  # a delivery report is for the original's sender, not its recipients
        check(msg["To"] == t["to"], f"{where}: To {msg['To']!r}, want {t['to']!r}")
    parts = list(msg.iter_parts())
    check(len(parts) == (3 if t.get("original") else 2),
          f"{where}: {len(parts)} parts: {[p.get_content_type() for p in parts]}")
    if len(parts) < 2:
        return
    human = parts[0]
    text = human.get_body(("plain",)) if human.is_multipart() else human
    check(text is not None and t["human"] in text.get_content(),
          f"{where}: human-readable part lacks {t['human']!r}")
    machine = parts[1]
    if t["report_type"] == "delivery-status":
        check(machine.get_content_type() == "message/delivery-status",
              f"{where}: second part {machine.get_content_type()}")
        blocks = machine.get_payload()
        per_msg, per_rcpt = blocks[0], blocks[1:]
        if t.get("reporting_mta"):
            check(per_msg["Reporting-MTA"] == t["reporting_mta"],
                  f"{where}: Reporting-MTA {per_msg['Reporting-MTA']!r}")
        check(len(per_rcpt) == len(t["recipients"]),
              f"{where}: {len(per_rcpt)} recipient groups, want {len(t['recipients'])}")
        for block, want in zip(per_rcpt, t["recipients"]):
            for field, value in want.items():
                check(block[field] == value, f"{where}: {field} {block[field]!r}, want {value!r}")
    else:
        check(machine.get_content_type() == "message/disposition-notification",
              f"{where}: second part {machine.get_content_type()}")
        fields = machine.get_payload()[0]
        for field, value in t["fields"].items():
            check(fields[field] == value, f"{where}: {field} {fields[field]!r}, want {value!r}")
    if t.get("original") == "message":
        check(parts[2].get_content_type() == "message/rfc822",
              f"{where}: third part {parts[2].get_content_type()}")
        inner = parts[2].get_payload()[0]
        check(inner["Subject"] == t["original_subject"], f"{where}: original {inner['Subject']!r}")
    elif t.get("original") == "headers":
        check(parts[2].get_content_type() == "text/rfc822-headers",
              f"{where}: third part {parts[2].get_content_type()}")
        hdr = email.message_from_string(parts[2].get_content(), policy=email.policy.default)
        check(hdr["Subject"] == t["original_subject"], f"{where}: original {hdr['Subject']!r}")
        check(hdr["Message-ID"] == t["original_message_id"],
              f"{where}: original Message-ID {hdr['Message-ID']!r}")


def main():
    truth_path, mbox_dir, eml_dir, work = sys.argv[1:5]
    truth = json.load(open(truth_path))
    by_subject = {t["subject"]: t for t in truth["items"]}
    for label, crlf in (("mbox", False), ("eml", True)):
        raws = []
        if crlf:
            for p in sorted(glob.glob(os.path.join(eml_dir, "**", "*.eml"), recursive=True)):
                raws.append((p, open(p, "rb").read()))
        else:
            for p in sorted(glob.glob(os.path.join(mbox_dir, "**", "*.mbox"), recursive=True)):
                box = mailbox.mbox(p, create=False)
                for key in box.keys():
                    raws.append((f"{p}#{key}", box.get_bytes(key)))
        seen = {}
        for where, raw in raws:
            msg = email.message_from_bytes(raw, policy=email.policy.default)
            defects(msg, f"{label} {where}")
            subject = msg["Subject"]
            seen[subject] = seen.get(subject, 0) + 1
            t = by_subject.get(subject)
            if t is None:
                continue
            if t["kind"] in ("signed", "opaque", "encrypted"):
                check_smime(raw, msg, t, f"{label} {t['key']}", work, crlf)
            else:
                check_report(msg, t, f"{label} {t['key']}")
        for t in truth["items"]:
            check(seen.get(t["subject"], 0) == 1,
                  f"{label}: {t['key']} written {seen.get(t['subject'], 0)} times, want once")
    for f in failures:
        print(f)
    print(f"{len(failures)} failure(s)")
    sys.exit(1 if failures else 0)


main()
