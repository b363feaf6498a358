"""Issue 13: mixed salvage inputs. Every format mailmill writes can be read back, and a message
keys the same whichever format it arrived in.

(a) Generated PST (no corpus): converted to EML, mbox and maildir. Each output is fed back as
    an input: every mail item comes back with the content key (content_sha256) the PST item
    had, as a multiset; nothing is lost (the census of the re-read equals the items written).
    Python's `mailbox` reads the maildir output: one folder per PST folder and, per folder,
    the same messages as the mbox output (same bytes). The mbox output converted to PST (the
    parsed model rebuilt as MAPI items) and read back keeps every content key. Converting the PST together with its
    three outputs under --dedup content writes each PST item once: everything read back from
    the outputs is a duplicate.
(b) Pass-through: an mbox or EML input written to mbox or EML keeps its message bytes (line
    ends aside): Python's `mailbox` and `email` read back exactly what the input held.
(c) Corpus (skipped without it): every PST fixture round-trips through EML and mbox with the
    same content keys; every file of fixtures/eml, fixtures/mbox and fixtures/msg goes in with
    the others in one run, by content (several lie about their extension), and every item the
    census counted has exactly one outcome.
"""
import collections
import email
import email.policy
import json
import mailbox
import os
import re

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("mixed_inputs")
W = args.workdir
MM = args.mailmill


def convert(inputs, out, *extra):
    report = out + ".json"
    r = mmtest.run([MM, "convert", *inputs, "-o", out, "--report", report, "--quiet",
                    "--jobs", "2", *extra])
    rep = json.load(open(report, encoding="utf-8")) if os.path.exists(report) else None
    man = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")) \
        if os.path.exists(os.path.join(out, "manifest.jsonl")) else []
    return r, rep, man


def is_mime(e):
    """A manifest line of a message written as MIME (not .ics/.vcf)."""
    loc = e.get("location") or ""
    return e["outcome"] == "written" and not loc.endswith((".ics", ".vcf"))


def keys(man):
    return collections.Counter(e["content_sha256"] for e in man if is_mime(e))


def balanced(rep, what):
    ok = rep is not None and rep.get("balanced") is True
    c.check(ok, f"{what}: report not balanced: {rep and rep.get('totals')}")
    return ok


def round_trip(pst, name):
    """PST -> eml/mbox/maildir -> each fed back: same content keys. Returns the outputs."""
    base = os.path.join(W, name)
    r, rep, man = convert([pst], base + "-eml", "--format", "eml", "--dedup", "none")
    if not c.check(r.returncode in (0, 1) and rep, f"{name}: PST to EML exit {r.returncode}: "
                   f"{r.stderr[-400:]!r}"):
        return None
    want = keys(man)
    outs = {"eml": base + "-eml"}
    for fmt in ("mbox", "maildir"):
        r, rep2, man2 = convert([pst], f"{base}-{fmt}", "--format", fmt, "--dedup", "none")
        c.check(r.returncode in (0, 1) and keys(man2) == want,
                f"{name}: {fmt} output has other content keys than EML output")
        outs[fmt] = f"{base}-{fmt}"
    for fmt, out in outs.items():
        inputs = [os.path.join(out, d) for d in sorted(os.listdir(out))
                  if os.path.isdir(os.path.join(out, d))]
        r, rep3, man3 = convert(inputs, f"{base}-{fmt}-back", "--format", "mbox",
                                "--dedup", "none")
        got = keys(man3)
        if not c.check(got == want, f"{name}: {fmt} read back: {sum(got.values())} messages, "
                       f"{sum((got & want).values())} of {sum(want.values())} with the PST's "
                       f"content key; stderr {r.stderr[-300:]!r}"):
            missing = want - got
            for e in man:
                if is_mime(e) and e["content_sha256"] in missing:
                    print(f"   not matched after {fmt}: {e['folder']} / {e['subject']!r}")
                    break
        balanced(rep3, f"{name}: {fmt} read back")
    return outs


# ---- (a) generated ------------------------------------------------------------------------------
pst = os.path.join(W, "gen.pst")
r = mmtest.run([args.gen, "generate", "-o", pst, "--seed", "13", "--messages", "400",
                "--folders", "4", "--attachment-ratio", "0.3", "--embedded-ratio", "0.08",
                "--html-ratio", "0.4", "--rtf-only-ratio", "0.1", "--non-ascii-ratio", "0.3"])
if c.check(r.returncode == 0, f"generate: {r.stderr[-300:]!r}"):
    outs = round_trip(pst, "gen")
    if outs:
        # Python reads the maildir output: the mbox output's messages, folder by folder.
        mbox_out, md_out = outs["mbox"], outs["maildir"]
        md_root = os.path.join(md_out, "gen")
        by_folder = {}
        for dirpath, _, files in os.walk(mbox_out):
            for f in files:
                if f.endswith(".mbox"):
                    rel = os.path.relpath(os.path.join(dirpath, f[:-5]), os.path.join(mbox_out, "gen"))
                    by_folder[rel] = sorted(mmtest.sha256(m.as_bytes())
                                            for m in mailbox.mbox(os.path.join(dirpath, f)))
        md = mailbox.Maildir(md_root, factory=None, create=False)
        got = {}
        for name in md.list_folders():
            got[name] = sorted(mmtest.sha256(m.as_bytes()) for m in md.get_folder(name))
        total_md = sum(len(v) for v in got.values()) + len(md)
        total_mbox = sum(len(v) for v in by_folder.values())
        c.check(total_md == total_mbox and total_mbox > 0,
                f"maildir holds {total_md} messages, mbox {total_mbox}")
        mbox_all = sorted(h for v in by_folder.values() for h in v)
        md_all = sorted([h for v in got.values() for h in v] +
                        [mmtest.sha256(m.as_bytes()) for m in md])
        c.check(mbox_all == md_all, "maildir and mbox outputs hold different message bytes")
        # MIME inputs into PST output (rebuilt from the parsed model) and back: same keys.
        want = keys(mmtest.load_jsonl(os.path.join(outs["eml"], "manifest.jsonl")))
        mb_inputs = [os.path.join(mbox_out, d) for d in sorted(os.listdir(mbox_out))
                     if os.path.isdir(os.path.join(mbox_out, d))]
        r, rep, man = convert(mb_inputs, os.path.join(W, "to-pst"), "--format", "pst",
                              "--profile", "m365", "--mailbox", "u@example.com", "--dedup", "none")
        made = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(W, "to-pst", "pst"))
                for f in fs if f.endswith(".pst")]
        if c.check(r.returncode == 0 and made, f"mbox to PST: exit {r.returncode} "
                   f"{r.stderr[-300:]!r}"):
            r, rep, man = convert(made, os.path.join(W, "to-pst-back"), "--format", "eml",
                                  "--dedup", "none")
            got = keys(man)
            c.check(got == want, f"mbox -> PST -> EML: {sum((got & want).values())} of "
                    f"{sum(want.values())} messages keep the PST item's content key "
                    f"({sum(got.values())} read back)")
        # One run over the PST and its three outputs: each message written once.
        inputs = [pst] + [os.path.join(o, d) for o in outs.values() for d in sorted(os.listdir(o))
                          if os.path.isdir(os.path.join(o, d))]
        r, rep, man = convert(inputs, os.path.join(W, "all"), "--format", "mbox")
        if c.check(rep is not None, f"mixed run: no report, {r.stderr[-300:]!r}"):
            balanced(rep, "mixed run")
            from_pst = [e for e in man if e["source"] == pst and is_mime(e)]
            others = [e for e in man if e["source"] != pst and e["outcome"] != "skipped"]
            c.check(others and all(e["outcome"] == "duplicate" for e in others),
                    f"mixed run: {sum(e['outcome'] != 'duplicate' for e in others)} of "
                    f"{len(others)} messages read back from the outputs were not duplicates")
            c.check(len(from_pst) > 0, "mixed run wrote nothing from the PST")

# ---- (b) pass-through ---------------------------------------------------------------------------
mb = os.path.join(W, "in.mbox")
msgs = []
for i in range(5):
    m = email.message.EmailMessage()
    m["From"] = f"Sender {i} <s{i}@example.org>"
    m["To"] = "rcpt@example.net"
    m["Subject"] = f"pass-through {i} \u00e9t\u00e9"
    m["Date"] = f"Mon, 0{i + 1} Jun 2020 10:00:00 +0200"
    m["Message-ID"] = f"<pt{i}@example.org>"
    m.set_content("From the start of a line\nplain\n")
    if i % 2:
        m.add_attachment(bytes(range(256)) * 4, maintype="application", subtype="octet-stream",
                         filename=f"a{i}.bin")
    msgs.append(m)
box = mailbox.mbox(mb, create=True)
for m in msgs:
    box.add(m)
box.flush()
box.close()
# Python writes mboxo (a body line "From " becomes ">From ") and reads it back quoted; mailmill
# undoes the quoting, so what it must give back is the message as it was before it was stored.
expect = [re.sub(rb"(?m)^>From ", b"From ", mailbox.mbox(mb)[k].as_bytes())
          for k in range(len(msgs))]
r, rep, man = convert([mb], os.path.join(W, "pt-mbox"), "--format", "mbox", "--dedup", "none")
if c.check(r.returncode == 0, f"mbox in: exit {r.returncode} {r.stderr[-300:]!r}"):
    outs = [os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(W, "pt-mbox"))
            for f in fs if f.endswith(".mbox")]
    got = [re.sub(rb"(?m)^>From ", b"From ", m.as_bytes()) for o in outs for m in mailbox.mbox(o)]
    c.check(got == expect, f"mbox -> mbox changed the messages ({len(got)} of {len(expect)})")
    balanced(rep, "mbox in")
r, rep, man = convert([mb], os.path.join(W, "pt-eml"), "--format", "eml", "--dedup", "none")
if c.check(r.returncode == 0, f"mbox to eml: exit {r.returncode} {r.stderr[-300:]!r}"):
    emls = sorted(os.path.join(dp, f) for dp, _, fs in os.walk(os.path.join(W, "pt-eml"))
                  for f in fs if f.endswith(".eml"))
    got = [open(p, "rb").read().replace(b"\r\n", b"\n") for p in emls]
    c.check(sorted(got) == sorted(expect), "mbox -> eml changed the messages")
    for p in emls:
        m = email.message_from_bytes(open(p, "rb").read(), policy=email.policy.default)
        c.check(not mmtest.all_defects(m), f"{p}: {mmtest.all_defects(m)}")

# ---- (c) corpus ---------------------------------------------------------------------------------
if mmtest.have_corpus(args, c):
    corpus = args.shared
    pdir = os.path.join(corpus, "pst")
    for f in sorted(os.listdir(pdir)):
        if f == "aspnet__AddingBulkMessagesWithImprovedPerformance.pst":
            continue  # no readable folder tree (test_accounting covers it)
        round_trip(os.path.join(pdir, f), "fx-" + f)
    inputs = [os.path.join(corpus, d) for d in ("eml", "mbox", "msg")]
    r, rep, man = convert(inputs, os.path.join(W, "corpus-mixed"), "--format", "eml",
                          "--dedup", "none")
    c.check(r.returncode in (0, 1) and rep is not None,
            f"corpus mixed: exit {r.returncode} {r.stderr[-400:]!r}")
    if rep:
        balanced(rep, "corpus mixed")
        kinds = collections.Counter(s["format"] for s in rep["sources"])
        print("corpus mixed: inputs by kind", dict(kinds), "totals", rep["totals"])
        c.check(rep["totals"]["written"] > 0, "corpus mixed wrote nothing")
        # Malformed messages are never dropped (NUL bytes, no header at all, broken MIME):
        # nothing fails, with --dedup none everything not skipped (sticky notes) is written.
        c.check(rep["totals"]["failed"] == 0, f"corpus mixed: {rep['totals']['failed']} failed")
        # Every mbox says which dialect it was read as, and why.
        for s in rep["sources"]:
            if s["format"] == "mbox":
                c.check(re.match(r"mbox(o|rd|cl2?) \(", s.get("read_as", "")),
                        f"{s['path']}: read_as {s.get('read_as')!r}")
        # EML inputs pass through: each written message is one of the input files, its
        # bytes unchanged but for line ends.
        def norm(b):
            b = b.replace(b"\r\n", b"\n")
            return b if b.endswith(b"\n") else b + b"\n"
        edir = os.path.join(corpus, "eml")
        inputs_eml = {mmtest.sha256(norm(open(os.path.join(edir, f), "rb").read()))
                      for f in os.listdir(edir)}
        from_eml = [e for e in man if e["source"] == edir and is_mime(e)]
        bad = [e["location"] for e in from_eml if mmtest.sha256(norm(open(os.path.join(
            W, "corpus-mixed", e["location"]), "rb").read())) not in inputs_eml]
        c.check(from_eml and not bad, f"{len(bad)} of {len(from_eml)} EML inputs changed on "
                f"the way: {bad[:3]}")
        for e in man:
            if e["outcome"] == "failed":
                print("   failed:", e["source"], e.get("subject"), e.get("reason") or e)

c.finish()
