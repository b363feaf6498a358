#pragma once
/// Streaming writer of Unicode PST files ([MS-PST]): folders and model::Message items in, a PST
/// that Outlook-compatible readers open out. Memory is bounded by the node/block index and the
/// folders' table rows, not by message data: message blocks go to disk as they are added.
#include <memory>
#include <string>

#include "mailmill/model/item.h"
#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::pst {

/// Block encoding of the written file.
enum class WriterEncryption : u8 { None, Permute };

struct WriterOptions {
  WriterEncryption encryption = WriterEncryption::None;
  std::string display_name = "Personal Folders";  ///< message store PR_DISPLAY_NAME (UTF-8)
  /// 16 bytes used for the store PR_RECORD_KEY (entry-id provider uid); derived from the
  /// display name when empty. Fixed input gives a byte-identical file.
  std::string record_key;
};

/// Writes one PST file. Not thread-safe: one thread drives one writer. Methods never throw for
/// bad input (problems come back as Problem); an unwritable output throws FatalError.
class PstWriter {
 public:
  /// Creates (truncates) `path` and the mandatory store objects: message store, name-to-id map,
  /// templates, search nodes, root folder, "Top of Personal Folders" (the IPM subtree),
  /// "Deleted Items" (under it) and "Search Root". OutputWriteFailed when it cannot be created.
  static Result<std::unique_ptr<PstWriter>> create(const std::string &path, WriterOptions options);

  ~PstWriter();
  PstWriter(const PstWriter &) = delete;
  PstWriter &operator=(const PstWriter &) = delete;

  /// Adds a folder named `name` (UTF-8) under `parent_nid`; parent 0 means the IPM subtree
  /// ("Top of Personal Folders"). `container_class` e.g. "IPF.Note" (may be empty). Returns the
  /// new folder's NID. ItemUnreadable when the parent is unknown; LimitExceeded after finish().
  Result<u64> add_folder(u64 parent_nid, const std::string &name,
                         const std::string &container_class = "IPF.Note");

  /// NID of the IPM subtree folder and of "Deleted Items".
  u64 ipm_subtree_nid() const;
  u64 deleted_items_nid() const;

  /// Writes `message` (recipients, attachments with their bytes, embedded messages recursively)
  /// into folder `folder_nid` (0 = IPM subtree). The message's bytes are on disk when this
  /// returns; only index entries and one contents-table row are kept. Returns the message NID.
  Result<u64> add_message(u64 folder_nid, const model::Message &message);

  /// Writes folders, tables, the B-trees, allocation maps and the header; closes the file.
  /// Must be called once; the file is invalid until then.
  Status finish();

  /// Bytes written to the file so far (the final file size after finish()).
  u64 bytes_written() const;

  struct Impl;

 private:
  explicit PstWriter(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

}  // namespace mm::pst
