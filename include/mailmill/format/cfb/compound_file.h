#pragma once
/// Read access to a compound file ([MS-CFB]: the "OLE2 structured storage" format of OLE
/// attachments, .msg files and legacy Office documents) held in memory: its storages, streams
/// and their CLSIDs. The one place a compound-file library is used; OLE attachment conversion
/// (mime/ole_attachment) and the .msg reader go through this interface only.
#include <array>
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::cfb {

/// A class identifier as stored in a directory entry ([MS-CFB] 2.6.1 CLSID): 16 bytes in file
/// order (Data1..Data3 little-endian, Data4 as bytes).
using Clsid = std::array<u8, 16>;

/// The CLSID in registry form, "00000316-0000-0000-C000-000000000046" (upper-case, no braces).
std::string clsid_to_string(const Clsid &clsid);

/// Parses the registry form (with or without braces, either case); nullopt when malformed.
std::optional<Clsid> clsid_from_string(std::string_view text);

enum class EntryType : u8 { Storage, Stream };

/// One child of a storage.
struct Entry {
  std::string name;  ///< UTF-8 as stored, leading control characters ("\x01Ole") included
  EntryType type = EntryType::Stream;
  u64 size = 0;   ///< stream size in bytes; 0 for a storage
  Clsid clsid{};  ///< storages only; all zero when unset (and for streams)
};

/// Streams larger than this are refused by read_stream (a limit on what one call allocates, far
/// above any attachment the pipeline holds in memory).
inline constexpr u64 MAX_STREAM_BYTES = u64{1} << 31;

/// A compound file opened from bytes in memory. Paths name entries below the root storage with
/// '/' between names ("" is the root itself); [MS-CFB] 2.6.1 forbids '/' inside a name.
/// One object is used by one thread at a time (reads move a cursor); distinct objects, even on
/// the same bytes, are independent. Nothing throws and nothing is printed: damage is a Problem
/// (code SourceCorrupt, detail says what), never a crash.
class CompoundFile {
 public:
  /// Opens `bytes`, which are NOT copied: they must outlive the returned object. SourceCorrupt
  /// when they are not a compound file or its header, allocation tables or directory are
  /// unreadable.
  static Result<std::unique_ptr<CompoundFile>> open(ByteView bytes);

  ~CompoundFile();
  CompoundFile(const CompoundFile &) = delete;
  CompoundFile &operator=(const CompoundFile &) = delete;

  /// CLSID of the root storage (the object's class for an OLE object storage).
  const Clsid &root_clsid() const;

  /// Children of the storage at `storage_path`, in directory order. SourceCorrupt when the path
  /// names no storage.
  Result<std::vector<Entry>> list(std::string_view storage_path = {}) const;

  /// The entry at `path`, or nullopt when there is none ("" gives the root storage).
  std::optional<Entry> find(std::string_view path) const;

  /// The whole stream at `path`. SourceCorrupt when it is absent, a storage, or its sector chain
  /// is broken; LimitExceeded when it is larger than `max_bytes`.
  Result<Bytes> read_stream(std::string_view path, u64 max_bytes = MAX_STREAM_BYTES) const;

  struct Impl;

 private:
  explicit CompoundFile(std::unique_ptr<Impl> impl);
  std::unique_ptr<Impl> impl_;
};

/// True when `bytes` start with the compound-file signature D0 CF 11 E0 A1 B1 1A E1.
bool has_signature(ByteView bytes);

}  // namespace mm::cfb
