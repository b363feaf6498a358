"""Issue 5: memory is bounded by --max-memory without changing a byte of the output.

A generated corpus with attachments from 200 KB to 3 MB is converted to mbox and EML twice:
with the default --max-memory, and with --max-memory 2M, under which finished output beyond
256 KB in flight waits in a temporary file. Checks:
1. the small-budget runs really spill (the report's stages.spilled counts items and bytes);
2. both runs give byte-identical output trees (every file but .mailmill/);
3. every attachment comes back out of the mbox with the bytes of the generator's ground truth
   (name, size, sha256), parsed by Python's email package: attachments are base64-encoded
   straight into the output in 57 KiB steps, so sizes around every step boundary matter;
4. `mailmill verify` passes on the spilled run and the reports balance;
5. the same corpus written with compressible encryption gives byte-identical mbox files (big
   attachments are read with preadv and decoded in place, small blocks through the mapping).
"""
import json
import os

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("memory_bound")
work = args.workdir

pst = os.path.join(work, "big.pst")
r = mmtest.run([args.gen, "generate", "--messages", "60", "--seed", "11", "--folders", "3",
                "--attachment-ratio", "0.6", "--attachment-min", "200000",
                "--attachment-max", "3000000", "--html-ratio", "0.3", "--embedded-ratio", "0",
                "-o", pst])
c.check(r.returncode == 0, f"generate failed: {r.stderr.decode(errors='replace')}")
truth = mmtest.load_jsonl(pst + ".jsonl")


def convert(fmt, name, extra, src=pst):
    out = os.path.join(work, name)
    report = out + ".json"
    r = mmtest.run([args.mailmill, "convert", src, "-o", out, "--format", fmt, "--jobs", "2",
                    "--quiet", "--report", report] + extra)
    c.check(r.returncode == 0, f"{name}: exit {r.returncode}: {r.stderr.decode(errors='replace')}")
    with open(report) as f:
        rep = json.load(f)
    t = rep["totals"]
    c.check(t["seen"] == t["written"] + t["duplicates"] + t["skipped"] + t["failed"]
            and t["seen"] == len(truth), f"{name}: totals {t}")
    return out, rep


for fmt in ("mbox", "eml"):
    a, rep_a = convert(fmt, f"{fmt}-default", [])
    b, rep_b = convert(fmt, f"{fmt}-2M", ["--max-memory", "2M"])
    sp = rep_b["stages"]["spilled"]
    c.check(sp["items"] > 0 and sp["bytes"] > 0, f"{fmt}: nothing spilled under 2M: {sp}")
    c.check(rep_a["stages"]["spilled"]["items"] == 0,
            f"{fmt}: the default budget spilled: {rep_a['stages']['spilled']}")
    ta, tb = mmtest.tree_bytes(a), mmtest.tree_bytes(b)
    c.check(sorted(ta) == sorted(tb), f"{fmt}: different file lists")
    diff = [k for k in ta if k in tb and ta[k] != tb[k]]
    c.check(not diff, f"{fmt}: files differ with --max-memory 2M: {diff[:5]}")
    v = mmtest.run([args.mailmill, "verify", b])
    c.check(v.returncode == 0, f"{fmt}: verify failed: {v.stdout.decode(errors='replace')[-500:]}")

    if fmt != "mbox":
        continue
    # Ground truth: every message's attachments, by Message-ID.
    got = {}
    for rel, data in tb.items():
        if not rel.endswith(".mbox"):
            continue
        for raw in mmtest.split_mboxrd(data):
            msg = mmtest.parse_message(bytes(raw))
            got[str(msg["Message-ID"]).strip()] = mmtest.attachments(msg)
    checked = 0
    for t in truth:
        atts = got.get(t["message_id"])
        if not c.check(atts is not None, f"message {t['message_id']} missing from the mbox"):
            continue
        want = sorted((a["name"], a["size"], a["sha256"]) for a in t["attachments"])
        have = sorted((n, len(d), mmtest.sha256(d)) for n, d in atts)
        c.check(want == have, f"{t['message_id']}: attachments {have} != truth {want}")
        checked += len(want)
    c.check(checked > 20, f"only {checked} attachments checked")
    print(f"{checked} attachments match the ground truth; spilled {sp['items']} items "
          f"({sp['bytes']} bytes) under --max-memory 2M")

# Encrypted blocks: same seed, same messages, so the same mbox bytes.
pst_enc = os.path.join(work, "big-enc.pst")
r = mmtest.run([args.gen, "generate", "--messages", "60", "--seed", "11", "--folders", "3",
                "--attachment-ratio", "0.6", "--attachment-min", "200000",
                "--attachment-max", "3000000", "--html-ratio", "0.3", "--embedded-ratio", "0",
                "--encryption", "compressible", "-o", pst_enc])
c.check(r.returncode == 0, f"generate (encrypted) failed: {r.stderr.decode(errors='replace')}")
with open(pst_enc, "rb") as f:
    head = f.read(514)
c.check(head[513] == 1, f"bCryptMethod is {head[513]}, want 1 (NDB_CRYPT_PERMUTE)")
enc, _ = convert("mbox", "mbox-enc", [], src=pst_enc)


def mbox_files(tree):  # without the first folder, named after the source file
    return {k.split("/", 1)[1]: v for k, v in mmtest.tree_bytes(tree).items() if k.endswith(".mbox")}


plain_mbox = mbox_files(os.path.join(work, "mbox-default"))
enc_mbox = mbox_files(enc)
c.check(len(plain_mbox) >= 3 and plain_mbox == enc_mbox,
        f"mbox files differ for the encrypted copy: {sorted(plain_mbox)} / {sorted(enc_mbox)}")

# Messages over a profile's size limit go whole to oversize/ as files, never framed: the mbox
# path builds framed entries in place, so an oversize item is built again without framing.
out, rep = convert("mbox", "mbox-imap-1M", ["--profile", "imap", "--max-message-bytes", "1M"])
man = mmtest.load_jsonl(os.path.join(out, "manifest.jsonl"))
over = [m for m in man if m["outcome"] == "written" and m["location"].startswith("oversize/")]
c.check(len(over) > 5, f"only {len(over)} oversize items")
for m in over:
    with open(os.path.join(out, m["location"]), "rb") as f:
        data = f.read()
    c.check(not data.startswith(b"From "), f"{m['location']}: framed like an mbox entry")
    c.check(mmtest.sha256(data) == m["raw_sha256"] and len(data) > 1000000,
            f"{m['location']}: bytes do not match the manifest")
    msg = mmtest.parse_message(data)
    c.check(str(msg["Message-ID"]).strip() == m["message_id"], f"{m['location']}: Message-ID")
inside = [m for m in man if m["outcome"] == "written" and ".mbox#" in m["location"]]
c.check(inside and all(m["size"] <= 1 << 20 for m in inside), "mbox holds a message over 1M")
v = mmtest.run([args.mailmill, "verify", out])
c.check(v.returncode == 0, f"imap 1M: verify failed: {v.stdout.decode(errors='replace')[-500:]}")

c.finish()
