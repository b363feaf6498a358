#pragma once
// Test helper: prints ESE values the way libesedb's esedbexport does (its per-table
// tab-separated export), so the oracle test can compare cell by cell and a failing test can
// show a table. Formats (read from esedbexport's output on the corpus): Bit true/false,
// integers in decimal (Currency as unsigned 64-bit), IEEE floats with %f, Binary and GUID as
// lower-case hex in stored order, Text as UTF-8, DateTime as a FILETIME date
// ("Nov 16, 2021 19:18:00.000000167") or "(0xHIGH 0xLOW)" when out of range, multi-values
// joined with "; ", NULL as an empty cell.
#include <cinttypes>
#include <cstdio>
#include <string>

#include "mailmill/format/ese/database.h"
#include "mailmill/util/text.h"

namespace mm::ese::testing {

inline std::string format_item(const Value &v, std::size_t i) {
  char buf[64];
  switch (v.type) {
    case ColumnType::Bit: return *v.as_int(i) ? "true" : "false";
    case ColumnType::UnsignedByte:
    case ColumnType::Short:
    case ColumnType::UnsignedShort:
    case ColumnType::Long:
    case ColumnType::UnsignedLong:
    case ColumnType::LongLong: {
      auto n = v.as_int(i);
      return n ? std::to_string(*n) : text::to_hex(v.bytes(i));
    }
    case ColumnType::Currency: {
      auto n = v.as_uint(i);
      return n ? std::to_string(*n) : text::to_hex(v.bytes(i));
    }
    case ColumnType::IEEESingle:
    case ColumnType::IEEEDouble: {
      auto d = v.as_double(i);
      if (!d) return text::to_hex(v.bytes(i));
      std::snprintf(buf, sizeof buf, "%f", *d);
      return buf;
    }
    case ColumnType::DateTime: {
      ByteView b = v.bytes(i);
      if (b.size() != 8) return text::to_hex(b);
      const u64 ft = load_le64(b.data());
      std::snprintf(buf, sizeof buf, "(0x%08" PRIx32 " 0x%08" PRIx32 ")", static_cast<u32>(ft >> 32),
                    static_cast<u32>(ft));
      return buf;
    }
    case ColumnType::Text:
    case ColumnType::LongText: {
      // esedbexport prints text as a C string: up to the first NUL.
      auto s = v.as_text(i);
      if (!s) return text::to_hex(v.bytes(i));
      const std::size_t nul = s->find('\0');
      return nul == std::string::npos ? *s : s->substr(0, nul);
    }
    default: return text::to_hex(v.bytes(i));
  }
}

/// The cell as esedbexport prints it ("" for NULL; "<error: ...>" when undecodable).
inline std::string format_cell(const Value &v) {
  if (v.is_null()) return "";
  if (!v.ok()) return "<error: " + v.error + ">";
  std::string out;
  for (std::size_t i = 0; i < v.size(); ++i) {
    if (i) out += "; ";
    out += format_item(v, i);
  }
  return out;
}

/// The table as esedbexport's export file: a header line of column names, one line per record.
inline std::string dump_table(const Table &t, std::string *problem = nullptr) {
  std::string out;
  const TableDef &d = t.def();
  for (std::size_t c = 0; c < d.columns.size(); ++c) out += (c ? "\t" : "") + d.columns[c].name;
  out += "\n";
  RecordRange r = t.records();
  for (const Record &rec : r) {
    for (std::size_t c = 0; c < d.columns.size(); ++c)
      out += (c ? "\t" : "") + format_cell(rec.value(d.columns[c]));
    out += "\n";
  }
  if (problem && r.problem()) *problem = r.problem()->detail;
  return out;
}

}  // namespace mm::ese::testing
