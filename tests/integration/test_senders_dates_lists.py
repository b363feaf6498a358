"""Issue 12, points 6 to 8: senders, dates and distribution lists a mail client trusts.

(a) Distribution lists (generated PST, no corpus): every IPM.DistList of the generator's ground
    truth comes out as a vCard 4.0 group that Python's vobject parses: KIND:group, FN the
    list's name, one MEMBER mailto: per member with an SMTP address, and one MEMBER urn:uuid
    per member known only by name, naming a KIND:individual card in the same file whose FN is
    that name. Lists with such members carry a warning in the report. The PST output keeps the
    lists (read back by a second conversion, same vCards).
(b) The corpus list (jlibpst__dist-list.pst): its three members, as java-libpst's own test of
    that file states them (contact1@, dist1@, dist2@rjohnson.id.au).
(c) Every .vcf of every PST fixture parses with vobject (validate=True). Every message of every PST fixture, in mbox output (embedded messages too): a From field
    that Python's email parses; where mailmill had to write one, it is the empty group
    `undisclosed-sender:;` marked `X-Mailmill-Synthesized: from`. The From_ line's date is the
    Date field's date as Python's email.utils reads it.
(d) The case the issue names: aspnet__passwordprotectedPST.pst, Deleted Items, "Subject": the
    From_ line says 20 Jan 2017 like the Date field, not the creation time (6 Feb 2017).
"""
import email.utils
import json
import mailbox
import os
import time

import vobject

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("senders_dates_lists")
W = args.workdir
MM = args.mailmill


def convert(inputs, out, *extra):
    report = out + ".json"
    r = mmtest.run([MM, "convert", *inputs, "-o", out, "--report", report, "--quiet",
                    "--jobs", "2", *extra])
    rep = json.load(open(report, encoding="utf-8")) if os.path.exists(report) else None
    return r, rep


def vcards(root):
    """{FN of the first card: [cards]} of every .vcf below root."""
    out = {}
    for rel, path in mmtest.tree_files(root).items():
        if not rel.endswith(".vcf"):
            continue
        with open(path, encoding="utf-8") as f:
            cards = list(vobject.readComponents(f.read()))
        out.setdefault(cards[0].fn.value, []).append(cards)
    return out


def check_lists(truth, cards_by_name, where):
    lists = [t for t in truth if t["kind"] == "distlist"]
    c.check(len(lists) > 0, f"{where}: the generator wrote distribution lists")
    for t in lists:
        found = cards_by_name.get(t["subject"], [])
        if not c.check(len(found) == 1, f"{where}: one vCard file for list {t['subject']!r}"):
            continue
        cards = found[0]
        group = cards[0]
        c.check(group.version.value == "4.0", f"{where}: {t['subject']!r} is vCard 4.0")
        c.check(group.kind.value == "group", f"{where}: {t['subject']!r} KIND:group")
        members = [m.value for m in group.contents.get("member", [])]
        by_uid = {card.uid.value: card for card in cards[1:]}
        want_mail = sorted("mailto:" + m["smtp"] for m in t["members"] if m["smtp"])
        got_mail = sorted(m for m in members if m.startswith("mailto:"))
        c.check(got_mail == want_mail, f"{where}: {t['subject']!r} mailto members {got_mail} == {want_mail}")
        want_names = sorted(m["name"] for m in t["members"] if not m["smtp"])
        got_names = sorted(by_uid[m].fn.value for m in members if m in by_uid)
        c.check(got_names == want_names,
                f"{where}: {t['subject']!r} name-only members {got_names} == {want_names}")
        for uid, card in by_uid.items():
            c.check(card.kind.value == "individual" and "email" not in card.contents,
                    f"{where}: name-only member card {uid} is an individual without address")
        c.check(len(members) == len(t["members"]),
                f"{where}: {t['subject']!r} has {len(members)} MEMBER lines, {len(t['members'])} members")


# (a) generated distribution lists
pst = os.path.join(W, "lists.pst")
r = mmtest.run([args.gen, "generate", "-o", pst, "--seed", "12", "--messages", "60",
                "--dist-list-ratio", "0.4", "--contact-ratio", "0.1"])
if not c.check(r.returncode == 0, f"generate: {r.stderr[-400:]!r}"):
    c.finish()
truth = mmtest.load_jsonl(pst + ".jsonl")
out = os.path.join(W, "lists")
r, rep = convert([pst], out, "--format", "mbox")
c.check(r.returncode == 0, f"convert exit {r.returncode}: {r.stderr[-400:]!r}")
check_lists(truth, vcards(out), "mbox run")
n_name_only = sum(1 for t in truth if t["kind"] == "distlist" and any(not m["smtp"] for m in t["members"]))
warned = json.dumps(rep).count("listed by name only") if rep else 0
c.check(n_name_only > 0 and warned == n_name_only,
        f"one warning per list with name-only members: {warned} == {n_name_only}")

# Through PST output and back: the lists survive.
pst_out = os.path.join(W, "lists-pst")
r, _ = convert([pst], pst_out, "--format", "pst", "--mailbox", "user@example.com")
c.check(r.returncode == 0, f"convert to pst exit {r.returncode}: {r.stderr[-400:]!r}")
written = [p for rel, p in mmtest.tree_files(pst_out).items() if rel.endswith(".pst")]
if c.check(len(written) >= 1, "PST output written"):
    again = os.path.join(W, "lists-again")
    r, _ = convert(written, again, "--format", "mbox")
    c.check(r.returncode == 0, f"reconvert exit {r.returncode}: {r.stderr[-400:]!r}")
    check_lists(truth, vcards(again), "after PST output")

if not mmtest.have_corpus(args, c):
    c.finish()
F = os.path.join(args.shared, "pst")

# (b) the corpus list
out = os.path.join(W, "dist-list")
r, rep = convert([os.path.join(F, "jlibpst__dist-list.pst")], out)
cards = vcards(out).get("test dist list", [])
if c.check(len(cards) == 1, "jlibpst__dist-list.pst: one vCard for 'test dist list'"):
    members = sorted(m.value for m in cards[0][0].contents.get("member", []))
    want = sorted("mailto:" + a for a in ("contact1@rjohnson.id.au", "dist1@rjohnson.id.au",
                                          "dist2@rjohnson.id.au"))
    c.check(members == want, f"jlibpst__dist-list.pst members {members} == {want}")


# (c) From and From_ dates on every fixture
def check_message(msg, where):
    frm = msg.get("From")
    if not c.check(frm is not None, f"{where}: has a From field"):
        return
    if msg.get("X-Mailmill-Synthesized") == "from":
        c.check(str(frm) == "undisclosed-sender:;", f"{where}: synthesized From is {str(frm)!r}")
        c.check(len(frm.addresses) == 0 and len(frm.groups) == 1,
                f"{where}: synthesized From parses as one empty group")
    for inner in mmtest.embedded_messages(msg):
        check_message(inner, where + " (embedded)")


synthesized = 0
dated = 0
vcards_checked = 0
for name in sorted(os.listdir(F)):
    if not name.lower().endswith((".pst", ".ost")):
        continue
    out = os.path.join(W, "fx-" + name)
    r, rep = convert([os.path.join(F, name)], out, "--dedup", "none")
    if r.returncode not in (0, 1):
        c.check(False, f"{name}: exit {r.returncode}")
        continue
    for rel, path in mmtest.tree_files(out).items():
        if rel.endswith(".vcf"):
            # Every vCard (contacts, lists) parses with vobject, with its FN and VERSION.
            try:
                with open(path, encoding="utf-8") as f:
                    cards = list(vobject.readComponents(f.read(), validate=True))
                ok = bool(cards) and all(card.fn.value and card.version.value in ("3.0", "4.0")
                                         for card in cards)
            except Exception as e:  # noqa: BLE001 - any parse error is the failure reported
                ok, cards = False, str(e)
            c.check(ok, f"{name}:{rel}: vobject reads it: {cards!r}"[:400])
            vcards_checked += 1
            continue
        if not rel.endswith(".mbox"):
            continue
        for k, m in enumerate(mailbox.mbox(path, create=False)):
            where = f"{name}:{rel}#{k}"
            msg = mmtest.parse_message(m.as_bytes())
            check_message(msg, where)
            if msg.get("X-Mailmill-Synthesized") == "from":
                synthesized += 1
            date = m.get("Date")
            if date is None:
                continue
            parsed = email.utils.parsedate_to_datetime(date)
            want = time.asctime(time.gmtime(parsed.timestamp()))
            from_line = m.get_from()
            got = from_line.split(" ", 1)[1] if " " in from_line else from_line
            c.check(got == want, f"{where}: From_ date {got!r} == Date {date!r} ({want!r})")
            dated += 1
c.check(vcards_checked >= 5, f"{vcards_checked} vCards of the fixtures read by vobject")
c.check(dated > 150, f"From_ dates checked on {dated} messages")
c.check(synthesized > 0, f"{synthesized} messages without a sender got the placeholder")

# (d) the named case
out = os.path.join(W, "fx-aspnet__passwordprotectedPST.pst")
hits = []
for rel, path in mmtest.tree_files(out).items():
    if rel.endswith(".mbox") and "Deleted Items" in rel:
        for m in mailbox.mbox(path, create=False):
            if m.get("Subject") == "Subject":
                hits.append(m.get_from())
c.check(len(hits) == 3, f"passwordprotectedPST Deleted Items has 3 'Subject' messages ({len(hits)})")
c.check(all("Jan 20" in h and h.endswith("2017") for h in hits), f"their From_ lines say 20 Jan 2017: {hits}")

c.finish()
