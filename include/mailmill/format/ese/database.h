#pragma once
/// Read access to ESE (Extensible Storage Engine, "JET Blue") database files: the header, the
/// catalog (MSysObjects), every table's records in key order, columns of every kind (fixed,
/// variable, tagged, multi-valued), separated long values and compressed values. Our own reader
/// (no libesedb); the first layer of Exchange .edb input (issue 15).
///
/// Thread safety: a Database is an immutable memory map plus an immutable catalog. Copies share
/// them; any number of threads may read tables and records of one Database at once. Nothing
/// throws and nothing is printed: damage is a Problem (SourceCorrupt, SourceTruncated...) for the
/// database or the table walk, and a per-value error (Value::error) for one cell.
#include <memory>
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/result.h"
#include "mailmill/util/types.h"

namespace mm::ese {

/// The database state of the header (JET_dbstate*).
enum class DbState : u32 {
  Unknown = 0,
  JustCreated = 1,
  DirtyShutdown = 2,
  CleanShutdown = 3,
  BeingConverted = 4,
  ForceDetach = 5,
};

/// "CleanShutdown", "DirtyShutdown", ..., "Unknown".
const char *db_state_name(DbState state);

/// How page checksums are computed.
enum class ChecksumScheme : u8 {
  LegacyXor,  ///< format revision < 0x0b: XOR of the page after the checksum, seed 0x89abcdef
  EccXor,     ///< ECC+XOR 64-bit checksums (revision >= 0x0b); only the XOR half is verified
};

/// The database file header (page 0) and what the reader derived from it.
struct Header {
  u32 format_version = 0;   ///< 0x620 for every ESE database seen
  u32 format_revision = 0;  ///< 0x14 for Windows 8+ and Exchange 2013+
  u32 file_type = 0;        ///< 0 database, 1 streaming file
  u32 page_size = 0;        ///< 4096, 8192, 16384 or 32768
  u32 state_raw = 0;
  DbState state = DbState::Unknown;
  u32 creation_format_version = 0;
  u32 creation_format_revision = 0;
  bool checksum_ok = false;         ///< header XOR checksum (offset 4..4096, seed 0x89abcdef)
  bool shadow_present = false;      ///< page 1 holds a copy of the header
  bool shadow_checksum_ok = false;  ///< the shadow copy's checksum
  bool used_shadow = false;         ///< the header was unreadable and the shadow copy was used
  ChecksumScheme checksum_scheme = ChecksumScheme::LegacyXor;
  /// Format revision >= 0x11 with 16/32 KiB pages: 80-byte page header, 15-bit tag offsets
  /// and sizes with the tag flags in the record's first 16 bits, flag byte on every tagged value.
  bool large_pages() const { return format_revision >= 0x11 && page_size >= 16384; }
  bool clean() const { return state == DbState::CleanShutdown; }
  /// One line for a caller that refuses databases not in clean-shutdown state, e.g.
  /// "database state is DirtyShutdown (not cleanly shut down): run eseutil /r first".
  std::string state_line() const;
};

/// JET_coltyp values.
enum class ColumnType : u32 {
  Nil = 0,
  Bit = 1,
  UnsignedByte = 2,
  Short = 3,
  Long = 4,
  Currency = 5,
  IEEESingle = 6,
  IEEEDouble = 7,
  DateTime = 8,
  Binary = 9,
  Text = 10,
  LongBinary = 11,
  LongText = 12,
  SLV = 13,
  UnsignedLong = 14,
  LongLong = 15,
  GUID = 16,
  UnsignedShort = 17,
};

/// "Long", "LongText", ... ("Type N" when unknown).
std::string column_type_name(ColumnType type);

/// Column flag bits (JET_bitColumn*).
inline constexpr u32 COLUMN_FIXED = 0x1;
inline constexpr u32 COLUMN_TAGGED = 0x2;
inline constexpr u32 COLUMN_MULTI_VALUED = 0x400;
inline constexpr u32 COLUMN_COMPRESSED = 0x80000;

/// One column definition from the catalog.
struct Column {
  u32 id = 0;  ///< 1-127 fixed, 128-255 variable, 256+ tagged
  std::string name;
  ColumnType type = ColumnType::Nil;
  u32 flags = 0;
  u32 codepage = 0;  ///< 1200 UTF-16LE, 1252 Windows Latin-1, 0 unspecified
  u32 space = 0;     ///< SpaceUsage: the size of a fixed column
  Bytes default_value;
  bool fixed() const { return id < 128; }
  bool variable() const { return id >= 128 && id < 256; }
  bool tagged() const { return id >= 256; }
};

/// One index definition from the catalog.
struct IndexDef {
  u32 id = 0;
  std::string name;
  u32 fdp_page = 0;
  u32 flags = 0;
};

/// One table definition from the catalog.
struct TableDef {
  u32 object_id = 0;
  std::string name;
  u32 fdp_page = 0;     ///< root page of the record tree
  u32 lv_page = 0;      ///< root page of the long-value tree, 0 when the table has none
  std::string template_table;
  std::vector<Column> columns;  ///< in catalog (column id) order
  std::vector<IndexDef> indexes;
  /// The column named `name` (exact match), or nullptr.
  const Column *column(std::string_view name) const;
  /// The column with id `id`, or nullptr.
  const Column *column_by_id(u32 id) const;
};

/// Bytes that are either a view into the database map or owned (decompressed, reassembled).
/// Copying is safe either way.
class ValueBytes {
 public:
  ValueBytes() = default;
  static ValueBytes view(ByteView v) {
    ValueBytes b;
    b.view_ = v;
    return b;
  }
  static ValueBytes own(Bytes v) {
    ValueBytes b;
    b.owned_ = std::move(v);
    b.is_owned_ = true;
    return b;
  }
  ByteView data() const { return is_owned_ ? ByteView(owned_) : view_; }

 private:
  ByteView view_;
  Bytes owned_;
  bool is_owned_ = false;
};

/// One decoded cell: NULL, one or more values (several for a multi-valued column), or an error
/// saying why the cell could not be decoded (the record and the other cells are still good).
class Value {
 public:
  enum class State : u8 { Null, Ok, Error };
  State state = State::Null;
  ColumnType type = ColumnType::Nil;
  u32 codepage = 0;
  bool multi = false;           ///< the stored value was multi-valued (even with one item)
  std::vector<ValueBytes> items;    ///< the values' bytes, decompressed and reassembled
  std::string error;            ///< State::Error: the reason, e.g. "compression scheme 5 ..."

  bool is_null() const { return state == State::Null; }
  bool ok() const { return state == State::Ok; }
  std::size_t size() const { return items.size(); }
  /// The bytes of item `i` (empty when absent).
  ByteView bytes(std::size_t i = 0) const { return i < items.size() ? items[i].data() : ByteView(); }
  /// Bit, UnsignedByte, Short, Long, Currency, LongLong, UnsignedShort, UnsignedLong, DateTime
  /// (raw FILETIME): the integer; nullopt for other types or a wrong size.
  std::optional<i64> as_int(std::size_t i = 0) const;
  /// UnsignedLong / UnsignedShort / UnsignedByte as unsigned; also any integer type.
  std::optional<u64> as_uint(std::size_t i = 0) const;
  /// IEEESingle / IEEEDouble.
  std::optional<double> as_double(std::size_t i = 0) const;
  /// Text / LongText as UTF-8 (codepage 1200 as UTF-16LE, others through the codepage;
  /// 7-bit compressed text as it decompresses). nullopt for other types.
  std::optional<std::string> as_text(std::size_t i = 0) const;
};

struct DatabaseImpl;
class Table;

/// One record of a table: views into the database map, valid while the Database lives.
class Record {
 public:
  Record() = default;
  Record(const DatabaseImpl *db, const TableDef *def, std::string key, ByteView data, u32 page)
      : db_(db), def_(def), key_(std::move(key)), data_(data), page_(page) {}
  /// The record's key (prefix-expanded).
  ByteView key() const { return key_; }
  /// The raw record bytes.
  ByteView raw() const { return data_; }
  /// The leaf page the record was read from.
  u32 page() const { return page_; }
  /// The decoded value of `column` (a column of this record's table).
  Value value(const Column &column) const;
  /// The decoded value of the column named `name`; State::Error when there is none.
  Value value(std::string_view name) const;

 private:
  const DatabaseImpl *db_ = nullptr;
  const TableDef *def_ = nullptr;
  std::string key_;
  ByteView data_;
  u32 page_ = 0;
};

/// Records of a table in key order, read lazily leaf by leaf. Single-threaded; make one per
/// thread. When the walk meets damage it stops and problem() says why.
class RecordRange {
 public:
  class Iterator {
   public:
    using value_type = Record;
    using difference_type = std::ptrdiff_t;
    Iterator() = default;
    explicit Iterator(RecordRange *r) : r_(r) {}
    const Record &operator*() const { return r_->current_; }
    const Record *operator->() const { return &r_->current_; }
    Iterator &operator++() {
      if (!r_->advance()) r_ = nullptr;
      return *this;
    }
    bool operator==(const Iterator &o) const { return r_ == o.r_; }

   private:
    RecordRange *r_ = nullptr;
  };
  RecordRange(std::shared_ptr<const DatabaseImpl> db, const TableDef *def);
  Iterator begin();
  Iterator end() { return Iterator(); }
  /// Set when the walk stopped at damage (SourceCorrupt, LimitExceeded).
  const std::optional<Problem> &problem() const { return problem_; }

 private:
  bool advance();
  bool load_leaf(u32 page);
  std::shared_ptr<const DatabaseImpl> db_;
  const TableDef *def_;
  std::optional<Problem> problem_;
  Record current_;
  std::vector<u32> leaf_entries_;  // tags of the current leaf still to visit (reversed)
  u32 leaf_ = 0;
  u32 fdp_object_ = 0;
  u64 leaves_seen_ = 0;
  bool started_ = false;
};

/// A table of an open database (cheap to copy; shares the database).
class Table {
 public:
  Table(std::shared_ptr<const DatabaseImpl> db, const TableDef *def) : db_(std::move(db)), def_(def) {}
  const TableDef &def() const { return *def_; }
  const std::string &name() const { return def_->name; }
  /// The records in key order.
  RecordRange records() const { return RecordRange(db_, def_); }
  /// Every record, or the Problem that stopped the walk.
  Result<std::vector<Record>> read_all() const;
  /// The long value with identifier `lid` (4 or 8 bytes as stored in the record), its chunks
  /// reassembled in order. SourceCorrupt when it is missing or its chunks do not add up.
  Result<Bytes> long_value(ByteView lid) const;

 private:
  std::shared_ptr<const DatabaseImpl> db_;
  const TableDef *def_;
};

/// How a database is opened.
struct OpenOptions {
  /// Verify the header and page checksums (a page that fails is a SourceCorrupt problem).
  /// Off only for fuzzing: random mutations nearly always break a checksum, so with it on the
  /// fuzzer would never get past the first page it touches.
  bool verify_checksums = true;
};

/// An ESE database opened read-only.
class Database {
 public:
  /// Maps `path` read-only and reads the header and the catalog. SourceUnreadable when the file
  /// cannot be opened; SourceNotPst (wrong kind of file) when it has no ESE signature;
  /// SourceTruncated when shorter than its header says; SourceCorrupt for a damaged catalog.
  /// A dirty database opens (header().state says so): refusing it is the caller's choice.
  static Result<Database> open(const std::string &path, const OpenOptions &opts = {});
  /// The same over bytes in memory, which are NOT copied and must outlive the Database.
  static Result<Database> open_bytes(ByteView bytes, const OpenOptions &opts = {});

  const Header &header() const;
  /// Every table of the catalog (MSysObjects included), in catalog order.
  const std::vector<TableDef> &tables() const;
  /// The table named `name`; SourceCorrupt ("no table NAME") when absent.
  Result<Table> table(std::string_view name) const;
  /// The table of a definition from tables().
  Table table(const TableDef &def) const { return Table(impl_, &def); }
  /// Number of pages in the file (header and shadow excluded).
  u64 page_count() const;
  /// Drops the resident pages of a file mapping (they stay in the page cache; the next access
  /// maps them again), so that resident memory does not grow with the database as it is read.
  /// Values already returned stay valid. Nothing for open_bytes. Thread-safe.
  void release_pages() const;

  /// Internal: wraps an opened database (use open / open_bytes).
  explicit Database(std::shared_ptr<const DatabaseImpl> impl) : impl_(std::move(impl)) {}

 private:
  std::shared_ptr<const DatabaseImpl> impl_;
};

}  // namespace mm::ese
