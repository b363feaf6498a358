"""Every PST/OST in ../shared/fixtures/pst converted to EML and mbox, checked against libpff's
pffexport (an independent reader) and Python's email package:
- the report adds up (seen = written + duplicates + skipped + failed) and the manifest has one
  line per item;
- per folder, the number of mail items written equals what pffexport exports;
- every output message parses with Python's email package without defects;
- subject, body text and attachment bytes (sha256) match pffexport's export of the same item
  (an OLE picture object may instead be the picture it holds, read from it with olefile);
- the files pffexport cannot open give a clear error naming the file, never a crash.
"""
import glob
import mailbox
import collections
import os
import re
from collections import defaultdict

import mmtest

args = mmtest.parse_args()
mmtest.require_corpus(args)
c = mmtest.Checker("fixtures_vs_pffexport")

# Known to be unreadable by libpff and readpst (MANIFEST.tsv: header CRC mismatch).
PFF_CANNOT_OPEN = {"aspnet__AddingBulkMessagesWithImprovedPerformance.pst"}

MAIL_TYPES = mmtest.PFF_MAIL_TYPES
pff_items = mmtest.pff_items
canonical_folder = mmtest.pff_canonical_folder
pff_subject = mmtest.pff_subject
libpff_string_bug_applies = mmtest.libpff_string_bug_applies
pff_attachments = mmtest.pff_attachments


def check_fixture(pst):
    name = os.path.basename(pst)
    work = os.path.join(args.workdir, name)
    eml_out = os.path.join(work, "eml")
    r = mmtest.run([args.mailmill, "convert", pst, "-o", eml_out, "--format", "eml",
                    "--dedup", "none", "--report", eml_out + ".json", "--quiet"])
    c.check(r.returncode in (0, 1), f"{name}: exit code {r.returncode}: {r.stderr[-500:]!r}")
    if not os.path.exists(eml_out + ".json"):
        c.check(False, f"{name}: no report written")
        return
    import json
    report = json.load(open(eml_out + ".json", encoding="utf-8"))
    t = report["totals"]
    manifest = mmtest.load_jsonl(os.path.join(eml_out, "manifest.jsonl"))
    src = report["sources"][0]
    # seen comes from the census (the node index), not from the conversion: every census node
    # has exactly one manifest line, and the manifest's outcomes add up to seen.
    census = src.get("census", {})
    if src["opened"]:
        c.check(t["seen"] == census["message_nodes"] + census["assoc_nodes"] +
                census["unreadable_rows"] + census["dangling_rows"],
                f"{name}: seen {t['seen']} is not the census {census}")
    c.check(len(manifest) == t["seen"], f"{name}: manifest has {len(manifest)} lines, seen {t['seen']}")
    c.check(len({e["node_id"] for e in manifest}) == len(manifest),
            f"{name}: a node id has more than one manifest line")
    outcomes = collections.Counter(e["outcome"] for e in manifest)
    c.check(outcomes["written"] == t["written"] and outcomes["duplicate"] == t["duplicates"]
            and outcomes["skipped"] == t["skipped"] and outcomes["failed"] == t["failed"],
            f"{name}: manifest outcomes {dict(outcomes)} differ from the report's {t}")
    c.check(report["balanced"] is True, f"{name}: report not balanced")

    if not src["opened"]:
        stderr = r.stderr.decode("utf-8", "replace")
        c.check(name in PFF_CANNOT_OPEN, f"{name}: could not be opened: {src['error']}")
        c.check(r.returncode == 1 and name in stderr and src["error"],
                f"{name}: unopenable file must give a clear error naming it: {stderr!r}")
        c.check("\n" not in src["error"], f"{name}: error must be one line: {src['error']!r}")
        return

    if name in PFF_CANNOT_OPEN:
        return  # we read it; pffexport cannot, so there is nothing to compare with

    pff_base = os.path.join(work, "pff")
    mmtest.run(["pffexport", "-f", "all", "-m", "items", "-q", "-t", pff_base, pst])
    pff = pff_items(pff_base + ".export")
    pff = {canonical_folder(k): v for k, v in pff.items()}

    # pffexport numbers the items of a folder in node-id order (libpff walks the node index),
    # while our index is the contents-table position: match items through their node ids.
    ours = defaultdict(dict)
    by_folder = defaultdict(list)
    for e in manifest:
        if e.get("code") != "associated":  # hidden folder data: pffexport does not export it
            by_folder[e["folder"]].append(e)
    for folder, entries in by_folder.items():
        for rank, e in enumerate(sorted(entries, key=lambda e: e["node_id"]), 1):
            e["pff_index"] = rank
            ours[folder][rank] = e

    for folder in sorted(set(pff) | set(ours)):
        pff_mail = {i for i, (ty, _) in pff.get(folder, {}).items() if ty in MAIL_TYPES}
        # pffexport does not export IPM.Post items (posts, e.g. in public folders); we do.
        our_mail = {i for i, e in ours.get(folder, {}).items()
                    if e["outcome"] == "written" and e["location"].endswith(".eml")
                    and not e["kind"].lower().startswith("ipm.post")}
        c.check(pff_mail == our_mail,
                f"{name}: folder {folder!r}: mail items pffexport={sorted(pff_mail)} ours={sorted(our_mail)}")

    for e in manifest:
        if e["outcome"] != "written" or not e["location"].endswith(".eml"):
            continue
        where = f"{name}: {e['folder']}#{e['index']}"
        with open(os.path.join(eml_out, e["location"]), "rb") as f:
            raw = f.read()
        msg = mmtest.parse_message(raw)
        defects = mmtest.all_defects(msg)
        c.check(not defects, f"{where}: Python email defects {defects}")
        for inner in mmtest.embedded_messages(msg):
            c.check(not mmtest.all_defects(inner), f"{where}: defects in attached message")
        pitem = pff.get(e["folder"], {}).get(e["pff_index"])
        if not pitem:
            continue
        item_dir = pitem[1]
        expected = pff_subject(item_dir)
        got = str(msg["subject"] or "")
        if expected is not None and not libpff_string_bug_applies(expected):
            c.check(got == expected, f"{where}: subject {got!r} != pffexport {expected!r}")
        txt = os.path.join(item_dir, "Message.txt")
        body = mmtest.text_body(msg)
        if os.path.exists(txt) and body is not None:
            with open(txt, "rb") as f:
                want = f.read().decode("utf-8", "replace").rstrip("\x00")
            c.check(mmtest.normalize_text(body) == mmtest.normalize_text(want),
                    f"{where}: body text differs from pffexport's Message.txt")
        want_files, want_embedded = pff_attachments(item_dir)
        got_files = sorted(mmtest.sha256(b) for _, b in mmtest.attachments(msg))
        # Every attachment pffexport exports must be ours, byte for byte. We may export more:
        # libpff fails to read some attachment tables that our reader reads.
        missing = sorted(sorted(forms) for forms in want_files if not forms & set(got_files))
        c.check(not missing and len(got_files) >= len(want_files),
                f"{where}: attachments missing vs pffexport: {missing} (ours {got_files})")
        if len(got_files) > len(want_files):
            print(f"NOTE: {where}: {len(got_files) - len(want_files)} attachment(s) more than pffexport")
        top = list(msg.iter_attachments())
        # A report's original is the third part of its multipart/report ([RFC 6522] 3).
        top += [q for p in top if p.get_content_type() == "multipart/report"
                for q in p.iter_parts()]
        got_embedded = sum(1 for p in top if p.get_content_type() == "message/rfc822")
        c.check(got_embedded == want_embedded,
                f"{where}: {got_embedded} attached messages, pffexport has {want_embedded}")

    # The same file as mbox: same number of messages, each parses cleanly.
    mbox_out = os.path.join(work, "mbox")
    r = mmtest.run([args.mailmill, "convert", pst, "-o", mbox_out, "--format", "mbox",
                    "--dedup", "none", "--quiet"])
    c.check(r.returncode in (0, 1), f"{name}: mbox exit code {r.returncode}")
    n_eml = sum(1 for e in manifest if e["outcome"] == "written" and e["location"].endswith(".eml"))
    n_mbox = 0
    for path in glob.glob(os.path.join(mbox_out, "**", "*.mbox"), recursive=True):
        for m in mailbox.mbox(path, factory=None):
            n_mbox += 1
            parsed = mmtest.parse_message(m.as_bytes())
            c.check(not mmtest.all_defects(parsed), f"{name}: mbox message defects in {path}")
    c.check(n_mbox == n_eml, f"{name}: mbox has {n_mbox} messages, eml {n_eml}")


fixtures = sorted(glob.glob(os.path.join(args.shared, "pst", "*.pst")) +
                  glob.glob(os.path.join(args.shared, "pst", "*.ost")))
c.check(len(fixtures) > 30, f"expected the shared PST fixtures, found {len(fixtures)}")
for pst in fixtures:
    check_fixture(pst)
c.finish()
