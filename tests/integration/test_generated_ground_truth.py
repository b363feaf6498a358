"""A synthetic PST from `mailmill generate` (fixed seed: HTML, RTF-only, non-ASCII text in
accented Latin, Cyrillic, CJK and emoji, transport headers, embedded messages, attachments,
appointments, contacts, duplicates and near-duplicates) converted with --dedup none to EML, and
every ground-truth item (the generator's JSONL) checked against the output:
- one manifest line per item, every item written; items matched by folder + position (the JSONL
  is in write order, a folder's contents table is in write order, the manifest's index is the
  1-based position in the contents table);
- the manifest subject equals the ground truth exactly (our raw string reading: no libpff
  string bugs such as a dropped first non-ASCII character or garbled emoji);
- mail: the EML parses with Python's email package without defects (also the attached
  messages); Subject decoded by Python equals the ground truth exactly (or "generated", the
  Subject of the generator's transport headers, when those headers are present and so are the
  header block); From address; To+Cc addresses (all of them without transport headers, the
  transport To otherwise); Message-ID; the text/plain body decoded by Python, with line ends
  as the generator wrote them (CRLF), hashes to body_sha256; the HTML body to html_sha256;
  attachments by name, size and sha256; the number of attached messages;
- RTF-only messages carry a readable text body (what the RTF says, not empty);
- appointments become .ics files with SUMMARY = subject, contacts .vcf files with FN = name.
"""
import collections
import hashlib
import os
import re

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("generated_ground_truth")

SEED = 4242
N = 400
pst = os.path.join(args.workdir, "gen.pst")
r = mmtest.run([args.gen, "generate", "-o", pst, "--seed", str(SEED), "--messages", str(N),
                "--folders", "6", "--attachment-ratio", "0.3", "--attachment-max", "60000",
                "--html-ratio", "0.35", "--rtf-only-ratio", "0.08", "--non-ascii-ratio", "0.5",
                "--transport-headers-ratio", "0.3", "--embedded-ratio", "0.08",
                "--calendar-ratio", "0.05", "--contact-ratio", "0.05",
                "--duplicate-ratio", "0.05", "--near-duplicate-ratio", "0.05"])
if not c.check(r.returncode == 0, f"generate failed: {r.stderr[-500:]!r}"):
    c.finish()
truth = mmtest.load_jsonl(pst + ".jsonl")
c.check(len(truth) == N, f"ground truth has {len(truth)} lines, want {N}")
kinds = collections.Counter(t["kind"] for t in truth)
# The corpus must actually contain what this test is about.
c.check(kinds["appointment"] > 0 and kinds["contact"] > 0, f"corpus lacks item kinds: {kinds}")
c.check(any(t["rtf_only"] for t in truth), "corpus has no RTF-only message")
c.check(any(t["html_sha256"] for t in truth), "corpus has no HTML message")
c.check(any(t["embedded"] for t in truth), "corpus has no embedded message")
c.check(any(t["duplicate_of"] is not None for t in truth), "corpus has no duplicate")
c.check(any(t["near_duplicate_of"] is not None for t in truth), "corpus has no near-duplicate")
c.check(any(any(ord(ch) > 0xFFFF for ch in t["subject"]) for t in truth), "no emoji subject")
c.check(any(re.search("[\u0400-\u04ff]", t["subject"]) for t in truth), "no Cyrillic subject")
c.check(any(re.search("[\u3040-\u9fff\uac00-\ud7af]", t["subject"]) for t in truth),
        "no CJK/Hangul subject")

out = os.path.join(args.workdir, "eml")
report = os.path.join(args.workdir, "report.json")
r = mmtest.run([args.mailmill, "convert", pst, "-o", out, "--format", "eml", "--dedup", "none",
                "--report", report, "--quiet"])
c.check(r.returncode == 0, f"convert exit code {r.returncode}: {r.stderr[-800:]!r}")
manifest = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl"))
c.check(len(manifest) == N, f"manifest has {len(manifest)} lines, want {N}")
c.check(all(e["outcome"] == "written" for e in manifest),
        f"not all written: {collections.Counter(e['outcome'] for e in manifest)}")

# Folder + position matching.
truth_by_folder = collections.defaultdict(list)
for t in truth:
    truth_by_folder[t["folder"]].append(t)
man_by_folder = collections.defaultdict(list)
for e in manifest:
    man_by_folder[e["folder"]].append(e)
for v in man_by_folder.values():
    v.sort(key=lambda e: e["index"])
c.check(set(truth_by_folder) == set(man_by_folder),
        f"folders differ: truth {sorted(truth_by_folder)} manifest {sorted(man_by_folder)}")


def unfold_props(data):
    """iCalendar/vCard content lines: unfolded, as (NAME, value) with text unescaped."""
    text = data.decode("utf-8")
    text = re.sub(r"\r\n[ \t]", "", text)
    out = []
    for line in text.split("\r\n"):
        if ":" not in line:
            continue
        name, value = line.split(":", 1)
        name = name.split(";", 1)[0].upper()
        value = re.sub(r"\\([\\;,nN])", lambda m: "\n" if m.group(1) in "nN" else m.group(1), value)
        out.append((name, value))
    return out


checked = collections.Counter()
for folder, items in truth_by_folder.items():
    entries = man_by_folder.get(folder, [])
    if not c.check(len(entries) == len(items),
                   f"{folder!r}: {len(entries)} items in the manifest, {len(items)} in the truth"):
        continue
    c.check([e["index"] for e in entries] == list(range(1, len(items) + 1)),
            f"{folder!r}: indexes are not 1..n")
    for t, e in zip(items, entries):
        where = f"seq {t['seq']} ({folder}#{e['index']}, {t['kind']})"
        c.check(e["subject"] == t["subject"],
                f"{where}: manifest subject {e['subject']!r} != truth {t['subject']!r}")
        if e["outcome"] != "written":
            continue
        path = os.path.join(out, e["location"])
        with open(path, "rb") as f:
            data = f.read()
        if t["kind"] == "appointment":
            checked["ics"] += 1
            c.check(e["location"].endswith(".ics"), f"{where}: appointment written as {e['location']}")
            props = unfold_props(data)
            c.check(props[:1] == [("BEGIN", "VCALENDAR")], f"{where}: not an iCalendar file")
            c.check(("SUMMARY", t["subject"]) in props,
                    f"{where}: SUMMARY {[v for k, v in props if k == 'SUMMARY']} != {t['subject']!r}")
            continue
        if t["kind"] == "contact":
            checked["vcf"] += 1
            c.check(e["location"].endswith(".vcf"), f"{where}: contact written as {e['location']}")
            props = unfold_props(data)
            c.check(props[:1] == [("BEGIN", "VCARD")], f"{where}: not a vCard file")
            c.check(("FN", t["subject"]) in props,
                    f"{where}: FN {[v for k, v in props if k == 'FN']} != {t['subject']!r}")
            c.check(any(k == "EMAIL" and v.lower() == t["sender"] for k, v in props),
                    f"{where}: vCard lacks EMAIL {t['sender']}")
            continue
        checked["eml"] += 1
        c.check(e["location"].endswith(".eml"), f"{where}: message written as {e['location']}")
        msg = mmtest.parse_message(data)
        defects = mmtest.all_defects(msg)
        c.check(not defects, f"{where}: Python email defects {defects}")
        # The generator's transport headers are "Received: from mxN..., Message-ID, From, To
        # (first recipient), Subject: generated"; when present they are the header block. A
        # near-duplicate of a message without them carries only "Received: from relayN...":
        # the fields those headers lack (Subject, To, Cc) must then come from the MAPI
        # properties, as From, Date and Message-ID do.
        transport = any("from mx" in str(v) for v in msg.get_all("Received", []))
        want_subject = "generated" if transport else t["subject"]
        got_subject = str(msg["subject"]) if msg["subject"] is not None else None
        c.check(got_subject == want_subject,
                f"{where}: Subject {got_subject!r} != {want_subject!r}")
        c.check(mmtest.addr_list(msg, "From") == [t["sender"]],
                f"{where}: From {mmtest.addr_list(msg, 'From')} != {t['sender']}")
        want_rcpts = t["recipients"][:1] if transport else t["recipients"]
        c.check(sorted(mmtest.addr_list(msg, "To", "Cc")) == sorted(want_rcpts),
                f"{where}: To+Cc {mmtest.addr_list(msg, 'To', 'Cc')} != {want_rcpts}")
        c.check((msg["Message-ID"] or "").strip() == t["message_id"],
                f"{where}: Message-ID {msg['Message-ID']!r} != {t['message_id']!r}")
        c.check(e["message_id"] == t["message_id"],
                f"{where}: manifest message_id {e['message_id']!r}")
        body = mmtest.text_body(msg)
        if t["body_sha256"]:
            checked["body"] += 1
            got = hashlib.sha256(mmtest.crlf(body).encode("utf-8")).hexdigest() if body is not None else None
            c.check(got == t["body_sha256"], f"{where}: text body sha256 {got} != truth")
        elif t["rtf_only"]:
            checked["rtf"] += 1
            c.check(body is not None and len(mmtest.normalize_text(body)) > 20,
                    f"{where}: RTF-only message has no readable text body: {body!r}")
        if t["html_sha256"]:
            checked["html"] += 1
            hp = msg.get_body(preferencelist=("html",))
            got = hashlib.sha256(mmtest.crlf(hp.get_content()).encode("utf-8")).hexdigest() if hp else None
            c.check(got == t["html_sha256"], f"{where}: HTML body sha256 {got} != truth")
        atts = mmtest.attachments(msg)
        got_atts = sorted((n, len(b), mmtest.sha256(b)) for n, b in atts)
        want_atts = sorted((a["name"], a["size"], a["sha256"]) for a in t["attachments"])
        checked["attachments"] += len(want_atts)
        c.check(got_atts == want_atts, f"{where}: attachments {got_atts} != truth {want_atts}")
        inner = mmtest.embedded_messages(msg)
        checked["embedded"] += len(inner)
        c.check(len(inner) == t["embedded"], f"{where}: {len(inner)} attached messages, truth {t['embedded']}")
        for m in inner:
            c.check(not mmtest.all_defects(m), f"{where}: defects in the attached message")
            c.check(mmtest.text_body(m) is not None, f"{where}: attached message has no text body")

print("checked:", dict(checked))
c.check(checked["eml"] > 300 and checked["ics"] > 0 and checked["vcf"] > 0 and checked["rtf"] > 0
        and checked["html"] > 0 and checked["embedded"] > 0 and checked["attachments"] > 50,
        f"too little was checked: {dict(checked)}")
c.finish()
