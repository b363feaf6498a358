// vCard 3.0 ([RFC 2426]) rendering of contacts (iCalendar is in ical.cc).
#include "mailmill/mime/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/sha256.h"
#include "text_lines_impl.h"

namespace mm::mime {
namespace {

using namespace text_lines;  // content lines and dates shared with ical.cc

std::string tel_type(std::string_view type) {
  std::string t;
  for (char c : type) {
    if (c >= 'a' && c <= 'z') t += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) t += c;
  }
  if (t.empty() || t == "VOICE" || t == "OTHER") return "VOICE";
  if (t == "WORK" || t == "BUSINESS") return "WORK,VOICE";
  if (t == "HOME") return "HOME,VOICE";
  if (t == "CELL" || t == "MOBILE") return "CELL,VOICE";
  if (t == "FAX") return "FAX";
  if (t == "WORKFAX" || t == "BUSINESSFAX") return "WORK,FAX";
  if (t == "HOMEFAX") return "HOME,FAX";
  if (t == "PAGER") return "PAGER";
  if (t == "CAR") return "CAR,VOICE";
  if (t == "ISDN") return "ISDN";
  return "X-" + t;
}

std::string adr_type(std::string_view type) {
  if (type == "home") return "HOME";
  if (type == "work" || type == "business") return "WORK";
  if (type == "other" || type.empty()) return "POSTAL";
  std::string t;
  for (char c : type) {
    if (c >= 'a' && c <= 'z') t += static_cast<char>(c - 'a' + 'A');
    else if ((c >= 'A' && c <= 'Z') || (c >= '0' && c <= '9')) t += c;
  }
  return t.empty() ? "POSTAL" : "X-" + t;
}

}  // namespace

Bytes render_vcf(const model::Message &item) {
  const model::Contact c = item.contact.value_or(model::Contact{});
  Writer w;
  w.line("BEGIN", "VCARD");
  w.line("VERSION", "3.0");
  // FN is required: display name, else the name parts, else the first e-mail, else subject.
  std::string fn = c.display_name;
  if (fn.empty()) {
    for (const std::string *part : {&c.title_prefix, &c.given_name, &c.middle_name, &c.surname,
                                    &c.suffix}) {
      if (part->empty()) continue;
      if (!fn.empty()) fn += ' ';
      fn += *part;
    }
  }
  if (fn.empty() && !c.emails.empty()) fn = c.emails.front().address;
  if (fn.empty()) fn = item.subject;
  w.line("FN", escape_text(fn));
  w.line("N", escape_text(c.surname) + ';' + escape_text(c.given_name) + ';' +
                  escape_text(c.middle_name) + ';' + escape_text(c.title_prefix) + ';' +
                  escape_text(c.suffix));
  w.text("NICKNAME", c.nickname);
  if (!c.company.empty() || !c.department.empty()) {
    std::string org = escape_text(c.company);
    if (!c.department.empty()) org += ';' + escape_text(c.department);
    w.line("ORG", org);
  }
  w.text("TITLE", c.job_title);
  for (const model::Contact::Email &e : c.emails)
    if (!e.address.empty()) w.line("EMAIL;TYPE=INTERNET", escape_text(e.address));
  for (const model::Contact::Phone &p : c.phones)
    if (!p.number.empty()) w.line("TEL;TYPE=" + tel_type(p.type), escape_text(p.number));
  for (const model::Contact::PostalAddress &a : c.addresses) {
    if (a.street.empty() && a.city.empty() && a.region.empty() && a.postal_code.empty() &&
        a.country.empty())
      continue;
    // RFC 2426 3.2.1: post office box; extended address; street; locality; region; postal
    // code; country.
    w.line("ADR;TYPE=" + adr_type(a.type), ";;" + escape_text(a.street) + ';' +
                                               escape_text(a.city) + ';' +
                                               escape_text(a.region) + ';' +
                                               escape_text(a.postal_code) + ';' +
                                               escape_text(a.country));
  }
  if (!c.web_page.empty()) {
    // URL is a URI, not TEXT: no backslash escaping, only control characters removed.
    std::string url;
    for (char ch : c.web_page)
      if (static_cast<unsigned char>(ch) >= 0x20 && ch != 0x7F) url += ch;
    w.line("URL", url);
  }
  if (c.birthday) w.line("BDAY", format_iso_date(*c.birthday));
  const std::string &note = !c.notes.empty() ? c.notes : item.body_text.value_or(std::string());
  w.text("NOTE", note);
  if (const std::string cats = join_escaped(item.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  w.line("END", "VCARD");
  return w.take();
}

namespace {

/// A mailto: URI ([RFC 6068]): bytes outside the unreserved set and "@!$'*+,;=" are %XX.
std::string mailto_uri(std::string_view addr) {
  static constexpr char HEX[] = "0123456789ABCDEF";
  std::string out = "mailto:";
  for (char ch : addr) {
    const auto c = static_cast<unsigned char>(ch);
    const bool keep = (c >= 'A' && c <= 'Z') || (c >= 'a' && c <= 'z') || (c >= '0' && c <= '9') ||
                      std::string_view("-._~@!$'*+,;=").find(ch) != std::string_view::npos;
    if (keep) {
      out += ch;
    } else {
      out += '%';
      out += HEX[c >> 4];
      out += HEX[c & 15];
    }
  }
  return out;
}

/// urn:uuid from a SHA-256 of `seed` (RFC 9562 version 8, variant 10: a name-based UUID).
std::string uuid_urn(std::string_view seed) {
  util::Sha256 h;
  h.update(seed);
  util::Sha256Digest d = h.finish();
  d[6] = static_cast<u8>((d[6] & 0x0F) | 0x80);
  d[8] = static_cast<u8>((d[8] & 0x3F) | 0x80);
  static constexpr char HEX[] = "0123456789abcdef";
  std::string out = "urn:uuid:";
  for (int k = 0; k < 16; ++k) {
    if (k == 4 || k == 6 || k == 8 || k == 10) out += '-';
    out += HEX[d[k] >> 4];
    out += HEX[d[k] & 15];
  }
  return out;
}

}  // namespace

Bytes render_dist_list_vcf(const model::Message &item, std::size_t *name_only) {
  const model::DistList dl = item.dist_list.value_or(model::DistList{});
  const std::string fn = item.subject;
  // The list's identity: its name and its members, in order.
  std::string seed = "mailmill distribution list\n" + fn;
  for (const model::DistList::Member &m : dl.members) seed += "\n" + m.name + "\n" + m.smtp;
  const std::string list_uid = uuid_urn(seed);

  Writer w;
  std::vector<std::pair<std::string, const model::DistList::Member *>> cards;
  w.line("BEGIN", "VCARD");
  w.line("VERSION", "4.0");
  w.line("KIND", "group");
  w.line("FN", escape_text(fn));
  w.line("UID", list_uid);
  for (std::size_t k = 0; k < dl.members.size(); ++k) {
    const model::DistList::Member &m = dl.members[k];
    if (!m.smtp.empty()) {
      w.line("MEMBER", mailto_uri(m.smtp));
    } else {
      std::string uid = uuid_urn(list_uid + "\n" + std::to_string(k) + "\n" + m.name);
      w.line("MEMBER", uid);
      cards.emplace_back(std::move(uid), &m);
    }
  }
  const std::string &note = item.body_text.value_or(std::string());
  w.text("NOTE", note);
  if (const std::string cats = join_escaped(item.categories); !cats.empty())
    w.line("CATEGORIES", cats);
  w.line("END", "VCARD");
  for (const auto &[uid, m] : cards) {
    w.line("BEGIN", "VCARD");
    w.line("VERSION", "4.0");
    w.line("KIND", "individual");
    w.line("FN", escape_text(m->name.empty() ? std::string("(unnamed member)") : m->name));
    w.line("UID", uid);
    w.line("END", "VCARD");
  }
  if (name_only != nullptr) *name_only = cards.size();
  return w.take();
}

}  // namespace mm::mime
