#pragma once
/// The message model: plain data produced by every source and consumed by every builder/sink.
/// No I/O, no third-party types. All text fields are UTF-8 unless stated otherwise.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/model/calendar.h"
#include "mailmill/util/blob.h"
#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::model {

/// What kind of item this is, derived from the MAPI message class.
enum class ItemKind : u8 {
  Message,      ///< IPM.Note and anything mail-like (reports, meeting requests, S/MIME, ...)
  Appointment,  ///< IPM.Appointment
  Task,         ///< IPM.Task
  Contact,      ///< IPM.Contact
  DistList,     ///< IPM.DistList
  StickyNote,   ///< IPM.StickyNote
  Journal,      ///< IPM.Activity
  Other,        ///< anything else (kept as a message if it has mail content)
};

/// Printable name ("message", "appointment", ...), used in reports.
const char *item_kind_name(ItemKind kind);

/// An e-mail address as found in the source. `smtp` is the best SMTP address we could resolve
/// (may be empty); `x500` is the Exchange legacy DN when the source had an EX address.
struct Address {
  std::string name;
  std::string smtp;
  std::string x500;
  std::string addr_type;  ///< "SMTP", "EX", ... as stored
  bool empty() const { return name.empty() && smtp.empty() && x500.empty(); }
};

enum class RecipientType : u8 { To = 1, Cc = 2, Bcc = 3 };

/// What a delivery report says about one recipient of the original message ([MS-OXOMSG]
/// 2.2.2.30-36): set only on the recipients of REPORT.* items.
struct RecipientReport {
  std::optional<i32> status_code;   ///< PR_NDR_STATUS_CODE: Kind * 100 + Subject * 10 + Detail
  std::optional<i32> diag_code;     ///< PR_NDR_DIAG_CODE (MAPI_DIAG_*; -1 none)
  std::optional<i32> reason_code;   ///< PR_NDR_REASON_CODE (MAPI_REASON_*)
  std::string supplementary_info;   ///< PR_SUPPLEMENTARY_INFO: the server's diagnostic text
  std::string remote_mta;           ///< PR_REMOTE_MTA
  std::optional<i64> report_time;   ///< PR_REPORT_TIME (unix seconds)
  std::optional<i64> deliver_time;  ///< PR_DELIVER_TIME (unix seconds)
};

struct Recipient {
  RecipientType type = RecipientType::To;
  Address address;
  std::optional<RecipientReport> report{};  ///< REPORT.* items only
};

/// The message-level facts of a report item (REPORT.IPM.Note.NDR, .DR, .IPNRN, .IPNNRN, ...):
/// what the MIME builder needs for multipart/report ([RFC 3464], [RFC 8098]).
struct Report {
  std::string reporting_mta;  ///< PR_REPORTING_MTA (Reporting-MTA), may be empty
  std::string report_text;    ///< PR_REPORT_TEXT
  std::optional<i64> report_time;
  std::string disposition_mode;  ///< PR_REPORT_DISPOSITION_MODE ("manual-action/MDN-sent-...")
  std::string original_subject;  ///< PR_ORIGINAL_SUBJECT
  std::optional<i64> original_submit_time;
  std::string original_message_id;  ///< PR_ORIGINAL_MESSAGE_ID, as stored
  std::string original_sender_name, original_sender_email, original_sender_addr_type;
  std::string original_display_to, original_display_cc;
};

enum class AttachmentKind : u8 {
  ByValue,     ///< bytes in `data`
  Embedded,    ///< an attached message in `embedded`
  Reference,   ///< by reference / link: no bytes in the file (`reference_path` says where)
  Ole,         ///< OLE object storage; bytes in `data` when available
  Unreadable,  ///< the attachment exists but could not be read (see `problem`)
};

struct Message;

struct Attachment {
  AttachmentKind kind = AttachmentKind::ByValue;
  std::string filename;      ///< long filename (UTF-8), else short name, else display name
  std::string mime_type;     ///< PR_ATTACH_MIME_TAG when present, lower-case; may be empty
  std::string content_id;    ///< without angle brackets
  std::string content_location;
  bool is_inline = false;    ///< hidden/inline (PR_ATTACHMENT_HIDDEN or flags) with a Content-ID
  Blob data;                 ///< ByValue/Ole bytes (usually a view into what the reader read)
  std::unique_ptr<Message> embedded;  ///< Embedded kind only
  std::string reference_path;         ///< Reference kind: the path/URL stored
  std::optional<i64> creation_time;   ///< unix seconds
  std::optional<i64> modification_time;
  std::optional<Problem> problem;     ///< why it is Unreadable / not exportable
};

/// Item flags relevant to mail clients.
struct Flags {
  bool read = false;
  bool answered = false;
  bool forwarded = false;
  bool flagged = false;
  bool draft = false;     ///< unsent
  bool has_attachments = false;
};

struct Appointment {
  std::optional<i64> start;  ///< unix seconds UTC
  std::optional<i64> end;
  bool all_day = false;
  std::string location;
  std::string organizer_name, organizer_smtp;
  bool is_recurring = false;
  std::string recurrence_rule;  ///< RRULE value when we could derive it, else empty
  std::optional<i32> busy_status;
  std::optional<i32> reminder_minutes;
  std::string global_object_id_hex;  ///< becomes the iCalendar UID when present
  // Recurrence and meetings (issue 12).
  std::optional<Recurrence> recurrence;  ///< parsed PidLidAppointmentRecur, when valid
  std::optional<TimeZone> time_zone;     ///< zone of the recurrence's local times, when known
  Bytes recurrence_blob;   ///< PidLidAppointmentRecur as stored (kept for the PST writer)
  Bytes time_zone_blob;    ///< PidLidTimeZoneStruct as stored (kept for the PST writer)
  std::optional<i32> sequence;  ///< PidLidAppointmentSequence
  bool response_requested = false;  ///< PidTagResponseRequested (RSVP)
  /// A meeting message about one instance of a series: that instance's original start (UTC,
  /// PidLidExceptionReplaceTime); becomes RECURRENCE-ID.
  std::optional<i64> instance_start;
};

struct Task {
  std::optional<i64> start, due, completed;
  std::optional<double> percent_complete;  ///< 0.0 .. 1.0
  std::optional<i32> status;               ///< 0 not started .. 4 deferred
  bool complete = false;
  std::string owner;
};

struct Contact {
  std::string display_name, given_name, surname, middle_name, nickname, title_prefix, suffix;
  std::string company, department, job_title;
  struct Email { std::string address, display; };
  std::vector<Email> emails;  ///< Email1..3 in order
  struct Phone { std::string type, number; };  ///< type: "work", "home", "cell", "fax", ...
  std::vector<Phone> phones;
  struct PostalAddress { std::string type, street, city, region, postal_code, country; };
  std::vector<PostalAddress> addresses;
  std::string web_page;
  std::optional<i64> birthday;
  std::string notes;  ///< same as the item's text body
};

struct DistList {
  struct Member { std::string name, smtp; };
  std::vector<Member> members;
};

/// Where an item came from; printable and stable across runs.
struct ItemId {
  std::string source;       ///< input file path as given
  std::string folder_path;  ///< folder names joined with '/', unsanitized (UTF-8)
  u64 node_id = 0;          ///< PST NID (or another source-local id)
  std::string to_string() const;
};

/// One item. Bodies keep the form they had in the source; the MIME builder chooses parts.
struct Message {
  ItemKind kind = ItemKind::Message;
  std::string message_class;  ///< e.g. "IPM.Note"

  std::string subject;       ///< full subject, prefix included, marker bytes removed
  Address from;              ///< sent-representing (who the mail is from)
  Address sender;            ///< actual sender, when different from `from`
  std::vector<Recipient> recipients;
  std::string display_to, display_cc, display_bcc;  ///< PR_DISPLAY_* (fallback only)

  std::optional<i64> submit_time;    ///< unix seconds UTC (PR_CLIENT_SUBMIT_TIME)
  std::optional<i64> delivery_time;  ///< PR_MESSAGE_DELIVERY_TIME
  std::optional<i64> creation_time;
  std::optional<i64> modification_time;

  Bytes transport_headers;    ///< PR_TRANSPORT_MESSAGE_HEADERS verbatim (UTF-8 or ASCII)
  std::string message_id;     ///< PR_INTERNET_MESSAGE_ID with angle brackets as stored
  std::string in_reply_to;
  std::string references;

  std::optional<std::string> body_text;  ///< UTF-8
  std::optional<Bytes> body_html;        ///< bytes in `html_charset`
  std::string html_charset;              ///< MIME charset name of body_html ("utf-8", ...)
  std::optional<Bytes> body_rtf;         ///< PR_RTF_COMPRESSED as stored (mime::rtf decompresses)
  bool rtf_in_sync = false;

  Flags flags;
  i32 importance = 1;   ///< 0 low, 1 normal, 2 high
  i32 sensitivity = 0;  ///< 0 none .. 3 confidential
  std::vector<std::string> categories;
  std::vector<Attachment> attachments;

  std::optional<Appointment> appointment;
  std::optional<Task> task;
  std::optional<Contact> contact;
  std::optional<DistList> dist_list;
  std::optional<Report> report;  ///< REPORT.* message classes

  /// Recovered-by-a-lenient-rule notes (e.g. "RTF decompression failed; kept text body").
  std::vector<Problem> warnings;
};

}  // namespace mm::model
