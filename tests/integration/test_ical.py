"""Calendar output of every PST/OST in the corpus, checked by two independent iCalendar parsers
and against libpff's view of the same items (issue 12):
- every .ics file and every text/calendar part mailmill writes parses with python3-icalendar
  (VCALENDAR with VERSION/PRODID, each VEVENT/VTODO with UID, DTSTAMP) and passes libical's
  parser and icalrestriction_check (mm_ical_check; X-LIC-ERROR = failure);
- meeting requests (pffexport "Meeting" items of class IPM.Schedule.Meeting.Request) get a
  text/calendar; method=REQUEST alternative beside their text/HTML body, whose UID is the one
  [MS-ASEMAIL] 3.1.4.7 derives from the item's PidLidGlobalObjectId as pffexport dumps it,
  whose DTSTART/DTEND are PidLidAppointmentStartWhole/EndWhole and whose ORGANIZER is the
  item's sent-representing name;
- the recurring appointment of jlibpst__dist-list.pst (weekly on Tuesday, 2 modified and 1
  deleted instance): libical's expansion of the written RRULE/EXDATE starts at pffexport's
  start time and every instance falls on a Tuesday at 08:00 Pacific time.
"""
import datetime
import glob
import os
import re
import struct
import subprocess
import sys

# python3-icalendar is a Debian package: when this interpreter (e.g. a pyenv one) does not
# see it, run the test again with the system's.
try:
    import icalendar  # noqa: F401
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != "/usr/bin/python3" \
            and not os.environ.get("MM_ICAL_REEXEC"):
        os.environ["MM_ICAL_REEXEC"] = "1"
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    raise

import mailbox  # noqa: E402

import icalendar  # noqa: E402,F811

import mmtest  # noqa: E402

args = mmtest.parse_args()
mmtest.require_corpus(args)
c = mmtest.Checker("ical")
ICAL_CHECK = os.environ.get("MM_ICAL_CHECK", "")
c.check(os.path.exists(ICAL_CHECK), f"mm_ical_check found (MM_ICAL_CHECK={ICAL_CHECK!r})")

PFF_CANNOT_OPEN = {"aspnet__AddingBulkMessagesWithImprovedPerformance.pst"}
pst_dir = os.path.join(args.shared, "pst")
inputs = sorted(f for f in os.listdir(pst_dir) if f.endswith((".pst", ".ost")))
parts_dir = os.path.join(args.workdir, "parts")
os.makedirs(parts_dir)

ours = []            # every calendar file we wrote or extracted: (path, where)
requests = {}        # (input, folder) -> [(calendar object, multipart parent types)]


def walk_calendar_parts(msg, parents=()):
    if msg.is_multipart():
        for p in msg.get_payload():
            yield from walk_calendar_parts(p, parents + (msg.get_content_type(),))
    elif msg.get_content_type() == "message/rfc822":
        for p in msg.get_payload():
            yield from walk_calendar_parts(p, parents + ("message/rfc822",))
    elif msg.get_content_type() == "text/calendar":
        yield msg, parents


for name in inputs:
    out = os.path.join(args.workdir, name)
    r = mmtest.run([args.mailmill, "convert", os.path.join(pst_dir, name), "-o", out])
    c.check(r.returncode in (0, 1), f"{name}: convert exit {r.returncode} (not a crash)")
    for ics in glob.glob(os.path.join(out, "**", "*.ics"), recursive=True):
        ours.append((ics, os.path.relpath(ics, args.workdir)))
    for mb in glob.glob(os.path.join(out, "**", "*.mbox"), recursive=True):
        folder = os.path.relpath(mb, out)[:-len(".mbox")]
        for i, msg in enumerate(mailbox.mbox(mb)):
            for part, parents in walk_calendar_parts(msg):
                data = part.get_payload(decode=True)
                if b"PRODID:-//mailmill//EN" not in data:
                    continue  # a calendar attachment of the source item, not ours
                p = os.path.join(parts_dir, f"{len(ours):05d}.ics")
                with open(p, "wb") as f:
                    f.write(data)
                ours.append((p, f"{name}/{folder}.mbox message {i}"))
                c.check(parents and parents[-1] == "multipart/alternative"
                        and part.get_param("method") and part.get_content_charset() == "utf-8",
                        f"{name}/{folder} message {i}: text/calendar; method=...; charset=utf-8 "
                        f"in multipart/alternative (parents {parents})")
                requests.setdefault((name, folder), []).append(
                    (icalendar.Calendar.from_ical(data), part.get_param("method")))

c.check(len(ours) >= 16, f"calendar outputs found: {len(ours)}")

# Parser 1: python3-icalendar.
for path, where in ours:
    with open(path, "rb") as f:
        data = f.read()
    try:
        cal = icalendar.Calendar.from_ical(data)
    except Exception as e:  # noqa: BLE001 - any parser error is the finding
        c.check(False, f"{where}: python icalendar cannot parse: {e}")
        continue
    ok = cal.name == "VCALENDAR" and str(cal.get("VERSION")) == "2.0" and cal.get("PRODID")
    comps = [x for x in cal.walk() if x.name in ("VEVENT", "VTODO")]
    ok = ok and comps and all(x.get("UID") and x.get("DTSTAMP") for x in comps)
    errors = [(x.name, e) for x in cal.walk() for e in getattr(x, "errors", [])]
    c.check(ok and not errors, f"{where}: python icalendar: well-formed ({errors})")
    for x in comps:
        if x.name == "VEVENT" and x.get("DTSTART") is not None and x.get("DTEND") is not None:
            c.check(x.decoded("DTEND") >= x.decoded("DTSTART"), f"{where}: DTEND >= DTSTART")

# Parser 2: libical, with its restriction check (iTIP rules for METHOD, RFC 5545 otherwise).
if ours and os.path.exists(ICAL_CHECK):
    r = mmtest.run([ICAL_CHECK] + [p for p, _ in ours])
    lines = r.stdout.decode("utf-8", "replace").splitlines()
    where = {p: w for p, w in ours}
    for line in lines:
        m = re.match(r"^(OK|ERR) (.*?)(?:: (.*))?$", line)
        if m and m.group(1) == "ERR":
            c.check(False, f"{where.get(m.group(2), m.group(2))}: libical: {m.group(3)}")
    c.check(sum(1 for x in lines if x.startswith("OK ")) == len(ours),
            f"libical: {len(ours)} files OK ({r.returncode})")


# --- Meeting requests against pffexport -------------------------------------------------------
GOID_PREFIX = bytes.fromhex("040000008200E00074C5B7101A82E008")


def pff_values(item_dir):
    """{tag id or ("L", named property LID): (value type, bytes)} from ItemValues.txt."""
    out = {}
    try:
        with open(os.path.join(item_dir, "ItemValues.txt"), "rb") as f:
            text = f.read().decode("utf-8", "replace")
    except OSError:
        return out
    for block in text.split("\n\n"):
        et = re.search(r"Entry type:\s+0x([0-9a-f]+)", block)
        vt = re.search(r"Value type:\s+0x([0-9a-f]+)", block)
        mp = re.search(r"Maps to entry type:\s+0x([0-9a-f]+)", block)
        if not et or not vt:
            continue
        data = bytearray()
        for hexline in re.findall(r"^0x[0-9a-f]+: ((?:[0-9a-f]{2}\s{1,2}){1,16})", block, re.M):
            data += bytes(int(h, 16) for h in hexline.split())
        key = ("L", int(mp.group(1), 16)) if mp else int(et.group(1), 16)
        # LIDs of different property sets can be equal: the first one stays, except that
        # PidLidGlobalObjectId is recognized by its ByteArrayID ([MS-OXOCAL] 2.2.1.27).
        if key == ("L", 3) and data.startswith(GOID_PREFIX):
            key = "GOID"
        out.setdefault(key, (int(vt.group(1), 16), bytes(data)))
    return out


def uid_of_goid(goid):
    """[MS-ASEMAIL] 3.1.4.7, written independently of the C++ code."""
    if len(goid) > 52 and goid[40:48] == b"vCal-Uid":
        return goid[52:].split(b"\0")[0].decode("utf-8")
    return (goid[:16] + b"\0\0\0\0" + goid[20:]).hex().upper()


def filetime_utc(b):
    return datetime.datetime(1601, 1, 1, tzinfo=datetime.timezone.utc) + \
        datetime.timedelta(microseconds=struct.unpack("<Q", b)[0] // 10)


ost = "aspnet__SampleOstFile.ost"
pff_root = os.path.join(args.workdir, "pff_" + ost)
mmtest.run(["pffexport", "-d", "-m", "items", "-f", "all", "-q", "-t", pff_root,
            os.path.join(pst_dir, ost)])
meetings = []
for d in sorted(glob.glob(os.path.join(pff_root + ".export", "**", "Meeting0*"), recursive=True)):
    if "Attachments" in d:
        continue
    v = pff_values(d)
    cls = v.get(0x001A, (0, b""))[1].decode("utf-16-le", "replace")
    if cls == "IPM.Schedule.Meeting.Request":
        folder = os.path.relpath(os.path.dirname(d), pff_root + ".export")
        meetings.append((folder, d, v))
c.check(len(meetings) == 6, f"{ost}: pffexport lists 6 meeting requests (Inbox + 5 deleted): "
        f"{len(meetings)}")
for folder, d, v in meetings:
    # Our layout is OUTDIR/<input>/<input name>/<folder path>.mbox.
    got = [x for (inp, f), lst in requests.items() if inp == ost and
           (f == folder or f.endswith("/" + folder)) for x in lst]
    uid = uid_of_goid(v["GOID"][1]) if "GOID" in v else None
    match = [cal for cal, method in got
             if method == "REQUEST" and any(str(e.get("UID")) == uid for e in cal.walk("VEVENT"))]
    if not c.check(len(match) >= 1, f"{ost}/{folder}/{os.path.basename(d)}: text/calendar "
                   f"REQUEST with UID {uid}"):
        continue
    cal = match[0]
    ev = cal.walk("VEVENT")[0]
    c.check(str(cal.get("METHOD")) == "REQUEST", f"{d}: METHOD:REQUEST")
    c.check(ev.decoded("DTSTART") == filetime_utc(v[("L", 0x820D)][1]).replace(microsecond=0),
            f"{d}: DTSTART {ev.decoded('DTSTART')} = PidLidAppointmentStartWhole")
    c.check(ev.decoded("DTEND") == filetime_utc(v[("L", 0x820E)][1]).replace(microsecond=0),
            f"{d}: DTEND = PidLidAppointmentEndWhole")
    loc = v.get(("L", 0x8208), (0, b""))[1].decode("utf-16-le")
    c.check(str(ev.get("LOCATION", "")) == loc, f"{d}: LOCATION {loc!r}")
    organizer = ev.get("ORGANIZER")
    name = v[0x0042][1].decode("utf-16-le") if 0x0042 in v else None
    c.check(organizer is not None and organizer.params.get("CN") == name,
            f"{d}: ORGANIZER CN {organizer.params.get('CN') if organizer else None} = {name}")
    attendees = ev.get("ATTENDEE")
    attendees = attendees if isinstance(attendees, list) else [attendees] if attendees else []
    c.check(attendees and all(a.params.get("PARTSTAT") == "NEEDS-ACTION" and
                              a.params.get("ROLE") for a in attendees),
            f"{d}: ATTENDEEs with ROLE and PARTSTAT=NEEDS-ACTION")

# --- The recurring appointment of jlibpst__dist-list.pst --------------------------------------
rec = [p for p, w in ours if w.startswith("jlibpst__dist-list.pst/") and "Test appointment" in w]
if c.check(len(rec) == 1, f"jlibpst__dist-list: the recurring appointment's .ics ({len(rec)})"):
    with open(rec[0], "rb") as f:
        cal = icalendar.Calendar.from_ical(f.read())
    master = [e for e in cal.walk("VEVENT") if e.get("RECURRENCE-ID") is None]
    moved = [e for e in cal.walk("VEVENT") if e.get("RECURRENCE-ID") is not None]
    c.check(len(master) == 1 and "RRULE" in master[0], "dist-list: one VEVENT with an RRULE")
    c.check(len(moved) == 2, f"dist-list: two modified instances ({len(moved)})")
    c.check(len(cal.walk("VTIMEZONE")) == 1, "dist-list: a VTIMEZONE for the TZID")
    r = mmtest.run([ICAL_CHECK, "--expand", "20", rec[0]])
    inst = [x for x in r.stdout.decode().splitlines() if x.startswith("INST\t")]
    times = [int(t) for t in inst[0].split("\t")[3].split()] if inst else []
    # pffexport: "Start time: Aug 02, 2016 15:00:00 UTC", "every Tuesday from 8:00 AM".
    start = int(datetime.datetime(2016, 8, 2, 15, tzinfo=datetime.timezone.utc).timestamp())
    c.check(times and times[0] == start, f"dist-list: first instance {times[:1]} = {start}")
    c.check(len(times) == 19, f"dist-list: 20 instances, one deleted ({len(times)})")
    for t in times:
        u = datetime.datetime.fromtimestamp(t, datetime.timezone.utc)
        # Pacific: UTC-7 until 2016-11-06, UTC-8 after.
        local = u - datetime.timedelta(hours=7 if u < datetime.datetime(
            2016, 11, 6, 9, tzinfo=datetime.timezone.utc) else 8)
        c.check(local.weekday() == 1 and (local.hour, local.minute) == (8, 0),
                f"dist-list: instance {u} is Tuesday 08:00 Pacific")
    for e in moved:
        rid = e.decoded("RECURRENCE-ID")
        c.check(rid.weekday() == 1 and (rid.hour, rid.minute) == (8, 0),
                f"dist-list: RECURRENCE-ID {rid} is a Tuesday 08:00 instance")

c.finish()
