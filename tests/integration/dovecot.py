"""A private Dovecot for the tests: its own configuration, state and mail under a test's work
folder, listening on loopback only (a plain IMAP port and, when asked, an implicit-TLS port
with a certificate from a CA made for the test), stopped at exit.

    d = dovecot.Dovecot(workdir, tls=True, quota_users={"small": "200K"})
    d.start(); imap = d.connect("tester"); ...; d.restart(); d.stop()

Every login's password is "secret"; mail lives in maildir under home/<user>. Users listed in
quota_users get a storage quota (count backend) and so see NO [OVERQUOTA] when full.
"""
import atexit
import imaplib
import os
import pwd
import shutil
import socket
import subprocess
import time

PASSWORD = "secret"


def binaries():
    """(dovecot, doveadm) paths, or None when Dovecot is not installed."""
    dovecot = shutil.which("dovecot") or ("/usr/sbin/dovecot" if os.path.exists("/usr/sbin/dovecot") else None)
    doveadm = shutil.which("doveadm") or ("/usr/bin/doveadm" if os.path.exists("/usr/bin/doveadm") else None)
    return (dovecot, doveadm) if dovecot and doveadm else None


def require(mmtest):
    """Exits the test as skipped when Dovecot is not installed (a failure under CI=true, where
    tools/setup.sh installs it)."""
    if binaries():
        return
    if mmtest.corpus_mandatory():
        print("FAIL: dovecot/doveadm not installed; CI=true needs them (tools/setup.sh installs dovecot-imapd)")
        raise SystemExit(1)
    print("dovecot not installed (Debian: dovecot-imapd); skipped")
    raise SystemExit(mmtest.SKIP_CODE)


def free_port():
    s = socket.socket()
    s.bind(("127.0.0.1", 0))
    port = s.getsockname()[1]
    s.close()
    return port


def make_ca(folder):
    """A CA and a server certificate for 127.0.0.1/localhost, made with the openssl CLI.
    Returns (ca.pem, server.pem, server.key)."""
    os.makedirs(folder, exist_ok=True)
    p = lambda n: os.path.join(folder, n)
    run = lambda *a: subprocess.run(["openssl", *a], check=True, capture_output=True)
    run("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-days", "2", "-subj", "/CN=mailmill test CA",
        "-keyout", p("ca.key"), "-out", p("ca.pem"))
    run("req", "-newkey", "rsa:2048", "-nodes", "-subj", "/CN=localhost", "-keyout", p("server.key"),
        "-out", p("server.csr"))
    with open(p("ext.cnf"), "w") as f:
        f.write("subjectAltName=DNS:localhost,IP:127.0.0.1\nbasicConstraints=CA:FALSE\n")
    run("x509", "-req", "-in", p("server.csr"), "-CA", p("ca.pem"), "-CAkey", p("ca.key"),
        "-CAcreateserial", "-days", "2", "-extfile", p("ext.cnf"), "-out", p("server.pem"))
    return p("ca.pem"), p("server.pem"), p("server.key")


class Dovecot:
    def __init__(self, workdir, tls=False, quota_users=None, special_use=True, fsync=True):
        self.bins = binaries()
        if not self.bins:
            raise RuntimeError("dovecot/doveadm not installed (Debian: dovecot-imapd)")
        self.dir = os.path.join(workdir, "dovecot")
        if os.path.exists(self.dir):
            subprocess.run([self.bins[1], "-c", os.path.join(self.dir, "dovecot.conf"), "stop"],
                           stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
            shutil.rmtree(self.dir)
        for sub in ("run", "state", "home", "idx"):
            os.makedirs(os.path.join(self.dir, sub))
        self.port = free_port()
        self.tls_port = free_port() if tls else 0
        self.ca = None
        self.conf = os.path.join(self.dir, "dovecot.conf")
        if os.getuid() == 0:
            # Mail processes never run as root: the mailbox owner is nobody.
            pw = pwd.getpwnam("nobody")
            uid, gid = pw.pw_uid, pw.pw_gid
            for sub in ("home", "idx"):
                os.chown(os.path.join(self.dir, sub), uid, gid)
            users = ""
        else:
            uid, gid = os.getuid(), os.getgid()
            me = pwd.getpwuid(uid).pw_name
            users = f"default_internal_user = {me}\ndefault_login_user = {me}\n"
        ssl = "ssl = no\n"
        if tls:
            self.ca, cert, key = make_ca(os.path.join(self.dir, "tls"))
            ssl = f"ssl = yes\nssl_cert = <{cert}\nssl_key = <{key}\n"
        quota = ""
        if quota_users:
            # The quota plugin; the rule comes per user from the passwd-file userdb below.
            quota = "mail_plugins = $mail_plugins quota\nplugin {\n  quota = count:User quota\n  quota_vsizes = yes\n}\n"
        D = self.dir
        userdb = f"""userdb {{
  driver = static
  args = uid={uid} gid={gid} home={D}/home/%u
}}
"""
        if quota_users:
            # A passwd-file userdb gives the quota users their rule; everyone else is static.
            with open(os.path.join(D, "users"), "w") as f:
                for name, limit in quota_users.items():
                    f.write(f"{name}:::::::userdb_quota_rule=*:storage={limit}\n")
            userdb = f"""userdb {{
  driver = passwd-file
  args = {D}/users
  default_fields = uid={uid} gid={gid} home={D}/home/%u
  skip = notfound
  result_success = continue-ok
}}
userdb {{
  driver = static
  args = uid={uid} gid={gid} home={D}/home/%u
  skip = found
}}
"""
        # The special-use folders a provider's server has (RFC 6154), made on first login.
        mailboxes = "".join(
            f"  mailbox {name} {{\n    special_use = \\{name}\n    auto = create\n  }}\n"
            for name in ("Sent", "Trash", "Drafts", "Junk")) if special_use else ""
        with open(self.conf, "w") as f:
            f.write(f"""base_dir = {D}/run
state_dir = {D}/state
log_path = {D}/dovecot.log
protocols = imap
listen = 127.0.0.1
{ssl}disable_plaintext_auth = no
auth_mechanisms = plain
first_valid_uid = {min(uid, 500)}
{users}passdb {{
  driver = static
  args = password={PASSWORD}
}}
{userdb}namespace inbox {{
  inbox = yes
  separator = /
{mailboxes}}}
mail_location = maildir:~/Maildir
{"" if fsync else "mail_fsync = never" + chr(10)}{quota}service imap-login {{
  chroot =
  inet_listener imap {{
    address = 127.0.0.1
    port = {self.port}
  }}
  inet_listener imaps {{
    address = 127.0.0.1
    port = {self.tls_port}
  }}
}}
service anvil {{
  chroot =
}}
""")
        atexit.register(self.stop)

    def url(self, tls=False):
        return f"imaps://127.0.0.1:{self.tls_port}" if tls else f"imap+plain://127.0.0.1:{self.port}"

    def start(self):
        # dovecot daemonizes; its daemon keeps any pipe open, so its output goes to a file.
        with open(os.path.join(self.dir, "start.log"), "ab") as log:
            r = subprocess.run([self.bins[0], "-c", self.conf], stdout=log, stderr=subprocess.STDOUT)
        if r.returncode != 0:
            raise RuntimeError("dovecot does not start: " + open(os.path.join(self.dir, "start.log")).read()[-800:])
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=1).close()
                return
            except OSError:
                time.sleep(0.05)
        raise RuntimeError("dovecot does not listen on port %d" % self.port)

    def stop(self):
        subprocess.run([self.bins[1], "-c", self.conf, "stop"], stdout=subprocess.DEVNULL,
                       stderr=subprocess.DEVNULL)
        # Wait until the listener is gone, so a restart can bind again.
        for _ in range(100):
            try:
                socket.create_connection(("127.0.0.1", self.port), timeout=0.2).close()
                time.sleep(0.05)
            except OSError:
                return

    def restart(self, users=()):
        """Stops and starts the server. Dovecot's master leaves running sessions alone when it
        stops; the sessions of `users` are ended first ("Server shutting down"), as a real
        restart of the machine would."""
        for u in users:
            self.doveadm("kick", u)
        self.stop()
        self.start()

    def doveadm(self, *args):
        return subprocess.run([self.bins[1], "-c", self.conf, *args], capture_output=True)

    def connect(self, user):
        imap = imaplib.IMAP4("127.0.0.1", self.port)
        imap.login(user, PASSWORD)
        return imap

    def log(self):
        try:
            return open(os.path.join(self.dir, "dovecot.log"), errors="replace").read()
        except OSError:
            return ""
