// OLE attachments unpacked into the picture or file they hold.
//
// An ATTACH_OLE attachment carries an OLE object's storage as a compound file ([MS-OXCMSG]
// 2.2.2.9, PidTagAttachDataObject). Mail clients cannot open that: the fixture that forced this
// (aspnet__SampleOstFile.ost, Sent Items, "RTF newsletter copy") has six "Picture (Device
// Independent Bitmap)" objects that went out as extension-less application/octet-stream. What
// the object holds is decided in this order:
//   1. an OLE1 object converted to OLE2 keeps its native data in "\1Ole10Native" ([MS-OLEDS]
//      2.3.6): for the Packager class ("Package") that is a file with its own name; for other
//      classes the native data is kept when it is a file of a known format;
//   2. a static picture (CLSID_StaticDib, CLSID_StaticMetafile, CLSID_Picture_EnhMetafile) has
//      its picture in "CONTENTS" (or "\3PIC"), else in its presentation stream "\2OlePres000"
//      ([MS-OLEDS] 2.3.4): a DIB gets the 14-byte BITMAPFILEHEADER that makes it a .bmp;
//   3. any other object whose "CONTENTS" stream is a file of a known format (a PDF, an image);
//   4. anything else stays the compound file, named .ole, as application/x-ole-storage.
// A damaged object (unreadable compound file, truncated Package) is kept as it is, with a
// warning: the bytes are never lost, only not unpacked.
#include "mailmill/mime/ole_attachment.h"

#include <algorithm>
#include <array>
#include <cstring>

#include "mailmill/format/cfb/compound_file.h"
#include "mailmill/util/text.h"

namespace mm::mime {
namespace {

using cfb::Clsid;

// Class ids in registry form; the well-known OLE ones ([MS-OLEDS] 1.3.3 static objects).
constexpr std::string_view CLSID_PACKAGE = "0003000C-0000-0000-C000-000000000046";
constexpr std::string_view CLSID_STATIC_METAFILE = "00000315-0000-0000-C000-000000000046";
constexpr std::string_view CLSID_STATIC_DIB = "00000316-0000-0000-C000-000000000046";
constexpr std::string_view CLSID_ENH_METAFILE = "00000319-0000-0000-C000-000000000046";

// Standard clipboard formats ([MS-OLEDS] 1.3.5.1).
constexpr u32 CF_METAFILEPICT = 3;
constexpr u32 CF_DIB = 8;
constexpr u32 CF_ENHMETAFILE = 14;

/// A bounds-checked little-endian reader over one stream; any read past the end sets `bad`.
struct Cursor {
  ByteView b;
  std::size_t pos = 0;
  bool bad = false;
  std::size_t left() const { return pos <= b.size() ? b.size() - pos : 0; }
  u32 u32le() {
    if (left() < 4) return fail32();
    u32 v = load_le32(b.data() + pos);
    pos += 4;
    return v;
  }
  u16 u16le() {
    if (left() < 2) {
      bad = true;
      pos = b.size();
      return 0;
    }
    u16 v = load_le16(b.data() + pos);
    pos += 2;
    return v;
  }
  ByteView bytes(u64 n) {
    if (n > left()) {
      bad = true;
      pos = b.size();
      return {};
    }
    ByteView v = b.substr(pos, static_cast<std::size_t>(n));
    pos += static_cast<std::size_t>(n);
    return v;
  }
  /// A NUL-terminated 8-bit string (the NUL consumed, not returned).
  ByteView cstr() {
    const std::size_t end = b.find('\0', pos);
    if (end == ByteView::npos) {
      bad = true;
      pos = b.size();
      return {};
    }
    ByteView v = b.substr(pos, end - pos);
    pos = end + 1;
    return v;
  }
  u32 fail32() {
    bad = true;
    pos = b.size();
    return 0;
  }
};

struct FileType {
  std::string_view ext;  // with the dot
  std::string_view mime;
};

/// The size of a DIB's header, colour table and masks, from its BITMAPINFOHEADER or
/// BITMAPCOREHEADER; 0 when the header is not a plausible DIB header.
u64 dib_bits_offset(ByteView dib) {
  if (dib.size() < 12) return 0;
  const u32 hsize = load_le32(dib.data());
  u64 bpp = 0, colours = 0, entry = 4, masks = 0;
  if (hsize == 12) {  // BITMAPCOREHEADER: 16-bit width/height, RGBTRIPLE colour table
    if (load_le16(dib.data() + 8) != 1) return 0;
    bpp = load_le16(dib.data() + 10);
    entry = 3;
    if (bpp <= 8) colours = u64{1} << bpp;
  } else if (hsize == 40 || hsize == 52 || hsize == 56 || hsize == 64 || hsize == 108 ||
             hsize == 124) {
    if (dib.size() < 40 || load_le16(dib.data() + 12) != 1) return 0;
    const i32 width = static_cast<i32>(load_le32(dib.data() + 4));
    if (width <= 0) return 0;
    bpp = load_le16(dib.data() + 14);
    const u32 compression = load_le32(dib.data() + 16);
    const u32 used = load_le32(dib.data() + 32);
    if (bpp <= 8 && bpp != 0)
      colours = used != 0 ? used : (u64{1} << bpp);
    else
      colours = used;
    // BI_BITFIELDS (3) / BI_ALPHABITFIELDS (6) with the 40-byte header: the masks follow it.
    if (hsize == 40 && compression == 3) masks = 12;
    if (hsize == 40 && compression == 6) masks = 16;
    if (compression > 6 && compression != 11 && compression != 12 && compression != 13) return 0;
  } else {
    return 0;
  }
  if (bpp != 0 && bpp != 1 && bpp != 4 && bpp != 8 && bpp != 16 && bpp != 24 && bpp != 32) return 0;
  if (colours > 256 && bpp <= 8) return 0;
  const u64 off = hsize + masks + colours * entry;
  return off <= dib.size() ? off : 0;
}

/// A DIB ([MS-WMF] 2.2.2.9: header, colour table, bits) made into a .bmp file: the 14-byte
/// BITMAPFILEHEADER ("BM", file size, two reserved zeros, offset of the bits) in front.
std::optional<Bytes> dib_to_bmp(ByteView dib) {
  const u64 off = dib_bits_offset(dib);
  if (off == 0 || dib.size() > 0xFFFFFFFFu - 14) return std::nullopt;
  Bytes out;
  out.reserve(14 + dib.size());
  auto put32 = [&out](u64 v) {
    for (int i = 0; i < 4; ++i) out += static_cast<char>((v >> (8 * i)) & 0xFF);
  };
  out += "BM";
  put32(14 + dib.size());
  put32(0);
  put32(14 + off);
  out += dib;
  return out;
}

/// The file type `b` is by its signature, for the formats an OLE object carries in practice.
std::optional<FileType> sniff(ByteView b) {
  auto starts = [&b](std::string_view sig) { return b.substr(0, sig.size()) == sig; };
  if (starts("\x89PNG\r\n\x1a\n")) return FileType{".png", "image/png"};
  if (starts("\xFF\xD8\xFF")) return FileType{".jpg", "image/jpeg"};
  if (starts("GIF87a") || starts("GIF89a")) return FileType{".gif", "image/gif"};
  if (starts("BM") && b.size() > 18 && dib_bits_offset(b.substr(14)) != 0)
    return FileType{".bmp", "image/bmp"};
  if (starts(std::string_view("II*\0", 4)) || starts(std::string_view("MM\0*", 4)))
    return FileType{".tif", "image/tiff"};
  // [MS-EMF] 2.3.4.2: the first record is EMR_HEADER (type 1) with " EMF" at offset 40.
  if (b.size() >= 88 && load_le32(b.data()) == 1 && load_le32(b.data() + 40) == 0x464D4520)
    return FileType{".emf", "image/x-emf"};
  // [MS-WMF] 2.3.2.3 placeable header key 0x9AC6CDD7, or a bare META_HEADER (2.3.2.2): type
  // 1 or 2, header size 9 words, version 0x0100 or 0x0300.
  if (b.size() >= 22 && load_le32(b.data()) == 0x9AC6CDD7u) return FileType{".wmf", "image/x-wmf"};
  if (b.size() >= 18 && (load_le16(b.data()) == 1 || load_le16(b.data()) == 2) &&
      load_le16(b.data() + 2) == 9 &&
      (load_le16(b.data() + 4) == 0x0100 || load_le16(b.data() + 4) == 0x0300))
    return FileType{".wmf", "image/x-wmf"};
  if (starts("%PDF-")) return FileType{".pdf", "application/pdf"};
  return std::nullopt;
}

/// Text from an OLE structure's 8-bit string: UTF-8 when it is valid UTF-8, else Windows-1252
/// (the Packager writes the system ANSI codepage, which the object does not name).
std::string ansi_text(ByteView s) {
  if (text::is_valid_utf8(s)) return std::string(s);
  std::optional<std::string> u = text::codepage_to_utf8(s, 1252);
  return u ? *u : text::sanitize_utf8(std::string(s));
}

/// The last component of a Windows or POSIX path.
std::string base_name(std::string_view path) {
  const std::size_t cut = path.find_last_of("\\/");
  return std::string(cut == std::string_view::npos ? path : path.substr(cut + 1));
}

/// `name` with extension `ext` (".bmp"), unless it already ends with it (any case).
std::string with_extension(std::string_view name, std::string_view ext) {
  std::string base = name.empty() ? std::string("OLE object") : std::string(name);
  if (base.size() >= ext.size() &&
      text::iequals_ascii(std::string_view(base).substr(base.size() - ext.size()), ext))
    return base;
  return base + std::string(ext);
}

/// The ProgID in "\1CompObj" ([MS-OLEDS] 2.3.8 CompObjStream: 28-byte header, AnsiUserType,
/// AnsiClipboardFormat, then the ProgID as a LengthPrefixedAnsiString); empty when absent.
std::string compobj_progid(const cfb::CompoundFile &cf) {
  Result<Bytes> s = cf.read_stream(
      "\x01"
      "CompObj",
      1 << 16);
  if (!s) return {};
  Cursor c{*s};
  c.bytes(28);
  const u32 user_type_len = c.u32le();
  c.bytes(user_type_len);
  const u32 marker = c.u32le();
  if (marker == 0xFFFFFFFFu || marker == 0xFFFFFFFEu)
    c.u32le();
  else if (marker != 0)
    c.bytes(marker);
  const u32 progid_len = c.u32le();
  if (progid_len == 0 || progid_len > 40) return {};
  ByteView p = c.bytes(progid_len);
  if (c.bad) return {};
  const std::size_t nul = p.find('\0');
  return std::string(p.substr(0, nul));
}

struct Unpacked {
  Bytes bytes;
  std::string filename;
  std::string mime_type;
};

/// An OLE1 Packager object's native data ("\1Ole10Native"): after [MS-OLEDS] 2.3.6's 4-byte
/// NativeDataSize, the Packager's own layout: u16 (2), label, original path (NUL-terminated
/// ANSI), u16 (0), u16 type (3 = embedded file, 1 = link), u32 + temporary path, u32 data size,
/// data. Newer Packagers append the three names again in UTF-16; the ANSI ones are used.
Result<Unpacked> unpack_package(ByteView native, std::string_view fallback_name) {
  auto bad = [](std::string why) {
    return Problem{ProblemCode::AttachmentUnreadable, "OLE Package: " + std::move(why)};
  };
  Cursor c{native};
  const u32 declared = c.u32le();
  if (c.bad || declared > c.left()) return bad("native data size exceeds the stream");
  Cursor p{native.substr(4, declared)};
  p.u16le();
  const ByteView label = p.cstr();
  const ByteView path = p.cstr();
  p.u16le();
  const u16 type = p.u16le();
  if (p.bad) return bad("header truncated");
  if (type != 3) return bad("holds a link (type " + std::to_string(type) + "), not a file");
  const u32 temp_len = p.u32le();
  const ByteView temp = p.bytes(temp_len);
  const u32 size = p.u32le();
  const ByteView data = p.bytes(size);
  if (p.bad) return bad("file data truncated");
  std::string name = base_name(ansi_text(path));
  if (name.empty()) name = base_name(ansi_text(label));
  if (name.empty()) name = base_name(ansi_text(temp.substr(0, temp.find('\0'))));
  if (name.empty()) name = std::string(fallback_name);
  Unpacked u;
  u.bytes = Bytes(data);
  u.filename = name;
  // The type comes from the file name's extension (the MIME builder's table); a name without
  // one gets a type from the bytes when they are a known format.
  if (name.find('.') == std::string::npos) {
    if (std::optional<FileType> t = sniff(data)) {
      u.filename = with_extension(name, t->ext);
      u.mime_type = std::string(t->mime);
    }
  }
  return u;
}

/// The picture in an OLEPresentationStream ([MS-OLEDS] 2.3.4): clipboard format, target
/// device (TargetDeviceSize counts its own 4 bytes), aspect, lindex, advf, reserved, width,
/// height, size, data. CF_DIB data is a DIB, CF_ENHMETAFILE an EMF, CF_METAFILEPICT a WMF.
std::optional<Unpacked> picture_from_olepres(ByteView s, std::string_view name) {
  Cursor c{s};
  const u32 marker = c.u32le();
  u32 format = 0;
  if (marker == 0xFFFFFFFFu || marker == 0xFFFFFFFEu)
    format = c.u32le();
  else if (marker == 0 || marker > 0x201)
    return std::nullopt;
  else
    c.bytes(marker);  // a registered format by name: the data is sniffed below
  const u32 td = c.u32le();
  if (td < 4) return std::nullopt;
  c.bytes(td - 4);
  c.bytes(6 * 4);  // aspect, lindex, advf, reserved1, width, height
  const u32 size = c.u32le();
  const ByteView data = c.bytes(size);
  if (c.bad || data.empty()) return std::nullopt;
  Unpacked u;
  if (format == CF_DIB) {
    std::optional<Bytes> bmp = dib_to_bmp(data);
    if (!bmp) return std::nullopt;
    u.bytes = std::move(*bmp);
    u.filename = with_extension(name, ".bmp");
    u.mime_type = "image/bmp";
    return u;
  }
  std::optional<FileType> t = sniff(data);
  if (format == CF_ENHMETAFILE && (!t || t->ext != ".emf")) return std::nullopt;
  if (format == CF_METAFILEPICT && !t) t = FileType{".wmf", "image/x-wmf"};
  if (!t) return std::nullopt;
  u.bytes = Bytes(data);
  u.filename = with_extension(name, t->ext);
  u.mime_type = std::string(t->mime);
  return u;
}

/// A picture stream of a static picture object: a known image file, or a bare DIB.
std::optional<Unpacked> picture_from_stream(ByteView s, std::string_view name, bool dib_class) {
  if (std::optional<FileType> t = sniff(s)) {
    return Unpacked{Bytes(s), with_extension(name, t->ext), std::string(t->mime)};
  }
  if (dib_class) {
    if (std::optional<Bytes> bmp = dib_to_bmp(s))
      return Unpacked{std::move(*bmp), with_extension(name, ".bmp"), "image/bmp"};
  }
  return std::nullopt;
}

OleContent from_unpacked(Unpacked u, OleContentKind kind, std::string source) {
  OleContent out;
  out.kind = kind;
  out.data = Blob(std::move(u.bytes));
  out.filename = std::move(u.filename);
  out.mime_type = std::move(u.mime_type);
  out.source = std::move(source);
  return out;
}

OleContent keep_storage(const Blob &data, std::string_view name) {
  OleContent out;
  out.kind = OleContentKind::Storage;
  out.data = data;
  out.filename = with_extension(name, ".ole");
  out.mime_type = "application/x-ole-storage";
  return out;
}

bool is_class(const Clsid &id, std::string_view registry_form) {
  return cfb::clsid_to_string(id) == registry_form;
}

}  // namespace

OleContent unpack_ole_object(const Blob &data, std::string_view name) {
  if (!cfb::has_signature(data.view())) {
    OleContent out;
    out.kind = OleContentKind::Opaque;
    out.data = data;
    out.filename =
        name.find('.') == std::string_view::npos ? with_extension(name, ".bin") : std::string(name);
    out.mime_type = "application/octet-stream";
    out.warning = Problem{ProblemCode::AttachmentUnreadable,
                          "OLE object is not a compound file; kept as it is: " + out.filename};
    return out;
  }
  Result<std::unique_ptr<cfb::CompoundFile>> opened = cfb::CompoundFile::open(data.view());
  if (!opened) {
    OleContent out = keep_storage(data, name);
    out.warning = Problem{ProblemCode::AttachmentUnreadable,
                          "OLE object kept as .ole: " + opened.problem().detail};
    return out;
  }
  const cfb::CompoundFile &cf = **opened;
  const Clsid &clsid = cf.root_clsid();
  std::optional<Problem> damage;
  auto note = [&damage](const Problem &p) {
    if (!damage) damage = Problem{ProblemCode::AttachmentUnreadable, p.detail};
  };

  // 1. OLE1 native data.
  const std::string native_name =
      "\x01"
      "Ole10Native";
  if (cf.find(native_name)) {
    Result<Bytes> native = cf.read_stream(native_name);
    if (!native) {
      note(native.problem());
    } else if (is_class(clsid, CLSID_PACKAGE) || compobj_progid(cf) == "Package") {
      Result<Unpacked> pkg = unpack_package(*native, name);
      if (pkg) return from_unpacked(std::move(pkg).value(), OleContentKind::File, native_name);
      note(pkg.problem());
    } else if (native->size() >= 4 && load_le32(native->data()) <= native->size() - 4) {
      const ByteView body = ByteView(*native).substr(4, load_le32(native->data()));
      if (std::optional<FileType> t = sniff(body)) {
        return from_unpacked({Bytes(body), with_extension(name, t->ext), std::string(t->mime)},
                             OleContentKind::File, native_name);
      }
    }
  }

  // 2. Static pictures.
  const bool dib = is_class(clsid, CLSID_STATIC_DIB);
  if (dib || is_class(clsid, CLSID_STATIC_METAFILE) || is_class(clsid, CLSID_ENH_METAFILE)) {
    for (const char *stream : {"CONTENTS", "\x03PIC"}) {
      if (!cf.find(stream)) continue;
      Result<Bytes> s = cf.read_stream(stream);
      if (!s) {
        note(s.problem());
        continue;
      }
      if (std::optional<Unpacked> u = picture_from_stream(*s, name, dib))
        return from_unpacked(std::move(*u), OleContentKind::Picture, stream);
    }
    Result<std::vector<cfb::Entry>> entries = cf.list();
    if (entries) {
      for (const cfb::Entry &e : *entries) {
        if (e.type != cfb::EntryType::Stream || !e.name.starts_with("\x02OlePres")) continue;
        Result<Bytes> s = cf.read_stream(e.name);
        if (!s) {
          note(s.problem());
          continue;
        }
        if (std::optional<Unpacked> u = picture_from_olepres(*s, name))
          return from_unpacked(std::move(*u), OleContentKind::Picture, e.name);
      }
    }
  }

  // 3. A CONTENTS stream that is a file of a known format.
  if (std::optional<cfb::Entry> e = cf.find("CONTENTS"); e && e->type == cfb::EntryType::Stream) {
    Result<Bytes> s = cf.read_stream("CONTENTS");
    if (!s) {
      note(s.problem());
    } else if (std::optional<FileType> t = sniff(*s)) {
      return from_unpacked(
          {std::move(s).value(), with_extension(name, t->ext), std::string(t->mime)},
          OleContentKind::File, "CONTENTS");
    }
  }

  // 4. The object itself.
  OleContent out = keep_storage(data, name);
  if (damage) {
    damage->detail = "OLE object kept as .ole: " + damage->detail;
    out.warning = std::move(damage);
  }
  return out;
}

model::Attachment ole_attachment_for_mime(const model::Attachment &att,
                                          std::vector<Problem> &warnings) {
  OleContent c = unpack_ole_object(att.data, att.filename);
  if (c.warning) warnings.push_back(std::move(*c.warning));
  model::Attachment out;
  out.kind = model::AttachmentKind::ByValue;
  out.filename = std::move(c.filename);
  out.mime_type = std::move(c.mime_type);
  out.content_id = att.content_id;
  out.content_location = att.content_location;
  out.is_inline = att.is_inline;
  out.data = std::move(c.data);
  out.creation_time = att.creation_time;
  out.modification_time = att.modification_time;
  return out;
}

}  // namespace mm::mime
