#pragma once
/// The reader interface every MAPI-style source implements (native PST reader, libpff reader,
/// later MSG and EDB). The converter only talks to this interface, so readers are
/// interchangeable and can be compared property by property.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/mapi/property.h"
#include "mailmill/util/result.h"

namespace mm::mapi {

struct RawMessage;

/// An attachment as read: its property bag (PR_ATTACH_DATA_BIN included for by-value data) and,
/// for PR_ATTACH_METHOD == 5 (ATTACH_EMBEDDED_MSG), the embedded message.
struct RawAttachment {
  PropertyBag props;
  std::unique_ptr<RawMessage> embedded;  ///< set when the attachment is an embedded message
  std::optional<Problem> problem;        ///< set when the attachment (or its object) was unreadable
};

/// A message-like item: its own properties, recipient rows, attachments.
struct RawMessage {
  u64 node_id = 0;
  PropertyBag props;
  std::vector<PropertyBag> recipients;  ///< one bag per recipient-table row
  std::vector<RawAttachment> attachments;
  std::vector<Problem> warnings;  ///< partial reads (e.g. recipient table unreadable)
};

/// One folder of the store. `path` is the list of names from below the root folder.
struct FolderInfo {
  u64 node_id = 0;
  u64 parent_id = 0;  ///< 0 for the root folder
  std::vector<std::string> path;  ///< UTF-8 names; empty for the root folder
  std::string container_class;    ///< PR_CONTAINER_CLASS ("IPF.Note", "IPF.Contact", ...)
  i64 content_count = -1;         ///< PR_CONTENT_COUNT when present
};

enum class PstFormat : u8 { Ansi, Unicode, Unicode4k };
enum class PstEncryption : u8 { None, Permute, Cyclic, Unknown };

struct StoreInfo {
  PstFormat format = PstFormat::Unicode;
  bool is_ost = false;  ///< content type "SO" (OST) vs "SM" (PST)
  PstEncryption encryption = PstEncryption::None;
  u64 file_size = 0;
  u32 default_codepage = 1252;  ///< store/ANSI codepage used when an item names none
  std::string display_name;     ///< store display name (UTF-8)
  /// Problems the reader recovered from while opening (e.g. a stale header CRC); the store is
  /// still readable. Empty for a clean file.
  std::vector<Problem> warnings;
};

/// A read handle on one mail store. One handle is used by one thread at a time; open several
/// handles on the same file for parallel reading. Methods never throw for bad input: damage is
/// reported as a Problem.
class MailStore {
 public:
  virtual ~MailStore() = default;
  virtual const StoreInfo &info() const = 0;
  /// All folders in depth-first pre-order, root first. Search folders are not included.
  virtual Result<std::vector<FolderInfo>> folders() = 0;
  /// Node ids of the items in a folder's contents table, in table order.
  virtual Result<std::vector<u64>> items_in(u64 folder_id) = 0;
  /// Reads one item with recipients, attachments (data included) and embedded messages.
  virtual Result<RawMessage> read_item(u64 node_id) = 0;
  /// The store's name-to-id map (empty map when the store has none).
  virtual const NameMap &names() const = 0;
  /// Message store object properties (PR_DISPLAY_NAME, ...).
  virtual Result<PropertyBag> store_properties() = 0;
  /// Short reader name for reports: "native" or "libpff".
  virtual const char *reader_name() const = 0;
  /// Another handle on the same store for another thread, sharing whatever immutable state the
  /// reader can share (the native reader shares its mapping and index). Readers that cannot
  /// share return a Problem and the caller opens the file again.
  /// Hint from the pipeline that data read so far is no longer needed (the native reader drops
  /// its mapped pages so resident memory does not grow with the file). Thread-safe.
  virtual void release_memory() {}
  virtual Result<std::unique_ptr<MailStore>> open_another() const {
    return Problem{ProblemCode::InternalError, "open_another not supported by this reader"};
  }
  /// Set once the reader found that the input changed while it was being read (the file shrank
  /// or was rewritten, its storage went away): from then on nothing read from this store,
  /// including items returned earlier whose bytes are still views into the file, can be
  /// trusted. A SourceTruncated Problem saying so, or nullopt while the input is unchanged.
  /// Shared by every handle on the same file (open_another); never resets. Thread-safe and cheap
  /// enough to call after every item. Readers that cannot tell return nullopt.
  virtual std::optional<Problem> input_changed() const { return std::nullopt; }
};

}  // namespace mm::mapi
