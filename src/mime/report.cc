#include "report.h"

#include <algorithm>
#include <cctype>

#include "encode_impl.h"
#include "mailmill/mime/encode.h"
#include "mailmill/util/text.h"

namespace mm::mime::report {

namespace {

using text::iequals_ascii;

bool ends_with_ci(std::string_view s, std::string_view suffix) {
  return s.size() >= suffix.size() && iequals_ascii(s.substr(s.size() - suffix.size()), suffix);
}

/// One header line's worth of a model string: controls become spaces, ends trimmed.
std::string one_line(std::string_view s) {
  std::string out;
  out.reserve(s.size());
  for (char c : s) {
    const auto u = static_cast<unsigned char>(c);
    out.push_back(u < 0x20 || u == 0x7F ? ' ' : c);
  }
  std::string_view v = text::trim(out);
  return text::sanitize_utf8(v);
}

/// A field "Name: value", folded at spaces to stay within 78 columns where it can ([RFC 5322]
/// 2.2.3); the fields of a delivery-status body are header fields too ([RFC 3464] 2.1).
void add_field(std::string &out, std::string_view name, std::string_view value,
               std::string_view eol) {
  std::string line = std::string(name) + ":";
  std::size_t col = line.size();
  std::size_t i = 0;
  while (i < value.size()) {
    std::size_t j = value.find(' ', i);
    if (j == std::string_view::npos) j = value.size();
    std::string_view word = value.substr(i, j - i);
    if (!word.empty()) {
      if (col + 1 + word.size() > 78 && col > name.size() + 1) {
        line += eol;
        col = 0;
      }
      line += ' ';
      line += word;
      col += 1 + word.size();
    }
    i = j + 1;
  }
  out += line;
  out += eol;
}

/// "<id>" from a stored id with or without angle brackets; empty when there is none.
std::string msg_id(std::string_view stored) {
  std::string v = one_line(stored);
  const std::size_t lt = v.find('<');
  const std::size_t gt = lt == std::string::npos ? std::string::npos : v.find('>', lt);
  if (gt != std::string::npos) return v.substr(lt, gt - lt + 1);
  v = v.substr(0, v.find(' '));
  if (v.empty() || v.find('@') == std::string::npos) return {};
  return "<" + v + ">";
}

bool looks_like_smtp(std::string_view s) {
  const std::size_t at = s.find('@');
  if (at == std::string_view::npos || at == 0 || at + 1 >= s.size()) return false;
  return std::none_of(s.begin(), s.end(), [](char c) {
    return c == ' ' || c == '<' || c == '>' || c == ';' || c == ',' ||
           static_cast<unsigned char>(c) < 0x21 || static_cast<unsigned char>(c) >= 0x7F;
  });
}

/// An address field value "type; address" ([RFC 3464] 2.3.2, [RFC 8098] 3.2.4): rfc822 with
/// the SMTP address; an Exchange-only recipient keeps its X.500 DN under an x- type. Empty
/// when the address is unknown.
std::string typed_address(const model::Address &a) {
  if (looks_like_smtp(a.smtp)) return "rfc822; " + a.smtp;
  std::string x500 = one_line(a.x500);
  if (!x500.empty() && text::is_ascii(x500)) return "x-ex; " + x500;
  return {};
}

/// "dns; host" from PR_REPORTING_MTA / PR_REMOTE_MTA, which Exchange stores either with its
/// type ("dns;host") or as a bare name.
std::string mta_value(std::string_view stored) {
  std::string v = one_line(stored);
  if (v.empty() || !text::is_ascii(v)) return {};
  const std::size_t semi = v.find(';');
  if (semi != std::string::npos) {
    std::string type(text::trim(std::string_view(v).substr(0, semi)));
    std::string name(text::trim(std::string_view(v).substr(semi + 1)));
    if (type.empty() || name.empty()) return {};
    return type + "; " + name;
  }
  return "dns; " + v;
}

const char *action_of(Kind k) {
  switch (k) {
    case Kind::Failed:
      return "failed";
    case Kind::Delivered:
      return "delivered";
    case Kind::Delayed:
      return "delayed";
    case Kind::Relayed:
      return "relayed";
    case Kind::Expanded:
      return "expanded";
    default:
      return "";
  }
}

/// Status ([RFC 3464] 2.3.4, codes of [RFC 3463]). PR_NDR_STATUS_CODE holds it as
/// Kind * 100 + Subject * 10 + Detail ([MS-OXCMAIL] 2.2.3.7.1.3); without it, a few MAPI
/// diagnostic codes have an exact RFC 3463 counterpart, and the rest get the generic code of
/// the action's class.
std::string status_of(Kind k, const model::RecipientReport &rr) {
  if (rr.status_code && *rr.status_code >= 200 && *rr.status_code <= 599) {
    const i32 c = *rr.status_code;
    const i32 cls = c / 100;
    const bool fits = (k == Kind::Failed && cls == 5) || (k == Kind::Delayed && cls == 4) ||
                      (k != Kind::Failed && k != Kind::Delayed && cls == 2);
    if (fits || cls == 4 || cls == 5) {
      return std::to_string(cls) + "." + std::to_string((c / 10) % 10) + "." +
             std::to_string(c % 10);
    }
  }
  if (k == Kind::Failed && rr.diag_code) {
    switch (*rr.diag_code) {
      case 0:
        return "5.1.1";  // MAPI_DIAG_OR_NAME_UNRECOGNIZED: bad destination mailbox
      case 1:
        return "5.1.4";  // MAPI_DIAG_OR_NAME_AMBIGUOUS: ambiguous destination
      case 3:
        return "5.4.6";  // MAPI_DIAG_LOOP_DETECTED: routing loop detected
      case 5:
        return "5.4.7";  // MAPI_DIAG_MAXIMUM_TIME_EXPIRED: delivery time expired
      default:
        break;
    }
  }
  if (k == Kind::Failed) return "5.0.0";
  if (k == Kind::Delayed) return "4.0.0";
  return "2.0.0";
}

/// Diagnostic-Code ([RFC 3464] 2.3.6) from PR_SUPPLEMENTARY_INFO. Exchange keeps the SMTP
/// reply inside its own wrapper ("<host #4.4.7 smtp;550 4.4.7 QUEUE.Expired; ...>", the form
/// [MS-OXCMAIL] 2.2.3.7.1 builds from Reporting-MTA, Status and Diagnostic-Code): the part from
/// "smtp;" on is the diagnostic. A bare text starting with a reply code is one too; anything
/// else is not an SMTP diagnostic and goes to X-Supplementary-Info only.
std::string diagnostic_of(const model::RecipientReport &rr) {
  std::string t = one_line(rr.supplementary_info);
  if (t.empty()) return {};
  const std::string lower = text::to_lower_ascii(t);
  std::string_view v = t;
  if (const std::size_t at = lower.find("smtp;"); at != std::string::npos) {
    v = v.substr(at + 5);
    if (t.front() == '<' && v.ends_with('>')) v.remove_suffix(1);
  }
  v = text::trim(v);
  while (!v.empty() && v.front() == '#') v.remove_prefix(1);
  const bool smtp = v.size() >= 3 && std::isdigit(static_cast<unsigned char>(v[0])) &&
                    std::isdigit(static_cast<unsigned char>(v[1])) &&
                    std::isdigit(static_cast<unsigned char>(v[2]));
  return smtp ? "smtp; " + std::string(v) : std::string();
}

std::string date_of(std::optional<i64> t) { return t ? format_rfc5322_date(*t) : std::string(); }

/// [RFC 8098] 3.2.6.1-2: action and sending modes. PR_REPORT_DISPOSITION_MODE holds them when
/// the client recorded them; Outlook sends read receipts for messages the user opened.
std::string disposition_mode(std::string_view stored) {
  std::string v = text::to_lower_ascii(one_line(stored));
  const std::size_t slash = v.find('/');
  const bool ok = slash != std::string::npos &&
                  (v.starts_with("manual-action/") || v.starts_with("automatic-action/")) &&
                  (v.ends_with("/mdn-sent-manually") || v.ends_with("/mdn-sent-automatically"));
  if (!ok) return "manual-action/MDN-sent-automatically";
  std::string out = v.substr(0, slash + 1);
  out += v.ends_with("manually") ? "MDN-sent-manually" : "MDN-sent-automatically";
  return out;
}

std::string mailbox(std::string_view name, std::string_view addr) {
  std::string n = one_line(name);
  std::string a = one_line(addr);
  if (!looks_like_smtp(a)) a.clear();
  if (n.empty() && a.empty()) return {};
  return format_mailbox(n, a);
}

/// text/rfc822-headers ([RFC 6522] 4) of the original message, from what the report keeps of
/// it: PR_ORIGINAL_SUBJECT, _SUBMIT_TIME, _MESSAGE_ID, _SENDER_*. Recipient display lists hold
/// names only and become empty groups, as build.cc does for PR_DISPLAY_TO.
std::string original_headers(const model::Report &r, std::string_view eol) {
  std::string out;
  std::string from =
      iequals_ascii(r.original_sender_addr_type, "SMTP") || r.original_sender_addr_type.empty()
          ? mailbox(r.original_sender_name, r.original_sender_email)
          : mailbox(r.original_sender_name, "");
  if (!from.empty()) add_field(out, "From", from, eol);
  for (const auto &[name, list] :
       {std::pair<const char *, const std::string *>{"To", &r.original_display_to},
        {"Cc", &r.original_display_cc}}) {
    std::string v;
    std::size_t i = 0;
    while (i <= list->size()) {
      std::size_t semi = list->find(';', i);
      if (semi == std::string::npos) semi = list->size();
      std::string n = one_line(std::string_view(*list).substr(i, semi - i));
      if (!n.empty()) {
        if (!v.empty()) v += ", ";
        v += format_mailbox(n, "");
      }
      i = semi + 1;
    }
    if (!v.empty()) add_field(out, name, v, eol);
  }
  std::string subject = one_line(r.original_subject);
  if (!subject.empty()) out += "Subject: " + rfc2047_encode(subject, 9, eol) + std::string(eol);
  if (r.original_submit_time) add_field(out, "Date", date_of(r.original_submit_time), eol);
  std::string id = msg_id(r.original_message_id);
  if (!id.empty()) add_field(out, "Message-ID", id, eol);
  return out;
}

/// Case-insensitive: does a line of `text` start with `field` (e.g. "final-recipient:")?
bool has_field_line(std::string_view lower_text, std::string_view lower_field) {
  std::size_t i = 0;
  while (i < lower_text.size()) {
    if (lower_text.substr(i).starts_with(lower_field)) return true;
    const std::size_t nl = lower_text.find('\n', i);
    if (nl == std::string_view::npos) break;
    i = nl + 1;
  }
  return false;
}

/// A by-value attachment that is the report's own machine-readable part, kept as an attachment
/// when the report was converted from MIME (Aspose writes "details.txt" and
/// "ATT00001.disposition-notification"): declared so, or ASCII text made of the fields the part
/// must have ([RFC 3464] 2.2-2.3: Reporting-MTA, Final-Recipient, Action, Status; [RFC 8098]
/// 3.1: Final-Recipient, Disposition). Its fields are the report as it travelled, so they win
/// over what the recipient table says. The attachment itself stays an attachment as well, with
/// its bytes as stored.
const model::Attachment *stored_machine_part(const model::Message &msg, bool dsn) {
  for (const model::Attachment &a : msg.attachments) {
    if (a.kind != model::AttachmentKind::ByValue || a.data.empty() || a.data.size() > 65536)
      continue;
    const std::string type = text::to_lower_ascii(text::trim(a.mime_type));
    const std::string name = text::to_lower_ascii(a.filename);
    const char *want = dsn ? "delivery-status" : "disposition-notification";
    const bool declared =
        type == std::string("message/") + want || name.ends_with(std::string(".") + want);
    const ByteView data = a.data;
    if (!text::is_ascii(data) || data.find('\0') != ByteView::npos) continue;
    const std::string lower = text::to_lower_ascii(data);
    const bool fields =
        dsn ? has_field_line(lower, "reporting-mta:") &&
                  has_field_line(lower, "final-recipient:") && has_field_line(lower, "action:") &&
                  has_field_line(lower, "status:")
            : has_field_line(lower, "final-recipient:") && has_field_line(lower, "disposition:");
    if (fields || (declared && has_field_line(lower, "final-recipient:"))) return &a;
  }
  return nullptr;
}

/// The stored part with `eol` line ends, ending with one empty line at most.
std::string stored_body(ByteView data, std::string_view eol) {
  std::string out;
  std::size_t i = 0;
  while (i < data.size()) {
    std::size_t nl = data.find('\n', i);
    const std::size_t end = nl == ByteView::npos ? data.size() : nl;
    ByteView line = data.substr(i, end - i);
    if (!line.empty() && line.back() == '\r') line.remove_suffix(1);
    out.append(line);
    out.append(eol);
    if (nl == ByteView::npos) break;
    i = nl + 1;
  }
  while (out.size() >= 2 * eol.size() && out.ends_with(std::string(eol) + std::string(eol)))
    out.resize(out.size() - eol.size());
  return out;
}

}  // namespace

Kind kind_of(std::string_view cls) {
  if (!text::istarts_with_ascii(cls, "REPORT.")) return Kind::None;
  // Longest suffixes first: ".IPNNRN" ends with "NRN" as ".IPNRN" does, and ".NDR" with "DR".
  if (ends_with_ci(cls, ".IPNNRN")) return Kind::Deleted;
  if (ends_with_ci(cls, ".IPNRN")) return Kind::Displayed;
  if (ends_with_ci(cls, ".NDR")) return Kind::Failed;
  if (ends_with_ci(cls, ".DR")) return Kind::Delivered;
  if (ends_with_ci(cls, ".Delayed")) return Kind::Delayed;
  if (ends_with_ci(cls, ".Relayed")) return Kind::Relayed;
  if (ends_with_ci(cls, ".Expanded")) return Kind::Expanded;
  return Kind::None;
}

std::optional<Parts> build(const model::Message &msg, std::string_view eol) {
  const Kind kind = kind_of(msg.message_class);
  if (kind == Kind::None) return std::nullopt;
  const model::Report empty_report;
  const model::Report &r = msg.report ? *msg.report : empty_report;
  Parts p;
  if (kind == Kind::Displayed || kind == Kind::Deleted) {
    // [RFC 8098] 3.1; [MS-OXCMAIL] 2.1.3.6.2: the reader who displayed (or deleted) the
    // original is the report's sender, else whom it was sent on behalf of.
    p.report_type = "disposition-notification";
    p.machine_type = "message/disposition-notification";
    const model::Address &who = !msg.sender.empty() ? msg.sender : msg.from;
    std::string fr = typed_address(who);
    if (fr.empty()) {
      p.warnings.push_back({ProblemCode::ItemUnreadable,
                            "read report: the reader's address is unknown; Final-Recipient empty"});
      fr = "rfc822;";
    }
    add_field(p.machine_body, "Final-Recipient", fr, eol);
    std::string id = msg_id(r.original_message_id);
    if (id.empty()) id = msg_id(msg.in_reply_to);
    if (!id.empty()) add_field(p.machine_body, "Original-Message-ID", id, eol);
    add_field(p.machine_body, "Disposition",
              disposition_mode(r.disposition_mode) + "; " +
                  (kind == Kind::Displayed ? "displayed" : "deleted"),
              eol);
  } else {
    p.report_type = "delivery-status";
    p.machine_type = "message/delivery-status";
    // Per-message fields ([RFC 3464] 2.2). Reporting-MTA is required there, but a PST keeps it
    // only when the report came in over SMTP; we do not make one up (the computer name that
    // [MS-OXCMAIL] 2.1.3.6.1 falls back to says nothing about the original delivery), and an
    // extension field keeps the group non-empty so readers find the recipient groups after it.
    std::string mta = mta_value(r.reporting_mta);
    if (!mta.empty())
      add_field(p.machine_body, "Reporting-MTA", mta, eol);
    else
      add_field(p.machine_body, "X-Mailmill-Reporting-MTA", "unknown", eol);
    if (r.report_time) add_field(p.machine_body, "Arrival-Date", date_of(r.report_time), eol);
    i64 groups = 0;
    for (const model::Recipient &rec : msg.recipients) {
      std::string fr = typed_address(rec.address);
      if (fr.empty()) continue;
      const model::RecipientReport rr = rec.report.value_or(model::RecipientReport{});
      std::string group;
      add_field(group, "Final-Recipient", fr, eol);
      add_field(group, "Action", action_of(kind), eol);
      add_field(group, "Status", status_of(kind, rr), eol);
      std::string remote = mta_value(rr.remote_mta);
      if (!remote.empty()) add_field(group, "Remote-MTA", remote, eol);
      std::string diag = diagnostic_of(rr);
      if (!diag.empty() && text::is_ascii(diag)) add_field(group, "Diagnostic-Code", diag, eol);
      // The stored text as it is, when it says more than the diagnostic ([MS-OXCMAIL]
      // 2.1.3.6.1 writes PidTagSupplementaryInfo as X-Supplementary-Info).
      std::string info = one_line(rr.supplementary_info);
      if (!info.empty() && text::is_ascii(info) && diag != "smtp; " + info)
        add_field(group, "X-Supplementary-Info", info, eol);
      std::optional<i64> when = rr.report_time ? rr.report_time : rr.deliver_time;
      if (when) add_field(group, "Last-Attempt-Date", date_of(when), eol);
      if (rr.diag_code)
        add_field(group, "X-MAPI-NDR-Diag-Code", std::to_string(*rr.diag_code), eol);
      if (rr.reason_code)
        add_field(group, "X-MAPI-NDR-Reason-Code", std::to_string(*rr.reason_code), eol);
      p.machine_body += eol;
      p.machine_body += group;
      ++groups;
    }
    if (groups == 0) {
      p.warnings.push_back({ProblemCode::RecipientsUnreadable,
                            "delivery report has no recipient with a known address; "
                            "delivery-status lists none"});
    }
  }
  if (const model::Attachment *a = stored_machine_part(msg, p.report_type == "delivery-status")) {
    p.machine_body = stored_body(a->data, eol);
    p.warnings.clear();  // the stored part names its recipients itself
  }
  p.original_headers = original_headers(r, eol);
  // The human-readable part, when the item has no body: what the report text says, else a line
  // naming the outcome and the original subject.
  std::string text = r.report_text;
  if (text.empty()) {
    switch (kind) {
      case Kind::Failed:
        text = "Delivery has failed.";
        break;
      case Kind::Delivered:
        text = "Your message has been delivered.";
        break;
      case Kind::Delayed:
        text = "Delivery is delayed.";
        break;
      case Kind::Relayed:
        text = "Your message has been relayed.";
        break;
      case Kind::Expanded:
        text = "Your message has been delivered and expanded.";
        break;
      case Kind::Displayed:
        text = "Your message has been read.";
        break;
      case Kind::Deleted:
        text = "Your message was deleted without being read.";
        break;
      case Kind::None:
        break;
    }
    std::string subject = one_line(r.original_subject);
    if (!subject.empty()) text += "\n\nSubject: " + subject;
    text += "\n";
  }
  p.summary = text::sanitize_utf8(text);
  return p;
}

}  // namespace mm::mime::report
