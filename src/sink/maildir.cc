// The maildir sink: one Maildir++ tree per input, in the layout Dovecot (LAYOUT=maildir++,
// its default for maildir) and Courier read.
//
// Folder names. Maildir++ separates levels with '.', so folder A/B is the directory ".A.B"
// below the input's maildir root. Names are stored as IMAP mailbox names: modified UTF-7
// (RFC 3501 section 5.1.3) for anything outside printable ASCII, as Dovecot does unless
// mailbox_list_utf8 is set. Characters Maildir++ cannot hold in a name ('.', '/') are written
// the way Dovecot's listescape plugin writes them, "\" and two hex digits ("a.b" -> "a\2eb"),
// and so are '\' itself and a leading '~'; a Dovecot with the plugin shows the original
// names, one without it shows the escapes. The IMAP wildcards '*' and '%' become '_' (Dovecot
// lists but cannot open a mailbox named with them). A top-level "Inbox" is the maildir root
// itself, and its subfolders live in ".INBOX.x" (Dovecot's spelling). No encoded name holds
// '/' or is "." or "..", so every directory stays below the input's root.
//
// Messages. Each is written whole to tmp/ and renamed into cur/ (maildir(5)'s delivery
// protocol: a reader never sees half a message), named
// "<seq>.<16 hex of its sha256>.mailmill:2,<flags>", so a resumed run writes the same names
// and rewrites the same files.
#include <cstdio>
#include <map>

#include "mailmill/sink/sink.h"
#include "mailmill/util/result.h"
#include "mailmill/util/sha256.h"
#include "mailmill/util/text.h"
#include "sink_impl.h"

namespace mm::sink {
namespace fs = std::filesystem;

namespace {

// Longest Maildir++ directory name we write; longer folder paths end in a hash of the full
// name (ext4's limit is 255 bytes; room is kept for UniqueNamer's " (2)").
constexpr std::size_t kMaxDirName = 200;

constexpr char kBase64[] = "ABCDEFGHIJKLMNOPQRSTUVWXYZabcdefghijklmnopqrstuvwxyz0123456789+,";

// Appends RFC 3501's modified base64 of `run` (UTF-8) as UTF-16BE, between '&' and '-'.
void append_mutf7_run(std::vector<std::string> &tokens, std::string_view run) {
  const Bytes le = text::utf8_to_utf16le(run);
  std::string tok = "&";
  u32 bits = 0, nbits = 0;
  for (std::size_t i = 0; i + 1 < le.size(); i += 2) {
    // UTF-16BE: the high byte first.
    for (unsigned char b :
         {static_cast<unsigned char>(le[i + 1]), static_cast<unsigned char>(le[i])}) {
      bits = (bits << 8) | b;
      nbits += 8;
      while (nbits >= 6) {
        nbits -= 6;
        tok += kBase64[(bits >> nbits) & 0x3F];
      }
    }
  }
  if (nbits > 0) tok += kBase64[(bits << (6 - nbits)) & 0x3F];
  tok += '-';
  tokens.push_back(std::move(tok));
}

// One folder name as Maildir++ tokens (each one character or one escape, never cut apart).
std::vector<std::string> encode_name(std::string_view raw) {
  const std::string name = text::sanitize_utf8(raw);
  std::vector<std::string> tokens;
  if (name.empty()) return {"_"};  // Dovecot refuses empty levels ("A..B")
  std::size_t i = 0;
  while (i < name.size()) {
    const unsigned char c = static_cast<unsigned char>(name[i]);
    if (c < 0x20 || c > 0x7E) {
      std::size_t j = i;
      while (j < name.size() && (static_cast<unsigned char>(name[j]) < 0x20 ||
                                 static_cast<unsigned char>(name[j]) > 0x7E))
        ++j;
      append_mutf7_run(tokens, std::string_view(name).substr(i, j - i));
      i = j;
      continue;
    }
    if (c == '&') {
      tokens.push_back("&-");
    } else if (c == '*' || c == '%') {
      tokens.push_back("_");  // IMAP's LIST wildcards: Dovecot opens no mailbox named with them
    } else if (c == '.' || c == '/' || c == '\\' || (c == '~' && i == 0)) {
      char esc[4];
      std::snprintf(esc, sizeof esc, "\\%02x", c);
      tokens.push_back(esc);
    } else {
      tokens.push_back(std::string(1, static_cast<char>(c)));
    }
    ++i;
  }
  return tokens;
}

// The Maildir++ directory name of a folder path: "." and the encoded names joined by '.'.
std::string maildir_dir_name(const std::vector<std::string> &path) {
  std::string out;
  std::vector<std::string> last;
  for (std::size_t k = 0; k < path.size(); ++k) {
    // Dovecot stores the children of INBOX as ".INBOX.x" and opens them under that name only.
    std::vector<std::string> tokens = k == 0 && text::iequals_ascii(path[k], "inbox")
                                          ? std::vector<std::string>{"INBOX"}
                                          : encode_name(path[k]);
    out += '.';
    if (k + 1 < path.size()) {
      for (const std::string &t : tokens) out += t;
    } else {
      last = std::move(tokens);
    }
  }
  std::string tail;
  for (const std::string &t : last) tail += t;
  if (out.size() + tail.size() <= kMaxDirName) return out + tail;
  // Too long: keep whole tokens up to the limit and end with a hash of the full name, so
  // that two long names sharing a prefix stay apart. Deep trees cut into earlier levels.
  std::string full = out + tail;
  const util::Sha256Digest d = util::Sha256::digest(full);
  const std::string suffix = "~" + text::to_hex(std::span<const u8>(d.data(), 4));
  std::string cut = out;
  for (const std::string &t : last) {
    if (cut.size() + t.size() + suffix.size() > kMaxDirName) break;
    cut += t;
  }
  if (cut.size() + suffix.size() > kMaxDirName) {
    // Earlier levels alone are too long: cut at the last whole character before the limit.
    cut.resize(kMaxDirName - suffix.size());
    while (!cut.empty() && (cut.back() == '\\' || cut.back() == '&' || cut.back() == '.'))
      cut.pop_back();
    auto amp = cut.rfind('&');
    if (amp != std::string::npos && cut.find('-', amp) == std::string::npos) cut.resize(amp);
    auto bs = cut.rfind('\\');
    if (bs != std::string::npos && cut.size() - bs < 3) cut.resize(bs);
  }
  return cut + suffix;
}

// "read,answered,forwarded,flagged,draft" -> maildir info letters in ASCII order (DFPRS).
std::string info_letters(std::string_view flags) {
  bool d = false, f = false, p = false, r = false, s = false;
  while (!flags.empty()) {
    std::size_t comma = flags.find(',');
    std::string_view w = text::trim(flags.substr(0, comma));
    d = d || w == "draft";
    f = f || w == "flagged";
    p = p || w == "forwarded";
    r = r || w == "answered";
    s = s || w == "read";
    if (comma == std::string_view::npos) break;
    flags.remove_prefix(comma + 1);
  }
  std::string out;
  if (d) out += 'D';
  if (f) out += 'F';
  if (p) out += 'P';
  if (r) out += 'R';
  if (s) out += 'S';
  return out;
}

bool is_hex(std::string_view s) {
  for (char c : s)
    if (text::hex_digit_value(c) < 0) return false;
  return true;
}

class MaildirSink final : public Sink {
 public:
  explicit MaildirSink(fs::path root) : Sink(std::move(root)) {}

  Form form() const override { return Form::MimeLf; }

  // The input's maildir root holds cur/ new/ tmp/ beside the folders' directories; those
  // names are kept from the folder map (.ics/.vcf directories), as are the files Dovecot and
  // Courier keep there.
  std::string add_source(const std::string &input_path) override {
    std::string key = Sink::add_source(input_path);
    UniqueNamer &top = namer_in(Destination{key, {}});
    for (const char *n :
         {"cur", "new", "tmp", "maildirfolder", "subscriptions", "courierimapsubscribed"})
      top.reserve(n);
    return key;
  }

  void register_folder(const Destination &dest) override {
    maildir_for(dest);
    Sink::register_folder(dest);
  }

  std::string write_message(const Destination &dest, const OutMessage &msg) override {
    Maildir &m = maildir_for(dest);
    if (!m.made) make_maildir(m, dest.source_key);
    std::string hash = msg.raw_sha256;
    if (hash.size() < 16 || !is_hex(hash)) {
      const util::Sha256Digest d = util::Sha256::digest(msg.bytes);
      hash = text::to_hex(std::span<const u8>(d.data(), d.size()));
    }
    const std::string unique =
        std::to_string(msg.seq) + "." + text::to_lower_ascii(hash.substr(0, 16)) + ".mailmill";
    const std::string name = unique + ":2," + info_letters(msg.flags);
    const fs::path tmp = m.dir / "tmp" / unique;
    const fs::path cur = m.dir / "cur" / name;
    write_whole_file(tmp, msg.bytes);
    std::error_code ec;
    fs::rename(tmp, cur, ec);
    if (ec)
      throw FatalError("cannot rename " + tmp.string() + " to " + cur.string() + ": " +
                       ec.message());
    return m.rel + (m.rel.empty() ? "" : "/") + "cur/" + name;
  }

  void finish() override {}

 private:
  struct Maildir {
    fs::path dir;          // absolute
    std::string rel;       // relative to the sink's root
    bool is_root = false;  // the input's maildir root (its top folder, or a top-level Inbox)
    bool made = false;
  };

  static std::string key_of(const Destination &dest) {
    std::string key = dest.source_key;
    for (const std::string &c : dest.folder) key += '\x1f' + c;
    return key;
  }

  // Claims the folder's directory name at registration (folder order), so names never depend
  // on which folder receives a message first.
  Maildir &maildir_for(const Destination &dest) {
    const std::string key = key_of(dest);
    auto it = maildirs_.find(key);
    if (it != maildirs_.end()) return it->second;
    Maildir m;
    m.rel = dest.source_key;
    m.is_root = dest.folder.empty();
    // In Maildir++ the root is INBOX, and Dovecot matches "INBOX" in any case: a top-level
    // ".Inbox" directory would be hidden behind the root. Such a folder's messages go to the
    // root (their names stay unique: they start with the sequence number); its subfolders
    // stay ".Inbox.Sub", which Dovecot lists as INBOX/Sub.
    if (dest.folder.size() == 1 && text::iequals_ascii(dest.folder[0], "inbox")) {
      Maildir &top = maildir_for(Destination{dest.source_key, {}});
      Maildir alias = top;
      return maildirs_.emplace(key, std::move(alias)).first->second;
    }
    if (!dest.folder.empty()) {
      const std::string name =
          namer_in(Destination{dest.source_key, {}}).claim(maildir_dir_name(dest.folder));
      if (name.empty() || name == "." || name == ".." || name.find('/') != std::string::npos ||
          name.find('\0') != std::string::npos)
        throw FatalError("maildir sink: unsafe directory name for folder");  // unreachable by input
      m.rel += "/" + name;
    }
    m.dir = root_ / m.rel;
    return maildirs_.emplace(key, std::move(m)).first->second;
  }

  void make_maildir(Maildir &m, const std::string &source_key) {
    // The input's own root is a maildir too (its top folder), whatever folder came first.
    if (!m.is_root) {
      Maildir &top = maildir_for(Destination{source_key, {}});
      if (!top.made) make_maildir(top, source_key);
    }
    for (const char *sub : {"cur", "new", "tmp"}) make_dirs(m.dir / sub);
    // Maildir++: a folder's directory holds an empty "maildirfolder" file (Courier's
    // maildirquota(7); Dovecot's deliver looks for it, Python's mailbox.Maildir writes it).
    if (!m.is_root) write_whole_file(m.dir / "maildirfolder", {});
    m.made = true;
  }

  std::map<std::string, Maildir> maildirs_;
};

}  // namespace

std::unique_ptr<Sink> make_maildir_sink(const fs::path &root) {
  return std::make_unique<MaildirSink>(root);
}

}  // namespace mm::sink
