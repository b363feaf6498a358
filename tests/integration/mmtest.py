"""Shared helpers for mailmill's integration tests (plain Python 3, stdlib only)."""
import argparse
import collections
import email
import email.policy
import email.utils
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys


# Exit code of a test skipped because the corpus is missing (CMake: SKIP_RETURN_CODE).
SKIP_CODE = 77


def parse_args():
    """The common options. args.shared is the real-world corpus as resolved by corpus_dir()."""
    ap = argparse.ArgumentParser()
    ap.add_argument("--mailmill", required=True)
    ap.add_argument("--gen", required=False)
    ap.add_argument("--shared", required=False,
                    help="the corpus when MAILMILL_CORPUS is not set (CMake passes the default)")
    ap.add_argument("--workdir", required=True)
    args = ap.parse_args()
    args.shared = corpus_dir(args.shared)
    if os.path.exists(args.workdir):
        shutil.rmtree(args.workdir)
    os.makedirs(args.workdir)
    return args


def corpus_dir(default=None):
    """The real-world corpus (samples kept outside the repository), looked up at run time:
    $MAILMILL_CORPUS when set and non-empty, else `default` (--shared), else
    ../shared/fixtures beside this checkout."""
    env = os.environ.get("MAILMILL_CORPUS", "")
    if env:
        return env
    if default:
        return default
    checkout = os.path.dirname(os.path.dirname(os.path.dirname(os.path.abspath(__file__))))
    return os.path.normpath(os.path.join(checkout, "..", "shared", "fixtures"))


def corpus_missing(args):
    """"" when the corpus directory exists, else the one line saying where it was expected."""
    if os.path.isdir(args.shared):
        return ""
    return f"corpus not found at {args.shared} (set MAILMILL_CORPUS)"


def corpus_mandatory():
    """CI=true: a missing corpus is an error, never a skip (CI must not pass by skipping)."""
    return os.environ.get("CI") == "true"


def require_corpus(args):
    """Called by a test before it first reads the corpus. When the corpus is missing, prints
    one line and ends the test: skipped (exit SKIP_CODE), or failed (exit 1) under CI=true."""
    missing = corpus_missing(args)
    if missing:
        if corpus_mandatory():
            print(f"FAIL: {missing}; CI=true needs it", flush=True)
            sys.exit(1)
        print(missing, flush=True)
        sys.exit(SKIP_CODE)
    return args.shared


def have_corpus(args, checker):
    """For a test whose corpus part is optional: True when the corpus is there; otherwise the
    checker remembers it and its finish() reports the test skipped (or failed under CI=true)
    after the parts that generate their own input have run."""
    missing = corpus_missing(args)
    if missing:
        checker.corpus_missing = missing
    return not missing


class Checker:
    """Collects failures instead of stopping at the first, then prints a ctest-friendly tally."""

    def __init__(self, name):
        self.name = name
        self.passed = 0
        self.failures = []
        self.corpus_missing = ""

    def check(self, cond, what):
        if cond:
            self.passed += 1
        else:
            self.failures.append(what)
            print("FAIL:", what, flush=True)
        return cond

    def finish(self):
        print(f"{self.name}: {self.passed} passed, {len(self.failures)} failed")
        if self.failures:
            sys.exit(1)
        if self.corpus_missing:
            if corpus_mandatory():
                print(f"FAIL: {self.corpus_missing}; CI=true needs it", flush=True)
                sys.exit(1)
            print(f"{self.corpus_missing}; the corpus part was skipped", flush=True)
            sys.exit(SKIP_CODE)
        sys.exit(0)


def sanitizer_exit_code():
    """The exit code tools/run-tests.sh gives a process that a sanitizer stopped (exitcode= in
    ASAN_OPTIONS/UBSAN_OPTIONS), or None outside a sanitizer run."""
    for var in ("UBSAN_OPTIONS", "ASAN_OPTIONS"):
        for opt in os.environ.get(var, "").split(":"):
            if opt.startswith("exitcode="):
                return int(opt[len("exitcode="):])
    return None


def run(cmd, **kw):
    """Runs cmd with its output captured. A process stopped by a sanitizer fails the test here,
    with its report (UBSan's goes to stderr), even where the test would accept a failing exit
    code (bad input, verify after a flipped byte)."""
    r = subprocess.run(cmd, stdout=subprocess.PIPE, stderr=subprocess.PIPE, **kw)
    code = sanitizer_exit_code()
    if code is not None and r.returncode == code:
        err = r.stderr if isinstance(r.stderr, str) else r.stderr.decode("utf-8", "replace")
        print(f"FAIL: sanitizer finding (exit {code}) in {cmd}:\n{err[-6000:]}", flush=True)
        sys.exit(1)
    return r


def tree_files(root):
    """{relative path: absolute path} of every file below root except the .mailmill/ folder."""
    out = {}
    for dirpath, dirnames, filenames in os.walk(root):
        dirnames[:] = [d for d in dirnames if not (dirpath == root and d == ".mailmill")]
        for f in filenames:
            p = os.path.join(dirpath, f)
            out[os.path.relpath(p, root)] = p
    return out


def tree_bytes(root):
    """{relative path: bytes} of the same files."""
    files = {}
    for rel, p in tree_files(root).items():
        with open(p, "rb") as fh:
            files[rel] = fh.read()
    return files


def debian_module(name):
    """Imports `name`, also from Debian's python3-* packages when the interpreter running the
    test is not Debian's (a pyenv python does not see /usr/lib/python3/dist-packages); None
    when it is not installed at all."""
    import importlib
    try:
        return importlib.import_module(name)
    except ImportError:
        pass
    debian = "/usr/lib/python3/dist-packages"
    if os.path.isdir(debian) and debian not in sys.path:
        sys.path.append(debian)
        try:
            return importlib.import_module(name)
        except ImportError:
            pass
    return None


def ole_object_contents(data):
    """What an OLE attachment (ATTACH_OLE: a compound file, as pffexport exports it) holds when
    it is a static DIB picture whose CONTENTS stream is a BMP file, read with olefile (Debian
    python3-olefile); None for anything else, or when olefile is missing."""
    olefile = debian_module("olefile")
    if olefile is None or not data.startswith(b"\xd0\xcf\x11\xe0\xa1\xb1\x1a\xe1"):
        return None
    import io
    try:
        ole = olefile.OleFileIO(io.BytesIO(data))
        if ole.root.clsid.upper() != "00000316-0000-0000-C000-000000000046":
            return None
        if not ole.exists("CONTENTS"):
            return None
        contents = ole.openstream("CONTENTS").read()
    except Exception:  # noqa: BLE001 - not readable as an OLE object: no alternative
        return None
    return contents if contents.startswith(b"BM") else None


def sha256(b):
    return hashlib.sha256(b).hexdigest()


def addr_list(msg, *fields):
    """The addresses of the given header fields, lower-cased, in order."""
    vals = []
    for f in fields:
        vals += [str(v) for v in msg.get_all(f, [])]
    return [a.lower() for _, a in email.utils.getaddresses(vals) if a]


def crlf(s):
    """Text with every line end as CRLF (the generator's ground truth hashes CRLF bodies)."""
    return s.replace("\r\n", "\n").replace("\n", "\r\n")


def load_jsonl(path):
    with open(path, "rb") as f:
        return [json.loads(line) for line in f if line.strip()]


def parse_message(raw):
    return email.message_from_bytes(raw, policy=email.policy.default)


def all_defects(msg):
    """Defects of the message and of every part, but not inside attached message/rfc822 parts
    (those are checked separately as messages of their own)."""
    out = [(msg.get_content_type(), d) for d in msg.defects]
    if msg.is_multipart():
        for part in msg.iter_parts():
            out += all_defects(part)
    return out


def text_body(msg):
    """The text/plain body (first one, not inside attachments), decoded, or None."""
    part = msg.get_body(preferencelist=("plain",))
    if part is None:
        return None
    return part.get_content()


def attachments(msg):
    """(filename, bytes) of every leaf part that is not a body (the chosen text/plain and
    text/html parts, and an application/rtf alternative) and not inside an attached message
    (those are returned by embedded_messages). Inline images in multipart/related count."""
    bodies = {id(p) for p in (msg.get_body(preferencelist=("plain",)),
                              msg.get_body(preferencelist=("html",))) if p is not None}
    out = []

    def walk(part, parent_type):
        ctype = part.get_content_type()
        if ctype == "message/rfc822":
            return
        if part.is_multipart():
            for sub in part.iter_parts():
                walk(sub, ctype)
            return
        if id(part) in bodies:
            return
        if ctype == "application/rtf" and parent_type == "multipart/alternative":
            return
        out.append((part.get_filename(), part.get_payload(decode=True) or b""))

    walk(msg, "")
    return out


def embedded_messages(msg):
    out = []
    for part in msg.walk():
        if part.get_content_type() == "message/rfc822":
            payload = part.get_payload()
            if isinstance(payload, list) and payload:
                out.append(payload[0])
    return out


def normalize_text(s):
    s = s.replace("\r\n", "\n").replace("\r", "\n")
    return "\n".join(line.rstrip() for line in s.split("\n")).strip("\n")


def split_mboxrd(data):
    """Messages of an mboxrd file as the bytes mailmill hashed: From_ line dropped, '>From '
    lines unquoted, the blank separator line after each message removed."""
    msgs = []
    for line in data.splitlines(keepends=True):
        if line.startswith(b"From "):
            if msgs and msgs[-1].endswith(b"\n\n"):
                msgs[-1] = msgs[-1][:-1]
            msgs.append(bytearray())
            continue
        if not msgs:
            continue
        stripped = line.lstrip(b">")
        if len(stripped) < len(line) and stripped.startswith(b"From "):
            line = line[1:]
        msgs[-1] += line
    if msgs and msgs[-1].endswith(b"\n"):
        msgs[-1] = msgs[-1][:-1]
    return [bytes(m) for m in msgs]


# --- pffexport (libpff) exports, the independent reader several tests compare with ---------

PFF_ITEM_DIR = re.compile(r"^([A-Za-z]+)(\d{5})$")
PFF_MAIL_TYPES = {"Message", "Meeting"}  # pffexport item folders that are mail


def pff_items(root):
    """{folder path: {index: (type, dir)}} from a pffexport tree (not inside Attachments)."""
    out = collections.defaultdict(dict)
    for dirpath, dirnames, _ in os.walk(root):
        rel = os.path.relpath(dirpath, root)
        if "Attachments" in rel.split(os.sep):
            continue
        keep = []
        for d in dirnames:
            m = PFF_ITEM_DIR.match(d)
            if m and m.group(1) not in ("Folder",):
                folder = "" if rel == "." else rel.replace(os.sep, "/")
                out[folder][int(m.group(2))] = (m.group(1), os.path.join(dirpath, d))
            else:
                keep.append(d)
        dirnames[:] = keep
    return out


def pff_canonical_folder(path):
    # pffexport names a folder without a name "FolderNNNNN"; we keep the empty raw name.
    return "/".join("" if re.fullmatch(r"Folder\d{5}", p) else p for p in path.split("/")) \
        if path else path


def pff_subject(item_dir):
    try:
        with open(os.path.join(item_dir, "OutlookHeaders.txt"), "rb") as f:
            for line in f.read().decode("utf-8", "replace").splitlines():
                if line.startswith("Subject:"):
                    return line.split(":", 1)[1].strip("\t ")
    except FileNotFoundError:
        pass
    return None


def libpff_string_bug_applies(expected):
    """libpff 20180714 drops leading bytes of a subject that starts with a non-ASCII character
    and garbles characters outside the BMP: where either applies, ground truth is our raw
    reading, not pffexport's."""
    return bool(expected) and (ord(expected[0]) > 0x7F or any(ord(ch) > 0xFFFF for ch in expected))


def pff_attachments(item_dir):
    """([frozenset of accepted sha256 forms] per attachment file, number of attached messages)
    of a pffexport item folder."""
    adir = os.path.join(item_dir, "Attachments")
    files, embedded = [], 0
    if os.path.isdir(adir):
        for name in sorted(os.listdir(adir)):
            p = os.path.join(adir, name)
            if os.path.isdir(p):
                embedded += 1
            else:
                with open(p, "rb") as f:
                    data = f.read()
                # An OLE picture object (pffexport exports the compound file) is written as the
                # picture it holds: either form counts.
                forms = {sha256(data)}
                picture = ole_object_contents(data)
                if picture is not None:
                    forms.add(sha256(picture))
                files.append(frozenset(forms))
    return sorted(files, key=sorted), embedded


def pff_index_by_node(manifest):
    """pffexport numbers the items of a folder in node-id order (libpff walks the node index),
    while mailmill's index is the contents-table position: {(folder, node_id): pffexport index}
    for the manifest's items (associated items, which pffexport does not export, left out)."""
    by_folder = collections.defaultdict(list)
    for e in manifest:
        if e.get("code") != "associated":
            by_folder[e["folder"]].append(e)
    out = {}
    for folder, entries in by_folder.items():
        for rank, e in enumerate(sorted(entries, key=lambda e: e["node_id"]), 1):
            out[(folder, e["node_id"])] = rank
    return out
