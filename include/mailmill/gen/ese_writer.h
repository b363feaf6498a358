#pragma once
/// Writer of ESE (JET Blue / Extensible Storage Engine) database files for test data: tables
/// with fixed, variable and tagged columns, multi-values, separated long values and 7-bit
/// compressed text, in the 8 KiB page layout and the 32 KiB large-page layout (format 0x620,
/// revision 0x14). Written from the format description and checked by an independent reader
/// (libesedb's esedbexport), never by our own ESE reader, so that tests of that reader are not
/// circular. Output is a pure function of the definitions and the options (no clock).
#include <optional>
#include <string>
#include <string_view>
#include <vector>

#include "mailmill/util/types.h"

namespace mm::gen::ese {

/// JET_COLTYP values as stored in the catalog.
enum class ColumnType : u32 {
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
  UnsignedLong = 14,
  LongLong = 15,
  GUID = 16,
  UnsignedShort = 17,
};

/// Size in bytes of a fixed-size type; 0 for Binary, Text, LongBinary and LongText.
u32 fixed_size(ColumnType type);

/// One column. The id decides the storage class, as in ESE: 1-127 fixed, 128-255 variable,
/// 256-65535 tagged. Fixed columns need a fixed-size type; variable columns Binary or Text
/// (at most 255 bytes); multi-values, long values and compression need a tagged column.
struct Column {
  u32 id = 0;
  std::string name;  ///< ASCII
  ColumnType type = ColumnType::Long;
  bool multi_valued = false;
  bool not_null = false;
  /// 7-bit ASCII / 7-bit Unicode compression of small single text values (tagged Text or
  /// LongText only), flagged in the catalog as ESE's compressed columns are.
  bool compressed = false;
  /// Text/LongText: 1200 (UTF-16LE values) or 1252 (8-bit values); ignored otherwise.
  u32 codepage = 0;
  /// Variable/tagged maximum size (0: 255 for Binary/Text, unlimited for long types).
  u32 max_size = 0;
};

/// The values of one cell: empty = NULL, one entry = a single value, more = a multi-value (only
/// for multi-valued columns). Each value is the column type's little-endian bytes (see the
/// encode_* helpers), UTF-16LE for codepage 1200 text.
using Cell = std::vector<Bytes>;

/// One row: (column id, cell) pairs in any order; columns not named are NULL.
struct Row {
  std::vector<std::pair<u32, Cell>> cells;
  /// Sets a single value (replacing an earlier one).
  Row &set(u32 column_id, Bytes value);
  /// Sets a multi-value (or NULL when `values` is empty).
  Row &set_multi(u32 column_id, std::vector<Bytes> values);
};

struct Table {
  std::string name;  ///< ASCII, unique
  std::vector<Column> columns;
  std::vector<Row> rows;  ///< stored in this order, keyed by a sequential record number (DBK)
};

struct WriteOptions {
  u32 page_size = 8192;  ///< 8192 or 32768 (the large-page layout Exchange 2013+ uses)
  u64 seed = 1;          ///< database signature and timestamps derive from it
  /// Long values (LongBinary/LongText) of more than this many bytes are stored separated, in
  /// the table's long-value tree; smaller ones stay in the record unless it would not fit.
  u32 lv_inline_max = 1024;
  /// Long-value chunk size; 0 = page size - 82 (8 KiB pages, ESE's value) or page size - 122
  /// (32 KiB pages, so that a chunk fits next to the larger page header).
  u32 lv_chunk_size = 0;
};

/// What write() put where: for tests and ground truth.
struct WriteStats {
  u32 pages = 0;              ///< database pages (without the two header pages)
  u32 separated_values = 0;   ///< long values stored in long-value trees
  u32 compressed_values = 0;  ///< values stored 7-bit compressed
  u32 max_tree_depth = 0;     ///< deepest table B+tree (1 = root is a leaf)
  u32 max_lv_tree_depth = 0;  ///< deepest long-value tree (at least 2: its root is a branch)
  u32 lv_chunk_size = 0;
};

/// Builds the whole database image in memory. Throws std::invalid_argument for definitions or
/// values that ESE cannot store (bad column id/type combination, value too large, multi-value
/// in a single-valued column, a record that does not fit a page). Thread-safe (pure).
Bytes build_database(const std::vector<Table> &tables, const WriteOptions &options,
                     WriteStats *stats = nullptr);

/// build_database() then writes the file (truncating). Throws FatalError when `path` cannot be
/// written, std::invalid_argument as build_database().
WriteStats write_database(const std::string &path, const std::vector<Table> &tables,
                          const WriteOptions &options);


// --- value encoders (little-endian, as ESE stores them) ---
Bytes encode_bit(bool v);
Bytes encode_u8(u8 v);
Bytes encode_i16(std::int16_t v);
Bytes encode_u16(u16 v);
Bytes encode_i32(i32 v);
Bytes encode_u32(u32 v);
Bytes encode_i64(i64 v);
Bytes encode_f32(float v);
Bytes encode_f64(double v);
/// UTF-8 to UTF-16LE (codepage 1200 text).
Bytes encode_utf16(std::string_view utf8);

}  // namespace mm::gen::ese
