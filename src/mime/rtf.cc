// Compressed RTF ([MS-OXRTFCP]) and RTF de-encapsulation ([MS-OXRTFEX]).
#include "mailmill/mime/rtf.h"

#include <algorithm>
#include <array>
#include <cstdio>
#include <cstring>
#include <map>
#include <optional>
#include <string_view>
#include <utility>
#include <vector>

#include "mailmill/mime/limits.h"
#include "mailmill/util/crc32.h"
#include "mailmill/util/text.h"

namespace mm::mime::rtf {
namespace {

// ---------------------------------------------------------------------------------------------
// [MS-OXRTFCP] decompression
// ---------------------------------------------------------------------------------------------

constexpr u64 HEADER_SIZE = 16;
constexpr u32 DICT_SIZE = 4096;

// [MS-OXRTFCP] 3.1.3.1: the dictionary is pre-loaded with this 207-byte string and writing
// starts right after it.
constexpr std::string_view INITIAL_DICTIONARY =
    "{\\rtf1\\ansi\\mac\\deff0\\deftab720{\\fonttbl;}{\\f0\\fnil \\froman \\fswiss \\fmodern "
    "\\fscript \\fdecor MS Sans SerifSymbolArialTimes New RomanCourier{\\colortbl\\red0\\green0"
    "\\blue0\r\n\\par \\pard\\plain\\f0\\fs20\\b\\i\\u\\tab\\tx";
static_assert(INITIAL_DICTIONARY.size() == 207);

// A reader may see more output than RAWSIZE from a sloppy writer; we allow this much before
// calling the stream corrupt (the final run can add up to 17 bytes past the real end).
constexpr u64 RAWSIZE_SLACK = 4096;

Problem undecodable(std::string detail) {
  return Problem{ProblemCode::BodyUndecodable, std::move(detail), -1};
}

// ---------------------------------------------------------------------------------------------
// Codepage conversion: util/text (iconv, one handle per thread and codepage).
// ---------------------------------------------------------------------------------------------

// Decodes well-formed UTF-8 produced by iconv into code points.
std::vector<u32> utf8_code_points(std::string_view s) {
  std::vector<u32> cps;
  for (std::size_t i = 0; i < s.size();) {
    const auto b = static_cast<unsigned char>(s[i]);
    int len = b < 0x80 ? 1 : (b >> 5) == 6 ? 2 : (b >> 4) == 14 ? 3 : (b >> 3) == 30 ? 4 : 0;
    if (len == 0 || i + len > s.size()) {
      cps.push_back(0xFFFD);
      ++i;
      continue;
    }
    u32 c = len == 1 ? b : len == 2 ? (b & 0x1F) : len == 3 ? (b & 0x0F) : (b & 0x07);
    for (int k = 1; k < len; ++k) c = (c << 6) | (static_cast<unsigned char>(s[i + k]) & 0x3F);
    cps.push_back(c);
    i += len;
  }
  return cps;
}

// Appends `in` (bytes in codepage `cp`) to `out` as UTF-8. Undecodable bytes become U+FFFD;
// an unknown codepage keeps ASCII and replaces the rest. UTF-8 is copied as it is (validity is
// the caller's concern downstream).
void to_utf8(ByteView in, u32 cp, std::string &out) {
  if (cp == 65001) {
    out.append(in);
    return;
  }
  if (text::append_codepage_as_utf8(out, in, cp)) return;
  for (char ch : in) {
    if (static_cast<unsigned char>(ch) < 0x80)
      out += ch;
    else
      text::append_utf8(out, 0xFFFD);
  }
}

// The codepage of a font's \fcharsetN. ANSI (0), DEFAULT (1) and SYMBOL (2) give 0, which
// means "use the document codepage": Outlook writes \fcharset0 fonts in documents whose
// \ansicpg is not 1252, and their \'hh bytes are in the document codepage.
u32 charset_codepage(i32 charset) { return text::windows_charset_codepage(charset).value_or(0); }

// ---------------------------------------------------------------------------------------------
// RTF lexer ([MSFT-RTF] syntax): groups, control words with optional signed parameter and one
// swallowed space delimiter, control symbols, \'hh, \binN and text runs. Raw CR/LF are not
// text in RTF and are dropped.
// ---------------------------------------------------------------------------------------------

struct Token {
  enum class Kind : u8 { End, GroupStart, GroupEnd, Word, Symbol, Hex, Text };
  Kind kind = Kind::End;
  std::string_view word;  ///< Word: the letters; Symbol: the one character; Text: the run
  bool has_param = false;
  i32 param = 0;
  u8 byte = 0;  ///< Hex
};

bool is_alpha(char c) { return (c >= 'a' && c <= 'z') || (c >= 'A' && c <= 'Z'); }
bool is_digit(char c) { return c >= '0' && c <= '9'; }
using text::hex_digit_value;

class Lexer {
 public:
  explicit Lexer(ByteView s) : s_(s) {}
  std::size_t pos() const { return pos_; }

  Token next() {
    Token t;
    while (pos_ < s_.size() && (s_[pos_] == '\r' || s_[pos_] == '\n' || s_[pos_] == '\0')) ++pos_;
    if (pos_ >= s_.size()) return t;
    const char c = s_[pos_];
    if (c == '{') {
      ++pos_;
      t.kind = Token::Kind::GroupStart;
      return t;
    }
    if (c == '}') {
      ++pos_;
      t.kind = Token::Kind::GroupEnd;
      return t;
    }
    if (c != '\\') {
      const std::size_t start = pos_;
      while (pos_ < s_.size() && s_[pos_] != '\\' && s_[pos_] != '{' && s_[pos_] != '}' &&
             s_[pos_] != '\r' && s_[pos_] != '\n' && s_[pos_] != '\0')
        ++pos_;
      t.kind = Token::Kind::Text;
      t.word = s_.substr(start, pos_ - start);
      return t;
    }
    ++pos_;  // the backslash
    if (pos_ >= s_.size()) return t;
    const char d = s_[pos_];
    if (is_alpha(d)) {
      const std::size_t start = pos_;
      while (pos_ < s_.size() && is_alpha(s_[pos_]) && pos_ - start < 32) ++pos_;
      t.kind = Token::Kind::Word;
      t.word = s_.substr(start, pos_ - start);
      bool neg = false;
      if (pos_ + 1 < s_.size() && s_[pos_] == '-' && is_digit(s_[pos_ + 1])) {
        neg = true;
        ++pos_;
      }
      if (pos_ < s_.size() && is_digit(s_[pos_])) {
        i64 v = 0;
        while (pos_ < s_.size() && is_digit(s_[pos_])) {
          if (v < 100000000000LL) v = v * 10 + (s_[pos_] - '0');
          ++pos_;
        }
        v = std::min<i64>(v, 0x7FFFFFFF);
        t.has_param = true;
        t.param = static_cast<i32>(neg ? -v : v);
      }
      if (pos_ < s_.size() && s_[pos_] == ' ') ++pos_;
      if (t.word == "bin" && t.has_param && t.param > 0) {
        // \binN: N raw bytes follow and are not RTF; skip them (bounded by the input).
        pos_ += std::min<std::size_t>(static_cast<std::size_t>(t.param), s_.size() - pos_);
      }
      return t;
    }
    if (d == '\'') {
      ++pos_;
      const int hi = pos_ < s_.size() ? hex_digit_value(s_[pos_]) : -1;
      const int lo = pos_ + 1 < s_.size() ? hex_digit_value(s_[pos_ + 1]) : -1;
      if (hi < 0 || lo < 0) {
        // Malformed escape: ignore it (the following characters are read as text).
        t.kind = Token::Kind::Symbol;
        t.word = "'";
        return t;
      }
      pos_ += 2;
      t.kind = Token::Kind::Hex;
      t.byte = static_cast<u8>(hi * 16 + lo);
      return t;
    }
    // Control symbol; a backslash before a line break means \par.
    ++pos_;
    if (d == '\r' || d == '\n') {
      if (d == '\r' && pos_ < s_.size() && s_[pos_] == '\n') ++pos_;
      t.kind = Token::Kind::Word;
      t.word = "par";
      return t;
    }
    t.kind = Token::Kind::Symbol;
    t.word = s_.substr(pos_ - 1, 1);
    return t;
  }

 private:
  ByteView s_;
  std::size_t pos_ = 0;
};

// Destinations whose content is never text ([MSFT-RTF] header tables, document info,
// pictures, objects, headers/footers, field instructions, shape properties).
bool is_skipped_destination(std::string_view w) {
  static constexpr std::string_view NAMES[] = {
      "fonttbl",  "colortbl", "stylesheet", "info",      "pict",      "object",   "header",
      "headerl",  "headerr",  "headerf",    "footer",    "footerl",   "footerr",  "footerf",
      "footnote", "fldinst",  "listtable",  "listoverridetable", "revtbl", "rsidtbl",
      "generator", "xmlnstbl", "themedata", "colorschememapping", "latentstyles", "datastore",
      "filetbl",  "nonshppict", "sp",       "sn",        "sv",        "template", "userprops",
      "docvar",   "background", "annotation", "atnid",   "atnauthor", "xe",       "tc",
      "txe",      "pgdsctbl", "author",     "operator",  "title",     "subject",  "keywords",
      "comment",  "doccomm",  "company",    "creatim",   "revtim",    "printim",  "buptim",
      "objdata",  "result",   "mmathPr",    "private",   "passwordhash"};
  return std::find(std::begin(NAMES), std::end(NAMES), w) != std::end(NAMES);
}

// Control words that stand for one character ([MSFT-RTF] "Special characters").
std::optional<u32> special_character(std::string_view w) {
  if (w == "lquote") return 0x2018;
  if (w == "rquote") return 0x2019;
  if (w == "ldblquote") return 0x201C;
  if (w == "rdblquote") return 0x201D;
  if (w == "bullet") return 0x2022;
  if (w == "endash") return 0x2013;
  if (w == "emdash") return 0x2014;
  if (w == "enspace") return 0x2002;
  if (w == "emspace") return 0x2003;
  if (w == "qmspace") return 0x2005;
  if (w == "zwj") return 0x200D;
  if (w == "zwnj") return 0x200C;
  if (w == "ltrmark") return 0x200E;
  if (w == "rtlmark") return 0x200F;
  return std::nullopt;
}

// ---------------------------------------------------------------------------------------------
// The interpreter shared by deencapsulate (Html, Text) and to_plain_text (Plain).
// ---------------------------------------------------------------------------------------------

enum class Mode : u8 { Html, Text, Plain };

// Deeper nesting than this is not followed (the state of the deepest group is reused), so a
// document of a million '{' costs no memory.
constexpr std::size_t MAX_GROUP_STATES = 1024;

struct GroupState {
  bool skip = false;       // inside an ignored destination
  bool htmlrtf = false;    // [MS-OXRTFEX] 2.1.3.1.3: suppressed RTF-only content
  u8 tag = 0;              // 1: inside {\*\htmltag}, 2: inside {\*\mhtmltag}
  bool fonttbl = false;    // inside {\fonttbl}
  bool star = false;       // the group began with \* and its destination is not known yet
  bool first = true;       // no control word seen yet in this group
  i32 uc = 1;              // \ucN: fallback characters after \uN
  i32 font = -1;           // current \fN
};

class Interpreter {
 public:
  Interpreter(Mode mode, u32 doc_cp) : mode_(mode), doc_cp_(doc_cp) {}

  Bytes run(ByteView rtf) {
    Lexer lex(rtf);
    states_.push_back(GroupState{});
    std::size_t overflow = 0;  // groups opened beyond MAX_GROUP_STATES
    for (Token t = lex.next(); t.kind != Token::Kind::End; t = lex.next()) {
      switch (t.kind) {
        case Token::Kind::GroupStart: {
          skip_chars_ = 0;
          if (states_.size() >= MAX_GROUP_STATES) {
            ++overflow;
            break;
          }
          GroupState g = states_.back();
          g.star = false;
          g.first = true;
          states_.push_back(g);
          break;
        }
        case Token::Kind::GroupEnd:
          skip_chars_ = 0;
          if (overflow > 0) {
            --overflow;
            break;
          }
          end_group();
          if (states_.size() > 1) states_.pop_back();
          break;
        case Token::Kind::Word: on_word(t); break;
        case Token::Kind::Symbol: on_symbol(t.word[0]); break;
        case Token::Kind::Hex: on_hex(t.byte); break;
        case Token::Kind::Text: on_text(t.word); break;
        case Token::Kind::End: break;
      }
    }
    flush();
    return std::move(out_);
  }

 private:
  GroupState &st() { return states_.back(); }

  // Whether text/characters at this point belong to the output.
  bool emitting() {
    const GroupState &g = st();
    if (g.skip || g.star) return false;
    if (g.tag != 0) return true;  // HTMLTAG content is copied whatever \htmlrtf says
    return mode_ == Mode::Plain || !g.htmlrtf;
  }

  // The codepage of \'hh bytes here: the current font's charset when it names one, else the
  // document codepage. HTMLTAG content is always in the document codepage.
  u32 byte_codepage() {
    const GroupState &g = st();
    if (g.tag == 0 && g.font >= 0) {
      auto it = font_cp_.find(g.font);
      if (it != font_cp_.end() && it->second != 0) return it->second;
    }
    return doc_cp_;
  }

  void on_word(const Token &t) {
    GroupState &g = st();
    const std::string_view w = t.word;
    const bool first = g.first;
    g.first = false;

    if (g.star) {
      // {\* \dest ...}: an optional destination. Only HTMLTAG/MHTMLTAG matter (Html mode).
      g.star = false;
      if (mode_ == Mode::Html && (w == "htmltag" || w == "mhtmltag")) {
        begin_tag(w == "htmltag" ? 1 : 2, t.has_param ? t.param : -1);
      } else {
        g.skip = true;
      }
      return;
    }
    if (g.skip) return;
    if (first && is_skipped_destination(w)) {
      if (w == "fonttbl") g.fonttbl = true;
      else g.skip = true;
      return;
    }
    if (g.fonttbl) {
      // Font table entries: {\fN ... \fcharsetM ... \cpgK name;}
      if (w == "f" && t.has_param) g.font = t.param;
      else if (w == "fcharset" && t.has_param && g.font >= 0)
        font_cp_[g.font] = charset_codepage(t.param);
      else if (w == "cpg" && t.has_param && g.font >= 0 && t.param > 0)
        font_cp_[g.font] = static_cast<u32>(t.param);
      return;
    }
    if (w == "htmlrtf") {
      g.htmlrtf = !t.has_param || t.param != 0;
      return;
    }
    if (w == "uc") {
      if (t.has_param) g.uc = std::clamp(t.param, 0, 16);
      return;
    }
    if (w == "u" && t.has_param) {
      skip_chars_ = 0;
      // \uN is a signed 16-bit value: negative N means N + 65536. Anything outside
      // -32768..65535 is malformed.
      const i32 v = t.param < 0 ? t.param + 65536 : t.param;
      if (emitting()) unicode(v >= 0 && v <= 0xFFFF ? static_cast<u32>(v) : 0xFFFD);
      skip_chars_ = g.uc;
      return;
    }
    if (skip_chars_ > 0) {  // a control word counts as one fallback character
      --skip_chars_;
      return;
    }
    if (w == "f" && t.has_param) {
      g.font = t.param;
      return;
    }
    if (w == "htmlbase") return;  // [MS-OXRTFEX]: placeholder inside MHTMLTAG, no text
    if (!emitting()) return;
    if (w == "par" || w == "line" || (mode_ == Mode::Plain && (w == "row" || w == "page" ||
                                                               w == "sect"))) {
      ascii("\r\n");
    } else if (w == "tab" || (mode_ == Mode::Plain && w == "cell")) {
      ascii("\t");
    } else if (auto c = special_character(w)) {
      unicode(*c);
    }
  }

  void on_symbol(char c) {
    GroupState &g = st();
    if (c == '*') {
      if (g.first) g.star = true;
      return;
    }
    g.first = false;
    if (skip_chars_ > 0) {
      --skip_chars_;
      return;
    }
    if (!emitting()) return;
    switch (c) {
      case '\\': case '{': case '}': ascii(std::string_view(&c, 1)); break;
      case '~': unicode(0xA0); break;
      case '_': unicode(0x2011); break;
      case '\t': ascii("\t"); break;
      default: break;  // \- optional hyphen, \| \: formula/index symbols: no text
    }
  }

  void on_hex(u8 b) {
    st().first = false;
    if (st().fonttbl) return;  // font names
    if (skip_chars_ > 0) {
      --skip_chars_;
      return;
    }
    if (!emitting()) return;
    byte(b, byte_codepage());
  }

  void on_text(std::string_view s) {
    GroupState &g = st();
    g.first = false;
    if (g.fonttbl) return;  // font names
    while (skip_chars_ > 0 && !s.empty()) {
      s.remove_prefix(1);
      --skip_chars_;
    }
    if (s.empty() || !emitting()) return;
    const u32 cp = byte_codepage();
    for (char c : s) byte(static_cast<u8>(c), cp);
  }

  // --- HTMLTAG / MHTMLTAG bookkeeping -------------------------------------------------------
  // Outlook writes a tag whose URL it rewrote (cid:...) twice, {\*\mhtmltagN rewritten} next to
  // {\*\htmltagN original}. For MIME output the rewritten form is the right one, so whichever
  // order they come in, only the MHTMLTAG content is kept.
  void begin_tag(u8 kind, i32 param) {
    flush();
    GroupState &g = st();
    if (kind == 2) {
      if (last_tag_kind_ == 1 && last_tag_param_ == param && out_.size() == last_tag_end_)
        out_.resize(last_tag_start_);
      g.tag = 2;
    } else {
      if (skip_next_htmltag_ && skip_param_ == param && out_.size() == last_tag_end_) {
        g.skip = true;
        skip_next_htmltag_ = false;
        return;
      }
      g.tag = 1;
    }
    skip_next_htmltag_ = false;
    cur_tag_kind_ = kind;
    cur_tag_param_ = param;
    cur_tag_start_ = out_.size();
  }

  void end_group() {
    GroupState &g = st();
    if (g.tag == 0 || states_.size() < 2 || states_[states_.size() - 2].tag != 0) return;
    flush();
    last_tag_kind_ = cur_tag_kind_;
    last_tag_param_ = cur_tag_param_;
    last_tag_start_ = cur_tag_start_;
    last_tag_end_ = out_.size();
    if (cur_tag_kind_ == 2) {
      skip_next_htmltag_ = true;
      skip_param_ = cur_tag_param_;
    }
  }

  // --- output ---------------------------------------------------------------------------------
  // Html output stays in the document codepage: its bytes are copied as they are, bytes from
  // fonts in other codepages are transcoded, and \uN becomes the codepage byte(s) or "&#N;".
  // Text and Plain output is UTF-8.
  void byte(u8 b, u32 cp) {
    if (mode_ == Mode::Html && cp == doc_cp_) {
      flush();
      out_ += static_cast<char>(b);
      return;
    }
    if (!pending_.empty() && pending_cp_ != cp) flush();
    pending_cp_ = cp;
    pending_ += static_cast<char>(b);
  }

  void ascii(std::string_view s) {
    flush();
    out_.append(s);
  }

  void unicode(u32 c) {
    if (c >= 0xD800 && c <= 0xDBFF) {  // high surrogate: wait for its partner
      flush();
      high_surrogate_ = c;
      return;
    }
    if (c >= 0xDC00 && c <= 0xDFFF) {
      if (high_surrogate_ == 0) return emit_code_point(0xFFFD);
      c = 0x10000 + ((high_surrogate_ - 0xD800) << 10) + (c - 0xDC00);
    }
    high_surrogate_ = 0;
    emit_code_point(c);
  }

  void emit_code_point(u32 c) {
    flush();
    if (mode_ != Mode::Html) {
      text::append_utf8(out_, c);
      return;
    }
    if (c < 0x80 && doc_cp_ != 1200) {
      out_ += static_cast<char>(c);
      return;
    }
    if (!text::append_code_point_in_codepage(out_, c, doc_cp_))
      out_ += "&#" + std::to_string(c) + ";";
  }

  void flush() {
    if (high_surrogate_ != 0) {  // a high surrogate without its low half
      high_surrogate_ = 0;
      emit_code_point(0xFFFD);
    }
    if (pending_.empty()) return;
    std::string utf8;
    to_utf8(pending_, pending_cp_, utf8);
    pending_.clear();
    if (mode_ != Mode::Html) {
      out_ += utf8;
      return;
    }
    for (u32 c : utf8_code_points(utf8)) emit_code_point(c);
  }

  Mode mode_;
  u32 doc_cp_;
  std::vector<GroupState> states_;
  std::map<i32, u32> font_cp_;
  Bytes out_;
  std::string pending_;
  u32 pending_cp_ = 0;
  u32 high_surrogate_ = 0;
  i32 skip_chars_ = 0;
  // tag bookkeeping
  u8 cur_tag_kind_ = 0, last_tag_kind_ = 0;
  i32 cur_tag_param_ = -1, last_tag_param_ = -1, skip_param_ = -1;
  std::size_t cur_tag_start_ = 0, last_tag_start_ = 0, last_tag_end_ = static_cast<std::size_t>(-1);
  bool skip_next_htmltag_ = false;
};

// Reads the header ([MSFT-RTF] "{\rtf1 ... \ansicpgN ... \fromhtml1"): the control words of
// the outermost group before the body starts (first text, or a paragraph control word).
struct HeaderInfo {
  bool is_rtf = false;
  Encapsulated kind = Encapsulated::None;
  u32 codepage = 1252;
};

HeaderInfo read_header(ByteView rtf) {
  HeaderInfo h;
  Lexer lex(rtf);
  Token t = lex.next();
  if (t.kind != Token::Kind::GroupStart) return h;
  t = lex.next();
  if (t.kind != Token::Kind::Word || t.word != "rtf") return h;
  h.is_rtf = true;
  int depth = 1;
  // The header is short; 100k tokens covers any real font table and bounds hostile input.
  for (int n = 0; n < 100000; ++n) {
    t = lex.next();
    if (t.kind == Token::Kind::End) break;
    if (t.kind == Token::Kind::GroupStart) {
      ++depth;
      continue;
    }
    if (t.kind == Token::Kind::GroupEnd) {
      if (--depth == 0) break;
      continue;
    }
    if (depth != 1) continue;
    if (t.kind == Token::Kind::Hex) break;
    if (t.kind == Token::Kind::Text && t.word.find_first_not_of(" \t") != std::string_view::npos)
      break;
    if (t.kind != Token::Kind::Word) continue;
    if (t.word == "fromhtml" && (!t.has_param || t.param != 0)) {
      h.kind = Encapsulated::Html;
    } else if (t.word == "fromtext" && (!t.has_param || t.param != 0)) {
      if (h.kind == Encapsulated::None) h.kind = Encapsulated::Text;
    } else if (t.word == "ansicpg" && t.has_param && t.param > 0) {
      h.codepage = static_cast<u32>(t.param);
    } else if (t.word == "pard" || t.word == "par" || t.word == "sectd" || t.word == "plain") {
      break;
    }
  }
  return h;
}

}  // namespace

u32 compressed_crc(ByteView contents) { return util::crc32_raw(0, contents); }

Result<Decompressed> decompress_checked(ByteView data) {
  if (data.size() < HEADER_SIZE)
    return undecodable("compressed RTF shorter than its 16-byte header (" +
                       std::to_string(data.size()) + " bytes)");
  const u64 comp_size = load_le32(data.data());
  const u64 raw_size = load_le32(data.data() + 4);
  const u32 comp_type = load_le32(data.data() + 8);
  const u32 crc = load_le32(data.data() + 12);

  Decompressed d;
  // COMPSIZE counts the contents plus the 12 header bytes after itself.
  const u64 declared_end = comp_size + 4;
  const u64 end = std::min<u64>(std::max<u64>(declared_end, HEADER_SIZE), data.size());
  d.sizes_match = declared_end == data.size();
  const ByteView contents = data.substr(HEADER_SIZE, end - HEADER_SIZE);

  if (comp_type == COMPTYPE_UNCOMPRESSED) {
    // Some writers (the aspnet__passwordprotectedPST.pst sample) store RAWSIZE == COMPSIZE
    // for MELA, 12 more than the bytes present; libpff refuses those. The contents are whole
    // when COMPSIZE covers the buffer, so we take them and only flag the size mismatch.
    d.compressed = false;
    d.complete = declared_end <= data.size();
    const u64 n = std::min<u64>(raw_size, contents.size());
    if (n != raw_size) d.sizes_match = false;
    if (n > limits::MAX_RTF_DECOMPRESSED) {
      d.rtf.assign(contents.substr(0, limits::MAX_RTF_DECOMPRESSED));
      d.limit_hit = true;
      d.complete = false;
      return d;
    }
    d.rtf.assign(contents.substr(0, n));
    return d;
  }
  if (comp_type != COMPTYPE_COMPRESSED) {
    char buf[16];
    std::snprintf(buf, sizeof buf, "0x%08X", comp_type);
    return undecodable(std::string("compressed RTF with unknown COMPTYPE ") + buf);
  }

  d.compressed = true;
  d.crc_ok = compressed_crc(contents) == crc;
  const u64 cap = std::min<u64>(limits::MAX_RTF_DECOMPRESSED, raw_size + RAWSIZE_SLACK);
  d.rtf.reserve(std::min<u64>({raw_size, cap, contents.size() * 8 + 8}));

  std::array<u8, DICT_SIZE> dict{};
  std::memcpy(dict.data(), INITIAL_DICTIONARY.data(), INITIAL_DICTIONARY.size());
  u32 wpos = static_cast<u32>(INITIAL_DICTIONARY.size());
  const auto *in = reinterpret_cast<const u8 *>(contents.data());
  const std::size_t n = contents.size();
  std::size_t i = 0;
  bool ended = false, capped = false;
  auto put = [&](u8 c) {
    d.rtf += static_cast<char>(c);
    dict[wpos] = c;
    wpos = (wpos + 1) & (DICT_SIZE - 1);
  };
  while (i < n && !ended && !capped) {
    const u8 control = in[i++];
    for (int bit = 0; bit < 8 && !ended && !capped; ++bit) {
      if (control & (1u << bit)) {
        if (i + 2 > n) {
          i = n;
          break;
        }
        // [MS-OXRTFCP] 2.1.3.1.5: big-endian; 12-bit offset, 4-bit length - 2.
        const u32 word = (static_cast<u32>(in[i]) << 8) | in[i + 1];
        i += 2;
        const u32 offset = word >> 4;
        const u32 length = (word & 0xF) + 2;
        if (offset == wpos) {
          ended = true;
          break;
        }
        // Byte by byte: the source may overlap the bytes being written (runs).
        for (u32 k = 0; k < length; ++k) {
          if (d.rtf.size() >= cap) {
            capped = true;
            break;
          }
          put(dict[(offset + k) & (DICT_SIZE - 1)]);
        }
      } else {
        if (i >= n) break;
        if (d.rtf.size() >= cap) {
          capped = true;
          break;
        }
        put(in[i++]);
      }
    }
  }
  d.limit_hit = capped && cap == limits::MAX_RTF_DECOMPRESSED;
  d.complete = !capped && (ended || d.rtf.size() >= raw_size);
  if (d.rtf.size() != raw_size) d.sizes_match = false;
  return d;
}

Result<Bytes> decompress(ByteView compressed) {
  Result<Decompressed> r = decompress_checked(compressed);
  if (!r) return r.problem();
  if (r->limit_hit)
    return Problem{ProblemCode::LimitExceeded,
                   "decompressed RTF larger than limits::MAX_RTF_DECOMPRESSED", -1};
  if (!r->complete)
    return undecodable(r->compressed ? "compressed RTF truncated or corrupt (no end marker within "
                                       "its size; " + std::to_string(r->rtf.size()) +
                                           " bytes decoded)"
                                     : "uncompressed (MELA) RTF truncated");
  return std::move(r->rtf);
}

namespace {

void put_le32(Bytes &out, u32 v) {
  for (int i = 0; i < 4; ++i) out += static_cast<char>(v >> (8 * i));
}

}  // namespace

// [MS-OXRTFCP] 2.1.3.1: the stream is the 207-byte initial dictionary followed by the text;
// each run is a control byte (LSB first, 1 = reference) and 8 tokens; a reference is a
// big-endian 16-bit word, 12-bit dictionary offset and 4-bit (length - 2); the end marker is a
// reference to the current write offset. Matches come from a hash chain over the linear
// stream, at most 4095 bytes back, so the dictionary slot still holds the byte it names.
Bytes compress(ByteView raw) {
  constexpr u64 WINDOW = 4095, MAX_LEN = 17, MIN_LEN = 3, CHAIN = 64;
  const Bytes s = Bytes(INITIAL_DICTIONARY) + Bytes(raw);
  const auto *b = reinterpret_cast<const u8 *>(s.data());
  std::vector<i64> head(1 << 16, -1), prev(s.size(), -1);
  auto hash_at = [&](u64 p) { return ((b[p] << 8) ^ (b[p + 1] << 4) ^ b[p + 2]) & 0xFFFF; };
  auto insert = [&](u64 p) {
    if (p + 2 >= s.size()) return;
    const u32 h = hash_at(p);
    prev[p] = head[h];
    head[h] = static_cast<i64>(p);
  };
  for (u64 p = 0; p < INITIAL_DICTIONARY.size(); ++p) insert(p);

  Bytes contents;
  u64 control_at = 0;
  int bit = 8;
  auto token = [&](bool ref) {
    if (bit == 8) {
      control_at = contents.size();
      contents += '\0';
      bit = 0;
    }
    if (ref) contents[control_at] = static_cast<char>(contents[control_at] | (1 << bit));
    ++bit;
  };
  auto reference = [&](u64 offset, u64 len) {
    token(true);
    const u32 word = static_cast<u32>(((offset & 0xFFF) << 4) | ((len - 2) & 0xF));
    contents += static_cast<char>(word >> 8);
    contents += static_cast<char>(word & 0xFF);
  };

  u64 p = INITIAL_DICTIONARY.size();
  while (p < s.size()) {
    u64 best_len = 0, best_at = 0;
    if (p + 2 < s.size()) {
      i64 cand = head[hash_at(p)];
      for (u64 steps = 0; cand >= 0 && p - static_cast<u64>(cand) <= WINDOW && steps < CHAIN;
           ++steps, cand = prev[cand]) {
        const u64 c = static_cast<u64>(cand);
        u64 len = 0;
        while (len < MAX_LEN && p + len < s.size() && b[c + len] == b[p + len]) ++len;
        if (len > best_len) {
          best_len = len;
          best_at = c;
          if (len == MAX_LEN) break;
        }
      }
    }
    if (best_len >= MIN_LEN) {
      reference(best_at % DICT_SIZE, best_len);
    } else {
      best_len = 1;
      token(false);
      contents += static_cast<char>(b[p]);
    }
    for (u64 k = 0; k < best_len; ++k) insert(p + k);
    p += best_len;
  }
  reference(p % DICT_SIZE, 2);  // end marker: offset == write position

  Bytes out;
  put_le32(out, static_cast<u32>(contents.size() + 12));  // COMPSIZE: bytes after this field
  put_le32(out, static_cast<u32>(raw.size()));            // RAWSIZE
  put_le32(out, COMPTYPE_COMPRESSED);
  put_le32(out, compressed_crc(contents));
  out += contents;
  return out;
}

Bytes wrap_uncompressed(ByteView raw) {
  Bytes out;
  put_le32(out, static_cast<u32>(raw.size() + 12));
  put_le32(out, static_cast<u32>(raw.size()));
  put_le32(out, COMPTYPE_UNCOMPRESSED);
  put_le32(out, 0);
  out += raw;
  return out;
}

Encapsulated detect(ByteView rtf) { return read_header(rtf).kind; }

std::optional<Extracted> deencapsulate(ByteView rtf) {
  const HeaderInfo h = read_header(rtf);
  if (h.kind == Encapsulated::None) return std::nullopt;
  Extracted e;
  e.kind = h.kind;
  if (h.kind == Encapsulated::Html) {
    e.codepage = h.codepage;
    e.content = Interpreter(Mode::Html, h.codepage).run(rtf);
  } else {
    e.codepage = 65001;
    e.content = Interpreter(Mode::Text, h.codepage).run(rtf);
  }
  return e;
}

std::string to_plain_text(ByteView rtf) {
  const HeaderInfo h = read_header(rtf);
  return Interpreter(Mode::Plain, h.codepage).run(rtf);
}

}  // namespace mm::mime::rtf
