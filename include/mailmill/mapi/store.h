#pragma once
/// The reader interface every MAPI-style source implements (native PST reader, libpff reader,
/// later MSG and EDB). The converter only talks to this interface, so readers are
/// interchangeable and can be compared property by property.
#include <memory>
#include <optional>
#include <string>
#include <vector>

#include "mailmill/mapi/property.h"
#include "mailmill/model/item.h"
#include "mailmill/util/blob.h"
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

/// An item that arrived as an Internet message (EML file, mbox entry, maildir file): its
/// bytes as stored and what its container said of it. mime::parse_message reads it into the
/// model in the pipeline's parallel stage (the MIME worker pool).
struct InternetMessage {
  /// The RFC 5322 message: for an mbox entry without its From_ line and with the dialect's
  /// quoting undone (">From " -> "From " in mboxrd), line ends as stored.
  Blob bytes;
  /// Flags the container recorded (maildir info ":2,FRS", mbox Status/X-Status,
  /// X-Mozilla-Status); nullopt when it records none.
  std::optional<model::Flags> flags;
  std::optional<i64> received;  ///< From_ line date or maildir delivery time (unix seconds)
  std::string envelope_sender;  ///< From_ line sender, as stored
};

/// A message-like item: its own properties, recipient rows, attachments.
struct RawMessage {
  u64 node_id = 0;
  PropertyBag props;
  std::vector<PropertyBag> recipients;  ///< one bag per recipient-table row
  std::vector<RawAttachment> attachments;
  std::vector<Problem> warnings;  ///< partial reads (e.g. recipient table unreadable)
  /// Set for items that are Internet messages rather than MAPI property sets (props, recipients
  /// and attachments are then empty).
  std::optional<InternetMessage> internet;
  /// The item's own named-property map when it has one (a .msg file carries its own); when
  /// null, the store's names() apply.
  std::shared_ptr<const NameMap> names;
  /// ANSI codepage for PT_STRING8 values when the item's reader knows better than the store
  /// (a .msg file); 0 means the store's default.
  u32 codepage = 0;
};

/// One folder of the store. `path` is the list of names from below the root folder.
struct FolderInfo {
  u64 node_id = 0;
  u64 parent_id = 0;  ///< 0 for the root folder
  std::vector<std::string> path;  ///< UTF-8 names; empty for the root folder
  std::string container_class;    ///< PR_CONTAINER_CLASS ("IPF.Note", "IPF.Contact", ...)
  i64 content_count = -1;         ///< PR_CONTENT_COUNT when present
  /// Nested deeper than the reader's folder-depth limit (256): listed so that its items are
  /// accounted for (as failed), but not converted; its path is cut at the limit.
  bool beyond_depth = false;
};

enum class PstFormat : u8 { Ansi, Unicode, Unicode4k };
enum class PstEncryption : u8 { None, Permute, Cyclic, Unknown };

struct StoreInfo {
  /// What kind of input this is: "pst" or "ost" for PST/OST files (then `format` and
  /// `encryption` apply), else "mbox", "maildir", "eml", "msg" or "files" (a tree of loose
  /// .eml/.msg files). Empty is read as PST/OST by is_ost.
  std::string kind;
  /// How the input was read, when a reader had to assume something (an mbox dialect and why).
  std::string detail;
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

/// High bit of an item id marking "the reader could not enumerate item #index of folder" (a
/// contents-table row whose node id cannot be read); real node ids are 32-bit, so no real id
/// has it set. read_item() on such an id returns an ItemUnreadable Problem.
inline constexpr u64 UNREADABLE_ITEM_FLAG = u64{1} << 63;

/// Builds the sentinel id for item `index` (< 2^31) of folder `folder_nid` (32-bit node id).
constexpr u64 make_unreadable_item_id(u32 folder_nid, u32 index) {
  return UNREADABLE_ITEM_FLAG | (static_cast<u64>(index & 0x7FFFFFFFu) << 32) | folder_nid;
}
/// True for ids made by make_unreadable_item_id.
constexpr bool is_unreadable_item_id(u64 id) { return (id & UNREADABLE_ITEM_FLAG) != 0; }
/// Folder node id encoded in an unreadable-item id.
constexpr u32 unreadable_item_folder(u64 id) { return static_cast<u32>(id & 0xFFFFFFFFu); }
/// Item index encoded in an unreadable-item id.
constexpr u32 unreadable_item_index(u64 id) { return static_cast<u32>((id >> 32) & 0x7FFFFFFFu); }

/// Items one folder holds by the census's own count (see Census).
struct CensusFolder {
  u64 folder_id = 0;  ///< folder node id; 0 collects message nodes whose parent is no folder
  i64 claimed = -1;   ///< PR_CONTENT_COUNT: what the folder says, a claim never used as a bound
  i64 rows = -1;      ///< contents-table rows; -1 when the table is absent or unreadable
  i64 assoc_rows = -1;  ///< associated-contents-table rows; -1 when absent or unreadable
  i64 unreadable_rows = 0;  ///< rows whose node id cannot be read
  i64 dangling_rows = 0;    ///< rows naming no message node of the node index
  /// Items attributed to this folder: message nodes (normal and associated) this folder's
  /// contents table lists first, plus message nodes no table lists whose parent it is, plus
  /// unreadable and dangling rows. Every item of the store is attributed to one folder.
  i64 items = 0;
  std::string problem;  ///< why the folder's tables could not be counted, or empty
};

/// What a store holds, counted from the file's own indexes without converting anything: the
/// count every conversion is reconciled against. The native reader counts every message node
/// of the node index ([MS-PST] 2.2.2.7.7.4: NID types normal and associated message; messages
/// embedded in attachments are subnodes, not nodes) and attributes each to a folder by the
/// contents tables and, for nodes no table lists, by the node's nidParent. libpff exposes no
/// node index: its census is each folder's sub-message count and its recovery lists.
struct Census {
  std::string basis;  ///< "node-index" or "libpff"
  i64 message_nodes = 0, assoc_nodes = 0, folder_nodes = 0, search_folder_nodes = 0;
  i64 unlisted = 0;      ///< message nodes (not associated) that no contents table lists
  i64 orphan_nodes = 0;  ///< message nodes whose parent is not a folder node
  /// Sorted node ids of every counted message node (empty for the libpff census).
  std::vector<u64> node_ids;
  std::vector<u64> node_parents;  ///< nidParent of each node_ids entry
  /// For bases whose ids carry no NID type (an Exchange database's message rows): true for
  /// each node_ids entry that is a hidden, folder-associated item. Empty otherwise (the
  /// node-index census tells associated nodes by their NID type).
  std::vector<bool> node_associated;
  std::vector<CensusFolder> folders;
  /// Parts of the folder tree that could not be counted (a sub-folder libpff cannot open):
  /// their items are unknown, so the source is only partly read.
  std::vector<std::string> problems;
  /// The folders' row counts added up (unreadable counts, -1, as 0).
  struct RowTotals {
    i64 rows = 0, claimed = 0, unreadable = 0, dangling = 0;
  };
  RowTotals row_totals() const {
    RowTotals t;
    for (const CensusFolder &f : folders) {
      t.rows += f.rows > 0 ? f.rows : 0;
      t.claimed += f.claimed > 0 ? f.claimed : 0;
      t.unreadable += f.unreadable_rows;
      t.dangling += f.dangling_rows;
    }
    return t;
  }
  /// Items of the store: the sum of the folders' items.
  i64 items() const {
    i64 n = 0;
    for (const CensusFolder &f : folders) n += f.items;
    return n;
  }
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
  /// The census of the store (see Census). Reads the indexes and every folder's tables; call
  /// once per source, before converting. A Problem when even the node index is unusable.
  virtual Result<Census> census() = 0;
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
