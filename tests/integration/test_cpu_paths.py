"""Every CPU-specific code path gives the same output bytes, end to end: a generated PST with
many attachments (base64 in the MIME builder, SHA-256 for dedup keys, manifests and batch
checksums) is converted once with the default paths and once per MAILMILL_CPU setting, in EML
and batch form, and the output trees must be byte-identical. A setting this CPU cannot run is
skipped with the reason mailmill gives; a bad setting must be a usage error (exit 2).
"""
import os

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("cpu_paths")

pst = os.path.join(args.workdir, "gen.pst")
r = mmtest.run([args.gen, "generate", "-o", pst, "--seed", "77", "--messages", "150",
                "--attachment-ratio", "0.6", "--attachment-min", "1", "--attachment-max", "90000",
                "--html-ratio", "0.3", "--embedded-ratio", "0.05"])
if not c.check(r.returncode == 0, f"generate failed: {r.stderr[-500:]!r}"):
    c.finish()


def convert(name, fmt, cpu):
    out = os.path.join(args.workdir, f"{name}_{fmt}")
    env = dict(os.environ)
    env.pop("MAILMILL_CPU", None)
    if cpu is not None:
        env["MAILMILL_CPU"] = cpu
    res = mmtest.run([args.mailmill, "convert", pst, "-o", out, "--format", fmt, "-j", "2",
                      "-q"], env=env)
    return res, out


def tree(root):
    # manifest.jsonl names the output folder of each run; everything else must match exactly.
    return {rel: open(p, "rb").read() for rel, p in mmtest.tree_files(root).items()
            if rel != "manifest.jsonl"}


SETTINGS = ["sha256=openssl", "sha256=shani", "base64=scalar", "base64=avx2", "base64=vbmi",
            "sha256=openssl,base64=scalar"]
for fmt in ("eml", "batch"):
    res, ref_dir = convert("default", fmt, None)
    if not c.check(res.returncode == 0, f"default {fmt} run failed: {res.stderr[-500:]!r}"):
        continue
    ref = tree(ref_dir)
    c.check(len(ref) > 100 if fmt == "eml" else len(ref) >= 3,
            f"default {fmt} output has only {len(ref)} files")
    for cpu in SETTINGS:
        res, out = convert(cpu.replace("=", "-").replace(",", "_"), fmt, cpu)
        err = res.stderr.decode(errors="replace")
        if res.returncode == 2 and "cannot run" in err:
            print(f"SKIP {cpu} ({fmt}): {err.strip()}")
            continue
        if not c.check(res.returncode == 0, f"{cpu} {fmt} run failed: {err[-500:]!r}"):
            continue
        got = tree(out)
        c.check(sorted(got) == sorted(ref), f"{cpu} {fmt}: different file names")
        differing = [rel for rel in ref if rel in got and got[rel] != ref[rel]]
        c.check(not differing, f"{cpu} {fmt}: {len(differing)} files differ, e.g. {differing[:3]}")
        print(f"ran {cpu} ({fmt}): {len(got)} files identical to the default run")

for bad in ("base64=neon", "sha256", "md5=fast"):
    res, _ = convert("bad", "eml", bad)
    c.check(res.returncode == 2 and b"MAILMILL_CPU" in res.stderr,
            f"MAILMILL_CPU={bad}: exit {res.returncode}, want 2 with a message")

c.finish()
