#!/usr/bin/env python3
"""Per-fixture account: mailmill's seen/written/skipped/failed next to readpst's counts on the
same files. Usage: bench/fixture_table.py [--mailmill build/tools/mailmill] [--shared ../shared]
Prints a Markdown table."""
import argparse
import glob
import json
import os
import re
import subprocess
import tempfile

ap = argparse.ArgumentParser()
root = os.path.dirname(os.path.dirname(os.path.abspath(__file__)))
ap.add_argument("--mailmill", default=os.path.join(root, "build/tools/mailmill"))
ap.add_argument("--shared", default=os.path.join(root, "..", "shared"))
args = ap.parse_args()

print("| fixture | mailmill seen | written | skipped | failed | readpst items | readpst skipped | readpst files |")
print("|---|---|---|---|---|---|---|---|")
tot = [0] * 7
for pst in sorted(glob.glob(os.path.join(args.shared, "fixtures", "pst", "*"))):
    name = os.path.basename(pst)
    with tempfile.TemporaryDirectory() as tmp:
        out = os.path.join(tmp, "mm")
        subprocess.run([args.mailmill, "convert", pst, "-o", out, "--format", "eml", "--dedup", "none",
                        "--report", out + ".json", "--quiet"], capture_output=True)
        r = json.load(open(out + ".json"))
        src = r["sources"][0]
        t = src["totals"]
        rp = os.path.join(tmp, "rp")
        os.makedirs(rp)
        p = subprocess.run(["readpst", "-D", "-j", "0", "-S", "-o", rp, pst], capture_output=True, text=True,
                           errors="replace")
        done = sum(int(x) for x in re.findall(r"(\d+) items done", p.stdout))
        skipped = sum(int(x) for x in re.findall(r"(\d+) items skipped", p.stdout))
        files = sum(len(f) for _, _, f in os.walk(rp))
        mm = [t["seen"], t["written"], t["skipped"], t["failed"]] if src["opened"] else None
        cells = [str(x) for x in mm] if mm else ["not read: " + src["error_code"], "", "", ""]
        print(f"| {name} | " + " | ".join(cells) + f" | {done} | {skipped} | {files} |")
        if mm:
            for i in range(4):
                tot[i] += mm[i]
        tot[4] += done
        tot[5] += skipped
        tot[6] += files
print(f"| **total** | {tot[0]} | {tot[1]} | {tot[2]} | {tot[3]} | {tot[4]} | {tot[5]} | {tot[6]} |")
