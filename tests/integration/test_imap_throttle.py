"""mailmill upload against a server that throttles: a small IMAP server written here (Python,
loopback) answers every third APPEND the first time it sees that message with
`NO [THROTTLED]`, as Gmail and Exchange Online do under load, and refuses one message for good
with `NO [TOOBIG]`. The uploader must wait and send the throttled ones again, report the
refused one with the server's code, and leave every other message on the server exactly once,
byte for byte. No corpus needed: the input is generated.
"""
import hashlib
import json
import os
import re
import socketserver
import threading

import mmtest

args = mmtest.parse_args()
c = mmtest.Checker("imap_throttle")
W = args.workdir
MM = args.mailmill

stored = {}        # mailbox -> [bytes]
seen = set()       # digests already answered THROTTLED once
throttled = [0]
lock = threading.Lock()
REFUSED = []       # the digest of the one message refused with TOOBIG (the first one seen)


class Handler(socketserver.StreamRequestHandler):
    def send(self, line):
        self.wfile.write(line.encode() + b"\r\n")
        self.wfile.flush()

    def handle(self):
        self.send("* OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS AUTH=PLAIN] throttling test server")
        selected = None
        while True:
            line = self.rfile.readline()
            if not line:
                return
            m = re.match(rb"(\S+) (\S+)(.*)\r\n$", line, re.S)
            if not m:
                self.send("* BAD unparsable")
                continue
            tag, cmd, rest = m.group(1).decode(), m.group(2).upper().decode(), m.group(3)
            if cmd == "LOGIN":
                self.send(f"{tag} OK [CAPABILITY IMAP4rev1 LITERAL+ UIDPLUS] logged in")
            elif cmd == "LIST":
                if rest.strip().endswith(b'""'):
                    self.send('* LIST (\\Noselect) "/" ""')
                else:
                    with lock:
                        for box in ["INBOX", *stored]:
                            self.send(f'* LIST () "/" "{box}"')
                self.send(f"{tag} OK list")
            elif cmd == "CREATE":
                box = rest.strip().strip(b'"').decode()
                with lock:
                    stored.setdefault(box, [])
                self.send(f"{tag} OK created")
            elif cmd in ("EXAMINE", "SELECT"):
                selected = rest.strip().strip(b'"').decode()
                with lock:
                    n = len(stored.get(selected, []))
                self.send(f"* {n} EXISTS")
                self.send("* OK [UIDVALIDITY 7] ok")
                self.send(f"* OK [UIDNEXT {n + 1}] ok")
                self.send(f"{tag} OK [READ-ONLY] examined")
            elif cmd == "UID":
                with lock:
                    msgs = list(stored.get(selected, []))
                for k, data in enumerate(msgs, 1):
                    mid = re.search(rb"(?im)^Message-ID:[^\r\n]*\r\n", data)
                    hdr = (mid.group(0) if mid else b"") + b"\r\n"
                    self.wfile.write(b"* %d FETCH (UID %d RFC822.SIZE %d BODY[HEADER.FIELDS (MESSAGE-ID)] {%d}\r\n%s)\r\n"
                                     % (k, k, len(data), len(hdr), hdr))
                self.send(f"{tag} OK fetched")
            elif cmd == "APPEND":
                lit = re.search(rb"\{(\d+)(\+?)\}$", rest.rstrip(b"\r\n"))
                box = re.match(rb'\s*"([^"]*)"', rest).group(1).decode()
                n = int(lit.group(1))
                if not lit.group(2):
                    self.send("+ go ahead")
                data = self.rfile.read(n)
                self.rfile.readline()  # the CRLF that ends the command
                digest = hashlib.sha256(data).hexdigest()
                with lock:
                    total = sum(len(v) for v in stored.values()) + len(seen)
                    if not REFUSED:
                        REFUSED.append(digest)
                    if digest == REFUSED[0]:
                        self.send(f"{tag} NO [TOOBIG] this one is too big for us")
                        continue
                    if digest not in seen and total % 3 == 0:
                        seen.add(digest)
                        throttled[0] += 1
                        self.send(f"{tag} NO [THROTTLED] slow down")
                        continue
                    stored.setdefault(box, []).append(data)
                    uid = len(stored[box])
                self.send(f"{tag} OK [APPENDUID 7 {uid}] stored")
            elif cmd == "LOGOUT":
                self.send("* BYE bye")
                self.send(f"{tag} OK logged out")
                return
            else:
                self.send(f"{tag} OK {cmd.lower()}")


class Server(socketserver.ThreadingTCPServer):
    daemon_threads = True
    allow_reuse_address = True


server = Server(("127.0.0.1", 0), Handler)
threading.Thread(target=server.serve_forever, daemon=True).start()
port = server.server_address[1]

src = os.path.join(W, "in.mbox")
out = os.path.join(W, "out")
r = mmtest.run([args.gen, "generate", "-o", src, "--format", "mbox", "--messages", "90", "--seed", "3"])
c.check(r.returncode == 0, "generate: " + r.stderr.decode()[-300:])
r = mmtest.run([MM, "convert", src, "-o", out, "--quiet"])
c.check(r.returncode == 0, "convert: " + r.stderr.decode()[-300:])
pw = os.path.join(W, "pw")
with open(pw, "w") as f:
    f.write("x\n")
rep = os.path.join(W, "report.json")
r = mmtest.run([MM, "upload", out, "--imap", f"imap+plain://127.0.0.1:{port}", "--user", "u",
                "--password-file", pw, "--quiet", "--connections", "3", "--report", rep], timeout=300)
err = r.stderr.decode()
report = json.load(open(rep)) if os.path.exists(rep) else {}
c.check(r.returncode == 1, f"exit code 1: one message refused (got {r.returncode}): {err[-500:]}")
c.check(throttled[0] > 10, f"the server throttled the uploader ({throttled[0]} times)")
c.check("slow down" in err, "the uploader says it is slowing down")
refused = report.get("refused_items", [])
c.check(len(refused) == 1 and refused[0]["code"] == "TOOBIG",
        f"the refused message is reported with the server's code: {refused}")

items = [e for e in mmtest.load_jsonl(os.path.join(out, "manifest.jsonl")) if e["outcome"] == "written"]
want = {}
for e in items:
    f, n = e["location"].rsplit("#", 1)
    data = mmtest.split_mboxrd(open(os.path.join(out, f), "rb").read())[int(n) - 1]
    data = re.sub(rb"\r\n|\r|\n", b"\r\n", data)
    h = hashlib.sha256(data).hexdigest()
    if h != REFUSED[0]:
        want[h] = want.get(h, 0) + 1
got = {}
for box, msgs in stored.items():
    for data in msgs:
        h = hashlib.sha256(data).hexdigest()
        got[h] = got.get(h, 0) + 1
c.check(got == want, f"every other message is on the server exactly once, byte for byte "
                     f"({sum(got.values())} stored, {sum(want.values())} expected)")
c.check(report.get("appended") == sum(want.values()), f"report: {report.get('appended')} appended")
server.shutdown()
c.finish()
