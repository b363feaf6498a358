#!/usr/bin/env python3
"""Independent oracle for the .msg reader tests: reads .msg files with olefile (Debian
python3-olefile), straight from their streams, and prints for each file given:

  FILE     <path as given>
  ERROR    <why>                      olefile cannot read it, or it is no .msg (then nothing else)
  PARTIAL  <why>                      olefile failed part-way (the lines before it stand)
  UNICODE  0|1                        1 when the subject/body streams are PT_UNICODE (001F)
  CODEPAGE <n>                        PR_MESSAGE_CODEPAGE from the property stream, 0 when absent
  PROP     <tag>  <hex>               raw value of a top-level string property (tag as 8 hex
                                      digits, the stream's bytes minus one terminator)
  ANSICP   <n>                        the ANSI codepage 8-bit strings are decoded with:
                                      PR_MESSAGE_CODEPAGE, else PR_INTERNET_CPID unless it is a
                                      Unicode encoding, else the locale's (a small LCID table
                                      of this script's own), else 0 (none named; 1252 decodes)
  TEXT     <tag>  <hex of UTF-8>      PR_SUBJECT decoded (UTF-16LE, or ANSICP)
  RECIPS   <n>                        number of __recip_version1.0_# storages at the top
  RECIP    <i>  <hex>                 raw PR_DISPLAY_NAME of recipient i (in storage order)
  ATTACHS  <n>                        number of __attach_version1.0_# storages at the top
  ATTACH   <i>  bin <size> <sha256>   attachment i holds __substg1.0_37010102
  ATTACH   <i>  msg <hex subject>     attachment i holds an embedded message storage
  ATTACH   <i>  obj <sha256>          attachment i holds another object storage (OLE): the
                                      SHA-256 of its listing (see listing())
  ATTACH   <i>  none                  neither
  NAMED    <id hex4>  <guid>  L<lid>|S<hex name>   each entry of the named-property map
  P        <scope>  <tag>  <hex>      every property of the message (scope m), of recipient i
                                      (r<i>), of attachment i (a<i>) and of its embedded message
                                      (a<i>e, 24-byte header) whose value this script
                                      can find: fixed-size values cut to their natural size,
                                      stream values minus one string terminator, multi-valued
                                      strings and binaries as count, offsets, data (the PST form)

Exit 77 when olefile is missing (the caller skips).
"""
import hashlib
import os
import struct
import sys

try:
    import olefile
except ImportError:
    if os.path.exists("/usr/bin/python3") and os.path.realpath(sys.executable) != os.path.realpath("/usr/bin/python3"):
        os.execv("/usr/bin/python3", ["/usr/bin/python3"] + sys.argv)
    sys.exit(77)

STRING_IDS = [0x0037, 0x001A, 0x0C1A, 0x0E04, 0x0E03, 0x0042]


# Windows ANSI codepage by primary language of an LCID ([MS-LCID]); 0 (the default, 1252) for
# Western languages.
LANG_CODEPAGE = {0x01: 1256, 0x02: 1251, 0x04: 936, 0x05: 1250, 0x08: 1253, 0x0D: 1255,
                 0x0E: 1250, 0x11: 932, 0x12: 949, 0x15: 1250, 0x18: 1250, 0x19: 1251,
                 0x1A: 1250, 0x1B: 1250, 0x1E: 874, 0x1F: 1254, 0x22: 1251, 0x23: 1251,
                 0x24: 1250, 0x25: 1257, 0x26: 1257, 0x27: 1257, 0x2A: 1258}


def lcid_codepage(lcid):
    if lcid == 0x0404 or lcid == 0x0C04 or lcid == 0x1404:
        return 950
    return LANG_CODEPAGE.get(lcid & 0x3FF, 0)


_TREES = {}


def children(ole, prefix):
    """Names of the direct children of the storage `prefix` (a list of names)."""
    tree = _TREES.get(id(ole))
    if tree is None or tree[0] is not ole:
        kids = {}
        for parts in ole.listdir(streams=True, storages=True):
            kids.setdefault(tuple(parts[:-1]), set()).add(parts[-1])
        tree = _TREES[id(ole)] = (ole, kids)
    return tree[1].get(tuple(prefix), set())


def read(ole, parts):
    return ole.openstream(parts).read()


def strip(value, unicode):
    if unicode:
        if len(value) >= 2 and len(value) % 2 == 0 and value[-2:] == b"\0\0":
            return value[:-2]
    elif value.endswith(b"\0"):
        return value[:-1]
    return value


def fixed_props(ole, prefix, header):
    """Tag -> 8 value bytes of the fixed-size entries of a property stream."""
    parts = prefix + ["__properties_version1.0"]
    data = read(ole, parts)
    props = {}
    for off in range(header, len(data) - 15, 16):
        tag = struct.unpack_from("<I", data, off)[0]
        props[tag] = data[off + 8:off + 16]
    return props


def string_prop(ole, prefix, kids, pid):
    """(raw bytes, is_unicode) of string property `pid` of the storage, or None."""
    for ptype, uni in ((0x001F, True), (0x001E, False)):
        name = "__substg1.0_%04X%04X" % (pid, ptype)
        if name in kids:
            return strip(read(ole, prefix + [name]), uni), uni, "%04X%04X" % (pid, ptype)
    return None


def listing(ole, prefix):
    """A storage's contents as text: "ROOT <clsid>", then sorted lines "D <path> <clsid>" per
    storage and "S <path> <size> <sha256>" per stream below it, paths relative and joined with
    '/', names in UTF-8, CLSIDs upper-case registry form; one line each, "\n"-terminated."""
    def clsid(s):
        return s.upper() if s else "00000000-0000-0000-0000-000000000000"
    lines = []
    for parts in ole.listdir(streams=True, storages=True):
        if len(parts) <= len(prefix) or parts[:len(prefix)] != prefix:
            continue
        rel = "/".join(parts[len(prefix):])
        if ole.get_type(parts) == olefile.STGTY_STORAGE:
            lines.append("D\t%s\t%s" % (rel, clsid(ole.getclsid(parts))))
        else:
            data = read(ole, parts)
            lines.append("S\t%s\t%d\t%s" % (rel, len(data), hashlib.sha256(data).hexdigest()))
    return "ROOT\t%s\n" % clsid(ole.getclsid(prefix)) + "".join(l + "\n" for l in sorted(lines))


FIXED = {0x0002: 2, 0x0003: 4, 0x0004: 4, 0x0005: 8, 0x0006: 8, 0x0007: 8, 0x000A: 4,
         0x000B: 1, 0x0014: 8, 0x0040: 8}
MV_ELEM = {0x1002: 2, 0x1003: 4, 0x1004: 4, 0x1005: 8, 0x1006: 8, 0x1007: 8, 0x1014: 8,
           0x1040: 8, 0x1048: 16}


def all_props(ole, prefix, header):
    """(tag, value bytes) of every readable property of a storage."""
    kids = children(ole, prefix)
    data = read(ole, prefix + ["__properties_version1.0"])
    out = []
    for off in range(header, len(data) - 15, 16):
        tag = struct.unpack_from("<I", data, off)[0]
        ptype = tag & 0xFFFF
        name = "__substg1.0_%08X" % tag
        if ptype in FIXED:
            out.append((tag, data[off + 8:off + 8 + FIXED[ptype]]))
            continue
        if name not in kids or ole.get_type(prefix + [name]) != olefile.STGTY_STREAM:
            continue
        value = read(ole, prefix + [name])
        if ptype in (0x101E, 0x101F, 0x1102):
            stride = 8 if ptype == 0x1102 else 4
            if len(value) % stride:
                continue
            items = []
            for i in range(len(value) // stride):
                vname = "%s-%08X" % (name, i)
                if vname not in kids:
                    items = None
                    break
                items.append(strip(read(ole, prefix + [vname]), ptype == 0x101F) if ptype != 0x1102
                             else read(ole, prefix + [vname]))
            if items is None:
                continue
            head = struct.pack("<I", len(items))
            body = b""
            for it in items:
                head += b"\0\0\0\0"
                body += it
            offs = []
            pos = 4 + 4 * len(items)
            for it in items:
                offs.append(pos)
                pos += len(it)
            value = struct.pack("<I", len(items)) + b"".join(struct.pack("<I", o) for o in offs) + body
        elif ptype in MV_ELEM:
            if len(value) % MV_ELEM[ptype]:
                continue
        elif ptype in (0x001E, 0x001F):
            value = strip(value, ptype == 0x001F)
        elif ptype == 0x0048 and len(value) != 16:
            continue
        elif ptype not in (0x0102, 0x000D, 0x00FB, 0x00FD, 0x00FE, 0x0048):
            continue
        out.append((tag, value))
    return out


def numbered(kids, prefix):
    found = []
    for k in kids:
        if k.upper().startswith(prefix.upper()):
            try:
                found.append((int(k[len(prefix):], 16), k))
            except ValueError:
                pass
    return [k for _, k in sorted(found)]


def dump(path):
    print("FILE\t%s" % path)
    try:
        ole = olefile.OleFileIO(path)
    except Exception as e:  # noqa: BLE001 - any failure to read is the answer
        print("ERROR\tolefile: %s" % str(e).replace("\n", " "))
        return
    try:
        top = children(ole, [])
        if "__properties_version1.0" not in top:
            print("ERROR\tno __properties_version1.0")
            return
        fixed = fixed_props(ole, [], 32)
        def fixed32(tag):
            return struct.unpack_from("<I", fixed[tag])[0] if tag in fixed else 0
        cp = fixed32(0x3FFD0003)
        ansi = cp
        if not ansi:
            cpid = fixed32(0x3FDE0003)
            if cpid and cpid not in (65000, 65001, 1200, 1201):
                ansi = cpid
        if not ansi and fixed32(0x3FF10003):
            ansi = lcid_codepage(fixed32(0x3FF10003))
        print("ANSICP\t%d" % ansi)
        subj = string_prop(ole, [], top, 0x0037)
        uni = any(k.upper().endswith("001F") for k in top if k.startswith("__substg1.0_"))
        print("UNICODE\t%d" % (1 if uni else 0))
        print("CODEPAGE\t%d" % cp)
        for pid in STRING_IDS:
            got = string_prop(ole, [], top, pid)
            if got is not None:
                print("PROP\t%s\t%s" % (got[2], got[0].hex()))
        if subj is not None:
            raw, is_uni, tag = subj
            try:
                text = raw.decode("utf-16-le") if is_uni else raw.decode("cp%d" % (ansi or 1252))
                print("TEXT\t%s\t%s" % (tag, text.encode("utf-8").hex()))
            except (UnicodeDecodeError, LookupError):
                pass
        for tag, value in all_props(ole, [], 32):
            print("P\tm\t%08X\t%s" % (tag, value.hex()))
        recips = numbered(top, "__recip_version1.0_#")
        print("RECIPS\t%d" % len(recips))
        for i, r in enumerate(recips):
            got = string_prop(ole, [r], children(ole, [r]), 0x3001)
            print("RECIP\t%d\t%s" % (i, got[0].hex() if got else "-"))
            for tag, value in all_props(ole, [r], 8):
                print("P\tr%d\t%08X\t%s" % (i, tag, value.hex()))
        attachs = numbered(top, "__attach_version1.0_#")
        print("ATTACHS\t%d" % len(attachs))
        for i, a in enumerate(attachs):
            kids = children(ole, [a])
            for tag, value in all_props(ole, [a], 8):
                print("P\ta%d\t%08X\t%s" % (i, tag, value.hex()))
            kind = "none"
            if "__substg1.0_37010102" in kids and ole.get_type([a, "__substg1.0_37010102"]) == olefile.STGTY_STREAM:
                data = read(ole, [a, "__substg1.0_37010102"])
                kind = "bin %d %s" % (len(data), hashlib.sha256(data).hexdigest())
            elif "__substg1.0_3701000D" in kids and ole.get_type([a, "__substg1.0_3701000D"]) == olefile.STGTY_STORAGE:
                method = struct.unpack_from("<I", fixed_props(ole, [a], 8).get(0x37050003, b"\0" * 8))[0]
                inner = children(ole, [a, "__substg1.0_3701000D"])
                if method == 5 or (method != 6 and "__properties_version1.0" in inner):
                    got = string_prop(ole, [a, "__substg1.0_3701000D"], inner, 0x0037)
                    kind = "msg %s" % (got[0].hex() if got else "-")
                    for tag, value in all_props(ole, [a, "__substg1.0_3701000D"], 24):
                        print("P\ta%de\t%08X\t%s" % (i, tag, value.hex()))
                else:
                    kind = "obj %s" % hashlib.sha256(listing(ole, [a, "__substg1.0_3701000D"]).encode("utf-8")).hexdigest()
            print("ATTACH\t%d\t%s" % (i, kind))
        if "__nameid_version1.0" in top:
            nk = children(ole, ["__nameid_version1.0"])
            def s(n):
                name = "__substg1.0_%08X" % n
                return read(ole, ["__nameid_version1.0", name]) if name in nk else b""
            guids, entries, strings = s(0x00020102), s(0x00030102), s(0x00040102)
            for off in range(0, len(entries) - 7, 8):
                ident, kind_guid, index = struct.unpack_from("<IHH", entries, off)
                gi = kind_guid >> 1
                if gi == 1:
                    guid = "00020328-0000-0000-C000-000000000046"
                elif gi == 2:
                    guid = "00020329-0000-0000-C000-000000000046"
                elif 16 * (gi - 3) + 16 <= len(guids):
                    g = guids[16 * (gi - 3):16 * (gi - 2)]
                    d1, d2, d3 = struct.unpack_from("<IHH", g)
                    guid = "%08X-%04X-%04X-%s-%s" % (d1, d2, d3, g[8:10].hex().upper(), g[10:].hex().upper())
                else:
                    continue
                if kind_guid & 1:
                    if ident + 4 > len(strings):
                        continue
                    n = struct.unpack_from("<I", strings, ident)[0]
                    if ident + 4 + n > len(strings):
                        continue
                    name = strings[ident + 4:ident + 4 + n].decode("utf-16-le", "replace")
                    print("NAMED\t%04X\t%s\tS%s" % (0x8000 + index, guid, name.encode("utf-8").hex()))
                else:
                    print("NAMED\t%04X\t%s\tL%d" % (0x8000 + index, guid, ident))
    except Exception as e:  # noqa: BLE001 - a damaged file olefile chokes on part of
        print("PARTIAL\tolefile: %s" % str(e).replace("\n", " "))


if __name__ == "__main__":
    for p in sys.argv[1:]:
        dump(p)
    sys.exit(0)
