// vCard 3.0 ([RFC 2426]) rendering of contacts (iCalendar is in ical.cc).
#include "mailmill/mime/render.h"

#include <algorithm>
#include <cmath>
#include <cstdio>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

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

}  // namespace mm::mime
